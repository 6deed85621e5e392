"""Emulated against FSPS posteriors over finished ``compare --mocks`` runs, beside the
sampler's own floor: the emulated fit of each mock run again with another seed.

Usage::

    python benchmarks/bench_mock_agreement.py PARAM_FILE EMU_DIR MOCK_DIR [MOCK_DIR ...]
        [--limit N] [--seed-offset 1000] [--draws 400] [--against emulator|fsps]
        [--json OUT.json] [-- FIT OPTIONS]

Each ``MOCK_DIR`` is the ``--out`` folder of ``prospect-emu compare PARAM_FILE --emulator
EMU_DIR --mocks N`` (default sampler options; pass the same sampler flags after ``--`` where
the run used others).  For every finished mock (``mockNNN/``, up to ``--limit``) the mock's
observation is read from its emulated result file and fitted again through the emulator with
seed + ``--seed-offset``; the two emulated posteriors are compared as ``compare`` compares
FSPS with the emulator (offset of the medians in the first one's sigma, Jensen-Shannon
divergence of ``--draws`` equal-weight draws each).  Two runs of one sampler on the same data
differ by its Monte Carlo noise and by the estimator's own noise (a JS divergence of finite
samples is positive even for one distribution), so the emulated-vs-FSPS figures can be read
against that floor.  Prints, per quantity, the medians over mocks of both.  No FSPS is
needed: the FSPS side is read from the runs' ``comparison.json``.

``--against fsps`` compares the new emulated fit with the stored FSPS posterior instead, so
that fit options (``-- --emulator-error cov``) or another emulator can be measured against
FSPS without fitting FSPS again; the FSPS draws' stellar mass then takes the emulator's
surviving-mass fraction (its error, 0.0003 dex at the 95th percentile for the bundled alpha
emulator, is far below any posterior width here).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def resampled(chain: np.ndarray, weights: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` equal-weight draws from weighted samples (as ``FitResult.equal_weight_samples``)."""
    w = np.asarray(weights, float)
    return chain[np.random.default_rng(seed).choice(len(chain), size=n, p=w / w.sum())]


def floor_rows(param_file: str, emulator: str, folder: Path, argv: list[str], seed: int,
               n_draws: int, against: str = "emulator") -> list[dict]:
    """One mock's stored posterior (``against``: the emulated or the FSPS fit) against a new
    emulated fit with seed ``seed`` and fit options ``argv``."""
    from prospect.io.read_results import results_from

    from prospect_emu.analysis.compare import FitSide, compare_sides
    from prospect_emu.analysis.derived import derived_quantities
    from prospect_emu.prospector.fitting import run_fit

    res, obs, _ = results_from(str(folder / f"{against}_result.h5"), dangerous=False)
    with tempfile.TemporaryDirectory() as tmp:
        again = run_fit(param_file, argv + ["--outfile", str(Path(tmp) / "again")],
                        emulator=emulator, obs=obs, seed=seed)
    labels = again.model.theta_labels()
    s = resampled(np.asarray(res["chain"]), np.asarray(res["weights"]), n_draws, seed)
    first = {lab: s[:, j] for j, lab in enumerate(labels)}
    first.update(derived_quantities(again.model, s, obs, again.sps))
    return compare_sides(FitSide(against, again, first),
                         FitSide.from_fit("emulator, another seed", again, n_draws, seed))


def per_quantity(rows_per_mock: list[list[dict]]) -> dict[str, dict[str, float]]:
    """Median over mocks of |offset| (sigma) and of the JS divergence (bits), per quantity
    (:func:`prospect_emu.analysis.compare_mocks.summarize_mocks`'s)."""
    from prospect_emu.analysis.compare_mocks import summarize_mocks

    summary = summarize_mocks([{"rows": rows} for rows in rows_per_mock])["quantities"]
    return {q: {"offset": s.get("emu_vs_fsps", {}).get("median_abs", np.nan),
                "js": s.get("js_bits", {}).get("median", np.nan)} for q, s in summary.items()}


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("param_file")
    p.add_argument("emulator")
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--limit", type=int, default=None, help="at most this many mocks in all")
    p.add_argument("--seed-offset", type=int, default=1000)
    p.add_argument("--draws", type=int, default=400, help="as compare --mocks (400)")
    p.add_argument("--against", choices=("emulator", "fsps"), default="emulator",
                   help="the stored fit the new emulated one is compared with")
    p.add_argument("--json", type=Path, default=None)
    args, sampler_argv = p.parse_known_args(argv)
    sampler_argv = [a for a in sampler_argv if a != "--"]

    mocks = sorted(m for f in args.folders for m in f.glob("mock[0-9][0-9][0-9]")
                   if (m / "comparison.json").is_file())[:args.limit]
    if not mocks:
        sys.exit("no finished mock (mockNNN/comparison.json) in the folders given")
    vs_fsps, floor = [], []
    for k, m in enumerate(mocks):
        vs_fsps.append(json.loads((m / "comparison.json").read_text())["rows"])
        floor.append(floor_rows(args.param_file, args.emulator, m, sampler_argv,
                                args.seed_offset + k, args.draws, args.against))
        print(f"{k + 1}/{len(mocks)} {m}", file=sys.stderr, flush=True)
    a, b = per_quantity(vs_fsps), per_quantity(floor)
    print(f"{len(mocks)} mocks; medians over mocks")
    new = "emu-emu" if args.against == "emulator" else "new-FSPS"
    print(f"new emulated fits: {' '.join(sampler_argv) or 'the runs default options'}")
    print(f"{'quantity':20s} {'|emu-FSPS|/sig':>14s} {'|' + new + '|/sig':>14s} {'JS emu-FSPS':>11s} "
          f"{'JS ' + new:>12s}")
    for q in a:
        print(f"{q:20s} {a[q]['offset']:14.2f} {b.get(q, {}).get('offset', np.nan):14.2f} "
              f"{a[q]['js']:11.3f} {b.get(q, {}).get('js', np.nan):12.3f}")
    if args.json:
        args.json.write_text(json.dumps({"mocks": [str(m) for m in mocks], "options": sampler_argv,
                                         "against": args.against, "emu_vs_fsps": a, "new": b,
                                         "rows": {"emu_vs_fsps": vs_fsps, "new": floor}},
                                        indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
