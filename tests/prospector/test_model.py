"""The drop-in SpecModel, its priors, and the emulator-error likelihood.

All but the FSPS comparison run on the bundled demo emulator, without FSPS or SPS_HOME.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from prospect.models import SedModel, SpecModel, priors
from prospect.models.templates import TemplateLibrary
from scipy.stats import multivariate_normal

from prospect_emu.errors import ConfigurationError
from prospect_emu.normalization import distance_factor
from prospect_emu.prospector.likelihood import lnprobfn, photometric_covariance
from prospect_emu.prospector.model import EmulatedSpecModel
from prospect_emu.prospector.priors import FastPriors
from prospect_emu.prospector.twin import emulate
from tests.conftest import DATA, FILTERS12, FLOAT32_RTOL

sys.path.insert(0, str(DATA))
import delayed_tau_params as pf  # noqa: E402


@pytest.fixture()
def obs():
    return pf.build_obs()


@pytest.fixture()
def emodel(demo_emulator):
    return emulate(pf.build_model(zred=0.5), demo_emulator, error="diag")


def _bands(emulator, filters):
    """Emulator output indices of these filters, found by name (independent of the model)."""
    names = list(emulator.filter_names)
    return np.array([names.index(f.name) for f in filters])


def test_emulate_keeps_parameters_priors_and_transforms(demo_emulator):
    # a depends_on transform onto an emulator input: dust2 computed from a free V-band optical
    # depth given in magnitudes (a user's own parametrisation); the emulator sees dust2
    params = TemplateLibrary["parametric_sfh"]
    params["av_mag"] = {"N": 1, "isfree": True, "init": 0.5, "prior": priors.TopHat(mini=0.0, maxi=2.0)}
    params["dust2"] = {"N": 1, "isfree": False, "init": 0.0,
                       "depends_on": lambda av_mag=None, **kw: av_mag / 1.086}
    params["zred"]["init"] = 0.5
    model = SpecModel(params)
    em = emulate(model, demo_emulator)
    assert isinstance(em, SpecModel) and em.theta_labels() == model.theta_labels()
    assert em.fixed_params == model.fixed_params
    rng = np.random.default_rng(0)
    for _ in range(20):
        theta = model.prior_transform(rng.uniform(size=model.ndim))
        assert em.prior_product(theta) == pytest.approx(model.prior_product(theta), rel=1e-12)
    theta = model.theta.copy()
    theta[model.theta_index["av_mag"]] = 0.8
    em.set_parameters(theta)
    assert em.params["dust2"][0] == pytest.approx(0.8 / 1.086)
    _, phot, _ = em.predict(theta, obs=pf.build_obs())
    ref = em.emulator.predict(np.array([em.params[n][0] for n in em.emulator.input_names]))
    assert em.emulator.input_names[1] == "dust2" and ref.out_of_bounds.sum() == 0
    # the emulator got the derived dust2, not the free parameter's value
    bands = _bands(em.emulator, pf.build_obs()["filters"])
    np.testing.assert_allclose(phot / em.params["mass"][0] / distance_factor(0.5), ref.phot[bands],
                               rtol=FLOAT32_RTOL)


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


def test_predict_applies_mass_and_distance_like_prospector(emodel, obs):
    theta = np.array([3e10, -0.2, 0.4, 3.0, 2.0])
    spec, phot, mfrac = emodel.predict(theta, obs=obs)
    assert spec.size == 0 and phot.shape == (12,) and 0.3 < mfrac < 1
    pred = emodel.emulator.predict(np.array([-0.2, 0.4, 3.0, 2.0, 0.5]))
    idx = _bands(emodel.emulator, obs["filters"])
    np.testing.assert_allclose(phot, pred.phot[idx] * 3e10 * distance_factor(0.5), rtol=FLOAT32_RTOL)
    assert mfrac == pytest.approx(float(pred.mfrac), rel=FLOAT32_RTOL)
    # the factor is Prospector's flux_norm per unit mass, in maggies
    from prospect.sources.constants import jansky_cgs, to_cgs_at_10pc

    model = pf.build_model(zred=0.5)
    model.set_parameters(theta)
    model._zred = 0.5
    expect = model.flux_norm() / (to_cgs_at_10pc / (3631 * jansky_cgs)) / 3e10
    # abs=0: pytest.approx's default abs=1e-12 would accept any value of this ~1e-17 factor
    assert distance_factor(0.5) == pytest.approx(expect, rel=1e-10, abs=0)


def test_lumdist_gives_absolute_photometry(demo_emulator, obs):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.0
    params["lumdist"] = {"N": 1, "isfree": False, "init": 1e-5, "units": "Mpc"}
    em = emulate(SpecModel(params), demo_emulator)
    theta = np.array([1.0, -0.2, 0.4, 3.0, 2.0])
    _, phot, _ = em.predict(theta, obs=obs)
    pred = em.emulator.predict(np.array([-0.2, 0.4, 3.0, 2.0, 0.0]))
    np.testing.assert_allclose(phot, pred.phot[_bands(em.emulator, obs["filters"])],
                               rtol=FLOAT32_RTOL)  # two float32 paths, see FLOAT32_RTOL


def test_lumdist_with_positive_redshift_sets_the_distance(demo_emulator, obs):
    """zred > 0 with a ``lumdist`` parameter: the distance is lumdist (not WMAP9 at zred) and
    the (1 + zred) bandwidth factor stays, as in Prospector's ``SpecModel.flux_norm``."""
    from astropy.cosmology import WMAP9

    zred, lumdist, mass = 1.2, 3000.0, 2e10
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = zred
    params["lumdist"] = {"N": 1, "isfree": False, "init": lumdist, "units": "Mpc"}
    plain = SpecModel(params)
    em = emulate(plain, demo_emulator, error="none")
    theta = np.array([mass, -0.4, 0.3, 2.5, 1.5])
    _, phot, _ = em.predict(theta, obs=obs)
    per_msun_10pc = em.emulator.predict(np.array([-0.4, 0.3, 2.5, 1.5, zred])).phot
    expect = per_msun_10pc[_bands(em.emulator, obs["filters"])] * mass * (1 + zred) / (lumdist * 1e5) ** 2
    np.testing.assert_allclose(phot, expect, rtol=FLOAT32_RTOL)
    # the same factor as Prospector's own flux_norm (per unit mass, converted to maggies)
    from prospect.sources.constants import jansky_cgs, to_cgs_at_10pc

    plain.set_parameters(theta)
    plain._zred = zred
    norm = plain.flux_norm() / (to_cgs_at_10pc / (3631 * jansky_cgs))
    np.testing.assert_allclose(phot, per_msun_10pc[_bands(em.emulator, obs["filters"])] * norm,
                               rtol=FLOAT32_RTOL)
    # guard: WMAP9 at this zred is far from lumdist, so using it could not pass the above
    assert WMAP9.luminosity_distance(zred).to("Mpc").value > 2 * lumdist


