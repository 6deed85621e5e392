"""delayed_tau_params.py's fit with the three-line prospect-emu change: add --emulator EMU_DIR
to fit with an emulator instead of FSPS; without it, it fits with FSPS exactly as before.

    python delayed_tau_switch_params.py --dynesty --outfile result [--emulator EMU_DIR]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from delayed_tau_params import build_model, build_noise, build_obs, build_sps  # noqa: E402

if __name__ == "__main__":
    from prospect import prospect_args
    from prospect.fitting import fit_model
    from prospect.io import write_results as writer

    from prospect_emu import add_emulator_arguments, use_emulator

    parser = prospect_args.get_parser()
    parser.add_argument("--objid", type=int, default=0)
    parser.add_argument("--zred", type=float, default=0.5)
    parser.add_argument("--fixed_metallicity", type=float, default=None)
    add_emulator_arguments(parser)                                     # 1
    run_params = vars(parser.parse_args())
    obs, noise = build_obs(**run_params), build_noise(**run_params)
    model = build_model(**run_params)
    sps = None if run_params["emulator"] else build_sps(**run_params)  # 2
    model, lnprobfn = use_emulator(model, run_params)                  # 3
    run_params["param_file"] = __file__
    output = fit_model(obs, model, sps, noise, lnprobfn=lnprobfn, **run_params)
    writer.write_hdf5(f"{run_params['outfile']}_result.h5", run_params, model, obs,
                      output["sampling"][0], None, tsample=output["sampling"][1],
                      toptimize=output["optimization"][1], sps=sps)
