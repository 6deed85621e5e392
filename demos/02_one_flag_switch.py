"""Tutorial 2: switch an existing parameter file to the emulator with one flag.

Runs demos/switch_params.py (a Prospector script with the three-line change) twice on the
demo galaxy: with ``--emulator`` (no FSPS needed), and, where FSPS is available, without
it; reads both results back with Prospector's own reader and plots both best fits.

    python demos/02_one_flag_switch.py [--quick]
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
EMULATOR = HERE.parent / "prospect_emu" / "data" / "demo_emulator"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sampler budgets")
    p.add_argument("--out", default=str(HERE / "out" / "02"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = ["--dynesty", "--nested_sample", "unif", "--nested_nlive_init", "100" if args.quick else "300",
              "--nested_maxbatch", "0", "--print_progress", "False"]
    runs = {"emulator": ["--emulator", str(EMULATOR), "--emulator-error", "cov"]}
    if os.environ.get("SPS_HOME"):
        # FSPS: the sampler budget capped, to keep the demo short
        runs["FSPS"] = ["--nested_maxcall_init", "3000" if args.quick else "30000"]
    else:
        print("SPS_HOME is not set: skipping the FSPS fit")
    from prospect.io.read_results import results_from

    from prospect_emu import emulate
    from prospect_emu.analysis.plots import sed_plot
    from prospect_emu.paramfile import load_param_file

    demo = load_param_file(HERE.parent / "prospect_emu" / "data" / "demo_params.py")
    obs = demo.build_obs()
    best = {}
    for name, extra in runs.items():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(HERE / "switch_params.py"), *budget, "--outfile",
                        str(out / name), *extra], check=True)
        res, _, _ = results_from(str(out / f"{name}_result.h5"))  # Prospector's own reader
        theta = res["chain"][np.argmax(res["lnprobability"])]
        print(f"{name}: {time.perf_counter() - t0:.1f} s, best fit "
              f"{dict(zip(res['theta_labels'], np.round(theta, 3)))}")
        model = demo.build_model()
        if name == "FSPS":
            phot = model.predict(theta, obs=obs, sps=demo.build_sps())[1]
        else:
            phot = emulate(model, EMULATOR).predict(theta, obs=obs)[1]
        best[f"{name} best fit"] = phot
    print(f"wrote {sed_plot(obs, best, out / 'switch_sed.png', title='one parameter file, two engines')}")


if __name__ == "__main__":
    main()
