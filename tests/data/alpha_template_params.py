"""A parameter file built on Prospector's own ``TemplateLibrary["alpha"]`` (or ``["beta"]``).

``TemplateLibrary["alpha"]`` (Leja et al. 2017): a Dirichlet SFH (``z_fraction`` with Beta
priors, ``total_mass`` LogUniform, ``mass`` by depends_on), Kriek & Conroy dust with
``dust_ratio`` -> ``dust1``, DL07 dust emission and a Nenkova AGN, all free: 15 free
parameters, zred fixed at ``object_redshift``.  ``--template beta``:
``TemplateLibrary["beta"]`` (Wang, Leja et al. 2023), 17 free parameters, the joint ``NzSFH``
prior over zred 0-15, mass, metallicity and the SFH ratios in one vector parameter.  Nebular
emission is switched off in both: this machine's FSPS tree has no nebular tables.  Nothing
else of the templates is changed.

Used by tests/test_acceptance_real_models.py.
"""

import numpy as np
from prospect.models import SpecModel
from prospect.models.templates import TemplateLibrary

BANDS = ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0",
         "twomass_J", "twomass_H", "twomass_Ks", "wise_w1", "wise_w2", "wise_w3", "wise_w4"]


def build_model(template="alpha", object_redshift=0.5, **extras):
    params = TemplateLibrary[template]
    for name in ("add_neb_emission", "add_neb_continuum", "nebemlineinspec"):
        params[name]["init"] = False
    if template == "alpha":
        params["zred"]["init"] = object_redshift
    return SpecModel(params)


def build_obs(**extras):
    """Placeholder photometry of a z ~ 0.5 galaxy (5% errors): the fits only need its bands."""
    from prospect.utils.obsutils import fix_obs
    from sedpy.observate import load_filters

    filters = load_filters(BANDS)
    maggies = 10 ** (-0.4 * np.linspace(24.0, 19.0, len(filters)))
    return fix_obs({"filters": filters, "maggies": maggies, "maggies_unc": 0.05 * maggies,
                    "wavelength": None, "spectrum": None, "unc": None, "mask": None})


def build_sps(zcontinuous=1, template="alpha", **extras):
    from prospect.sources import FastStepBasis

    return FastStepBasis(zcontinuous=zcontinuous)


def build_noise(**extras):
    return None, None
