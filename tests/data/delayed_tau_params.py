"""A standard Prospector 1.4.1 parameter file: delayed-tau SFH, 12 bands, one galaxy.

Used by the tests as a user's unmodified parameter file.  Run it as Prospector's demos
are run:  python delayed_tau_params.py --dynesty --outfile result
"""

import os

import numpy as np
from prospect.models import SpecModel
from prospect.models.templates import TemplateLibrary
from prospect.utils.obsutils import fix_obs

HERE = os.path.dirname(os.path.abspath(__file__))
PHOT_FILE = os.path.join(HERE, "delayed_tau_phot.csv")


def build_obs(objid=0, phot_file=PHOT_FILE, **extras):
    """Photometry of one galaxy (maggies) from a CSV file: filter,maggies,maggies_unc."""
    from sedpy.observate import load_filters

    data = np.genfromtxt(phot_file, delimiter=",", names=True, dtype=None, encoding="utf-8")
    obs = {"filters": load_filters([str(f) for f in data["filter"]]),
           "maggies": np.asarray(data["maggies"], dtype=float),
           "maggies_unc": np.asarray(data["maggies_unc"], dtype=float),
           "wavelength": None, "spectrum": None, "unc": None, "mask": None, "objid": objid}
    obs["phot_wave"] = np.array([f.wave_effective for f in obs["filters"]])
    return fix_obs(obs)


def build_model(zred=0.5, fixed_metallicity=None, **extras):
    """Delayed-tau SFH (Prospector's parametric_sfh) at a fixed redshift."""
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = zred
    params["mass"]["prior"].params.update(mini=1e8, maxi=1e12)
    if fixed_metallicity is not None:
        params["logzsol"]["isfree"] = False
        params["logzsol"]["init"] = fixed_metallicity
    return SpecModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=zcontinuous)


def build_noise(**extras):
    return None, None


def build_all(**kwargs):
    return (build_obs(**kwargs), build_model(**kwargs), build_sps(**kwargs), build_noise(**kwargs))


if __name__ == "__main__":
    import time

    from prospect import prospect_args
    from prospect.fitting import fit_model
    from prospect.io import write_results as writer

    parser = prospect_args.get_parser()
    parser.add_argument("--objid", type=int, default=0)
    parser.add_argument("--zred", type=float, default=0.5)
    parser.add_argument("--fixed_metallicity", type=float, default=None)
    args = parser.parse_args()
    run_params = vars(args)
    obs, model, sps, noise = build_all(**run_params)
    run_params["param_file"] = __file__
    ts = time.strftime("%y%b%d-%H.%M", time.localtime())
    hfile = f"{args.outfile}_{ts}_result.h5"
    output = fit_model(obs, model, sps, noise, **run_params)
    writer.write_hdf5(hfile, run_params, model, obs, output["sampling"][0], None,
                      tsample=output["sampling"][1], toptimize=output["optimization"][1], sps=sps)
