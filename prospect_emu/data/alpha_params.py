"""The bundled Prospector-alpha-class model (for demonstration).

A parameter file written the way Prospector's documentation builds models, following
Prospector-alpha (Leja et al. 2017, 2019): a continuity star-formation history in 7 bins
(``logsfr_ratios`` with Student-t priors, ``mass`` computed by ``depends_on``), Kriek &
Conroy attenuation (``dust_type`` 4) with a free ``dust_index``, birth-cloud dust tied to
the diffuse dust through ``dust1_fraction``, DL07 dust emission with a free PAH fraction
and a Nenkova AGN torus: 14 free parameters, 19 bands from GALEX FUV to MIPS 24 um.

``zred`` is fixed at 1 by default (``--zred``); ``--free_zred`` frees it over [0.5, 6] with
the age bins tied to it by Prospector's ``zred_to_agebins`` (photometric redshifts) and
FSPS's IGM absorption on; ``--free_zred --igm False`` leaves the IGM out, for a spectral
emulator's training set (``generate --store-spectrum``: the kind applies the IGM exactly
after redshifting, so its rest-frame spectra must have none).

Its emulator in ``prospect_emu/data/alpha_emulator`` was trained on FSPS spectra from the
BaSTI isochrones and the BT-Settl library of the test FSPS tree (no nebular emission): it
demonstrates the method, it is not a science emulator.
"""

import os

import numpy as np
from prospect.models import SpecModel, priors, transforms
from prospect.models.templates import TemplateLibrary, adjust_continuity_agebins

FILTERS = ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0",
           "twomass_J", "twomass_H", "twomass_Ks",
           "spitzer_irac_ch1", "spitzer_irac_ch2", "spitzer_irac_ch3", "spitzer_irac_ch4",
           "wise_w1", "wise_w2", "wise_w3", "wise_w4", "spitzer_mips_24"]

try:
    HERE = os.path.dirname(os.path.abspath(__file__))
except NameError:  # executed from a results file's stored text
    HERE = ""

run_params = {"zred": 1.0, "free_zred": False, "igm": True, "nbins": 7, "zcontinuous": 1}


def to_dust1(dust1_fraction=None, dust1=None, dust2=None, **extras):
    """Birth-cloud optical depth tied to the diffuse dust."""
    return dust1_fraction * dust2


def build_obs(phot_file=None, **extras):
    """The alpha demo galaxy (``alpha_galaxy.csv``: filter,maggies,maggies_unc, made with FSPS
    by ``demos/make_alpha_galaxy.py``), or the 19 bands alone where that file is absent."""
    from prospect.utils.obsutils import fix_obs
    from sedpy.observate import load_filters

    phot_file = phot_file or os.path.join(HERE, "alpha_galaxy.csv")
    if not os.path.exists(phot_file):  # filters only, e.g. to generate training data
        return {"filters": load_filters(FILTERS), "maggies": None, "maggies_unc": None,
                "wavelength": None, "spectrum": None}
    data = np.genfromtxt(phot_file, delimiter=",", names=True, dtype=None, encoding="utf-8")
    obs = {"filters": load_filters([str(f) for f in data["filter"]]),
           "maggies": np.asarray(data["maggies"], dtype=float),
           "maggies_unc": np.asarray(data["maggies_unc"], dtype=float)}
    obs.update(wavelength=None, spectrum=None, unc=None, mask=None)
    obs["phot_wave"] = np.array([f.wave_effective for f in obs["filters"]])
    return fix_obs(obs)


def build_model(zred=1.0, free_zred=False, nbins=7, igm=True, **extras):
    """Continuity SFH + dust_type 4 + dust emission + AGN, as in Prospector-alpha."""
    params = TemplateLibrary["continuity_sfh"]
    params = adjust_continuity_agebins(params, tuniv=13.7, nbins=int(nbins))
    params.update(TemplateLibrary["dust_emission"])
    params.update(TemplateLibrary["agn"])
    params["zred"]["init"] = float(zred)
    params["logmass"]["prior"] = priors.TopHat(mini=8.0, maxi=12.0)
    params["logzsol"]["prior"] = priors.TopHat(mini=-1.0, maxi=0.19)
    params["dust_type"]["init"] = 4
    params["dust2"]["prior"] = priors.TopHat(mini=0.0, maxi=2.0)
    params["dust_index"] = {"N": 1, "isfree": True, "init": 0.0,
                            "prior": priors.TopHat(mini=-1.0, maxi=0.4)}
    params["dust1"] = {"N": 1, "isfree": False, "depends_on": to_dust1, "init": 0.0}
    params["dust1_fraction"] = {"N": 1, "isfree": True, "init": 1.0,
                                "prior": priors.ClippedNormal(mini=0.0, maxi=2.0, mean=1.0,
                                                              sigma=0.3)}
    params["duste_qpah"]["isfree"] = True
    params["fagn"]["isfree"] = True
    params["agn_tau"]["isfree"] = True
    if free_zred:
        params["zred"]["isfree"] = True
        params["zred"]["prior"] = priors.TopHat(mini=0.5, maxi=6.0)
        params["agebins"]["depends_on"] = transforms.zred_to_agebins
        # at zred up to 6 the bluest bands see the Lyman forest: FSPS's Madau (1995) IGM
        params["add_igm_absorption"] = {"N": 1, "isfree": False, "init": bool(igm)}
    return SpecModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import FastStepBasis

    return FastStepBasis(zcontinuous=zcontinuous)


def build_noise(**extras):
    return None, None
