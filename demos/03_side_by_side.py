"""Tutorial 3: side-by-side fits of one galaxy, then of a set of mocks.

``prospect-emu compare`` fits the demo galaxy with FSPS and with the bundled emulator
(same sampler, same seed), then N mock galaxies drawn from the prior.  Needs FSPS.

    python demos/03_side_by_side.py [--quick]
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARAM_FILE = HERE.parent / "prospect_emu" / "data" / "demo_params.py"
EMULATOR = HERE.parent / "prospect_emu" / "data" / "demo_emulator"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fixed metallicity, small budgets, 2 mocks")
    p.add_argument("--out", default=str(HERE / "out" / "03"))
    args = p.parse_args()
    if not os.environ.get("SPS_HOME"):
        sys.exit("this tutorial runs FSPS: set SPS_HOME (and install python-fsps) first")
    budget = ["--nested_sample", "unif", "--nested_maxbatch", "0", "--print_progress", "False"]
    if args.quick:
        budget += ["--fixed_metallicity", "-0.3", "--nested_nlive_init", "60", "--nested_maxcall_init", "5000",
                   "--nested_dlogz_init", "1.0"]
        n_mocks = 2
    else:
        budget += ["--nested_nlive_init", "200"]
        n_mocks = 20
    cli = [sys.executable, "-m", "prospect_emu.cli", "compare", str(PARAM_FILE), "--emulator", str(EMULATOR)]
    subprocess.run(cli + ["--out", str(Path(args.out) / "galaxy")] + budget, check=True)
    subprocess.run(cli + ["--out", str(Path(args.out) / "mocks"), "--mocks", str(n_mocks), "--quiet"] + budget,
                   check=True)


if __name__ == "__main__":
    main()
