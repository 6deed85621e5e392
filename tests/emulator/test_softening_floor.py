"""The asinh softening's reference (``--softening-reference``) and the spectral kind's floor of
zero pixels (``--spectrum-floor``), against values built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from prospect_emu.emulator.spectral_training import floor_spectra
from prospect_emu.emulator.training_base import TrainConfig
from prospect_emu.emulator.transforms import OutputTransform, band_softening
from prospect_emu.errors import ConfigurationError


def _dropout_set() -> np.ndarray:
    """Three bands over five SEDs; the first band is zero (a Lyman-break dropout) in three."""
    return np.array([[0.0, 2.0, 4.0],
                     [0.0, 1.0, 8.0],
                     [0.0, 3.0, 6.0],
                     [1e-3, 2.0, 5.0],
                     [2e-3, 4.0, 7.0]])


def test_band_reference_is_each_bands_median_and_a_dropout_band_gets_none_a_catalogue_reaches():
    soft = band_softening(_dropout_set(), 1e-4, "band")
    np.testing.assert_allclose(soft[1:], [2e-4, 6e-4])
    assert soft[0] == 1e-30   # the median of the dropout band is 0


def test_peak_reference_is_the_median_brightest_band_for_every_band():
    # each row's brightest band: 4, 8, 6, 5, 7 -> median 6
    np.testing.assert_allclose(band_softening(_dropout_set(), 1e-4, "peak"), [6e-4] * 3)
    out = OutputTransform.fit(["a", "b", "c"], _dropout_set() + 1e-9, np.full(5, 0.6),
                              softening_reference="peak")
    np.testing.assert_allclose(out.softening, [6e-4 + 1e-13] * 3)


def test_an_unknown_reference_is_refused_with_the_choices():
    with pytest.raises(ConfigurationError, match="band or peak"):
        band_softening(_dropout_set(), 1e-4, "mean")
    with pytest.raises(ConfigurationError, match="--softening-reference"):
        TrainConfig(softening_reference="mean").validate()


def test_floor_raises_zero_and_faint_pixels_to_a_fraction_of_each_rows_peak():
    spectra = np.array([[0.0, 1e-20, 1.0, 2.0],     # a zero and a faint pixel: floored
                        [1.0, 2.0, 3.0, 4.0],       # nothing below 1e-12 of 4
                        [0.0, 0.0, 0.0, 0.0],       # no flux: unusable
                        [np.nan, 1.0, 1.0, 1.0],    # not finite: unusable
                        [-1.0, 1.0, 1.0, 1.0]],     # negative: unusable
                       dtype=np.float32)
    bad, n_floored = floor_spectra(spectra, 1e-12, chunk=2)
    assert bad.tolist() == [False, False, True, True, True]
    assert n_floored == 1
    np.testing.assert_allclose(spectra[0], [2e-12, 2e-12, 1.0, 2.0], rtol=1e-6)
    np.testing.assert_array_equal(spectra[1], [1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("floor", [0.0, 1e-3, -1e-12])
def test_a_floor_outside_its_range_is_refused(floor):
    with pytest.raises(ConfigurationError, match="--spectrum-floor"):
        TrainConfig(spectrum_floor=floor).validate()
