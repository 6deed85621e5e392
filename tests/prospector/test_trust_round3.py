"""Issue 21, items 1-4, against independent computations (no FSPS needed).

1. The batched prior of every prior class Prospector 1.4.1 ships, row by row against
   Prospector's own ``ProspectorParams.prior_product`` / ``prior_transform``, and
   ``lnprob_batch`` row by row against ``prospect.fitting.lnprobfn``.
2. In-place edits of every obs array the likelihood reads are honoured (the value of a
   fresh model on a fresh copy of the obs, through Prospector's own ``lnprobfn``) or
   refused (wavelengths reaching outside the spectral emulator's range).
3. ``model.params["zred"] = 2.0`` (a plain float; also a fixed emulator input) gives the
   value of ``np.array([2.0])``.
4. A fitted band with non-finite maggies or a zero/non-finite uncertainty is refused
   with a ConfigurationError naming it, in every error mode, for both emulator kinds.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import numpy as np
import pytest
from prospect.fitting import lnprobfn as prospector_lnprobfn
from prospect.models import ProspectorParams
from prospect.models import priors as pp

import prospect_emu
from prospect_emu.emulator import kernels
from prospect_emu.emulator.artifact import Emulator
from prospect_emu.errors import ConfigurationError
from prospect_emu.paramfile import load_param_file
from prospect_emu.prospector.batched import lnprob_batch
from prospect_emu.prospector.likelihood import lnprobfn
from prospect_emu.prospector.priors import FastPriors
from prospect_emu.prospector.twin import emulate

DATA = Path(prospect_emu.__file__).parent / "data"
EMULATORS = {"photometric": DATA / "demo_emulator", "spectral": DATA / "demo_spectral_emulator"}
TRUTH = np.array([3e10, -0.4, 0.5, 4.0, 1.2])  # mass, logzsol, dust2, tage, tau
# priors wider than the training box are the point of some cases here
pytestmark = [pytest.mark.filterwarnings("ignore:the prior of these free parameters:UserWarning"),
              pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")]


@pytest.fixture(scope="module")
def pf():
    return load_param_file(DATA / "demo_params.py")


@pytest.fixture(scope="module")
def emulators():
    return {k: Emulator.load(v) for k, v in EMULATORS.items()}


def _phot_obs(pf, twin, rel=0.05):
    """Noise-free photometry of TRUTH in the demo's 15 bands (fresh arrays)."""
    obs = copy.deepcopy(pf.build_obs())
    _, phot, _ = twin.predict(TRUTH, obs=obs)
    obs.update(maggies=phot.copy(), maggies_unc=rel * phot,
               phot_mask=np.ones(len(phot), dtype=bool))
    return obs


# ---- 1. the batched prior, every prior class of Prospector 1.4.1 --------------------------
#: one instance of each class in prospect.models.priors, on dust2 (support inside 0-2,
#: except the even Student-t ones, symmetric about 0)
PRIORS = {
    "Uniform": lambda: pp.Uniform(mini=0.1, maxi=1.9),
    "TopHat": lambda: pp.TopHat(mini=0.1, maxi=1.9),
    "Normal": lambda: pp.Normal(mean=0.6, sigma=0.3),
    "MultiVariateNormal": lambda: pp.MultiVariateNormal(mean=np.array([0.6]),
                                                        Sigma=np.array([[0.3]])),
    "ClippedNormal": lambda: pp.ClippedNormal(mean=0.6, sigma=0.3, mini=0.1, maxi=1.9),
    "LogUniform": lambda: pp.LogUniform(mini=0.05, maxi=1.9),
    "Beta": lambda: pp.Beta(alpha=2.0, beta=3.0, mini=0.1, maxi=1.9),
    "LogNormal": lambda: pp.LogNormal(mode=-0.5, sigma=0.5),
    "LogNormalLinpar": lambda: pp.LogNormalLinpar(mode=0.6, sigma_factor=1.5),
    "SkewNormal": lambda: pp.SkewNormal(location=0.6, sigma=0.3, skew=2.0),
    "StudentT": lambda: pp.StudentT(mean=0.6, scale=0.3, df=3.0),
    "FastUniform": lambda: pp.FastUniform(a=0.1, b=1.9),
    "FastTruncatedNormal": lambda: pp.FastTruncatedNormal(a=0.1, b=1.9, mu=0.6, sig=0.3),
    "FastTruncatedEvenStudentTFreeDeg2": lambda: pp.FastTruncatedEvenStudentTFreeDeg2(
        hw=np.array([1.5]), sig=np.array([0.4])),
    "FastTruncatedEvenStudentTFreeDeg2Scalar":
        lambda: pp.FastTruncatedEvenStudentTFreeDeg2Scalar(hw=1.5, sig=0.4),
}


