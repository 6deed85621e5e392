"""Fits with a spectral emulator (real FSPS spectral fixture): photometry through
EmulatedSpecModel's fast path, the likelihood against an independent Gaussian, spectra
through Prospector's own SpecModel.predict, and a spectroscopic fit's wiring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

from prospect_emu.errors import ConfigurationError
from tests.conftest import FLOAT32_RTOL
from tests.spectral_fixtures import build_spectral_emulator, fsps_truth

BANDS = ["sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "twomass_J"]


@pytest.fixture(scope="session")
def spectral_emulator(sps_home, tmp_path_factory):
    return build_spectral_emulator(tmp_path_factory)


@pytest.fixture(scope="module")
def emu(spectral_emulator):
    from prospect_emu.emulator.artifact import Emulator

    return Emulator.load(spectral_emulator)


def _models(emu, zred, error="none"):
    from prospect_emu.prospector.twin import emulate

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

    from prospect_emu.prospector.likelihood import fast_plan
    from prospect_emu.prospector.sps import EmulatedSPS

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
        # predict runs the folded float32 network (what the compiled likelihood runs)
        np.testing.assert_allclose(phot, ref, rtol=FLOAT32_RTOL)
        assert mfrac == pytest.approx(mref, rel=FLOAT32_RTOL)
    # the likelihood's fast path (fixed zred) is the spectral one
    plan = fast_plan(twin, _phot_obs(filters, ref))
    assert type(plan.net).__name__ == "SpectralNetwork"


@pytest.mark.parametrize("mode", ["none", "diag", "cov"])
def test_lnprobfn_equals_independent_gaussian(emu, mode, monkeypatch):
    from prospect.models import SpecModel
    from sedpy.observate import load_filters

    from prospect_emu.prospector.likelihood import lnprobfn
    from prospect_emu.prospector.sps import EmulatedSPS

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
    # the fast path runs the folded float32 network (another rounding than predict_spectrum's):
    # the ln-likelihood change of a FLOAT32_RTOL relative change of every band
    tol = FLOAT32_RTOL * np.sum(np.abs((obs["maggies"] - phot) / np.diag(cov) * phot))
    assert lnprobfn(theta, model=twin, obs=obs) == pytest.approx(expected, rel=1e-8, abs=tol)
    # the generic path (no fast plan: what a free zred or f_outlier_phot takes) agrees
    from prospect_emu.prospector import likelihood

    monkeypatch.setattr(likelihood, "fast_plan", lambda model, obs: None)
    assert likelihood.lnprobfn(theta, model=twin, obs=obs) == pytest.approx(
        expected, rel=1e-8, abs=tol)


def _dist(zred):
    from prospect_emu.normalization import distance_factor

    return distance_factor(zred, None)


def test_diag_refused_for_untrained_band_none_allowed(emu):
    from sedpy.observate import load_filters

    from prospect_emu.prospector.likelihood import lnprobfn

    _, twin = _models(emu, 0.2, error="diag")
    filters = load_filters(["sdss_r0", "jwst_f200w"])
    obs = _phot_obs(filters, np.array([1e-8, 2e-8]))
    with pytest.raises(ConfigurationError, match="jwst_f200w.*--emulator-error none"):
        lnprobfn(twin.theta, model=twin, obs=obs)
    twin.emulator_error = "none"
    assert np.isfinite(lnprobfn(twin.theta, model=twin, obs=obs))


def _spec_obs(emu, model, theta, zred, filters):
    from prospect.models import SpecModel

    from prospect_emu.prospector.sps import EmulatedSPS

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

    from prospect_emu.prospector.likelihood import lnprobfn
    from prospect_emu.prospector.sps import EmulatedSPS

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
    # diag: Prospector's spectral term plus the photometric Gaussian widened by the
    # emulator's held-out band variances (d flux / d asinh mag by finite differences)
    twin.emulator_error = "diag"
    scale = float(theta[twin.theta_index["mass"]][0]) * _dist(zred)
    b = np.array([emu.softening[emu.filter_names.index(n)] for n in BANDS]) * scale
    h = rphot * 1e-6
    j = 2 * h / (_lupton_mag(rphot + h, b) - _lupton_mag(rphot - h, b))
    idx = [emu.filter_names.index(n) for n in BANDS]
    var = obs["maggies_unc"] ** 2 + j ** 2 * np.diag(np.asarray(emu.error_stats["covariance"]))[idx]
    expected_diag = (twin.prior_product(theta) + lnlike_spec(rspec, obs=obs)
                     + stats.norm(rphot, np.sqrt(var)).logpdf(obs["maggies"]).sum())
    assert lnprobfn(theta, model=twin, obs=obs) == pytest.approx(expected_diag, rel=1e-9)
    twin.emulator_error = "none"

    # every free parameter reaches the spectrum: the noise-free mock's truth is the maximum
    free = ["logzsol", "dust2", "tage", "tau"]
    idx = [twin.theta_index[p].start for p in free]
    at_truth = lnprobfn(truth, model=twin, obs=obs)
    for i, step in zip(idx, [0.05, 0.05, 0.3, 0.2]):
        for sign in (-1, 1):
            th = truth.copy()
            th[i] += sign * step
            assert lnprobfn(th, model=twin, obs=obs) < at_truth - 1.0

    # and a fit from nearby recovers it
    def nll(v):
        th = truth.copy()
        th[idx] = v
        lnp = lnprobfn(th, model=twin, obs=obs)
        return 1e30 if not np.isfinite(lnp) else -lnp

    start = truth[idx] + np.array([0.03, 0.05, -0.2, 0.2])
    res = optimize.minimize(nll, start, method="Nelder-Mead",
                            options={"maxfev": 4000, "xatol": 1e-5, "fatol": 1e-4})
    assert -res.fun >= at_truth - 0.5
    np.testing.assert_allclose(res.x, truth[idx], rtol=0.05, atol=0.03)


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


# ---- without FSPS: a tiny spectral artifact made from numpy arrays --------------------------
def _tiny_spectral_emulator():
    """A random (untrained) spectral emulator of the demo model's inputs, in memory."""
    from prospect_emu.emulator.spectral import SpectralEmulator

    rng = np.random.default_rng(0)
    wave = np.geomspace(500.0, 60000.0, 3000)
    k = 3
    basis = np.linalg.qr(rng.normal(size=(len(wave), k)))[0].T
    lo, hi = [-1.0, 0.0, np.log10(0.05), np.log10(0.3)], [0.2, 2.0, 1.0, 1.0]
    meta = {"schema_version": 2, "kind": "spectrum",
            "inputs": {"names": ["logzsol", "dust2", "tage", "tau"], "lo": lo, "hi": hi,
                       "log10": [False, False, True, True],
                       "raw_lo": [-1.0, 0.0, 0.05, 0.3], "raw_hi": [0.2, 2.0, 10.0, 10.0]},
            "outputs": {"n_components": k, "log10_mfrac_mean": -0.2, "log10_mfrac_std": 0.03,
                        "filter_names": ["sdss_g0", "sdss_r0"], "softening": [1e-9, 2e-9]},
            "layers": [{"type": "dense", "W": "W0", "b": "b0"}, {"type": "tanh"},
                       {"type": "dense", "W": "W2", "b": "b2"}],
            "exact_parameters": ["zred", "mass", "lumdist"],
            "test_errors": {"names": ["sdss_g0", "sdss_r0", "log10_mfrac"],
                            "covariance": np.diag([0.01 ** 2, 0.02 ** 2, 1e-4]).tolist()}}
    weights = {"wavelength": wave, "pca_mean": -18.0 + 0.3 * np.sin(np.log(wave)),
               "pca_scale": np.full(len(wave), 0.2), "pca_basis": basis,
               "coeff_mean": np.zeros(k), "coeff_std": np.ones(k),
               "W0": rng.normal(size=(4, 8)), "b0": rng.normal(size=8) * 0.1,
               "W2": rng.normal(size=(8, k + 1)) * 0.3, "b2": np.zeros(k + 1)}
    return SpectralEmulator(meta, weights)


