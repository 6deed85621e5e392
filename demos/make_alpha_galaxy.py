"""Regenerate prospect_emu/data/alpha_galaxy.csv: the alpha demo galaxy observed with FSPS.

FSPS photometry of the bundled Prospector-alpha-class model (prospect_emu/data/alpha_params.py,
zred 1) at the prior median of every free parameter (the demo's rule,
``prospect_emu.demo.DEMO_MOCK_RULE``), in its 19 bands with Gaussian noise: 5% of the flux
(S/N 20) added in quadrature to a deep field's depth (5 sigma at AB 29), so the bands that
fall below the Lyman limit or the depth (FUV and NUV at z = 1) are measured as what they
are, faint.
Also writes alpha_galaxy_truth.json (the parameters).  Needs python-fsps and SPS_HOME.
"""

import json
import os

import numpy as np

from prospect_emu.demo import demo_mock_truth
from prospect_emu.paramfile import load_param_file

ALPHA_PARAMS = os.path.join(os.path.dirname(__file__), "..", "prospect_emu", "data", "alpha_params.py")

SNR, DEPTH_AB = 20.0, 29.0

if __name__ == "__main__":
    pf = load_param_file(ALPHA_PARAMS)
    model, sps = pf.build_model(**pf.run_params), pf.build_sps()
    truth = demo_mock_truth(model)
    theta = np.array([truth[k] for k in model.theta_labels()])
    obs = pf.build_obs(phot_file="no such file")  # the 19 bands alone
    _, phot, _ = model.predict(theta, obs=obs, sps=sps)
    unc = np.hypot(phot / SNR, 10 ** (-0.4 * DEPTH_AB) / 5)
    noisy = phot + unc * np.random.default_rng(11).normal(size=phot.size)
    here = os.path.dirname(pf.__file__)
    with open(os.path.join(here, "alpha_galaxy.csv"), "w") as f:
        f.write("filter,maggies,maggies_unc\n")
        for name, m, u in zip(pf.FILTERS, noisy, unc):
            f.write(f"{name},{m:.6e},{u:.6e}\n")
    with open(os.path.join(here, "alpha_galaxy_truth.json"), "w") as f:
        json.dump({"zred": float(pf.run_params["zred"]), "snr": SNR, "depth_ab_5sigma": DEPTH_AB, "theta": truth}, f, indent=1)
    print(open(os.path.join(here, "alpha_galaxy.csv")).read(), truth)
