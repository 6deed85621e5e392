"""The emulator-error likelihood against scipy, on the bundled demo emulator (no FSPS).

Expected values are built here from scratch: the Jacobian d phot / d mag by finite
differences of the asinh magnitude -> flux map at the predicted point, the emulator
covariance read from the artifact's JSON by band name, the distance factor from astropy,
and the Gaussian from ``scipy.stats.multivariate_normal``.
"""

import copy
from pathlib import Path

import numpy as np
import pytest
from astropy.cosmology import WMAP9
from prospect.models import SpecModel
from prospect.utils.obsutils import fix_obs
from scipy.stats import multivariate_normal
from sedpy.observate import load_filters

import prospect_emu
from prospect_emu.emulator.artifact import Emulator
from prospect_emu.emulator.transforms import asinh_flux, asinh_mag
from prospect_emu.errors import ConfigurationError
from prospect_emu.paramfile import load_param_file
from prospect_emu.prospector.likelihood import lnprobfn
from prospect_emu.prospector.twin import emulate

DATA = Path(prospect_emu.__file__).parent / "data"
BANDS = ["galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0",
         "decam_g", "decam_r", "decam_z", "twomass_J", "twomass_H", "twomass_Ks", "wise_w1",
         "wise_w2"]
ZRED = 0.8
TRUTH = np.array([3e10, -0.4, 0.5, 4.0, 1.2])  # mass, logzsol, dust2, tage, tau
THETAS = [TRUTH, np.array([1e10, -0.1, 0.2, 2.0, 0.5]), np.array([2e11, -0.8, 1.2, 8.0, 3.0]),
          np.array([5e9, 0.1, 0.05, 1.0, 8.0])]


@pytest.fixture(scope="module")
def emulator():
    return Emulator.load(DATA / "demo_emulator")


@pytest.fixture(scope="module")
def paramfile():
    return load_param_file(DATA / "demo_params.py")


def make_model(paramfile, emulator, mode):
    return emulate(paramfile.build_model(zred=ZRED), emulator, error=mode)


def make_obs(paramfile, emulator, masked=(), nan_band=None, use_fix_obs=True):
    model = make_model(paramfile, emulator, "none")
    obs = {"filters": load_filters(BANDS), "wavelength": None, "spectrum": None}
    _, phot, _ = model.predict(TRUTH, obs=obs)
    rng = np.random.default_rng(3)
    unc = 0.04 * phot
    maggies = phot + unc * rng.normal(size=phot.size)
    mask = np.ones(len(BANDS), dtype=bool)
    for b in masked:
        mask[BANDS.index(b)] = False
    if nan_band is not None:
        maggies[BANDS.index(nan_band)] = np.nan
    obs.update(maggies=maggies, maggies_unc=unc)
    if masked:
        obs["phot_mask"] = mask
    return fix_obs(obs) if use_fix_obs else obs


def expected_lnlike(model, obs, emulator, theta, mode):
    """ln L from scipy, with an independent Jacobian and covariance."""
    _, phot, _ = model.predict(theta, obs=obs)
    used = np.flatnonzero(obs.get("phot_mask", np.ones(len(BANDS), bool)))
    names = [BANDS[i] for i in used]
    mass, z = theta[0], ZRED
    dl_pc = WMAP9.luminosity_distance(z).to("pc").value
    scale = mass * (1 + z) / (dl_pc / 10.0) ** 2
    idx = [emulator.filter_names.index(n) for n in names]
    soft = emulator.outputs.softening[idx]
    mags = asinh_mag(phot[used] / scale, soft)
    h = 1e-5
    jac = scale * (asinh_flux(mags + h, soft) - asinh_flux(mags - h, soft)) / (2 * h)
    s = np.array(emulator.error_stats["covariance"])[np.ix_(idx, idx)]
    if mode == "diag":
        s = np.diag(np.diag(s))
    cov = np.diag(obs["maggies_unc"][used] ** 2) + np.outer(jac, jac) * s
    return multivariate_normal(mean=phot[used], cov=cov).logpdf(obs["maggies"][used])


@pytest.mark.parametrize("mode", ["diag", "cov"])
@pytest.mark.parametrize("masked", [(), ("galex_FUV", "decam_r", "wise_w2")])
def test_lnprobfn_is_the_scipy_gaussian(paramfile, emulator, mode, masked):
    nan_band = "decam_r" if masked else None  # a NaN in a masked band is never read
    obs = make_obs(paramfile, emulator, masked, nan_band)
    model = make_model(paramfile, emulator, mode)
    for theta in THETAS:
        expect = expected_lnlike(model, obs, emulator, theta, mode)
        assert np.isfinite(expect)
        assert lnprobfn(theta, model=model, obs=obs, nested=True) == pytest.approx(expect, rel=1e-8)
        prior = SpecModel.prior_product(model, theta)
        assert lnprobfn(theta, model=model, obs=obs) == pytest.approx(expect + prior, rel=1e-8)


