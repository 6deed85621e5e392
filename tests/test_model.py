"""The drop-in SpecModel, its priors, and the emulator-error likelihood."""

import os
import subprocess
import sys

import numpy as np
import pytest
from prospect.models import SedModel, SpecModel, priors
from prospect.models.templates import TemplateLibrary
from scipy.stats import multivariate_normal

from prospect_emu.errors import ConfigurationError
from prospect_emu.likelihood import lnprobfn, photometric_covariance
from prospect_emu.model import EmulatedSpecModel, emulate
from prospect_emu.normalization import distance_factor
from prospect_emu.priors import FastPriors

from .conftest import DATA, FILTERS12

sys.path.insert(0, str(DATA))
import delayed_tau_params as pf  # noqa: E402


@pytest.fixture()
def obs():
    return pf.build_obs()


@pytest.fixture()
def emodel(small_emulator):
    return emulate(pf.build_model(zred=0.5), small_emulator, error="diag")


def test_emulate_keeps_parameters_priors_and_transforms(small_emulator):
    params = TemplateLibrary["parametric_sfh"]
    params.update(TemplateLibrary["dust_emission"])
    params["dust1"] = {"N": 1, "isfree": False, "init": 0.0,
                       "depends_on": lambda dust2=None, **kw: 0.5 * dust2}
    params["zred"]["init"] = 0.5
    model = SpecModel(params)
    em = emulate(model, small_emulator)
    assert isinstance(em, SpecModel) and em.theta_labels() == model.theta_labels()
    assert em.fixed_params == model.fixed_params
    rng = np.random.default_rng(0)
    for _ in range(20):
        theta = model.prior_transform(rng.uniform(size=model.ndim))
        assert em.prior_product(theta) == pytest.approx(model.prior_product(theta), rel=1e-12)
    theta = model.theta.copy()
    theta[model.theta_index["dust2"]] = 0.8
    em.set_parameters(theta)
    assert em.params["dust1"][0] == pytest.approx(0.4)


def test_fast_priors_equal_prospector():
    params = TemplateLibrary["parametric_sfh"]
    params["dust2"]["prior"] = priors.Normal(mean=0.3, sigma=0.2)
    model = SpecModel.__new__(SpecModel)
    from prospect.models import ProspectorParams

    ProspectorParams.__init__(model, params)
    fast = FastPriors.for_model(model)
    rng = np.random.default_rng(1)
    for _ in range(200):
        u = rng.uniform(size=model.ndim)
        np.testing.assert_allclose(fast.unit_transform(u), model.prior_transform(u), rtol=1e-10)
        theta = model.prior_transform(u) * rng.choice([1.0, 1.3], size=model.ndim)
        ref = model.prior_product(theta)
        got = fast.ln_prior(theta)
        assert (got == ref) if not np.isfinite(ref) else got == pytest.approx(ref, rel=1e-10, abs=1e-10)
    params["tau"]["prior"] = priors.Beta(alpha=2, beta=2, mini=0.1, maxi=10)
    ProspectorParams.__init__(model, params)
    fast = FastPriors.for_model(model)  # Beta has a vectorised twin since issue 12
    theta = model.prior_transform(np.full(model.ndim, 0.3))
    assert fast.ln_prior(theta) == pytest.approx(model.prior_product(theta), rel=1e-10)


def test_predict_applies_mass_and_distance_like_prospector(emodel, obs, small_emulator):
    theta = np.array([3e10, -0.2, 0.4, 3.0, 2.0])
    spec, phot, mfrac = emodel.predict(theta, obs=obs)
    assert spec.size == 0 and phot.shape == (12,) and 0.3 < mfrac < 1
    pred = emodel.emulator.predict(np.array([-0.2, 0.4, 3.0, 2.0, 0.5]))
    # float32 network: the likelihood's folded weights round differently (issue 12)
    np.testing.assert_allclose(phot, pred.phot * 3e10 * distance_factor(0.5), rtol=3e-6)
    assert mfrac == pytest.approx(float(pred.mfrac), rel=1e-6)
    # the factor is Prospector's flux_norm per unit mass, in maggies
    from prospect.sources.constants import jansky_cgs, to_cgs_at_10pc

    model = pf.build_model(zred=0.5)
    model.set_parameters(theta)
    model._zred = 0.5
    expect = model.flux_norm() / (to_cgs_at_10pc / (3631 * jansky_cgs)) / 3e10
    assert distance_factor(0.5) == pytest.approx(expect, rel=1e-10)


def test_lumdist_gives_absolute_photometry(small_emulator, obs):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.0
    params["lumdist"] = {"N": 1, "isfree": False, "init": 1e-5, "units": "Mpc"}
    em = emulate(SpecModel(params), small_emulator)
    theta = np.array([1.0, -0.2, 0.4, 3.0, 2.0])
    _, phot, _ = em.predict(theta, obs=obs)
    np.testing.assert_allclose(phot, em.emulator.predict(np.array([-0.2, 0.4, 3.0, 2.0, 0.0])).phot, rtol=1e-6)


def test_filter_subset_in_any_order(emodel, obs):
    _, full, _ = emodel.predict(emodel.theta, obs=obs)
    sub = {"filters": [obs["filters"][i] for i in (9, 0, 4)], "spectrum": None}
    _, phot, _ = emodel.predict(emodel.theta, obs=sub)
    np.testing.assert_allclose(phot, full[[9, 0, 4]])
    _, none, _ = emodel.predict(emodel.theta, obs={"filters": None, "spectrum": None})
    assert none == 0.0


