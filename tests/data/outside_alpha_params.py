"""A Prospector-alpha-like parameter file in the style of Prospector's own demo_params.py.

Written as a Prospector user would, following ``demo/demo_params.py`` of Prospector 1.x and the
Leja et al. (2019) recipe, not the way this package's other test files are written: a
``build_model(object_redshift=..., fixed_metallicity=..., add_duste=..., add_agn=...)`` taking
run_params, TemplateLibrary blocks, its own depends_on function, its own band names (GALEX,
SDSS, 2MASS, the four IRAC channels and MIPS 24 um) and a photometry table that is a mock made
with FSPS.  ``--fit_redshift`` frees zred over ``[zmin, zmax]`` with the age bins tied to it.

Used by tests/test_acceptance_real_models.py and demos/06_alpha_model.md; no test edits it.
"""

import numpy as np
from prospect import prospect_args
from prospect.fitting import fit_model
from prospect.io import write_results as writer
from prospect.models import priors, transforms
from prospect.models.sedmodel import SpecModel
from prospect.models.templates import TemplateLibrary, adjust_continuity_agebins

# --------------
# Run parameters (command-line options override these)
# --------------
run_params = {"verbose": False,
              "object_redshift": 0.8,
              "fixed_metallicity": None,
              "add_duste": True,
              "add_agn": True,
              "nbins_sfh": 6,
              "fit_redshift": False,
              "zmin": 0.3,
              "zmax": 2.0,
              "zcontinuous": 1}

# the observed bands, blue to red
BANDS = (["galex_FUV", "galex_NUV"] + [f"sdss_{b}0" for b in "ugriz"]
         + [f"twomass_{b}" for b in ("J", "H", "Ks")]
         + [f"spitzer_irac_ch{i}" for i in range(1, 5)] + ["spitzer_mips_24"])

# AB magnitudes of the galaxy: a mock made with FSPS from this model at z = 0.8
# (log formed mass 10.8, logzsol -0.2, dust2 0.5, fagn 0.05, agn_tau 20), rounded to 0.01 mag
AB_MAGS = np.array([29.11, 25.57, 24.86, 24.53, 23.97, 23.02, 22.48,
                    21.85, 21.39, 21.11, 20.98, 21.36, 21.36, 21.52, 19.33])
MAG_ERR = np.full(len(AB_MAGS), 0.05)


def dust2_to_dust1(dust2=None, dust_ratio=None, **extras):
    """Birth-cloud dust as a fraction of the diffuse dust (Leja et al. 2019)."""
    return dust2 * dust_ratio


# --------------
# Model Definition
# --------------
def build_model(object_redshift=0.8, fixed_metallicity=None, add_duste=True, add_agn=True,
                nbins_sfh=6, fit_redshift=False, zmin=0.3, zmax=2.0, **extras):
    """The continuity-SFH model; see the module notes."""
    model_params = TemplateLibrary["continuity_sfh"]
    model_params = adjust_continuity_agebins(model_params, tuniv=13.7, nbins=nbins_sfh)
    model_params["logmass"]["prior"] = priors.TopHat(mini=9.0, maxi=12.0)
    model_params["logzsol"]["prior"] = priors.TopHat(mini=-1.0, maxi=0.19)

    # Kriek & Conroy attenuation, birth-cloud dust tied to the diffuse dust
    model_params["dust_type"]["init"] = 4
    model_params["dust2"]["prior"] = priors.TopHat(mini=0.0, maxi=2.5)
    model_params["dust_index"] = {"N": 1, "isfree": True, "init": 0.0,
                                  "prior": priors.TopHat(mini=-1.0, maxi=0.4)}
    model_params["dust_ratio"] = {"N": 1, "isfree": True, "init": 1.0,
                                  "prior": priors.ClippedNormal(mini=0.0, maxi=2.0, mean=1.0,
                                                                sigma=0.3)}
    model_params["dust1"] = {"N": 1, "isfree": False, "init": 0.0, "depends_on": dust2_to_dust1}

    if object_redshift is not None:
        model_params["zred"]["init"] = object_redshift
    if fit_redshift:
        model_params["zred"]["isfree"] = True
        model_params["zred"]["prior"] = priors.TopHat(mini=zmin, maxi=zmax)
        model_params["agebins"]["depends_on"] = transforms.zred_to_agebins

    if fixed_metallicity is not None:
        model_params["logzsol"]["isfree"] = False
        model_params["logzsol"]["init"] = fixed_metallicity

    if add_duste:
        model_params.update(TemplateLibrary["dust_emission"])
        model_params["duste_qpah"]["isfree"] = True
        model_params["duste_umin"]["isfree"] = True

    if add_agn:
        model_params.update(TemplateLibrary["agn"])
        model_params["fagn"]["isfree"] = True
        model_params["fagn"]["prior"] = priors.LogUniform(mini=1e-4, maxi=1.0)
        model_params["agn_tau"]["isfree"] = True

    return SpecModel(model_params)


# --------------
# Observational Data
# --------------
def build_obs(**kwargs):
    """The galaxy's photometry in maggies, with a 5% floor on the uncertainties."""
    from prospect.utils.obsutils import fix_obs
    from sedpy.observate import load_filters

    maggies = 10 ** (-0.4 * AB_MAGS)
    unc = np.maximum(maggies * MAG_ERR * np.log(10) / 2.5, 0.05 * maggies)
    obs = {"filters": load_filters(BANDS), "maggies": maggies, "maggies_unc": unc,
           "wavelength": None, "spectrum": None, "unc": None, "mask": None}
    return fix_obs(obs)


# --------------
# SPS Object
# --------------
def build_sps(zcontinuous=1, compute_vega_mags=False, **extras):
    from prospect.sources import FastStepBasis

    return FastStepBasis(zcontinuous=zcontinuous, compute_vega_mags=compute_vega_mags)


# -----------------
# Noise Model
# ------------------
def build_noise(**extras):
    return None, None


def build_all(**kwargs):
    return (build_obs(**kwargs), build_model(**kwargs), build_sps(**kwargs), build_noise(**kwargs))


if __name__ == "__main__":
    parser = prospect_args.get_parser()
    parser.add_argument("--object_redshift", type=float, default=0.8)
    parser.add_argument("--fixed_metallicity", type=float, default=None)
    parser.add_argument("--fit_redshift", action="store_true")
    args = parser.parse_args()
    run_params.update(vars(args))
    obs, model, sps, noise = build_all(**run_params)
    run_params["sps_libraries"] = sps.ssp.libraries
    run_params["param_file"] = __file__
    output = fit_model(obs, model, sps, noise, **run_params)
    hfile = f"{args.outfile}_result.h5"
    writer.write_hdf5(hfile, run_params, model, obs, output["sampling"][0],
                      output["optimization"][0], tsample=output["sampling"][1],
                      toptimize=output["optimization"][1], sps=sps)