def test_every_prospector_prior_class_is_covered():
    shipped = {n for n, c in vars(pp).items()
               if inspect.isclass(c) and issubclass(c, pp.Prior) and c is not pp.Prior}
    assert shipped == set(PRIORS)


def _rows(model) -> np.ndarray:
    """Rows through dust2's support and beyond, one with mass outside its prior."""
    th = np.tile(TRUTH, (14, 1))
    th[:, model.theta_index["dust2"]] = np.linspace(-0.4, 2.2, 14)[:, None]
    th[3, model.theta_index["mass"]] = 5e12  # out of mass's prior: -inf for this row only
    return th


def _prospector_prior(model, t) -> float:
    """Prospector's own prior_product (the base class's, not the emulated model's)."""
    return float(np.squeeze(ProspectorParams.prior_product(model, t)))


def _model_with(pf, emu, prior, error="none"):
    m0 = pf.build_model(zred=0.8)
    m0.config_dict["dust2"]["prior"] = prior
    return emulate(m0, emu, error=error)


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_batched_prior_is_prospectors_row_by_row(pf, emulators, name):
    model = _model_with(pf, emulators["photometric"], PRIORS[name]())
    th = _rows(model)
    ref = np.array([_prospector_prior(model, t) for t in th])
    assert np.isinf(ref[3]) and np.isfinite(ref).sum() >= 4
    # the fast priors (what prior_product_rows, lnprob_batch and the batched samplers use;
    # the model may add the training box on top, see prospect_emu.prospector.boxprior)
    fast = model.fast_priors
    np.testing.assert_allclose(fast.ln_prior(th), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.ln_prior(th.reshape(2, 7, -1)), ref.reshape(2, 7),
                               rtol=1e-10, atol=1e-12)
    one = np.array([fast.ln_prior(t) for t in th], dtype=float)
    np.testing.assert_allclose(one, ref, rtol=1e-10, atol=1e-12)
    # the unit-cube transform, rows against Prospector's prior_transform per vector (the
    # fast priors: model.prior_transform maps into the prior truncated to the training box,
    # see prospect_emu.prospector.boxprior and tests/prospector/test_real_models.py)
    u = np.random.default_rng(4).uniform(0.02, 0.98, size=(9, model.ndim))
    ref_t = np.array([ProspectorParams.prior_transform(model, x) for x in u])
    np.testing.assert_allclose(fast.unit_transform(u), ref_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.unit_transform(u[0]), ref_t[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_lnprob_batch_is_prospectors_lnprobfn_row_by_row(pf, emulators, name):
    model = _model_with(pf, emulators["photometric"], PRIORS[name]())
    obs = _phot_obs(pf, model)
    th = _rows(model)
    ref = np.array([prospector_lnprobfn(t, model=model, obs=obs) for t in th])
    got = lnprob_batch(th, model, obs)
    assert np.array_equal(np.isfinite(got), np.isfinite(ref))
    assert np.isfinite(ref).sum() >= 4 and np.isinf(ref[3])
    # the batched float32 network against the one-vector one: ~1e-6 of the fluxes, ~1e-4
    # in ln L at chi ~ 20 per band; the fault this catches is (n - 1) ln p, order 1 or more
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=3e-3)


def test_vector_parameters_with_fallback_priors():
    """Several fallback priors at once, one of two elements, on a plain ProspectorParams."""
    config = [
        {"name": "a", "N": 1, "isfree": True, "init": 0.5, "prior": pp.FastUniform(a=0.0, b=1.0)},
        {"name": "b", "N": 2, "isfree": True, "init": np.array([0.1, -0.2]),
         "prior": pp.FastTruncatedEvenStudentTFreeDeg2(hw=np.array([1.0, 2.0]),
                                                       sig=np.array([0.3, 0.5]))},
        {"name": "c", "N": 1, "isfree": True, "init": 0.0,
         "prior": pp.FastTruncatedNormal(a=-1.0, b=1.0, mu=0.2, sig=0.5)},
        {"name": "d", "N": 1, "isfree": True, "init": 0.3, "prior": pp.Uniform(mini=0, maxi=1)},
    ]
    model = ProspectorParams(config)
    rng = np.random.default_rng(7)
    th = rng.uniform([-0.2, -1.2, -2.3, -1.2, -0.1], [1.2, 1.2, 2.3, 1.2, 1.1], size=(40, 5))
    ref = np.array([float(model.prior_product(t)) for t in th])
    assert 5 < np.isfinite(ref).sum() < 40
    fast = FastPriors.for_model(model)
    np.testing.assert_allclose(fast.ln_prior(th), ref, rtol=1e-10, atol=1e-12)
    u = rng.uniform(0.01, 0.99, size=(10, 5))
    ref_t = np.array([model.prior_transform(x) for x in u])
    np.testing.assert_allclose(fast.unit_transform(u), ref_t, rtol=1e-10, atol=1e-12)


def test_a_prior_giving_an_array_per_vector_is_refused():
    """1.4.1's MultiVariateNormal on two elements: its prior_product is an array."""
    config = [{"name": "b", "N": 2, "isfree": True, "init": np.array([0.1, 0.2]),
               "prior": pp.MultiVariateNormal(mean=np.zeros(2), Sigma=np.eye(2))}]
    with pytest.warns(RuntimeWarning):
        model = ProspectorParams(config)
    assert np.size(model.prior_product(model.theta)) == 2  # not a ln-probability
    with pytest.raises(ConfigurationError, match="'b' .MultiVariateNormal"):
        FastPriors.for_model(model).ln_prior(np.zeros((3, 2)))


def test_batched_emcee_stores_prospectors_lnprob_with_a_fast_prior(pf, emulators):
    """The issue's emcee run: a FastUniform prior on dust2, every stored ln-probability
    against Prospector's lnprobfn at the stored chain."""
    pytest.importorskip("emcee")
    from prospect_emu.prospector.emcee_sampler import run_emcee

    model = _model_with(pf, emulators["photometric"], pp.FastUniform(a=0.0, b=2.0), "none")
    obs = _phot_obs(pf, model)
    res, _ = run_emcee(obs, model, seed=1, nwalkers=16, niter=20, nburn=[8],
                       emcee_moves="de")
    assert res["vectorized"]
    chain, lnp = res["chain"].reshape(-1, model.ndim), res["lnprobability"].reshape(-1)
    ref = np.array([prospector_lnprobfn(t, model=model, obs=obs) for t in chain])
    np.testing.assert_allclose(lnp, ref, rtol=1e-5, atol=3e-3)


# ---- 2. in-place edits of the obs arrays ----------------------------------------------------
def _spec_obs(pf, twin):
    """Photometry and a spectrum (400 pixels, 3800-7000 AA rest at zred 0.8) of TRUTH."""
    obs = _phot_obs(pf, twin)
    wave = np.linspace(3800.0, 7000.0, 400) * 1.8
    obs.update(wavelength=wave, spectrum=np.ones_like(wave), unc=np.ones_like(wave),
               mask=np.ones(wave.size, dtype=bool))
    spec, _, _ = twin.predict(TRUTH, obs=obs)
    noise = 1 + 0.01 * np.sin(np.arange(wave.size))
    obs.update(spectrum=spec * noise, unc=0.02 * spec)
    return obs


def _edits(kind_spectrum: bool):
    """(name, in-place edit) pairs; each keeps the array objects and changes their values."""
    def swap_filters(o):
        f = o["filters"]
        f[2], f[5] = f[5], f[2]

    edits = [
        ("maggies", lambda o: o["maggies"].__imul__(np.linspace(0.9, 1.1, o["maggies"].size))),
        ("maggies_unc", lambda o: o["maggies_unc"].__imul__(1.7)),
        ("phot_mask", lambda o: o["phot_mask"].__setitem__(slice(0, 3), False)),
        ("filters", swap_filters),
    ]
    if kind_spectrum:
        edits += [
            ("wavelength", lambda o: o["wavelength"].__imul__(1.01)),
            ("spectrum", lambda o: o["spectrum"].__imul__(1.03)),
            ("unc", lambda o: o["unc"].__imul__(0.8)),
            ("mask", lambda o: o["mask"].__setitem__(slice(0, 150), False)),
        ]
    return edits


def _expected(pf, emu, obs, error):
    """A fresh model on a fresh copy of the obs: Prospector's lnprobfn ('none'), or the
    package's with cold caches (diag, cov)."""
    fresh = emulate(pf.build_model(zred=0.8), emu, error=error)
    ob = copy.deepcopy(obs)
    f = prospector_lnprobfn if error == "none" else lnprobfn
    return f(TRUTH, model=fresh, obs=ob)


@pytest.mark.parametrize("kind", ["photometric", "spectral"])
@pytest.mark.parametrize("error", ["none", "diag", "cov"])
def test_in_place_edits_of_photometry_are_honoured(pf, emulators, kind, error):
    emu = emulators[kind]
    for name, edit in _edits(False):
        twin = emulate(pf.build_model(zred=0.8), emu, error=error)
        obs = _phot_obs(pf, twin)
        before = lnprobfn(TRUTH, model=twin, obs=obs)
        lnprob_batch(TRUTH[None], twin, obs)
        edit(obs)
        after = lnprobfn(TRUTH, model=twin, obs=obs)
        assert abs(after - before) > 0.1, name
        # the compiled float32 path against predict's: ~1e-7 relative
        assert after == pytest.approx(_expected(pf, emu, obs, error), rel=1e-6, abs=1e-3), name
        assert lnprob_batch(TRUTH[None], twin, obs)[0] == pytest.approx(after, rel=1e-6), name


@pytest.mark.parametrize("error", ["none", "diag", "cov"])
def test_in_place_edits_with_a_spectrum_are_honoured(pf, emulators, error):
    emu = emulators["spectral"]
    for name, edit in _edits(True):
        twin = emulate(pf.build_model(zred=0.8), emu, error=error)
        obs = _spec_obs(pf, twin)
        before = lnprobfn(TRUTH, model=twin, obs=obs)
        edit(obs)
        after = lnprobfn(TRUTH, model=twin, obs=obs)
        assert abs(after - before) > 0.1, name
        # the compiled float32 path against predict's: ~1e-7 relative
        assert after == pytest.approx(_expected(pf, emu, obs, error), rel=1e-6, abs=1e-3), name


def test_wavelengths_edited_in_place_beyond_the_emulated_range_are_refused(pf, emulators):
    emu = emulators["spectral"]
    w_hi = emu.wavelength[-1] * 1.8  # the emulated range's red end, observed at zred 0.8
    for how in ("wavelength", "mask"):
        twin = emulate(pf.build_model(zred=0.8), emu, error="none")
        obs = _spec_obs(pf, twin)
        if how == "mask":  # pixels beyond the range, masked: fine until unmasked in place
            obs["wavelength"][-20:] = np.linspace(1.05, 1.2, 20) * w_hi
            obs["mask"][-20:] = False
        assert np.isfinite(lnprobfn(TRUTH, model=twin, obs=obs))
        if how == "wavelength":
            obs["wavelength"][-1] = 1.1 * w_hi
        else:
            obs["mask"][-20:] = True
        with pytest.raises(ConfigurationError, match="outside the spectral emulator's rest-frame"):
            lnprobfn(TRUTH, model=twin, obs=obs)
        with pytest.raises(ConfigurationError, match="outside the spectral emulator's rest-frame"):
            _expected(pf, emu, obs, "none")  # a fresh model refuses it too


# ---- 3. a plain-float fixed parameter (zred, or a fixed emulator input) ---------------------
@pytest.mark.parametrize("kind", ["photometric", "spectral"])
@pytest.mark.parametrize("error", ["none", "diag", "cov"])
@pytest.mark.parametrize("jit", [True, False])
@pytest.mark.parametrize("name", ["zred", "logzsol"])
def test_a_plain_float_parameter_is_the_one_element_array(pf, emulators, monkeypatch, kind,
                                                          error, jit, name):
    if not jit:
        monkeypatch.setattr(kernels, "ENABLED", False)
    elif not kernels.ENABLED:
        pytest.skip("numba is not installed")
    emu = emulators[kind]
    value = 2.0 if name == "zred" else -0.3
    fixed = None if name == "zred" else -0.6

    def build():
        return emulate(pf.build_model(zred=0.8, fixed_metallicity=fixed), emu, error=error)

    twin = build()
    th = np.tile(np.delete(TRUTH, 1) if fixed is not None else TRUTH, (3, 1))
    d = twin.theta_index["dust2"].start
    th[1, d], th[2, d] = 0.9, 5.0  # dust2 outside the prior in the last row
    obs = _phot_obs(pf, emulate(pf.build_model(zred=2.0), emu, error="none"))
    got = {}
    for v in (value, np.array([value])):
        twin = build()
        twin.params[name] = v
        one = [lnprobfn(t, model=twin, obs=obs) for t in th]
        spec, phot, mfrac = twin.predict(th[0], obs=obs)
        got[type(v)] = (one, lnprob_batch(th, twin, obs), phot, mfrac)
    ref = got[np.ndarray]
    assert np.isfinite(ref[0][:2]).all() and np.isinf(ref[0][2])
    for a, b in zip(got[float], ref):
        np.testing.assert_array_equal(a, b)


# ---- 4. bad data in a fitted band ---------------------------------------------------------
BAD = {
    "nan maggies": ("maggies", 3, np.nan, "maggies not finite in \\['sdss_g0'\\]"),
    "zero unc": ("maggies_unc", 4, 0.0, "maggies_unc .* in \\['sdss_r0'\\]"),
    "negative unc": ("maggies_unc", 4, -1e-12, "maggies_unc .* in \\['sdss_r0'\\]"),
    "inf unc": ("maggies_unc", 5, np.inf, "maggies_unc .* in \\['sdss_i0'\\]"),
    "nan unc": ("maggies_unc", 5, np.nan, "maggies_unc .* in \\['sdss_i0'\\]"),
}


@pytest.mark.parametrize("kind", ["photometric", "spectral"])
@pytest.mark.parametrize("error", ["none", "diag", "cov"])
def test_bad_data_in_a_fitted_band_is_refused_in_every_mode(pf, emulators, kind, error):
    emu = emulators[kind]
    twin = emulate(pf.build_model(zred=0.8), emu, error=error)
    good = _phot_obs(pf, twin)
    for case, (key, i, value, match) in BAD.items():
        obs = copy.deepcopy(good)
        obs[key][i] = value
        calls = {"lnprobfn": lambda o=obs: lnprobfn(TRUTH, model=twin, obs=o),
                 "batch": lambda o=obs: lnprob_batch(TRUTH[None], twin, o),
                 "residuals": lambda o=obs: lnprobfn(TRUTH, model=twin, obs=o, residuals=True)}
        for what, call in calls.items():
            with pytest.raises(ConfigurationError, match=match) as info:
                call()
            assert "phot_mask" in str(info.value) and "fix_obs" in str(info.value), (case, what)
        # masked, the same band is never read: the value of the obs without it
        obs["phot_mask"][i] = False
        ref = copy.deepcopy(good)
        ref["phot_mask"][i] = False
        assert lnprobfn(TRUTH, model=twin, obs=obs) == pytest.approx(
            lnprobfn(TRUTH, model=emulate(pf.build_model(zred=0.8), emu, error=error), obs=ref),
            rel=1e-12)
