"""Training-set generation speed: naive prior draws against the scheduled ones, one process;
and the cost of drawing the rows themselves (per row, and all at once).

Usage:  SPS_HOME=... python benchmarks/bench_generate.py [--n 400]

FSPS builds the SSPs of each isochrone metallicity the first time a process uses it and
keeps them, so the script first pays that one-off cost (reported on its own line) and
then times every schedule on the same warm FSPS, in CPU seconds (time.process_time).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "data"))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if not os.environ.get("SPS_HOME"):
        sys.exit("set SPS_HOME to an FSPS data tree")
    import delayed_tau_params as pf

    from prospect_emu.filters import DEFAULT_FILTERS, load_filters
    from prospect_emu.trainingdata.sampling import (
        ParameterSpace,
        PriorSampler,
        apply_blocks,
        share_spectra,
    )
    from prospect_emu.trainingdata.seds import compute_rows

    filters = load_filters(list(DEFAULT_FILTERS))
    t0 = time.process_time()
    model = pf.build_model()
    sps = pf.build_sps()
    t_setup = time.process_time() - t0
    space = ParameterSpace(model, {"zred": (0.0, 3.0)})
    # the one-off cost: every isochrone metallicity once
    t0 = time.process_time()
    zgrid = np.log10(np.array([0.0003, 0.0006, 0.001, 0.002, 0.004, 0.008, 0.01, 0.02, 0.03, 0.04]) / 0.0142)
    for z in np.clip(zgrid, -2.0, 0.19):
        row = model.theta.copy()
        row[model.theta_index["logzsol"]] = z
        model.predict(row, obs={"filters": filters, "wavelength": None, "spectrum": None}, sps=sps)
    t_warm = time.process_time() - t0
    draws = PriorSampler().draw(space, model, args.n, np.random.default_rng(args.seed))
    schedules = [
        ("naive prior draws", draws),
        ("metallicity blocks of 20", apply_blocks(draws, space, "logzsol", 20)),
        ("blocks of 20 + share spectrum x4", share_spectra(apply_blocks(draws, space, "logzsol", 20), space, 4)),
        ("blocks of 20 + share spectrum x8", share_spectra(apply_blocks(draws, space, "logzsol", 20), space, 8)),
        ("blocks of 20 + share spectrum x16", share_spectra(apply_blocks(draws, space, "logzsol", 20), space, 16)),
    ]
    rows = []
    for name, d in schedules:
        t0 = time.process_time()
        out = compute_rows(model, sps, d, space.names, space.ndim, filters)
        dt = time.process_time() - t0
        assert (out["status"] == 1).all()
        rows.append((name, args.n / dt, dt / args.n * 1e3))
    base = rows[0][1]
    print(f"{args.n} SEDs per schedule, {len(filters)} filters, parametric_sfh + zred in [0, 3], one process")
    print(f"one-off: StellarPopulation setup {t_setup:.1f} CPU-s; first use of all isochrone "
          f"metallicities {t_warm:.1f} CPU-s (per process, any schedule)")
    print(f"{'schedule (warm FSPS)':36s} {'SEDs/CPU-s':>11s} {'ms/SED':>8s} {'vs naive':>9s}")
    for name, rate, ms in rows:
        print(f"{name:36s} {rate:11.1f} {ms:8.2f} {rate / base:8.2f}x")
    cold_n = 2000
    naive_cold = cold_n / (t_setup + t_warm + cold_n / base)
    best_cold = cold_n / (t_setup + t_warm + cold_n / rows[-1][1])
    print(f"a fresh process making {cold_n} SEDs (setup + warm-up included): naive {naive_cold:.1f}, "
          f"share x16 {best_cold:.1f} SEDs/CPU-s ({best_cold / naive_cold:.2f}x)")
    # drawing the rows (main process, before any SED): per row as Prospector does, and at once
    from prospect_emu.trainingdata.sampling import prior_transform_rows

    u = np.random.default_rng(args.seed).uniform(size=(100_000, model.ndim))
    t0 = time.process_time()
    prior_transform_rows(model, u)
    t_rows = (time.process_time() - t0) / len(u)
    t0 = time.process_time()
    for x in u[:2000]:
        model.prior_transform(x)
    t_one = (time.process_time() - t0) / 2000
    print(f"prior draws: model.prior_transform per row {t_one * 1e6:.0f} us, prior_transform_rows "
          f"{t_rows * 1e6:.2f} us per row ({t_one / t_rows:.0f}x); 10^6 draws {t_rows * 1e6:.1f} "
          f"against {t_one * 1e6:.0f} CPU-s")


if __name__ == "__main__":
    main()
