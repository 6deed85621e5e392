"""Cost of one lnprobfn call with FSPS and with the emulator, in one process, and the wall
time of an emulated dynesty fit of the test parameter file.  The emulated rows: the
likelihood ``use_emulator`` returns (each error mode), and the drop-in route (Prospector's
own ``lnprobfn`` on the emulated model, what a script keeping ``fit_model``'s default runs).

Usage:  SPS_HOME=... python benchmarks/bench_likelihood.py [EMU_DIR]
(default EMU_DIR: the bundled demo emulator; FSPS rows are skipped without SPS_HOME).
"""

from __future__ import annotations

import os
import sys
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PARAM_FILE = ROOT / "tests" / "data" / "delayed_tau_params.py"


def per_call(fn, thetas, repeat=7) -> float:
    it = iter(thetas * 100000)
    n = min(len(thetas), 300)
    return min(timeit.repeat(lambda: fn(next(it)), number=n, repeat=repeat)) / n


def main() -> None:
    from prospect.fitting import lnprobfn as prospector_lnprobfn

    from prospect_emu.demo import DEMO_EMULATOR
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.fitting import run_fit
    from prospect_emu.prospector.likelihood import lnprobfn
    from prospect_emu.prospector.twin import emulate

    emu_dir = sys.argv[1] if len(sys.argv) > 1 else str(DEMO_EMULATOR)
    pf = load_param_file(PARAM_FILE)
    obs = pf.build_obs()
    rng = np.random.default_rng(0)
    truth = np.array([1e10, -0.3, 0.4, 5.0, 2.0])
    thetas = [truth * (1 + 0.05 * rng.normal(size=5)) for _ in range(300)]
    rows = []
    twin = emulate(pf.build_model(), emu_dir)
    for mode in ("none", "diag", "cov"):
        twin.emulator_error = mode
        t = per_call(lambda th: lnprobfn(th, model=twin, obs=obs), thetas)
        rows.append((f"emulator lnprobfn, error={mode}", t))
    t_emu = rows[1][1]
    # the drop-in route: a script that keeps fit_model's default lnprobfn (Prospector's own)
    quiet = emulate(pf.build_model(), emu_dir, error="none")
    t_dropin = per_call(lambda th: prospector_lnprobfn(th, model=quiet, obs=obs), thetas)
    rows.append(("drop-in: Prospector's lnprobfn, emulated model", t_dropin))
    plain = pf.build_model()
    rows.append(("Prospector prior_product (scipy priors)", per_call(plain.prior_product, thetas)))
    rows.append(("emulated prior_product (vectorised)", per_call(twin.prior_product, thetas)))
    u = [rng.uniform(size=5) for _ in range(300)]
    rows.append(("Prospector prior_transform", per_call(plain.prior_transform, u)))
    rows.append(("emulated prior_transform", per_call(twin.prior_transform, u)))
    if os.environ.get("SPS_HOME"):
        sps = pf.build_sps()
        fixed = pf.build_model(fixed_metallicity=-0.3)
        fthetas = [np.delete(th, 1) for th in thetas]
        for th in fthetas[:3]:
            prospector_lnprobfn(th, model=fixed, obs=obs, sps=sps)
        t = per_call(lambda th: prospector_lnprobfn(th, model=fixed, obs=obs, sps=sps), fthetas, 1)
        rows.append(("FSPS lnprobfn, fixed metallicity (warm)", t))
        free = pf.build_model()
        t0 = time.process_time()
        for th in thetas[:50]:
            prospector_lnprobfn(th, model=free, obs=obs, sps=sps)
        rows.append(("FSPS lnprobfn, free metallicity, first 50 calls", (time.process_time() - t0) / 50))
        t_fsps = rows[-2][1]
    print(f"{'measurement':48s} {'per call':>12s}")
    for name, t in rows:
        print(f"{name:48s} {t * 1e6:10.1f} us")
    if os.environ.get("SPS_HOME"):
        print(f"FSPS (fixed Z, warm) / emulator (diag) per lnprobfn call: {t_fsps / t_emu:.0f}x")
        print(f"FSPS (fixed Z, warm) / drop-in route per lnprobfn call: {t_fsps / t_dropin:.0f}x")
    print(f"drop-in route / use_emulator's lnprobfn (error none): {t_dropin / rows[0][1]:.1f}x")
    fit = run_fit(PARAM_FILE, ["--dynesty", "--nested_sample", "unif", "--nested_nlive_init", "200",
                               "--nested_maxbatch", "0", "--print_progress", "False"],
                  emulator=emu_dir, emulator_error="diag", write=False, seed=1)
    print(f"emulated dynesty fit of {PARAM_FILE.name} (nlive 200, unif, diag error): "
          f"{fit.seconds:.1f} s wall, {fit.ncall} likelihood calls, "
          f"{fit.seconds / fit.ncall * 1e6:.0f} us per call including dynesty")
    if os.environ.get("SPS_HOME"):
        print(f"the same number of FSPS calls (fixed Z, warm) would take ~{fit.ncall * t_fsps:.0f} s")


if __name__ == "__main__":
    main()
