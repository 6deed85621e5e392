"""The mocks' noise: S/N in every band, or a sky-limited floor below the brightest band;
and a folder of mocks keeps the noise it was made with.  No FSPS."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prospect_emu.analysis.compare_mocks import check_noise_record
from prospect_emu.errors import ConfigurationError
from prospect_emu.prospector.fitting import noisy_observation

PHOT = np.array([1.0, 1e-2, 1e-6, 3e-1])   # the brightest band first; 5 and 15 mag below it


def _obs() -> dict:
    from prospect_emu.filters import load_filters

    return {"filters": load_filters(["sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0"]), "maggies": None,
            "maggies_unc": None, "wavelength": None, "spectrum": None, "unc": None, "mask": None}


def test_snr_in_every_band_without_a_floor():
    obs = noisy_observation(_obs(), PHOT, 20.0, np.random.default_rng(3))
    np.testing.assert_allclose(obs["maggies_unc"], PHOT / 20)
    np.testing.assert_allclose(obs["maggies"], PHOT + PHOT / 20 * np.random.default_rng(3).normal(size=4))


def test_a_floor_gives_faint_bands_the_noise_of_a_band_that_far_below_the_brightest():
    obs = noisy_observation(_obs(), PHOT, 20.0, np.random.default_rng(3), floor_mag=2.5)
    floor = 1.0 / 20 / 10.0                      # 2.5 mag below the brightest band, at S/N 20
    expected = np.array([0.05, floor, floor, 0.3 / 20])
    np.testing.assert_allclose(obs["maggies_unc"], expected)
    np.testing.assert_allclose(obs["maggies"], PHOT + expected * np.random.default_rng(3).normal(size=4))
    # S/N: 20 down to the floor's depth, then falling with the flux
    np.testing.assert_allclose(PHOT / obs["maggies_unc"], [20.0, 2.0, 2e-4, 20.0])


def test_a_floor_above_the_brightest_band_is_refused():
    with pytest.raises(ConfigurationError, match=">= 0"):
        noisy_observation(_obs(), PHOT, 20.0, np.random.default_rng(3), floor_mag=-1.0)


def test_a_folder_keeps_the_noise_its_mocks_were_made_with(tmp_path):
    noise = {"snr": 20.0, "noise_floor_mag": None, "seed": 4}
    check_noise_record(tmp_path, noise)
    assert json.loads((tmp_path / "noise.json").read_text()) == noise
    # no mock finished yet (a run that stopped before its first fit): new settings replace them
    check_noise_record(tmp_path, {**noise, "snr": 5.0})
    check_noise_record(tmp_path, noise)
    (tmp_path / "mock000").mkdir()
    (tmp_path / "mock000" / "comparison.json").write_text("{}")
    check_noise_record(tmp_path, dict(noise))              # the same settings: resumes
    with pytest.raises(ConfigurationError, match="another --out"):
        check_noise_record(tmp_path, {**noise, "noise_floor_mag": 8.0})
    with pytest.raises(ConfigurationError, match="same --snr"):
        check_noise_record(tmp_path, {**noise, "snr": 10.0})
