"""The spectral kind's photometry-only fast path (issue 10, speed): the projection works on
the rest-frame pixels inside the observed filters' supports only, and the likelihood's
SpectralNetwork runs the folded network; both equal sedpy's projection of the full
emulated spectrum (no FSPS: the tiny numpy spectral artifact of test_spectral_fits)."""

from __future__ import annotations

import numpy as np
import pytest

from prospect_emu.errors import ConfigurationError
from tests.conftest import FLOAT32_RTOL
from tests.prospector.test_spectral_fits import _phot_obs, _tiny_spectral_emulator, _tiny_twin

SETS = [["sdss_g0", "sdss_r0", "sdss_i0"],             # adjacent
        ["galex_FUV", "sdss_r0", "wise_w1"],           # far apart: the span is mostly unused
        ["galex_NUV", "sdss_u0", "sdss_z0", "twomass_J", "twomass_Ks", "wise_w2"]]


def _sedpy_photometry(wave, lnu, filters, zred):
    """Maggies per Msun formed at 10 pc of a rest-frame L_nu (Lsun/Hz) through sedpy,
    at ``zred`` (Prospector's predict_phot without mass and distance)."""
    from sedpy.observate import getSED

    ow = wave * (1 + zred)
    to_cgs = 3.846e33 / (4 * np.pi * (3.085677581467192e19) ** 2)
    return 10 ** (-0.4 * getSED(ow, lnu * 2.998e18 / ow ** 2 * to_cgs, filters))


@pytest.mark.parametrize("bands", SETS, ids=["adjacent", "apart", "six"])
def test_nofsps_plan_on_filter_pixels_equals_sedpy_of_full_spectrum(bands):
    from sedpy.observate import load_filters

    emu = _tiny_spectral_emulator()
    filters = load_filters(bands)
    x = np.array([-0.3, 0.5, 2.0, 1.0])
    wave, lnu, mfrac = emu.predict_spectrum(x)
    for zred in (0.1, 0.8):
        plan = emu.photometry_plan(filters, zred)
        # the pixels kept: where some filter's transmission, interpolated onto the
        # observed-frame grid, is positive (sedpy's obj_counts_hires weights)
        ow = wave * (1 + zred)
        support = np.zeros(len(wave), dtype=bool)
        for f in filters:
            support |= np.interp(ow, f.wavelength, f.transmission, left=0, right=0) > 0
        np.testing.assert_array_equal(plan.pixels, np.flatnonzero(support))
        if bands == SETS[1]:
            assert len(plan.pixels) < 0.5 * (plan.hi - plan.lo)
        want = _sedpy_photometry(wave, lnu, filters, zred)
        phot, mf = emu.photometry(x, plan)
        np.testing.assert_allclose(phot, want, rtol=FLOAT32_RTOL)
        assert mf == pytest.approx(mfrac, rel=FLOAT32_RTOL)
        batch, _ = emu.predict_photometry(np.vstack([x, x]), filters, zred)
        np.testing.assert_allclose(batch, [want, want], rtol=FLOAT32_RTOL)


@pytest.mark.parametrize("bands", SETS, ids=["adjacent", "apart", "six"])
def test_nofsps_likelihood_network_equals_sedpy_of_full_spectrum(bands):
    from sedpy.observate import load_filters

    from prospect_emu.prospector.likelihood import fast_plan

    zred = 0.8
    _, twin = _tiny_twin(zred=zred)
    filters = load_filters(bands)
    plan = fast_plan(twin, _phot_obs(filters, np.full(len(bands), 1e-9)))
    net = plan.net
    assert type(net).__name__ == "SpectralNetwork"
    # the network is folded as the photometric kind's (one product per layer, biases in
    # the weights): it takes the scaled input with its trailing 1, as FoldedNetwork does
    assert all(w.shape[0] == n + 1 for (w, _, _), n in
               zip(net.hidden, [len(twin.emulator.input_names), 8]))
    rng = np.random.default_rng(3)
    rows, wants = [], []
    for _ in range(4):
        theta = twin.theta.copy()
        theta[twin.theta_index["dust2"]] = rng.uniform(0.1, 1.5)
        theta[twin.theta_index["tage"]] = rng.uniform(0.5, 5.0)
        s, _ = twin.input_plan.fast(twin, theta)
        x = np.array([float(np.squeeze(twin.params[n])) for n in twin.emulator.input_names])
        wave, lnu, mfrac = twin.emulator.predict_spectrum(x)
        want = _sedpy_photometry(wave, lnu, filters, zred)
        out = net.forward_one(s)
        np.testing.assert_allclose(np.sinh(out[:-1]) * plan.two_soft, want, rtol=FLOAT32_RTOL)
        assert np.exp(out[-1]) == pytest.approx(mfrac, rel=FLOAT32_RTOL)
        rows.append(s)
        wants.append(want)
    out = net.forward(np.array(rows))
    np.testing.assert_allclose(np.sinh(out[:, :-1]) * plan.two_soft, wants, rtol=FLOAT32_RTOL)


def test_nofsps_emulated_sps_reuses_the_spectrum_while_its_inputs_do_not_change():
    from prospect_emu.prospector.sps import EmulatedSPS

    model, twin = _tiny_twin(zred=0.8)
    emu = twin.emulator
    esps = EmulatedSPS(emu)
    params = {k: np.copy(v) for k, v in model.params.items()}
    x = np.array([float(np.squeeze(params[n])) for n in emu.input_names])
    wave, spec, mfrac = esps.get_galaxy_spectrum(**params)
    want_wave, want, want_mfrac = emu.predict_spectrum(x)
    np.testing.assert_array_equal(spec, want)
    assert esps.n_spectra == 1 and mfrac == want_mfrac
    # mass, redshift and smoothing are no inputs: the same spectrum, not computed again
    spec *= 2.0  # and what a caller does to the returned array does not reach the cache
    params.update(mass=np.array([3e10]), zred=np.array([2.0]), sigma_smooth=np.array([200.0]))
    _, again, _ = esps.get_galaxy_spectrum(**params)
    np.testing.assert_array_equal(again, want)
    assert esps.n_spectra == 1
    # an input changes: a new spectrum
    params["dust2"] = np.array([1.1])
    x[emu.input_names.index("dust2")] = 1.1
    _, new, new_mfrac = esps.get_galaxy_spectrum(**params)
    np.testing.assert_array_equal(new, emu.predict_spectrum(x)[1])
    assert esps.n_spectra == 2 and not np.array_equal(new, want)
    # mass_units='mstar' stays refused, however the value is held
    for mu in ("mstar", ["mstar"], np.array(["mstar"])):
        with pytest.raises(ConfigurationError, match="mass_units='mstar'"):
            esps.get_galaxy_spectrum(**dict(params, mass_units=mu))
