"""Streamed against in-memory training of the photometric kind: accuracy, speed, memory.

    python benchmarks/bench_streamed_training.py [--rows 100000] [--seeds 1,2,3] [--steps 1500]

Writes a synthetic training set (smooth known functions of four parameters, 8 bands; the
writer of ``tests/emulator/test_streamed_training.py``, no FSPS) and trains the same network with the
same schedule and seed twice, ``stream="off"`` (the set loaded whole) and ``stream="on"``
(batches read from the HDF5 file, :mod:`prospect_emu.emulator.streaming`).  Prints per run
the all-band 95th percentile |residual| on the test split, training seconds, rows per
second through the optimizer (steps x batch / training seconds, validation included), and
tracemalloc's peak of numpy memory (Keras's own tensors are not counted: the same in both),
then the streamed / in-memory ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=512)
    args = ap.parse_args(argv)

    from astropy.table import Table

    from prospect_emu.emulator.training import TrainConfig, train
    from tests.emulator.test_streamed_training import BANDS, write_synthetic_set

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "set.h5"
        write_synthetic_set(path, args.rows)
        for seed in (int(s) for s in args.seeds.split(",")):
            for mode in ("off", "on"):
                cfg = TrainConfig(width=64, depth=3, seed=seed, stream=mode, eval_every=250,
                                  schedule=((2e-3, args.batch, args.steps),))
                tracemalloc.start()
                emu = train(path, Path(tmp) / f"{mode}{seed}", cfg, progress=False, keep_keras=False)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                tr = emu.meta["training"]
                per = emu.meta["test_errors"]["per_output"]
                rows.append({"seed": seed, "mode": "streamed" if mode == "on" else "in memory",
                             "p95_all_bands": max(per[b]["p95_abs"] for b in BANDS),
                             "seconds": tr["seconds"],
                             "rows_per_s": tr["steps_done"] * args.batch / tr["seconds"],
                             "peak_MB": peak / 1e6})
    t = Table(rows=rows)
    for c, f in (("p95_all_bands", ".4f"), ("seconds", ".1f"), ("rows_per_s", ".0f"), ("peak_MB", ".1f")):
        t[c].format = f
    print(f"{args.rows} synthetic rows, 3 x 64, {args.steps} steps of batch {args.batch}")
    t.pprint(max_lines=-1, max_width=-1)
    for seed in sorted(set(t["seed"])):
        m, s = (t[(t["seed"] == seed) & (t["mode"] == k)][0] for k in ("in memory", "streamed"))
        print(f"seed {seed}: streamed / in-memory: p95 {s['p95_all_bands'] / m['p95_all_bands']:.2f}, "
              f"rows/s {s['rows_per_s'] / m['rows_per_s']:.2f}, peak memory {s['peak_MB'] / m['peak_MB']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