def _tiny_twin(error="none", zred=0.8):
    import warnings

    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.twin import emulate

    demo_params = Path(__file__).resolve().parents[2] / "prospect_emu" / "data" / "demo_params.py"
    model = load_param_file(demo_params).build_model(zred=zred)
    for k, v in {"logzsol": -0.3, "dust2": 0.5, "tage": 2.0, "tau": 1.0}.items():
        model.params[k] = np.atleast_1d(v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model, emulate(model, _tiny_spectral_emulator(), error=error)


def _prospector_reference(model, theta, obs, emu):
    """Prospector's own SpecModel.predict on the emulated sps (emission-line table emptied
    as EmulatedSpecModel does, since SPS_HOME may be unset)."""
    from prospect.models import SpecModel

    from prospect_emu.prospector.sps import EmulatedSPS

    ref = SpecModel(model.config_list)
    ref.emline_info = np.zeros(0, dtype=[("wave", "f8"), ("name", "<U20")])
    ref._use_eline = np.zeros(0, dtype=bool)
    return ref.predict(theta, obs=obs, sps=EmulatedSPS(emu))


def test_nofsps_tiny_spectral_photometry_spectrum_and_batch():
    from sedpy.observate import load_filters

    from prospect_emu.prospector.batched import lnprob_batch
    from prospect_emu.prospector.likelihood import lnprobfn

    model, twin = _tiny_twin()
    filters = load_filters(["sdss_g0", "sdss_r0", "twomass_J"])
    theta = twin.theta.copy()
    obs = {"filters": filters, "maggies": None, "maggies_unc": None, "spectrum": None,
           "wavelength": None}
    _, phot, mfrac = twin.predict(theta, obs)
    _, rphot, rmfrac = _prospector_reference(model, theta, obs, twin.emulator)
    np.testing.assert_allclose(phot, rphot, rtol=1e-9)
    wave = np.linspace(4000.0, 9000.0, 300)
    sobs = {"filters": filters, "wavelength": wave, "spectrum": np.ones(300),
            "unc": np.ones(300), "mask": np.ones(300, dtype=bool), "maggies": None}
    spec, sphot, _ = twin.predict(theta, sobs)
    rspec, rsphot, _ = _prospector_reference(model, theta, sobs, twin.emulator)
    np.testing.assert_allclose(spec, rspec, rtol=1e-12)
    np.testing.assert_allclose(sphot, rphot, rtol=1e-9)
    # the batched likelihood equals the scalar one (-inf outside the training box)
    pobs = _phot_obs(filters, rphot * np.array([1.1, 0.95, 1.0]))
    th = np.tile(theta, (6, 1))
    th[:, twin.theta_index["tage"].start] = [0.01, 0.5, 1.0, 3.0, 8.0, 12.0]
    scalar = np.array([lnprobfn(t, model=twin, obs=pobs) for t in th])
    batch = lnprob_batch(th, twin, pobs)
    assert np.array_equal(np.isinf(scalar), np.isinf(batch)) and np.isinf(scalar).sum() == 2
    fin = np.isfinite(scalar)
    np.testing.assert_allclose(batch[fin], scalar[fin], rtol=1e-5)


def test_nofsps_tiny_spectral_refusals():
    from sedpy.observate import load_filters

    from prospect_emu.prospector.likelihood import lnprobfn

    _, twin = _tiny_twin(error="diag")
    filters = load_filters(["sdss_g0", "twomass_J"])
    obs = _phot_obs(filters, np.array([1e-9, 2e-9]))
    with pytest.raises(ConfigurationError, match=r"\['twomass_J'\].*--emulator-error none"):
        lnprobfn(twin.theta, model=twin, obs=obs)
    # observed wavelengths beyond the emulated 500-60000 AA at zred 0.8
    wave = np.linspace(4000.0, 2e5, 300)
    sobs = {"filters": None, "wavelength": wave, "spectrum": np.ones(300), "unc": np.ones(300),
            "mask": np.ones(300, dtype=bool), "maggies": None}
    with pytest.raises(ConfigurationError, match="2e\\+05|200000.*60000 AA"):
        twin.predict(twin.theta, sobs)
