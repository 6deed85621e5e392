"""The demo parameter file's fit, switched between FSPS and an emulator with one flag.

This is an ordinary Prospector script plus the three marked lines.  With
``--emulator EMU_DIR`` it fits with the emulator (no FSPS needed); without it, with FSPS.
``use_emulator`` returns the likelihood too: passed as ``fit_model(..., lnprobfn=lnprobfn)``
it is prospect-emu's compiled one, which applies ``--emulator-error`` (Prospector's default
``lnprobfn`` would drop it, and costs about twice as much per call).

    python demos/switch_params.py --dynesty --outfile fit --emulator prospect_emu/data/demo_emulator
"""

import os
import sys

from prospect import prospect_args
from prospect.fitting import fit_model
from prospect.io import write_results as writer

from prospect_emu import add_emulator_arguments, emulator_sps, use_emulator
from prospect_emu.paramfile import load_param_file, parse_extra_options

demo = load_param_file(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "prospect_emu",
                                    "data", "demo_params.py"))
build_obs, build_model, build_sps, build_noise = (demo.build_obs, demo.build_model, demo.build_sps,
                                                  demo.build_noise)

if __name__ == "__main__":
    parser = prospect_args.get_parser()
    parser.add_argument("--zred", type=float, default=0.8)
    add_emulator_arguments(parser)                                     # 1
    args, unknown = parser.parse_known_args(sys.argv[1:])
    run_params = vars(args)
    run_params.update(parse_extra_options(unknown))  # e.g. --nested_maxcall_init, for fit_model
    run_params["param_file"] = os.path.abspath(__file__)
    obs, noise = build_obs(**run_params), build_noise(**run_params)
    model = build_model(**run_params)
    sps = emulator_sps(run_params) or build_sps(**run_params)          # 2
    model, lnprobfn = use_emulator(model, run_params)                  # 3
    output = fit_model(obs, model, sps, noise, lnprobfn=lnprobfn, **run_params)
    writer.write_hdf5(f"{run_params['outfile']}_result.h5", run_params, model, obs,
                      output["sampling"][0], None, tsample=output["sampling"][1],
                      toptimize=output["optimization"][1], sps=sps)
    print(f"wrote {run_params['outfile']}_result.h5 ({'emulator' if run_params['emulator'] else 'FSPS'})")
