"""Fits with a spectral emulator (real FSPS spectral fixture): photometry through
EmulatedSpecModel's fast path, the likelihood against an independent Gaussian, spectra
through Prospector's own SpecModel.predict, and a spectroscopic fit's wiring."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from prospect_emu.errors import ConfigurationError

from .spectral_fixtures import build_spectral_emulator, fsps_truth

BANDS = ["sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "twomass_J"]


@pytest.fixture(scope="session")
def spectral_emulator(sps_home, tmp_path_factory):
    return build_spectral_emulator(tmp_path_factory)


@pytest.fixture(scope="module")
def emu(spectral_emulator):
    from prospect_emu.artifact import Emulator

    return Emulator.load(spectral_emulator)


def _models(emu, zred, error="none"):
    from prospect_emu.model import emulate

    model, _ = fsps_truth(zred=zred)
    for k, v in {"logzsol": -0.2, "dust2": 0.4, "tage": 3.0, "tau": 2.0}.items():
        model.params[k] = np.atleast_1d(v)
    with pytest.warns(UserWarning, match="prior"):
        twin = emulate(model, emu, error=error)
    return model, twin


def _phot_obs(filters, maggies, rel=0.05):
    return {"filters": filters, "maggies": maggies.copy(), "maggies_unc": rel * maggies,
            "phot_mask": np.ones(len(filters), dtype=bool), "wavelength": None,
            "spectrum": None}


def _lupton_mag(f, b):
    return -2.5 / np.log(10) * (np.arcsinh(f / (2 * b)) + np.log(b))


@pytest.mark.parametrize("zred", [0.1, 1.3])
def test_fast_photometry_equals_specmodel_with_emulated_sps(emu, zred):
    from prospect.models import SpecModel
    from sedpy.observate import load_filters

    from prospect_emu.likelihood import fast_plan
    from prospect_emu.sps import EmulatedSPS

    model, twin = _models(emu, zred)
    filters = load_filters(BANDS + ["jwst_f200w"] if zred < 1 else BANDS)
    obs = {"filters": filters, "wavelength": None, "spectrum": None}
    rng = np.random.default_rng(4)
    for _ in range(5):
        theta = twin.theta.copy()
        theta[twin.theta_index["dust2"]] = rng.uniform(0.1, 1.5)
        theta[twin.theta_index["tage"]] = rng.uniform(0.5, 8.0)
        _, phot, mfrac = twin.predict(theta, obs)
        _, ref, mref = SpecModel.predict(model, theta, obs, sps=EmulatedSPS(emu))
        np.testing.assert_allclose(phot, ref, rtol=1e-9)
        assert mfrac == pytest.approx(mref, rel=1e-9)
    # the likelihood's fast path (fixed zred) is the spectral one
    plan = fast_plan(twin, _phot_obs(filters, ref))
    assert type(plan.net).__name__ == "SpectralNetwork"


@pytest.mark.parametrize("mode", ["none", "diag", "cov"])
def test_lnprobfn_equals_independent_gaussian(emu, mode, monkeypatch):
    from prospect.models import SpecModel
    from sedpy.observate import load_filters

    from prospect_emu.likelihood import lnprobfn
    from prospect_emu.sps import EmulatedSPS

    model, twin = _models(emu, 0.4, error=mode)
    filters = load_filters(BANDS)
    theta0 = twin.theta.copy()
    _, truth, _ = SpecModel.predict(model, theta0, {"filters": filters}, sps=EmulatedSPS(emu))
    obs = _phot_obs(filters, truth * np.linspace(0.9, 1.1, len(BANDS)))
    theta = theta0.copy()
    theta[twin.theta_index["dust2"]] += 0.1
    _, phot, _ = SpecModel.predict(model, theta, obs, sps=EmulatedSPS(emu))
    var = obs["maggies_unc"] ** 2
    cov = np.diag(var)
    if mode != "none":
        # d flux / d asinh mag by finite differences of Lupton's magnitude, b in maggies
        scale = float(theta[twin.theta_index["mass"]][0]) * _dist(0.4)
        b = np.array([emu.softening[emu.filter_names.index(n)] for n in BANDS]) * scale
        h = phot * 1e-6
        dmag_df = (_lupton_mag(phot + h, b) - _lupton_mag(phot - h, b)) / (2 * h)
        j = 1.0 / dmag_df
        idx = [emu.filter_names.index(n) for n in BANDS]
        s = np.asarray(emu.error_stats["covariance"])[np.ix_(idx, idx)]
        emu_cov = np.outer(j, j) * (s if mode == "cov" else np.diag(np.diag(s)))
        cov = cov + emu_cov
    expected = stats.multivariate_normal(mean=phot, cov=cov).logpdf(obs["maggies"])
    expected += twin.prior_product(theta)
    assert lnprobfn(theta, model=twin, obs=obs) == pytest.approx(expected, rel=1e-8, abs=1e-6)
    # the generic path (no fast plan: what a free zred or f_outlier_phot takes) agrees
    from prospect_emu import likelihood

    monkeypatch.setattr(likelihood, "fast_plan", lambda model, obs: None)
    assert likelihood.lnprobfn(theta, model=twin, obs=obs) == pytest.approx(
        expected, rel=1e-8, abs=1e-6)


def _dist(zred):
    from prospect_emu.normalization import distance_factor

    return distance_factor(zred, None)


def test_diag_refused_for_untrained_band_none_allowed(emu):
    from sedpy.observate import load_filters

    from prospect_emu.likelihood import lnprobfn

    _, twin = _models(emu, 0.2, error="diag")
    filters = load_filters(["sdss_r0", "jwst_f200w"])
    obs = _phot_obs(filters, np.array([1e-8, 2e-8]))
    with pytest.raises(ConfigurationError, match="jwst_f200w.*--emulator-error none"):
        lnprobfn(twin.theta, model=twin, obs=obs)
    twin.emulator_error = "none"
    assert np.isfinite(lnprobfn(twin.theta, model=twin, obs=obs))


def _spec_obs(emu, model, theta, zred, filters):
    from prospect.models import SpecModel

    from prospect_emu.sps import EmulatedSPS

    wave = np.linspace(3800.0, 7000.0, 400) * (1 + zred)
    obs = {"wavelength": wave, "spectrum": np.ones_like(wave), "unc": np.ones_like(wave),
           "mask": np.ones_like(wave, dtype=bool), "filters": filters,
           "maggies": None, "maggies_unc": None}
    spec, phot, _ = SpecModel.predict(model, theta, obs, sps=EmulatedSPS(emu))
    obs.update(spectrum=spec.copy(), unc=0.02 * spec, maggies=phot.copy(), maggies_unc=0.03 * phot,
               phot_mask=np.ones(len(filters), dtype=bool))
    return obs


def test_spectrum_path_equals_specmodel_and_fit_recovers_mock(emu):
    from prospect.likelihood import lnlike_phot, lnlike_spec
    from prospect.models import SpecModel
    from sedpy.observate import load_filters

    from prospect_emu.likelihood import lnprobfn
    from prospect_emu.sps import EmulatedSPS

    zred = 0.3
    model, twin = _models(emu, zred, error="none")
    filters = load_filters(BANDS)
    truth = twin.theta.copy()
    obs = _spec_obs(emu, model, truth, zred, filters)
    theta = truth.copy()
    theta[twin.theta_index["tage"]] = 5.0
    spec, phot, mfrac = twin.predict(theta, obs)
    rspec, rphot, rmfrac = SpecModel.predict(model, theta, obs, sps=EmulatedSPS(emu))
    np.testing.assert_allclose(spec, rspec, rtol=1e-12)
    np.testing.assert_allclose(phot, rphot, rtol=1e-12)
    # the likelihood: Prospector's spectral and photometric Gaussians
    expected = (twin.prior_product(theta) + lnlike_spec(rspec, obs=obs)
                + lnlike_phot(rphot, obs=obs))
    assert lnprobfn(theta, model=twin, obs=obs) == pytest.approx(expected, rel=1e-10)
    twin.emulator_error = "diag"
    assert lnprobfn(theta, model=twin, obs=obs) < expected  # emulator error widens phot
    twin.emulator_error = "none"

    # a fit of the emulated mock recovers it (wiring: every parameter reaches the spectrum)
    free = ["logzsol", "dust2", "tage", "tau"]
    idx = [twin.theta_index[p].start for p in free]

    def nll(v):
        th = truth.copy()
        th[idx] = v
        lnp = lnprobfn(th, model=twin, obs=obs)
        return 1e30 if not np.isfinite(lnp) else -lnp

    start = truth[idx] + np.array([0.1, 0.2, -0.8, 0.5])
    res = optimize.minimize(nll, start, method="Nelder-Mead",
                            options={"maxfev": 3000, "xatol": 1e-4, "fatol": 1e-3})
    np.testing.assert_allclose(res.x, truth[idx], rtol=0.03, atol=0.02)


def test_spectrum_outside_emulated_range_refused(emu):
    from sedpy.observate import load_filters

    zred = 0.5
    model, twin = _models(emu, zred)
    obs = _spec_obs(emu, model, twin.theta.copy(), zred, load_filters(BANDS))
    w_hi = emu.wavelength[-1]
    obs["wavelength"] = np.linspace(5000.0, 1.2 * w_hi * (1 + zred), 400)
    with pytest.raises(ConfigurationError, match="outside the spectral emulator's rest-frame range"):
        twin.predict(twin.theta, obs)
    # masked out, the same pixels are fine
    obs["mask"] = obs["wavelength"] < 0.9 * w_hi * (1 + zred)
    twin.predict(twin.theta, obs)
