"""The batched likelihood against the scalar one, and a nautilus fit of the demo mock.

No FSPS: the bundled demo emulator.  The scalar ``lnprobfn`` is itself tested against
scipy's Gaussian (tests/prospector/test_likelihood_trust.py); here every row of a batch must equal
it, ``-inf`` included (outside the priors, outside the training box).
"""

import numpy as np
import pytest
from prospect.models import priors
from prospect.models.templates import TemplateLibrary
from prospect.utils.obsutils import fix_obs
from sedpy.observate import load_filters

from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS, DEMO_TRUTH, DEMO_ZRED
from prospect_emu.errors import ConfigurationError
from prospect_emu.paramfile import load_param_file
from prospect_emu.prospector.likelihood import lnprobfn
from prospect_emu.prospector.model import EmulatedSpecModel
from prospect_emu.prospector.twin import emulate

BANDS = ["galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0", "twomass_J",
         "twomass_Ks", "wise_w1", "wise_w2", "galex_FUV"]


def _model(mode, free_zred=False, wide_tau=False):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = DEMO_ZRED
    params["mass"]["prior"] = priors.LogUniform(mini=1e8, maxi=1e12)
    if free_zred:
        params["zred"].update(isfree=True, prior=priors.TopHat(mini=0.05, maxi=2.5))
    if wide_tau:  # reaches outside the training box (tau <= 30): -inf there
        params["tau"]["prior"] = priors.LogUniform(mini=0.1, maxi=100.0)
    with pytest.warns(UserWarning) if wide_tau else _nothing():
        return EmulatedSpecModel(params, emulator=DEMO_EMULATOR, emulator_error=mode)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _obs(model, masked=()):
    obs = {"filters": load_filters(BANDS), "wavelength": None, "spectrum": None}
    theta = model.theta.copy()
    for k, v in DEMO_TRUTH.items():
        theta[model.theta_index[k]] = v
    _, phot, _ = model.predict(theta, obs=obs)
    rng = np.random.default_rng(5)
    unc = 0.05 * phot
    mask = np.array([b not in masked for b in BANDS])
    obs.update(maggies=phot + unc * rng.normal(size=phot.size), maggies_unc=unc, phot_mask=mask)
    if masked:
        obs["maggies"][~mask] = np.nan  # never read
    return fix_obs(obs), theta


