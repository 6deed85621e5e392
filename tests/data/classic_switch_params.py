"""A parameter file with the classic lines of Prospector 1.4.1's demo ``__main__`` (the sps
libraries into run_params, write_hdf5 with the sps object) and the three-line switch.

    python classic_switch_params.py --emcee --outfile result [--emulator EMU_DIR]
"""

import os

from prospect_emu.paramfile import load_param_file

_demo = load_param_file(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                     "prospect_emu", "data", "demo_params.py"))
build_obs, build_model, build_sps, build_noise = (_demo.build_obs, _demo.build_model,
                                                  _demo.build_sps, _demo.build_noise)

if __name__ == "__main__":
    import time

    from prospect import prospect_args
    from prospect.fitting import fit_model
    from prospect.io import write_results as writer

    from prospect_emu import add_emulator_arguments, emulator_sps, use_emulator

    parser = prospect_args.get_parser()
    add_emulator_arguments(parser)                                     # 1
    args = parser.parse_args()
    run_params = vars(args)
    obs, noise = build_obs(**run_params), build_noise(**run_params)
    model = build_model(**run_params)
    sps = emulator_sps(run_params) or build_sps(**run_params)          # 2
    model, lnprobfn = use_emulator(model, run_params)                  # 3
    run_params["sps_libraries"] = sps.ssp.libraries
    run_params["param_file"] = __file__
    ts = time.strftime("%y%b%d-%H.%M", time.localtime())
    hfile = f"{args.outfile}_{ts}_result.h5"
    output = fit_model(obs, model, sps, noise, lnprobfn=lnprobfn, **run_params)
    writer.write_hdf5(hfile, run_params, model, obs, output["sampling"][0], None,
                      tsample=output["sampling"][1], toptimize=output["optimization"][1], sps=sps)
    print("wrote", hfile)