@pytest.mark.parametrize("mode", ["diag", "cov"])
@pytest.mark.parametrize("masked", [(), ("sdss_u0", "twomass_H")])
def test_residuals_square_sum_is_minus_lnlike_plus_a_constant(paramfile, emulator, mode, masked):
    obs = make_obs(paramfile, emulator, masked, nan_band=masked[0] if masked else None)
    model = make_model(paramfile, emulator, mode)
    used = np.flatnonzero(obs["phot_mask"])
    res = [lnprobfn(theta, model=model, obs=obs, residuals=True) for theta in THETAS]
    consts = [0.5 * np.sum(r ** 2) + expected_lnlike(model, obs, emulator, theta, mode)
              for r, theta in zip(res, THETAS)]
    # the constant is -0.5 ln det(2 pi C_obs): independent of theta.  Each of the two
    # terms is up to ~1e4 here (a poor fit), and the reference's Jacobian is a finite
    # difference: agreement to ~1e-9 relative is the precision; a missing or wrong term
    # moves the constant by ~1 or more
    expect = -0.5 * np.sum(np.log(2 * np.pi * obs["maggies_unc"][used] ** 2))
    np.testing.assert_allclose(consts, expect, rtol=1e-8)
    assert all(r.shape == (obs["ndof"] + 1,) for r in res)
    # outside the prior: a vector of the same length, as least_squares needs
    bad = TRUTH.copy()
    bad[3] = 100.0
    null = lnprobfn(bad, model=model, obs=obs, residuals=True)
    assert null.shape == (obs["ndof"] + 1,) and np.all(null <= -1e17)


def with_covariance(emulator, cov):
    meta = copy.deepcopy(emulator.meta)
    meta["test_errors"]["covariance"] = np.asarray(cov).tolist()
    return Emulator(meta, emulator.weights)


def test_indefinite_covariance_is_a_configuration_error_naming_bands(paramfile, emulator):
    cov = np.array(emulator.error_stats["covariance"])
    g, dg = emulator.filter_names.index("sdss_g0"), emulator.filter_names.index("decam_g")
    cov[g, dg] = cov[dg, g] = 3.0 * np.sqrt(cov[g, g] * cov[dg, dg])  # |correlation| 3
    model = make_model(paramfile, with_covariance(emulator, cov), "cov")
    obs = make_obs(paramfile, emulator)
    with pytest.raises(ConfigurationError, match=r"not positive semi-definite.*sdss_g0"):
        lnprobfn(TRUTH, model=model, obs=obs)
    # checked on the bands the fit uses: without decam_g the covariance is fine
    obs = make_obs(paramfile, emulator, masked=("decam_g",))
    expect = expected_lnlike(model, obs, with_covariance(emulator, cov), TRUTH, "cov")
    assert lnprobfn(TRUTH, model=model, obs=obs, nested=True) == pytest.approx(expect, rel=1e-8)


def test_singular_covariance_is_clipped_with_a_warning(paramfile, emulator):
    n = len(emulator.filter_names) + 1
    a = np.random.default_rng(0).normal(scale=0.03, size=(n, 3))
    low_rank = a @ a.T
    lam_max = np.linalg.eigvalsh(low_rank)[-1]
    cov = low_rank - 1e-13 * lam_max * np.eye(n)  # rounding-level negative eigenvalues
    emu = with_covariance(emulator, cov)
    model = make_model(paramfile, emu, "cov")
    obs = make_obs(paramfile, emulator)
    with pytest.warns(UserWarning, match="singular"):
        lnp = lnprobfn(TRUTH, model=model, obs=obs, nested=True)
    expect = expected_lnlike(model, obs, with_covariance(emulator, low_rank), TRUTH, "cov")
    assert lnp == pytest.approx(expect, rel=1e-8)


def test_negative_emulator_variance_is_a_configuration_error(paramfile, emulator):
    cov = np.array(emulator.error_stats["covariance"])
    k = emulator.filter_names.index("wise_w1")
    cov[k, k] = -cov[k, k]
    model = make_model(paramfile, with_covariance(emulator, cov), "diag")
    with pytest.raises(ConfigurationError, match="negative for bands.*wise_w1"):
        lnprobfn(TRUTH, model=model, obs=make_obs(paramfile, emulator))


@pytest.mark.parametrize("mode", ["diag", "cov"])
def test_nan_in_a_used_band_is_a_configuration_error(paramfile, emulator, mode):
    obs = make_obs(paramfile, emulator, nan_band="sdss_z0", use_fix_obs=False)
    model = make_model(paramfile, emulator, mode)
    with pytest.raises(ConfigurationError, match=r"NaN.*sdss_z0.*phot_mask"):
        lnprobfn(TRUTH, model=model, obs=obs)