def _free_zred_model(demo_emulator, error="none"):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"].update(isfree=True, init=1.0, prior=priors.TopHat(mini=0.1, maxi=2.5))
    params["mass"]["prior"].params.update(mini=1e8, maxi=1e12)
    plain = SpecModel(params)
    return plain, emulate(plain, demo_emulator, error=error)


def _expected_free_zred_phot(emulator, theta, filters):
    """(maggies, scale) from the definition: maggies = per-Msun 10 pc photometry * scale,
    scale = mass * (1+z) / (d_L/10 pc)^2, d_L from astropy's WMAP9 (Prospector's cosmology)
    at this theta's zred."""
    from astropy.cosmology import WMAP9

    zred, mass, logzsol, dust2, tage, tau = theta
    dl_mpc = WMAP9.luminosity_distance(zred).to("Mpc").value
    per_msun = emulator.predict(np.array([logzsol, dust2, tage, tau, zred]))
    scale = mass * (1 + zred) / (dl_mpc * 1e5) ** 2
    return per_msun.phot[_bands(emulator, filters)] * scale, scale


FREE_ZRED_THETAS = [np.array([0.3, 1e10, -0.3, 0.5, 4.0, 2.0]),
                    np.array([2.2, 5e10, -1.0, 0.2, 1.5, 0.5]),
                    np.array([0.3, 1e10, -0.3, 0.5, 4.0, 2.0])]  # back to the first: no stale state