def _thetas(model, truth, n=400, seed=0):
    rng = np.random.default_rng(seed)
    near = truth * (1 + 0.1 * rng.normal(size=(n // 2, model.ndim)))
    far = model.prior_transform(rng.uniform(size=(n // 2, model.ndim)))
    th = np.vstack([near, far])
    th[::9, model.theta_index["tage"]] = 20.0   # outside the prior
    th[::13, model.theta_index["dust2"]] = -0.1  # outside the prior
    return th


@pytest.mark.parametrize("mode", ["none", "diag", "cov"])
@pytest.mark.parametrize("case", ["plain", "masked", "free_zred", "outside_box"])
def test_batched_equals_scalar(mode, case):
    from prospect_emu.prospector.batched import lnprob_batch

    model = _model(mode, free_zred=case == "free_zred", wide_tau=case == "outside_box")
    obs, truth = _obs(model, masked=("sdss_u0", "galex_FUV") if case == "masked" else ())
    th = _thetas(model, truth)
    if case == "outside_box":
        th[::5, model.theta_index["tau"]] = 50.0
    for nested in (False, True):
        ref = np.array([lnprobfn(t, model=model, obs=obs, nested=nested) for t in th])
        got = lnprob_batch(th, model, obs, nested=nested)
        assert np.array_equal(np.isfinite(got), np.isfinite(ref))
        assert np.all(got[~np.isfinite(ref)] == -np.inf)
        fin = np.isfinite(ref)
        assert fin.sum() > 100 and (~fin).sum() > 30
        # float32 network: the batch (matrix-matrix) and the scalar (matrix-vector) round
        # differently, ~3e-6 of a flux; at S/N 20 that moves ln L by ~1e-4 per |chi|
        near = fin & (np.arange(len(th)) < len(th) // 2)
        np.testing.assert_allclose(got[near], ref[near], rtol=1e-5, atol=3e-3)
        np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-3, atol=3e-3)


def test_batched_leaves_the_model_and_refuses_what_it_cannot_do():
    from prospect_emu.prospector.batched import BatchLikelihood, lnprob_batch

    model = _model("diag")
    obs, truth = _obs(model)
    before = {k: np.copy(v) for k, v in model.params.items()}
    like = BatchLikelihood(model, obs, nested=True)
    out = like(np.vstack([truth, truth]))
    assert out.shape == (2,) and out[0] == out[1] and like.ncall == 2
    assert all(np.array_equal(model.params[k], v) for k, v in before.items())
    with pytest.raises(ConfigurationError, match=r"shape \(n, 5\)"):
        lnprob_batch(np.ones((3, 4)), model, obs)
    with pytest.raises(ConfigurationError, match="lnprobfn per vector"):
        lnprob_batch(truth[None], model, {**obs, "spectrum": np.ones(3)})
    bad = {**obs, "maggies": obs["maggies"].copy()}
    bad["maggies"][2] = np.nan
    with pytest.raises(ConfigurationError, match=r"NaN.*sdss_g0"):
        lnprob_batch(np.vstack([truth, truth]), model, bad)


@pytest.mark.parametrize("case", ["plain", "outside_box", "unknown_prior"])
def test_in_support_rows_skip_the_priors_with_the_same_result(case):
    """Rows from the prior transform of the open unit cube (what the unit-cube samplers
    evaluate) give the same nested ln-likelihood with ``in_support`` (priors skipped) as
    the scalar lnprobfn; the training box still gives -inf; a prior of an unknown class
    keeps its own evaluation."""
    from prospect_emu.prospector.batched import BatchLikelihood, lnprob_batch

    model = _model("diag", wide_tau=case == "outside_box")
    if case == "unknown_prior":
        class Shifted(priors.TopHat):  # a user's class: its support is its own business
            def __call__(self, x, **kw):
                return np.where(np.asarray(x) > 0.5, -np.inf, super().__call__(x, **kw))
        model.config_dict["dust2"]["prior"] = Shifted(mini=0.0, maxi=2.0)
        assert not model.fast_priors.transform_in_support
    else:
        assert model.fast_priors.transform_in_support
    obs, _ = _obs(model)
    u = np.random.default_rng(3).uniform(size=(300, model.ndim))
    th = model.prior_transform(u)
    ref = np.array([lnprobfn(t, model=model, obs=obs, nested=True) for t in th])
    got = BatchLikelihood(model, obs, nested=True, in_support=True)(th)
    assert np.array_equal(np.isfinite(got), np.isfinite(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-3, atol=3e-3)
    assert fin.sum() > 30
    if case == "unknown_prior":
        assert (~fin).sum() > 10
    if case == "outside_box":  # the unit cube maps into the prior truncated to the box
        assert fin.all() and np.all(th[:, model.theta_index["tau"]] <= 30.0)
        out = th[:5].copy()
        out[:, model.theta_index["tau"]] = 50.0  # inside the prior, outside the box: -inf
        assert np.all(lnprob_batch(out, model, obs, nested=True) == -np.inf)
    # not nested: the ln-prior is added, in_support or not
    full = lnprob_batch(th, model, obs, nested=False, in_support=True)
    np.testing.assert_allclose(full[fin], (ref + model.prior_product_rows(th))[fin], rtol=1e-3,
                               atol=3e-3)


@pytest.mark.slow
def test_nautilus_fit_recovers_the_demo_truth(tmp_path):
    pytest.importorskip("nautilus")
    from prospect.io.read_results import results_from

    from prospect_emu.analysis.posterior import weighted_quantile
    from prospect_emu.demo import mock_observation, sampler_argv
    from prospect_emu.prospector.fitting import run_fit

    twin = emulate(load_param_file(DEMO_PARAMS).build_model(zred=DEMO_ZRED), DEMO_EMULATOR)
    obs, truth = mock_observation(twin, 20.0, 42)
    argv = sampler_argv("nautilus") + ["--outfile", str(tmp_path / "n"), "--zred", str(DEMO_ZRED)]
    fit = run_fit(DEMO_PARAMS, argv, emulator=DEMO_EMULATOR, obs=obs, seed=3)
    s, w = fit.samples()
    assert fit.output["sampling"][0]["vectorized"] and fit.ncall > 1000
    for j in range(len(truth)):
        lo, hi = weighted_quantile(s[:, j], [0.005, 0.995], w)
        assert lo <= truth[j] <= hi, (fit.model.theta_labels()[j], lo, truth[j], hi)
    # Prospector reads the result back, as a dynesty result
    res, rob, model = results_from(str(fit.hfile))
    assert res["chain"].shape == s.shape and res["weights"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(res["weights"], w, rtol=1e-10)
    assert res["run_params"]["nautilus"] and type(model).__name__ == "EmulatedSpecModel"


def test_nautilus_fast_preset_fills_the_options_left_at_their_defaults():
    """--nautilus_fast: the fast preset where an option is at its default, the user's value
    where one was given; parsed from a Prospector command line."""
    from prospect_emu.prospector.fitting import build_run_params
    from prospect_emu.prospector.samplers import NAUTILUS_FAST, NAUTILUS_OPTIONS, _options

    rp = build_run_params(["--nautilus", "--nautilus_fast", "True", "--nautilus_nlive", "500"])
    opt = _options({k: v for k, v in rp.items() if k.startswith("nautilus_")})
    assert opt["nautilus_nlive"] == 500  # given: kept
    for k in ("nautilus_nnetworks", "nautilus_nn_layers", "nautilus_nn_maxiter", "nautilus_neff"):
        assert opt[k] == NAUTILUS_FAST[k] != NAUTILUS_OPTIONS[k][0]
    plain = _options({k: v for k, v in build_run_params(["--nautilus"]).items()
                      if k.startswith("nautilus_")})
    assert all(plain[k] == NAUTILUS_OPTIONS[k][0] for k in NAUTILUS_FAST)


@pytest.mark.parametrize("kind", ["photometric", "spectral"])
def test_mfrac_rows_equal_predict_row_by_row(kind):
    """The batched mfrac (derived quantities' one pass) equals ``predict``'s per row, NaN
    where ``predict`` refuses the row (outside the training box); parameters untouched."""
    from pathlib import Path

    if kind == "photometric":
        model = _model("none", free_zred=True, wide_tau=True)
    else:
        params = TemplateLibrary["parametric_sfh"]
        params["zred"]["init"] = DEMO_ZRED
        params["tau"]["prior"] = priors.LogUniform(mini=0.1, maxi=100.0)
        spectral = Path(DEMO_EMULATOR).parent / "demo_spectral_emulator"
        with pytest.warns(UserWarning):
            model = EmulatedSpecModel(params, emulator=spectral)
    obs, truth = _obs(model) if kind == "photometric" else ({"filters": None}, model.theta.copy())
    rng = np.random.default_rng(3)
    th = model.prior_transform(rng.uniform(size=(60, model.ndim)))
    th[::7, model.theta_index["tau"]] = 50.0  # outside the emulator's box
    before = {k: np.copy(v) for k, v in model.params.items()}
    got = model.mfrac_rows(th)
    for k, v in before.items():
        assert np.array_equal(model.params[k], v)
    ref = np.full(len(th), np.nan)
    for i, t in enumerate(th):
        try:
            ref[i] = model.predict(t, obs=obs)[2]
        except ValueError:
            pass
    assert len(th[::7]) <= np.isnan(ref).sum() < len(th) - 20
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(got[ok], ref[ok], rtol=2e-6)
