"""The demo model: a Prospector 1.4.1 parameter file (delayed-tau SFH, 15 bands).

The bundled demo emulator (prospect_emu/data/demo_emulator) was trained on SEDs of this
model made with ``demos/make_demo_emulator.sh``; ``prospect-emu demo`` fits with it.
``build_obs`` returns one galaxy observed in the 15 bands (demo_galaxy.csv, made with
FSPS on the shared test tree by ``demos/make_demo_galaxy.py``).

    python -m prospect_emu.cli fit prospect_emu/data/demo_params.py --emulator EMU_DIR
"""

import os

import numpy as np
from prospect.models import SpecModel
from prospect.models.templates import TemplateLibrary

try:
    HERE = os.path.dirname(os.path.abspath(__file__))
except NameError:  # executed from a results file's stored text
    HERE = ""

DEMO_FILTERS = ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0",
                "decam_g", "decam_r", "decam_z", "twomass_J", "twomass_H", "twomass_Ks",
                "wise_w1", "wise_w2"]


def build_obs(phot_file=None, **extras):
    """The demo galaxy's photometry (maggies) from a CSV file: filter,maggies,maggies_unc."""
    from prospect.utils.obsutils import fix_obs
    from sedpy.observate import load_filters

    phot_file = phot_file or os.path.join(HERE, "demo_galaxy.csv")
    if not os.path.exists(phot_file):  # filters only, e.g. to generate training data
        return {"filters": load_filters(DEMO_FILTERS), "maggies": None, "maggies_unc": None,
                "wavelength": None, "spectrum": None}
    data = np.genfromtxt(phot_file, delimiter=",", names=True, dtype=None, encoding="utf-8")
    obs = {"filters": load_filters([str(f) for f in data["filter"]]),
           "maggies": np.asarray(data["maggies"], dtype=float),
           "maggies_unc": np.asarray(data["maggies_unc"], dtype=float)}
    obs.update(wavelength=None, spectrum=None, unc=None, mask=None)
    obs["phot_wave"] = np.array([f.wave_effective for f in obs["filters"]])
    return fix_obs(obs)


def build_model(zred=0.8, fixed_metallicity=None, **extras):
    """Delayed-tau SFH (parametric_sfh), mass 1e8-1e12 Msun, at a fixed redshift."""
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = float(zred)
    params["mass"]["prior"].params.update(mini=1e8, maxi=1e12)
    if fixed_metallicity is not None:
        params["logzsol"]["isfree"] = False
        params["logzsol"]["init"] = float(fixed_metallicity)
    return SpecModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=zcontinuous)


def build_noise(**extras):
    return None, None
