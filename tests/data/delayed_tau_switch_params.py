"""delayed_tau_params.py with the three-line prospect-emu change: add --emulator EMU_DIR to
fit with an emulator instead of FSPS; without it, it fits with FSPS exactly as before.

    python delayed_tau_switch_params.py --dynesty --outfile result [--emulator EMU_DIR]
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

    from prospect_emu import add_emulator_arguments, use_emulator

    parser = prospect_args.get_parser()
    parser.add_argument("--objid", type=int, default=0)
    parser.add_argument("--zred", type=float, default=0.5)
    parser.add_argument("--fixed_metallicity", type=float, default=None)
    add_emulator_arguments(parser)                                     # 1
    args = parser.parse_args()
    run_params = vars(args)
    obs, noise = build_obs(**run_params), build_noise(**run_params)
    model = build_model(**run_params)
    sps = None if run_params["emulator"] else build_sps(**run_params)  # 2
    model, lnprobfn = use_emulator(model, run_params)                  # 3
    run_params["param_file"] = __file__
    ts = time.strftime("%y%b%d-%H.%M", time.localtime())
    hfile = f"{args.outfile}_result.h5"
    output = fit_model(obs, model, sps, noise, lnprobfn=lnprobfn, **run_params)
    writer.write_hdf5(hfile, run_params, model, obs, output["sampling"][0], None,
                      tsample=output["sampling"][1], toptimize=output["optimization"][1], sps=sps)
