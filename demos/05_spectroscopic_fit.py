"""Tutorial 5: a spectroscopic fit (spectrum + photometry) with a spectral emulator.

Trains a small spectral emulator of the demo model with the package's own commands
(``prospect-emu generate --store-spectrum``, ``prospect-emu train --kind spectrum``),
makes a mock galaxy with FSPS (an optical spectrum, observed frame, and the demo bands),
then fits it with FSPS and with the emulator side by side (``prospect_emu.analysis.compare``):
the comparison table, the corner plot, the SED and the spectra with residuals
(``spectrum.png``).  Redshift, mass and distance are exact in a spectral emulator; the
emulated spectrum goes through Prospector's own ``SpecModel.predict`` (redshifting,
smoothing, calibration, filters).  Needs FSPS.

    python demos/05_spectroscopic_fit.py [--quick]
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PARAM_FILE = HERE.parent / "prospect_emu" / "data" / "demo_params.py"
ZRED = 0.8


def build_emulator(out: Path, quick: bool) -> Path:
    """A spectral emulator of the demo model (a few minutes with --quick)."""
    emu = out / "spectral_emulator"
    if (emu / "emulator.json").exists():
        return emu
    n, net = (1500, ["--width", "64", "--depth", "3", "--epochs", "40", "--patience", "8"]) if quick \
        else (20000, ["--width", "256", "--depth", "4"])
    data = out / "spectra.h5"
    cli = [sys.executable, "-m", "prospect_emu.cli"]
    subprocess.run(cli + ["generate", str(PARAM_FILE), "--out", str(data), "--n", str(n),
                          "--range", "zred=0,3", "--range", "tage=0.1,10", "--range", "tau=0.3,10",
                          "--store-spectrum", "--chunk-size", "100", "--seed", "5", "--overwrite",
                          "--quiet"], check=True)
    subprocess.run(cli + ["train", str(data), "--out", str(emu), "--kind", "spectrum", "--no-keras",
                          "--seed", "1", "--quiet"] + net, check=True)
    return emu


def mock_observation(quick: bool, seed: int = 3) -> tuple[dict, dict]:
    """FSPS spectrum (S/N 20 per pixel, 3800-8800 AA observed) and photometry (S/N 20)."""
    from prospect.utils.obsutils import fix_obs

    from prospect_emu.paramfile import load_param_file

    mod = load_param_file(PARAM_FILE)
    model = mod.build_model(zred=ZRED, fixed_metallicity=-0.3 if quick else None)
    sps = mod.build_sps()
    base = mod.build_obs()
    truth = {"mass": 3e10, "dust2": 0.4, "tage": 3.0, "tau": 1.5}
    if not quick:
        truth["logzsol"] = -0.3
    for k, v in truth.items():
        model.params[k] = np.atleast_1d(v)
    wave = np.linspace(3800.0, 8800.0, 1000)
    obs = {"wavelength": wave, "spectrum": np.ones_like(wave), "unc": np.ones_like(wave),
           "filters": base["filters"], "maggies": None, "maggies_unc": None}
    spec, phot, _ = model.predict(model.theta, obs=obs, sps=sps)
    rng = np.random.default_rng(seed)
    sunc, punc = spec / 20.0, phot / 20.0
    obs.update(spectrum=spec + sunc * rng.normal(size=spec.size), unc=sunc,
               maggies=phot + punc * rng.normal(size=phot.size), maggies_unc=punc)
    return fix_obs(obs), truth


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a small emulator, fixed metallicity, small sampler budgets")
    p.add_argument("--out", default=str(HERE / "out" / "05"))
    args = p.parse_args()
    if not os.environ.get("SPS_HOME"):
        sys.exit("this tutorial runs FSPS: set SPS_HOME (and install python-fsps) first")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    emu = build_emulator(out, args.quick)
    obs, truth = mock_observation(args.quick)
    argv = ["--zred", str(ZRED), "--nested_sample", "unif", "--nested_maxbatch", "0",
            "--print_progress", "False", "--emulator-error", "none"]
    if args.quick:
        argv += ["--fixed_metallicity", "-0.3", "--nested_nlive_init", "60",
                 "--nested_maxcall_init", "5000", "--nested_dlogz_init", "1.0"]
    else:
        argv += ["--nested_nlive_init", "200"]
    from prospect_emu.analysis.compare import compare

    res = compare(PARAM_FILE, emu, out / "fit", argv, obs=obs, truth=truth)
    print(res["table"])
    for name, path in res["paths"].items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
