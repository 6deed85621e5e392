"""Cost of one ln-probability call on the bundled Prospector-alpha-class model (14 free
parameters, 19 bands): through its emulators and through FSPS (warm), in one process.

Usage:  SPS_HOME=... python benchmarks/bench_alpha_likelihood.py [EMU_DIR ...]
(default: the bundled alpha emulator; the FSPS row is skipped without SPS_HOME).  Parameter
vectors are prior draws from the middle of the prior volume (unit-cube coordinates 0.3-0.7,
where the mock's truth, the prior median, sits); the observation is the FSPS-made mock
(prospect_emu/data/alpha_galaxy.csv).  Prints a table and the FSPS / emulator ratio per emulator; the
machine is noisy, so each figure is the best of several repeats.
"""

from __future__ import annotations

import os
import sys
import timeit

import numpy as np


def per_call(fn, thetas, repeat: int = 5) -> float:
    """Best-of-``repeat`` seconds per call of ``fn`` over ``thetas``."""
    it = iter(thetas * 100000)
    return min(timeit.repeat(lambda: fn(next(it)), number=len(thetas), repeat=repeat)) / len(thetas)


def main(argv: list[str]) -> None:
    from prospect.fitting import lnprobfn as prospector_lnprobfn

    from prospect_emu.demo import ALPHA_EMULATOR, ALPHA_PARAMS
    from prospect_emu.emulator.artifact import Emulator
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.likelihood import lnprobfn
    from prospect_emu.prospector.twin import emulate

    emulators = argv or [str(ALPHA_EMULATOR)]
    pf = load_param_file(ALPHA_PARAMS)
    obs = pf.build_obs()
    model = pf.build_model(**pf.run_params)
    rng = np.random.default_rng(0)
    thetas = [model.prior_transform(rng.uniform(0.3, 0.7, model.ndim)) for _ in range(200)]
    rows = []
    for emu_dir in emulators:
        net = Emulator.load(emu_dir).meta["network"]
        twin = emulate(pf.build_model(**pf.run_params), emu_dir, error="diag")
        if not all(np.isfinite(lnprobfn(th, model=twin, obs=obs)) for th in thetas):
            raise RuntimeError("a benchmark draw is outside the prior: the timing would skip it")
        t = per_call(lambda th, twin=twin: lnprobfn(th, model=twin, obs=obs), thetas)
        rows.append((f"emulator {net['depth']} x {net['width']} lnprobfn (diag)", t))
    if os.environ.get("SPS_HOME"):
        sps = pf.build_sps(**pf.run_params)
        for th in thetas[:5]:
            prospector_lnprobfn(th, model=model, obs=obs, sps=sps)
        t_fsps = per_call(lambda th: prospector_lnprobfn(th, model=model, obs=obs, sps=sps),
                          thetas[:50], repeat=2)
        rows.append(("FSPS lnprobfn (warm)", t_fsps))
    print(f"{'measurement':40s} {'per call':>12s}")
    for name, t in rows:
        print(f"{name:40s} {t * 1e6:10.1f} us")
    if os.environ.get("SPS_HOME"):
        for name, t in rows[:-1]:
            print(f"FSPS / {name}: {t_fsps / t:.0f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
