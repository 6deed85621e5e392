"""Shared fixtures.  FSPS tests use the real FSPS through $SPS_HOME (../shared/sps_home
in CI); where SPS_HOME is absent they skip with a reason, except under CI, where a
missing SPS_HOME is an error rather than a silent skip.

Everything that needs only an emulator and Prospector (the model, priors, likelihood,
fits) runs on the bundled demo emulator (``demo_emulator``), so it also runs, and can
fail, on a machine without FSPS or SPS_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
PARAM_FILE = DATA / "delayed_tau_params.py"
FILTERS12 = ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0",
             "twomass_J", "twomass_H", "twomass_Ks", "wise_w1", "wise_w2"]


def _fsps_ready() -> str | None:
    home = os.environ.get("SPS_HOME")
    if not home or not Path(home, "SPECTRA").is_dir():
        return "SPS_HOME is not set to an FSPS data tree (CI sets it to ../shared/sps_home)"
    try:
        import fsps  # noqa: F401
    except Exception as exc:  # not installed, or wrong tree
        return f"python-fsps cannot be imported: {exc}"
    return None


@pytest.fixture(scope="session")
def sps_home() -> Path:
    """The FSPS data tree; skips (or fails under CI) where there is none."""
    why = _fsps_ready()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the FSPS tests, but {why}")
        pytest.skip(why)
    return Path(os.environ["SPS_HOME"])


@pytest.fixture(scope="session")
def demo_emulator() -> Path:
    """The bundled demo emulator (15 bands; inputs logzsol, dust2, tage, tau, zred in [0, 3]).

    Needs no FSPS.  Its 15 bands include the 12 of ``FILTERS12`` (not in the same order)."""
    from prospect_emu.demo import DEMO_EMULATOR

    return DEMO_EMULATOR


@pytest.fixture(scope="session")
def param_file() -> Path:
    return PARAM_FILE


@pytest.fixture(scope="session")
def small_trainset(sps_home, tmp_path_factory) -> Path:
    """~3000 real FSPS SEDs of the delayed-tau file, zred over [0, 2], 12 bands."""
    from prospect_emu.generate import generate

    out = tmp_path_factory.mktemp("trainset") / "small.h5"
    generate(out, 3000, param_file=PARAM_FILE, ranges={"zred": (0.0, 2.0), "logzsol": (-0.6, 0.1),
                                                       "tage": (0.5, 10.0), "tau": (0.3, 10.0)},
             workers=2, chunk_size=250, share_spectrum=4, seed=5, progress=False)
    return out


@pytest.fixture(scope="session")
def small_emulator(small_trainset, tmp_path_factory) -> Path:
    """A 3 x 64 Alsing emulator trained briefly on ``small_trainset``."""
    from prospect_emu.training import TrainConfig, train

    out = tmp_path_factory.mktemp("emu") / "emu"
    train(small_trainset, out, TrainConfig(width=64, depth=3, epochs=60, patience=8, seed=2,
                                           schedule=((2e-3, 64), (5e-4, 256), (1e-4, 1024))),
          progress=False)
    return out