def test_free_redshift_distance_follows_zred_on_every_call(demo_emulator, obs):
    plain, em = _free_zred_model(demo_emulator)
    assert em.theta_labels()[0] == "zred" and em.ndim == 6
    for theta in FREE_ZRED_THETAS:
        _, phot, _ = em.predict(theta, obs=obs)
        expect, _ = _expected_free_zred_phot(em.emulator, theta, obs["filters"])
        np.testing.assert_allclose(phot, expect, rtol=FLOAT32_RTOL, err_msg=f"zred={theta[0]}")
        assert em.prior_product(theta) == pytest.approx(plain.prior_product(theta), rel=1e-12)
    # outside the zred prior: -inf, before the emulator is asked
    bad = FREE_ZRED_THETAS[0].copy()
    bad[0] = 2.8
    assert lnprobfn(bad, model=em, obs=obs) == -np.inf


@pytest.mark.parametrize("mode", ["none", "diag"])
def test_free_redshift_lnprobfn_is_the_gaussian_at_each_zred(demo_emulator, obs, mode):
    plain, em = _free_zred_model(demo_emulator, error=mode)
    unc, data = obs["maggies_unc"], obs["maggies"]
    soft = em.emulator.outputs.softening[_bands(em.emulator, obs["filters"])]
    emu_var = np.diag(np.asarray(em.emulator.error_stats["covariance"]))[
        _bands(em.emulator, obs["filters"])]
    for theta in FREE_ZRED_THETAS:
        phot, scale = _expected_free_zred_phot(em.emulator, theta, obs["filters"])
        var = unc ** 2
        if mode == "diag":
            # d maggies / d asinh mag from the asinh magnitude's definition:
            # m = -2.5/ln10 [asinh(f / 2b) + ln b]  =>  df/dm = -0.4 ln10 sqrt(f^2 + 4 b^2)
            f = phot / scale
            dfdm = -0.4 * np.log(10) * np.sqrt(f ** 2 + 4 * soft ** 2) * scale
            var = var + dfdm ** 2 * emu_var
        expect = -0.5 * np.sum((data - phot) ** 2 / var + np.log(2 * np.pi * var))
        got = lnprobfn(theta, model=em, obs=obs, nested=True)
        assert got == pytest.approx(expect, rel=1e-4), theta[0]
        assert lnprobfn(theta, model=em, obs=obs) == pytest.approx(
            expect + plain.prior_product(theta), rel=1e-4)


def test_filter_subset_in_any_order(emodel, obs):
    _, full, _ = emodel.predict(emodel.theta, obs=obs)
    sub = {"filters": [obs["filters"][i] for i in (9, 0, 4)], "spectrum": None}
    _, phot, _ = emodel.predict(emodel.theta, obs=sub)
    np.testing.assert_allclose(phot, full[[9, 0, 4]])
    _, none, _ = emodel.predict(emodel.theta, obs={"filters": None, "spectrum": None})
    assert none == 0.0


def test_emulated_matches_fsps_within_emulator_error(sps_home, small_emulator, obs):
    """The one test here that needs FSPS: the emulator trained on this FSPS tree vs FSPS."""
    emodel = emulate(pf.build_model(zred=0.5), small_emulator, error="diag")
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


