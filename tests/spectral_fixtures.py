"""A small real-FSPS spectral training set and a briefly trained spectral emulator, shared
by tests/emulator/test_spectral.py and tests/prospector/test_emulated_sps.py (built once per
pytest session: the results are kept under the session's base temporary directory, so each
test module's fixture that calls these finds them there)."""

from __future__ import annotations

from pathlib import Path

from .conftest import PARAM_FILE

#: the training ranges; zred is sampled so that the default rest-frame range covers 0..3
RANGES = {"zred": (0.0, 3.0), "logzsol": (-0.6, 0.1), "tage": (0.05, 10.0), "tau": (0.3, 10.0)}
FILTERS = ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0",
           "twomass_J", "twomass_H", "twomass_Ks", "wise_w1", "wise_w2"]
PCA_TOLERANCE = 0.005


def build_spectral_trainset(tmp_path_factory) -> Path:
    """2400 real FSPS rest-frame spectra of the delayed-tau file (default --wave-range)."""
    from prospect_emu.trainingdata.generate import generate

    out = tmp_path_factory.getbasetemp() / "spectral" / "spectra.h5"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        generate(out, 2400, param_file=PARAM_FILE, ranges=RANGES, filters=FILTERS, workers=2,
                 chunk_size=200, share_spectrum=1, seed=11, store_spectrum=True, progress=False)
    return out


def build_spectral_emulator(tmp_path_factory) -> Path:
    """A 3 x 128 spectral emulator trained briefly on the spectral training set."""
    from prospect_emu.emulator.training import TrainConfig, train

    spectral_trainset = build_spectral_trainset(tmp_path_factory)
    out = spectral_trainset.parent / "emu"
    if not (out / "emulator.json").exists():
        train(spectral_trainset, out,
              TrainConfig(kind="spectrum", width=128, depth=3, epochs=60, patience=10, seed=3,
                          pca_tolerance=PCA_TOLERANCE,
                          schedule=((2e-3, 64), (5e-4, 256), (1e-4, 1024))),
              progress=False, keep_keras=False)
    return out


def fsps_truth(param_file: Path = PARAM_FILE, zred: float = 0.0):
    """A real FSPS SpecModel and CSPSpecBasis built from the test parameter file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("delayed_tau_params_truth", param_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build_model(zred=zred), mod.build_sps()
