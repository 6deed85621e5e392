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

import numpy as np

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
    from prospect_emu.artifact import Emulator

    emu = Emulator.load(out / "emulator")
    te = emu.error_stats
    bands = emu.filter_names
    med = [te["per_output"][b]["median_abs"] for b in bands]
    p95 = [te["per_output"][b]["p95_abs"] for b in bands]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, cx) = plt.subplots(1, 2, figsize=(12, 4.5))
    x = np.arange(len(bands))
    ax.bar(x - 0.2, med, 0.4, label="median |dmag|")
    ax.bar(x + 0.2, p95, 0.4, label="95th percentile |dmag|")
    ax.set_xticks(x, bands, rotation=60, ha="right")
    ax.set_ylabel("held-out |emulated - FSPS| [mag]")
    ax.legend(frameon=False)
    ax.set_title(f"{depth} x {width} emulator, {n} SEDs")
    corr = np.array(te["correlation"])[: len(bands), : len(bands)]
    im = cx.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    cx.set_xticks(x, bands, rotation=60, ha="right")
    cx.set_yticks(x, bands)
    cx.set_title("correlation of emulator residuals between bands")
    fig.colorbar(im, ax=cx)
    fig.tight_layout()
    fig.savefig(out / "accuracy.png", dpi=90)
    print(f"wrote {out / 'accuracy.png'}")


if __name__ == "__main__":
    main()
