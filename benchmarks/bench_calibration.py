"""Posterior calibration of the demo's default emulator and sampler (``prospect-emu calibrate``).

FSPS-made mocks: an independent FSPS test set of the demo model (``prospect-emu generate
--sampler prior --block-size 1 --seed 7171 --range zred=0.2,2.5``; the bundled emulators were trained with
seeds 2024 and 131 and validated with 4242 and 4244) is made here unless ``--testset`` names
one; its first ``--n`` rows get Gaussian noise at S/N ``--snr`` in every band and are fitted
through the emulator (diag error) with the demo's fit: the emulator's bundled amortized
posterior (``--posterior auto``; ``none`` for the sampler alone), the sampler its fallback.
``--emulator-mocks`` also fits
mocks made by the emulator itself (a perfect emulator: what miscalibration is left there is
the sampler's).  Prints the calibration table per setting; targets (issue 21): every 95%
coverage >= 0.92, every 68% coverage in 0.60-0.76, at most 2% of mocks beyond 3 sigma.

    SPS_HOME=... python benchmarks/bench_calibration.py --n 100
    python benchmarks/bench_calibration.py --testset calib.h5 --posterior none --niter 320 640
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prospect_emu.demo import (  # noqa: E402
    BUNDLED_POSTERIORS,
    DEFAULT_DEMO_EMULATOR,
    DEMO_EMCEE,
    DEMO_PARAMS,
)

TARGETS = {"coverage_95": (0.92, 1.0), "coverage_68": (0.60, 0.76), "beyond_3sigma": (0.0, 0.02)}


def make_testset(out: Path, n: int, seed: int) -> Path:
    """An FSPS test set of the demo model drawn from the prior (needs SPS_HOME)."""
    path = out / f"fsps_calib_{seed}.h5"
    cmd = [sys.executable, "-m", "prospect_emu.cli", "generate", str(DEMO_PARAMS), "--n", str(n),
           "--sampler", "prior", "--share-spectrum", "1", "--block-size", "1", "--seed", str(seed), "--range",
           "zred=0.2,2.5", "--workers", "1", "--quiet", "--out", str(path)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"generated {n} FSPS SEDs in {time.perf_counter() - t0:.1f} s: {path}")
    return path


def misses(table) -> list[str]:
    """The targets each quantity misses."""
    out = []
    for r in table:
        for col, (lo, hi) in TARGETS.items():
            if not lo <= r[col] <= hi:
                out.append(f"{r['quantity']} {col} {r[col]:.3f}")
    return out


def main(argv=None) -> int:
    from prospect_emu.analysis.calibrate import calibrate, run_calibration
    from prospect_emu.analysis.calibrate_mocks import mocks_from_emulator
    from prospect_emu.analysis.catalog_object import build_model, model_source
    from prospect_emu.emulator.artifact import Emulator

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--testset", default=None, help="FSPS test set (default: generate one)")
    p.add_argument("--emulator", default=str(DEFAULT_DEMO_EMULATOR))
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--snr", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=7171, help="test-set seed when generating")
    p.add_argument("--nwalkers", type=int, nargs="+", default=[DEMO_EMCEE["nwalkers"]])
    p.add_argument("--niter", type=int, nargs="+", default=[DEMO_EMCEE["niter"]])
    p.add_argument("--nburn", type=int, nargs="+", default=None,
                   help="emcee burn-in rounds (default: the demo's)")
    p.add_argument("--nlive", type=int, default=200, help="dynesty/nautilus live points")
    p.add_argument("--sampler", default="emcee")
    p.add_argument("--posterior", default="auto", help="an amortized posterior whose route to "
                   "calibrate (auto: the emulator's bundled one, the demo's default; none: the "
                   "sampler alone)")
    p.add_argument("--emulator-mocks", action="store_true", help="also fit emulator-made mocks")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default=None, help="folder for the outputs (default: a temporary one)")
    args = p.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_calibration_"))
    testset = Path(args.testset) if args.testset else make_testset(out, args.n, args.seed)
    emu = Emulator.load(args.emulator)
    posterior = (BUNDLED_POSTERIORS.get(Path(args.emulator).resolve()) if args.posterior == "auto"
                 else None if args.posterior == "none" else Path(args.posterior))
    print(f"emulator {args.emulator} ({emu.kind}), test set {testset}, {args.n} mocks, "
          f"S/N {args.snr:g}, diag error, amortized posterior {posterior}")
    for nw in args.nwalkers:
        for niter in args.niter:
            nburn = args.nburn or [int(v) for v in DEMO_EMCEE["nburn"]]
            opts = {"sampler": args.sampler, "nwalkers": nw, "niter": niter, "nburn": nburn,
                    "nlive": args.nlive, "seed": 1}
            tag = (f"{args.sampler}_{nw}x{niter}_burn{'-'.join(map(str, nburn))}"
                   if args.sampler == "emcee" else f"{args.sampler}_nlive{args.nlive}")
            if posterior is not None:
                from prospect_emu.amortized.route import ROUTE_OPTIONS

                opts.update(ROUTE_OPTIONS, posterior=str(posterior))
                tag = f"amortized_{tag}"
            rep = calibrate(args.emulator, testset, out / f"fsps_{tag}", n=args.n, snr=args.snr,
                            sampler_options=opts, workers=args.workers, progress=False)
            print(f"\n== FSPS-made mocks, {tag}: {rep.seconds / len(rep.fitted):.2f} s per fit")
            print(rep)
            print("targets missed:", ", ".join(misses(rep.table)) or "none")
            if args.emulator_mocks:
                source = model_source(args.emulator, list(emu.filter_names), emu=emu)
                model, _ = build_model(source)
                mocks = mocks_from_emulator(model, list(emu.filter_names), args.n, (0.2, 2.5),
                                            np.random.default_rng(args.seed), args.snr)
                rep = run_calibration(source, mocks, out / f"emu_{tag}", sampler_options=opts,
                                      workers=args.workers, progress=False,
                                      meta={"noise": f"S/N {args.snr:g}"})
                print(f"\n== emulator-made mocks, {tag}")
                print(rep)
                print("targets missed:", ", ".join(misses(rep.table)) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