def test_emulated_matches_fsps_within_emulator_error(sps_home, emodel, obs):
    model = pf.build_model(zred=0.5)
    sps = pf.build_sps()
    theta = np.array([1e10, -0.3, 0.5, 4.0, 2.0])
    _, fsps_phot, fsps_mfrac = model.predict(theta, obs=obs, sps=sps)
    _, emu_phot, emu_mfrac = emodel.predict(theta, obs=obs)
    dmag = np.abs(2.5 * np.log10(emu_phot / fsps_phot))
    assert np.median(dmag) < 0.1 and dmag.max() < 0.5, dmag
    assert emu_mfrac == pytest.approx(fsps_mfrac, rel=0.03)


def test_missing_band_is_an_error_not_minus_infinity(emodel, obs):
    from sedpy.observate import load_filters

    bad = {**obs, "filters": load_filters(["sdss_r0", "bessell_V"])}
    with pytest.raises(ConfigurationError, match="no band.*bessell_V"):
        lnprobfn(emodel.theta, model=emodel, obs=bad)


def test_spectroscopic_obs_are_refused(emodel, obs):
    with pytest.raises(ConfigurationError, match="photometric"):
        emodel.predict(emodel.theta, obs={**obs, "spectrum": np.ones(10)})


def test_outside_training_bounds_gives_minus_infinity(emodel, obs):
    theta = emodel.theta.copy()
    theta[emodel.theta_index["tage"]] = 12.0  # the emulator was trained on tage <= 10
    with pytest.raises(ValueError, match="tage"):
        emodel.predict(theta, obs=obs)
    assert lnprobfn(theta, model=emodel, obs=obs) == -np.inf
    emodel.emulator_error = "none"
    assert lnprobfn(theta, model=emodel, obs=obs) == -np.inf


def test_model_lacking_an_emulator_input(small_emulator):
    params = TemplateLibrary["parametric_sfh"]
    del params["tau"]
    params["sfh"]["init"] = 1
    with pytest.raises(ConfigurationError, match="no parameter 'tau'"):
        EmulatedSpecModel(params, emulator=small_emulator)


@pytest.mark.parametrize("mode", ["none", "diag", "cov"])
def test_lnlike_is_the_analytic_gaussian(emodel, obs, mode):
    emodel.emulator_error = mode
    theta = np.array([1e10, -0.3, 0.5, 4.0, 2.0])
    lnp = lnprobfn(theta, model=emodel, obs=obs, nested=True)
    _, phot, _ = emodel.predict(theta, obs=obs)
    unc = obs["maggies_unc"]
    cov = np.diag(unc ** 2)
    if mode != "none":
        emu = np.array(emodel.emulator.error_stats["covariance"])[:12, :12]
        j = np.diag(emodel._dphot_dmag)
        add = j @ emu @ j
        cov = cov + (np.diag(np.diag(add)) if mode == "diag" else add)
        np.testing.assert_allclose(photometric_covariance(emodel, obs), cov, rtol=1e-12)
    expect = multivariate_normal(mean=phot, cov=cov).logpdf(obs["maggies"])
    assert lnp == pytest.approx(expect, rel=1e-9)
    # with the prior (not nested) the ln-prior is added
    assert lnprobfn(theta, model=emodel, obs=obs) == pytest.approx(expect + emodel.prior_product(theta))


def test_emulator_error_widens_the_likelihood(emodel, obs):
    theta = np.array([1e10, -0.3, 0.5, 4.0, 2.0])
    out = {}
    for mode in ("none", "diag", "cov"):
        emodel.emulator_error = mode
        out[mode] = lnprobfn(theta * np.array([1.5, 1, 1, 1, 1]), model=emodel, obs=obs, nested=True)
    assert out["diag"] > out["none"]


def test_legacy_sedmodel_parameter_file(small_emulator):
    sys.path.insert(0, str(DATA))
    import legacy_sedmodel_params as leg

    model = leg.build_model()
    assert isinstance(model, SedModel)
    em = emulate(model, small_emulator)
    assert em.theta_labels() == model.theta_labels()
    _, phot, _ = em.predict(em.theta, obs=leg.build_obs())
    assert phot.shape == (12,) and np.all(phot > 0)


def test_no_sps_home_and_no_fsps(small_emulator):
    code = f"""
import sys
sys.modules['fsps'] = None  # as on a machine without python-fsps
sys.path.insert(0, {str(DATA)!r})
import delayed_tau_params as pf
from prospect_emu import emulate, lnprobfn
obs = pf.build_obs()
model = pf.build_model()          # a plain SpecModel, built without SPS_HOME
em = emulate(model, {str(small_emulator)!r}, error='cov')
print('LNP', lnprobfn(em.theta, model=em, obs=obs, sps=None))
"""
    env = {k: v for k, v in os.environ.items() if k != "SPS_HOME"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "LNP" in res.stdout and "nan" not in res.stdout.lower()


def test_filters_are_the_test_bands(small_emulator):
    from prospect_emu.artifact import Emulator

    assert Emulator.load(small_emulator).filter_names == FILTERS12
