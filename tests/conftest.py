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

import prospect_emu

# the test parameter files' build_model builds a plain SpecModel, also without SPS_HOME: as a
# user's script does, install Prospector's patch explicitly (importing the package does not)
prospect_emu.patch_prospector()

DATA = Path(__file__).parent / "data"

# Tolerance for comparing two float32 evaluations of the same network: the likelihood's fast
# path (Emulator.predict_one, the output de-standardisation folded into the last layer) and
# the batch path (Emulator.predict), or batches of other shapes (BLAS blocks them differently).
# Each layer sums ~width float32 products in another order: ~sqrt(width) * eps32 (1.2e-7)
# relative per layer, a few 1e-6 through 4-5 layers, machine- and weight-dependent (issue 13:
# 1.03e-6 failed an rtol of 1e-6 on a clean machine).  1e-5 is what float32 can promise, and
# any physics error (a missing (1 + z), a wrong distance or band) is orders of magnitude larger.
# Float64 quantities (distances, priors, likelihood algebra on given fluxes) keep tight ones.
FLOAT32_RTOL = 1e-5
PARAM_FILE = DATA / "delayed_tau_params.py"
# Seeds of the FSPS fixtures (training set draws, network training).  Printed in pytest's
# header so that a failure can be reproduced: PROSPECT_EMU_TEST_SEEDS=5,2 python -m pytest ...
_SEEDS = os.environ.get("PROSPECT_EMU_TEST_SEEDS", "5,2")
try:
    TRAINSET_SEED, TRAIN_SEED = (int(v) for v in _SEEDS.split(","))
except ValueError as exc:
    raise pytest.UsageError(f"PROSPECT_EMU_TEST_SEEDS={_SEEDS!r}: use two integers, e.g. 5,2") from exc
FILTERS12 = ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0",
             "twomass_J", "twomass_H", "twomass_Ks", "wise_w1", "wise_w2"]


def pytest_report_header(config) -> str:
    return (f"prospect-emu test seeds: PROSPECT_EMU_TEST_SEEDS={TRAINSET_SEED},{TRAIN_SEED} "
            "(training-set draws, network training)")


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
    from prospect_emu.trainingdata.generate import generate

    out = tmp_path_factory.mktemp("trainset") / "small.h5"
    generate(out, 3000, param_file=PARAM_FILE, ranges={"zred": (0.0, 2.0), "logzsol": (-0.6, 0.1),
                                                       "tage": (0.5, 10.0), "tau": (0.3, 10.0)},
             workers=2, chunk_size=250, share_spectrum=4, seed=TRAINSET_SEED, progress=False)
    return out


@pytest.fixture(scope="session")
def small_emulator(small_trainset, tmp_path_factory) -> Path:
    """A 3 x 64 Alsing emulator trained briefly on ``small_trainset``."""
    from prospect_emu.emulator.training import TrainConfig, train

    out = tmp_path_factory.mktemp("emu") / "emu"
    train(small_trainset, out, TrainConfig(width=64, depth=3, epochs=60, patience=8, seed=TRAIN_SEED,
                                           schedule=((2e-3, 64), (5e-4, 256), (1e-4, 1024))),
          progress=False)
    return out


#: the bundled artifact of each emulator kind (prospect_emu.emulator.kinds)
KIND_ARTIFACTS = {"photometry": "DEMO_EMULATOR", "spectrum": "DEMO_SPECTRAL_EMULATOR"}


@pytest.fixture(scope="session", params=sorted(KIND_ARTIFACTS))
def kind_emulator(request):
    """The bundled demo emulator of each kind, loaded through ``Emulator.load``: a test that
    takes it runs once per kind.  Needs no FSPS."""
    from prospect_emu import demo
    from prospect_emu.emulator.artifact import Emulator

    return Emulator.load(getattr(demo, KIND_ARTIFACTS[request.param]))
