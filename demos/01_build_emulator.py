"""Tutorial 1: build an emulator for your own Prospector model.

generate (FSPS SEDs of the model) -> train (Keras) -> read the held-out accuracy.
Needs python-fsps and SPS_HOME.  Writes demos/out/01/ (training set, emulator, figure).

    python demos/01_build_emulator.py            # 20,000 SEDs, 4 x 128 network (~10 min)
    python demos/01_build_emulator.py --quick    # 1,500 SEDs, 2 x 32 network (~1 min)
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARAM_FILE = HERE.parent / "prospect_emu" / "data" / "demo_params.py"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(HERE / "out" / "01"))
    args = p.parse_args()
    if not os.environ.get("SPS_HOME"):
        sys.exit("this tutorial runs FSPS: set SPS_HOME (and install python-fsps) first")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n, width, depth, extra = (1500, 32, 2, ["--epochs", "40", "--schedule", "2e-3:64,5e-4:256"]) \
        if args.quick else (20000, 128, 4, [])
    cli = [sys.executable, "-m", "prospect_emu.cli"]
    # 1. generate: the model's prior, zred over [0, 3] although the fit fixes it
    subprocess.run(cli + ["generate", str(PARAM_FILE), "--out", str(out / "train.h5"), "--n", str(n),
                          "--range", "zred=0,3", "--sampler", "mixture:prior=0.8,uniform=0.2",
                          "--share-spectrum", "4", "--overwrite", "--quiet"], check=True)
    # 2. train
    subprocess.run(cli + ["train", str(out / "train.h5"), "--out", str(out / "emulator"),
                          "--width", str(width), "--depth", str(depth), "--quiet", "--no-keras"] + extra,
                   check=True)
    # 3. held-out accuracy, as stored in the artifact
    subprocess.run(cli + ["info", str(out / "emulator")], check=True)
    from prospect_emu.analysis.plots import accuracy_plot
    from prospect_emu.emulator.artifact import Emulator

    print(f"wrote {accuracy_plot(Emulator.load(out / 'emulator'), out / 'accuracy.png')}")


if __name__ == "__main__":
    main()
