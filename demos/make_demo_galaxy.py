"""Regenerate prospect_emu/data/demo_galaxy.csv: the demo galaxy observed with FSPS.

FSPS photometry of the demo model (prospect_emu/data/demo_params.py) at known parameters,
with 5% Gaussian noise (S/N 20).  Needs python-fsps and SPS_HOME.
The truth is the demo's (prospect_emu.demo.DEMO_TRUTH at DEMO_ZRED).
"""

import os

import numpy as np
from sedpy.observate import load_filters

from prospect_emu.demo import DEMO_PARAMS, DEMO_TRUTH, DEMO_ZRED
from prospect_emu.paramfile import load_param_file

if __name__ == "__main__":
    pf = load_param_file(DEMO_PARAMS)
    model, sps = pf.build_model(zred=DEMO_ZRED), pf.build_sps()
    theta = np.array([DEMO_TRUTH[k] for k in model.free_params])
    filters = load_filters(pf.DEMO_FILTERS)
    _, phot, _ = model.predict(theta, obs={"filters": filters, "wavelength": None, "spectrum": None},
                               sps=sps)
    unc = 0.05 * phot
    noisy = phot + unc * np.random.default_rng(8).normal(size=phot.size)
    out = os.path.join(os.path.dirname(pf.__file__), "demo_galaxy.csv")
    with open(out, "w") as f:
        f.write("filter,maggies,maggies_unc\n")
        for name, m, u in zip(pf.DEMO_FILTERS, noisy, unc):
            f.write(f"{name},{m:.6e},{u:.6e}\n")
    print(open(out).read())
