"""Tutorial 7: an amortized catalog fit, with the fallback that keeps it honest.

1. ``prospect-emu train-posterior``: a conditional density q(theta | photometry, errors, z)
   trained on galaxies simulated from the demo model's prior through the bundled demo
   emulator (no FSPS), observed like a catalog (S/N 5-100, 10% of bands missing);
2. a catalog of galaxies made with FSPS (``prospect-emu generate`` at another seed, noise at
   S/N 20), with one galaxy beyond the posterior's redshifts and one far brighter than any
   prior draw;
3. ``prospect-emu fit-catalog --posterior``: each galaxy's proposals from q weighted by the
   emulated posterior; where the effective sample size is low, or the galaxy lies outside
   what q learned, the galaxy is fitted by the sampler instead.  The summary's ``route``,
   ``ess`` and ``message`` columns say which, and why;
4. three galaxies of the amortized route fitted per galaxy with emcee, to compare.

Needs FSPS for the catalog (step 2) only.

    python demos/07_amortized_catalog.py [--quick] [--out DIR]
"""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EMULATOR = ROOT / "prospect_emu" / "data" / "demo_emulator"
PARAMS = ROOT / "prospect_emu" / "data" / "demo_params.py"
CLI = [sys.executable, "-m", "prospect_emu.cli"]


def run(args: list[str]) -> None:
    print("$ prospect-emu", " ".join(args), flush=True)
    subprocess.run(CLI + args, check=True)


def make_catalog(out: Path, n: int) -> Path:
    """``n`` FSPS-made galaxies at S/N 20, two of them out of the posterior's reach."""
    from astropy.table import Table

    from prospect_emu.analysis.calibrate_mocks import mocks_from_test_set
    from prospect_emu.analysis.catalog_object import build_model, model_source
    from prospect_emu.emulator.artifact import Emulator
    from prospect_emu.trainingdata.trainingset import TrainingSet

    test = out / "fsps_galaxies.h5"
    run(["generate", str(PARAMS), "--n", str(n + 5), "--sampler", "prior", "--block-size", "1",
         "--share-spectrum", "1", "--seed", "8383", "--range", "zred=0.2,2.5", "--workers", "1",
         "--quiet", "--overwrite", "--out", str(test)])
    emu = Emulator.load(EMULATOR)
    model, _ = build_model(model_source(EMULATOR, list(emu.filter_names), emu=emu))
    mocks = mocks_from_test_set(emu, model, TrainingSet(test), n, np.random.default_rng(1), 20.0)
    t = Table({"id": np.arange(len(mocks.z)), "z": mocks.z})
    for j, b in enumerate(mocks.bands):
        t[b], t[f"{b}_unc"] = mocks.maggies[:, j], mocks.unc[:, j]
    t["z"][0] = 2.9  # beyond the posterior's redshifts (it was trained on 0.2-2.5)
    for b in mocks.bands:
        t[b][1] *= 1e6  # a million times brighter than any galaxy of the prior
    path = out / "catalog.ecsv"
    t.write(path, overwrite=True)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="amortized catalog fit of the demo model")
    ap.add_argument("--quick", action="store_true", help="a small posterior and catalog (~1 min)")
    ap.add_argument("--out", default="tutorial7_out")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    post = out / "posterior"
    size = ["--simulations", "100000", "--epochs", "12", "--hidden", "96"] if args.quick else []
    run(["train-posterior", str(EMULATOR), "--out", str(post), "--zred", "0.2,2.5", "--threads",
         "1", "--quiet", *size])
    catalog = make_catalog(out, 20 if args.quick else 200)
    fallback = ["--sampler", "emcee"] + (["--nwalkers", "32", "--niter", "64", "--nburn", "16"]
                                         if args.quick else [])
    # the quick posterior is small: accept fewer effective draws (the full one: the default 300)
    ess = ["--min-ess", "100"] if args.quick else []
    run(["fit-catalog", str(catalog), "--emulator", str(EMULATOR), "--out", str(out / "amortized"),
         "--posterior", str(post), "--workers", "1", "--quiet", "--overwrite", *ess, *fallback])

    from astropy.table import Table

    amortized = Table.read(out / "amortized" / "summary.ecsv")
    routes = list(amortized["route"])
    # three galaxies of the amortized route, fitted per galaxy with emcee's demo preset
    table = Table.read(catalog)
    chosen = [i for i, r in zip(amortized["id"], routes) if r == "amortized"][:3]
    table[[i in chosen for i in table["id"]]].write(out / "three.ecsv", overwrite=True)
    run(["fit-catalog", str(out / "three.ecsv"), "--emulator", str(EMULATOR), "--out",
         str(out / "emcee"), "--sampler", "emcee", "--preset", "demo", "--workers", "1", "--quiet",
         "--overwrite"])
    per_galaxy = Table.read(out / "emcee" / "summary.ecsv")
    print(f"\n{routes.count('amortized')} of {len(routes)} galaxies took the amortized route; "
          "the others, and why:")
    for r in amortized[[not x.startswith("amortized") for x in routes]]:
        print(f"  galaxy {r['id']}: {r['route']}, {r['message']}")
    print("\nlog10 stellar mass, amortized vs per-galaxy emcee (p16, p50, p84):")
    for r in per_galaxy:
        a = amortized[list(amortized["id"]).index(r["id"])]
        q = [np.log10(a[f"stellar_mass_{k}"]) for k in ("p16", "p50", "p84")]
        e = [np.log10(r[f"stellar_mass_{k}"]) for k in ("p16", "p50", "p84")]
        print(f"  galaxy {r['id']} ({a['route']}, ESS {a['ess']:.0f}): "
              f"{q[1]:.3f} [{q[0]:.3f}, {q[2]:.3f}] vs {e[1]:.3f} [{e[0]:.3f}, {e[2]:.3f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