@pytest.mark.parametrize("name, value", [("dust2", 3.0), ("zred", 3.5)])
def test_outside_training_bounds_gives_minus_infinity(demo_emulator, obs, name, value):
    # priors wider than the demo emulator's bounds (dust2 <= 2, zred <= 3): the prior is
    # finite, so the -inf can only come from the emulator refusing to extrapolate
    params = TemplateLibrary["parametric_sfh"]
    params["dust2"]["prior"] = priors.TopHat(mini=0.0, maxi=4.0)
    params["zred"]["init"] = 0.5
    emodel = emulate(SpecModel(params), demo_emulator, error="diag")
    theta = emodel.theta.copy()
    if name == "dust2":
        theta[emodel.theta_index["dust2"]] = value
    else:  # a fixed input moved out of the box after construction (at construction: refused)
        params["zred"]["init"] = value
        with pytest.raises(ConfigurationError, match="zred = 3.5 outside"):
            emulate(SpecModel(params), demo_emulator, error="diag")
        emodel.params["zred"] = np.array([value])
    assert np.isfinite(emodel.prior_product(theta))
    with pytest.raises(ValueError, match=name):
        emodel.predict(theta, obs=obs)
    assert lnprobfn(theta, model=emodel, obs=obs) == -np.inf
    emodel.emulator_error = "none"
    assert lnprobfn(theta, model=emodel, obs=obs) == -np.inf


def test_model_lacking_an_emulator_input(demo_emulator):
    params = TemplateLibrary["parametric_sfh"]
    del params["tau"]
    params["sfh"]["init"] = 1
    with pytest.raises(ConfigurationError, match="no parameter 'tau'"):
        EmulatedSpecModel(params, emulator=demo_emulator)


@pytest.mark.parametrize("mode", ["none", "diag", "cov"])
def test_lnlike_is_the_analytic_gaussian(emodel, obs, mode):
    emodel.emulator_error = mode
    theta = np.array([1e10, -0.3, 0.5, 4.0, 2.0])
    lnp = lnprobfn(theta, model=emodel, obs=obs, nested=True)
    _, phot, _ = emodel.predict(theta, obs=obs)
    unc = obs["maggies_unc"]
    cov = np.diag(unc ** 2)
    if mode != "none":
        idx = _bands(emodel.emulator, obs["filters"])  # the 12 obs bands among the 15
        emu = np.array(emodel.emulator.error_stats["covariance"])[np.ix_(idx, idx)]
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


def test_legacy_sedmodel_parameter_file(demo_emulator):
    sys.path.insert(0, str(DATA))
    import legacy_sedmodel_params as leg

    model = leg.build_model()
    assert isinstance(model, SedModel)
    em = emulate(model, demo_emulator)
    assert em.theta_labels() == model.theta_labels()
    _, phot, _ = em.predict(em.theta, obs=leg.build_obs())
    assert phot.shape == (12,) and np.all(phot > 0)


def test_no_sps_home_and_no_fsps(demo_emulator):
    code = f"""
import sys
sys.modules['fsps'] = None  # as on a machine without python-fsps
sys.path.insert(0, {str(DATA)!r})
import delayed_tau_params as pf
from prospect_emu import emulate, lnprobfn, patch_prospector
patch_prospector()                # documented: before building a model outside the entry points
obs = pf.build_obs()
model = pf.build_model()          # a plain SpecModel, built without SPS_HOME
em = emulate(model, {str(demo_emulator)!r}, error='cov')
print('LNP', lnprobfn(em.theta, model=em, obs=obs, sps=None))
"""
    env = {k: v for k, v in os.environ.items() if k != "SPS_HOME"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "LNP" in res.stdout and "nan" not in res.stdout.lower()


def test_filters_are_the_test_bands(small_emulator):
    from prospect_emu.emulator.artifact import Emulator

    assert Emulator.load(small_emulator).filter_names == FILTERS12
