"""A Prospector-alpha-like parameter file, written the way Prospector's docs build models.

Continuity SFH (Student-t priors on the log SFR ratios, ``mass`` by depends_on), Kriek &
Conroy attenuation (dust_type 4) with birth-cloud dust tied to diffuse dust by a user
``depends_on`` function, DL07 dust emission, a Nenkova AGN torus.  run_params:
``free_zred`` (zred free, age bins tied to it by Prospector's ``zred_to_agebins``),
``nbins`` (SFH bins), ``beta`` (Prospector's own ``TemplateLibrary["beta"]``, nebular off).
Used by tests/prospector/test_real_models.py.
"""

import numpy as np
from prospect.models import SpecModel, priors, transforms
from prospect.models.templates import TemplateLibrary, adjust_continuity_agebins

FILTERS = ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0",
           "twomass_J", "twomass_H", "twomass_Ks", "wise_w1", "wise_w2", "wise_w3", "wise_w4"]


def to_dust1(dust1_fraction=None, dust1=None, dust2=None, **extras):
    return dust1_fraction * dust2


def build_obs(**extras):
    from sedpy.observate import load_filters

    filters = load_filters(FILTERS)
    return {"filters": filters, "maggies": np.ones(len(filters)) * 1e-9,
            "maggies_unc": np.ones(len(filters)) * 1e-10, "wavelength": None,
            "spectrum": None, "unc": None, "mask": None,
            "phot_wave": np.array([f.wave_effective for f in filters])}


def build_model(zred=1.0, free_zred=False, nbins=5, beta=False, **extras):
    if beta:
        params = TemplateLibrary["beta"]
        for name in ("add_neb_emission", "add_neb_continuum", "nebemlineinspec"):
            params[name]["init"] = False
        return SpecModel(params)
    params = TemplateLibrary["continuity_sfh"]
    params = adjust_continuity_agebins(params, tuniv=13.7, nbins=nbins)
    params.update(TemplateLibrary["dust_emission"])
    params.update(TemplateLibrary["agn"])
    params["zred"]["init"] = zred
    params["dust_type"]["init"] = 4
    params["dust_index"] = {"N": 1, "isfree": True, "init": 0.0,
                            "prior": priors.Normal(mean=0.0, sigma=0.3)}
    params["dust1"] = {"N": 1, "isfree": False, "depends_on": to_dust1, "init": 0.0}
    params["dust1_fraction"] = {"N": 1, "isfree": True, "init": 1.0,
                                "prior": priors.ClippedNormal(mini=0.0, maxi=2.0, mean=1.0, sigma=0.3)}
    params["fagn"]["isfree"] = True
    params["agn_tau"]["isfree"] = True
    params["duste_qpah"]["isfree"] = True
    params["logzsol"]["prior"] = priors.TopHat(mini=-1.0, maxi=0.19)
    if free_zred:
        params["zred"]["isfree"] = True
        params["zred"]["prior"] = priors.TopHat(mini=0.5, maxi=3.0)
        params["agebins"]["depends_on"] = transforms.zred_to_agebins
    return SpecModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import FastStepBasis

    return FastStepBasis(zcontinuous=zcontinuous)


def build_noise(**extras):
    return None, None
