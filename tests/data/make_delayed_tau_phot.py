"""Regenerate delayed_tau_phot.csv: FSPS photometry of a known galaxy plus 5% noise.

Needs python-fsps and SPS_HOME.  Truth: mass 1e10, logzsol -0.3, dust2 0.4, tage 5 Gyr,
tau 2 Gyr, zred 0.5.  Run: python tests/data/make_delayed_tau_phot.py
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delayed_tau_params as pf  # noqa: E402
from sedpy.observate import load_filters  # noqa: E402

FILTERS = ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0",
           "twomass_J", "twomass_H", "twomass_Ks", "wise_w1", "wise_w2"]
TRUTH = {"mass": 1e10, "logzsol": -0.3, "dust2": 0.4, "tage": 5.0, "tau": 2.0}

if __name__ == "__main__":
    model = pf.build_model(zred=0.5)
    sps = pf.build_sps()
    theta = np.array([TRUTH[k] for k in model.free_params])
    obs = {"filters": load_filters(FILTERS), "wavelength": None, "spectrum": None}
    _, phot, _ = model.predict(theta, obs=obs, sps=sps)
    rng = np.random.default_rng(42)
    unc = 0.05 * phot
    noisy = phot + unc * rng.normal(size=phot.size)
    with open(pf.PHOT_FILE, "w") as f:
        f.write("filter,maggies,maggies_unc\n")
        for name, m, u in zip(FILTERS, noisy, unc):
            f.write(f"{name},{m:.6e},{u:.6e}\n")
    print(open(pf.PHOT_FILE).read())
