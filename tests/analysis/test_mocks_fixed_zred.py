"""Mocks from an FSPS test set of a fixed-zred model with a continuity history (the bundled
alpha model): the mass the photometry is scaled by is the sum of the bins' masses (computed
by ``depends_on``, no free ``mass``), the redshift is the set's fixed one, and a set made at
another redshift than the emulator learned is refused.

The expected photometry and stellar mass are Prospector's own (``SpecModel.predict`` with
FSPS at each truth), not the code under test's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2] / "prospect_emu" / "data"
ALPHA_EMULATOR = DATA / "alpha_emulator"


@pytest.fixture(scope="module")
def alpha_test_set(sps_home, tmp_path_factory):
    """6 prior draws of the alpha model at its fixed zred 1 (seed 8181, used by no emulator)."""
    from prospect_emu.trainingdata.generate import generate

    out = tmp_path_factory.mktemp("alpha_mocks") / "alpha_test.h5"
    generate(out, 6, param_file=DATA / "alpha_params.py", seed=8181, block_size=1,
             chunk_size=6, workers=1, progress=False)
    return out


def _setup():
    from prospect_emu.analysis.catalog_object import build_model, model_source
    from prospect_emu.emulator.artifact import Emulator

    emu = Emulator.load(ALPHA_EMULATOR)
    model, filters = build_model(model_source(ALPHA_EMULATOR, list(emu.filter_names), emu=emu))
    return emu, model, filters


@pytest.mark.fsps
def test_alpha_mocks_are_fsps_photometry_of_the_truths(alpha_test_set):
    from prospect.models import SpecModel
    from prospect.sources import FastStepBasis

    from prospect_emu.analysis.calibrate_mocks import mocks_from_test_set
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.trainingdata.trainingset import TrainingSet

    emu, model, filters = _setup()
    mocks = mocks_from_test_set(emu, model, TrainingSet(alpha_test_set), 6,
                                np.random.default_rng(0), snr=1e8)
    assert "mass" not in model.theta_labels() and mocks.rows.size == 6
    np.testing.assert_allclose(mocks.z, 1.0)
    pf = load_param_file(DATA / "alpha_params.py")
    fsps_model = pf.build_model(zred=1.0)
    assert isinstance(fsps_model, SpecModel)
    sps = FastStepBasis(zcontinuous=1)
    obs = pf.build_obs(phot_file="absent.csv")
    nfree = len(model.theta_labels())
    smass = mocks.labels.index("stellar_mass")
    for i in range(len(mocks.rows)):
        _, phot, mfrac = fsps_model.predict(mocks.truths[i, :nfree], obs=obs, sps=sps)
        np.testing.assert_allclose(mocks.maggies[i], phot, rtol=1e-5)
        expected_mass = float(np.sum(fsps_model.params["mass"])) * mfrac
        np.testing.assert_allclose(mocks.truths[i, smass], expected_mass, rtol=1e-5)


@pytest.mark.fsps
def test_mocks_at_a_redshift_the_emulator_did_not_learn_are_refused(alpha_test_set, tmp_path):
    from prospect_emu.analysis.calibrate_mocks import mocks_from_test_set
    from prospect_emu.errors import ConfigurationError
    from prospect_emu.trainingdata.trainingset import TrainingSet

    moved = tmp_path / "z2.h5"
    shutil.copy(alpha_test_set, moved)
    with h5py.File(moved, "r+") as f:
        config = json.loads(f.attrs["config"])
        config["model"]["zred"]["init"] = "2.0"
        f.attrs["config"] = json.dumps(config)
    emu, model, _ = _setup()
    with pytest.raises(ConfigurationError, match=r"zred 2-2, the emulator learned these bands at "
                                                 r"zred 1-1"):
        mocks_from_test_set(emu, model, TrainingSet(moved), 3, np.random.default_rng(0), 20.0)
