"""Learning curves: per-band emulator error against training-set size and network shape.

Train one emulator per (rows, width, depth) on the head of one large training set
(:func:`prospect_emu.trainingdata.trainingset.write_head`: the first rows of a prior-drawn set
are a random sample of it) and measure each on an independent FSPS test set (another seed,
``--block-size 1``), with the time each training cost here::

    prospect-emu generate prospect_emu/data/alpha_params.py --out train.h5 --n 300000 --seed 1
    prospect-emu generate prospect_emu/data/alpha_params.py --out test.h5 --n 2000 --seed 777 \\
        --block-size 1
    python benchmarks/bench_learning_curve.py train.h5 test.h5 --rows 10000,30000,100000 \\
        --shapes 4x128,4x256 --minutes 5 --out curves/

A free-zred set (``--free_zred``) is trained with the peak softening, as the bundled
free-zred emulators are: ``--train-option softening_reference=peak`` (any
:class:`~prospect_emu.emulator.training.TrainConfig` field can be set so, e.g. the spectral
kind's ``pca_tolerance=0.002``).

Prints one table row per emulator: rows, shape, training minutes, the all-band p95 of
|emulated - FSPS| (asinh magnitudes), the worst band and its p95, and the p95 in every band;
``--json`` keeps the numbers.  Each emulator is kept in ``--out`` for ``prospect-emu info``.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path


def _shapes(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        depth, _, width = item.strip().partition("x")
        out.append((int(depth), int(width)))
    return out


def _options(items: list[str]) -> dict:
    """``FIELD=VALUE`` texts as TrainConfig keywords (numbers as numbers, the rest as text)."""
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[name.strip()] = value.strip()
    return out


def train_point(train: Path, test: Path, rows: int, depth: int, width: int, minutes: float,
                out: Path, kind: str, schedule: str | None = None,
                passes: tuple[int, int] | None = None, options: dict | None = None) -> dict:
    """Train on the first ``rows`` rows of ``train`` and validate on ``test``; ``schedule``
    (``train --schedule`` text) with LR:BATCH:STEPS stages is run with cosine decay and a
    10,000-step patience, so that every point takes the same optimizer steps whatever its
    rows; LR:BATCH stages (the spectral kind's) run ``passes`` = (epochs, patience) per stage
    (default: ``train``'s own schedule); ``options`` are further
    :class:`~prospect_emu.emulator.training.TrainConfig` fields (e.g. ``softening_reference``
    ``peak`` for a free-zred set, whose bands drop out through the Lyman break)."""
    from prospect_emu.analysis.validate import validate
    from prospect_emu.emulator.training import TrainConfig
    from prospect_emu.emulator.training import train as train_emulator
    from prospect_emu.emulator.training_base import parse_schedule
    from prospect_emu.trainingdata.trainingset import TrainingSet, write_head

    n_total = len(TrainingSet(train).status)
    data = train if rows >= n_total else write_head(train, rows, out / f"head_{rows}.h5")
    emu_dir = out / (f"{kind}_{rows}_{depth}x{width}" + ("_steps" if schedule else ""))
    stages = parse_schedule(schedule) if schedule else None
    if stages is None:
        steps = {}
    elif all(len(s) == 3 for s in stages):
        steps = dict(schedule=stages, decay="cosine", eval_every=1000, patience_steps=10000)
    else:
        epochs, patience = passes or (300, 15)
        steps = dict(schedule=stages, epochs=epochs, patience=patience)
    cfg = TrainConfig(width=width, depth=depth, max_minutes=minutes, kind=kind, seed=1,
                      provenance=f"learning curve: first {rows} rows of {train.name}",
                      **steps, **(options or {}))
    t0 = time.perf_counter()
    train_emulator(data, emu_dir, cfg, progress=False, keep_keras=False)
    seconds = time.perf_counter() - t0
    rep = validate([emu_dir], test, plots=False)["emulators"][0]
    p95 = {b: v["p95_abs"] for b, v in rep["per_output"].items()}
    bands = {b: v for b, v in p95.items() if b != "log10_mfrac"}
    worst = max(bands, key=bands.get)
    return {"rows": rows, "shape": f"{depth}x{width}", "kind": kind, "train_minutes": seconds / 60,
            "schedule": schedule or "default",
            "all_band_p95": rep["all_bands"]["p95_abs"], "worst_band": worst,
            "worst_p95": bands[worst], "p95": p95, "emulator": str(emu_dir)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train", type=Path, metavar="TRAIN.h5")
    ap.add_argument("test", type=Path, metavar="TEST.h5", help="independent FSPS test set")
    ap.add_argument("--rows", default="10000,30000,100000", help="training-set sizes")
    ap.add_argument("--shapes", default="4x128", help="DEPTHxWIDTH, comma-separated")
    ap.add_argument("--minutes", type=float, default=5.0, help="training budget per emulator")
    ap.add_argument("--kind", default="photometry")
    ap.add_argument("--schedule", default=None, metavar="LR:BATCH:STEPS,...",
                    help="a step-counted schedule for every point (cosine decay, 10,000-step "
                    "patience), e.g. the bundled alpha emulator's "
                    "1e-3:256:60000,5e-4:512:40000,1e-4:1024:30000 (default: train's own)")
    ap.add_argument("--passes", default=None, metavar="EPOCHS:PATIENCE",
                    help="with LR:BATCH stages: passes and patience per stage (e.g. 50:8)")
    ap.add_argument("--train-option", action="append", default=[], metavar="FIELD=VALUE",
                    help="a further TrainConfig field for every point, repeatable (e.g. "
                    "softening_reference=peak, pca_tolerance=0.002)")
    ap.add_argument("--out", type=Path, required=True, help="folder for the emulators")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    passes = tuple(int(v) for v in args.passes.split(":")) if args.passes else None
    results = []
    for rows in (int(r) for r in args.rows.split(",")):
        for depth, width in _shapes(args.shapes):
            results.append(train_point(args.train, args.test, rows, depth, width, args.minutes,
                                       args.out, args.kind, args.schedule, passes,
                                       _options(args.train_option)))
            r = results[-1]
            print(f"{r['rows']:>8d} {r['shape']:>7s} {r['train_minutes']:6.1f} min  all-band p95 "
                  f"{r['all_band_p95']:.4f}  worst {r['worst_band']} {r['worst_p95']:.4f}", flush=True)
            if args.json:
                args.json.write_text(json.dumps(results, indent=1))
    bands = list(results[0]["p95"])
    print("\np95 |emulated - FSPS| per band (mag; log10_mfrac in dex)")
    print(f"{'rows':>8s} {'shape':>7s} {'min':>5s} " + " ".join(f"{b[-8:]:>8s}" for b in bands))
    for r in results:
        print(f"{r['rows']:>8d} {r['shape']:>7s} {r['train_minutes']:5.1f} "
              + " ".join(f"{r['p95'][b]:8.4f}" for b in bands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
