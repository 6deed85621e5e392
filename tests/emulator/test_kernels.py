"""The compiled likelihood kernels (numba) against independent references: numpy's tanh,
scipy's multivariate normal, and the package's own numpy path with the kernels off.

No FSPS: the bundled demo emulator.
"""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from prospect_emu.demo import DEMO_EMULATOR
from prospect_emu.emulator import kernels
from prospect_emu.emulator.artifact import Emulator
from prospect_emu.emulator.fastpath import FoldedNetwork, _hidden
from prospect_emu.emulator.transforms import LN10_25
from prospect_emu.paramfile import load_param_file
from prospect_emu.prospector.likelihood import lnprobfn
from prospect_emu.prospector.twin import emulate
from tests.conftest import PARAM_FILE

pytestmark = pytest.mark.skipif(not kernels.ENABLED, reason="numba is not installed")


def test_tanh_is_within_float32_rounding_of_numpy():
    # a one-layer network with W = I and k = 0 returns x tanh(x)
    x = np.linspace(-20, 20, 4001).astype(np.float32)
    x = x[np.abs(x) > 1e-3]  # x tanh x underflows relative precision at 0
    n = 8
    packed = kernels.Packed([(np.eye(n, dtype=np.float32), np.zeros(n, np.float32), None)],
                            np.eye(n))
    rows = np.resize(x, (len(x) // n, n)).astype(np.float32)
    got = kernels.forward_rows(rows, packed) / rows
    ref = np.tanh(rows.astype(float))
    assert np.max(np.abs(got - ref)) < 4e-7
    assert np.max(np.abs(got)) <= 1.0 + 1e-7
    one = np.array([kernels.forward_one(r, packed) for r in rows]) / rows
    np.testing.assert_array_equal(one, got)


@pytest.fixture(scope="module")
def emulator():
    return Emulator.load(DEMO_EMULATOR)


def test_forward_is_the_numpy_forward_pass(emulator):
    bands = np.array([3, 9, 0, 12])
    net = FoldedNetwork(emulator, bands)
    assert net._packed is not None
    rng = np.random.default_rng(7)
    n = emulator.inputs.n_network
    s = np.ones((700, n + 1), np.float32)  # more rows than one block
    s[:, :n] = rng.uniform(-1, 1, size=(700, n))
    ref = _hidden(s, net.hidden) @ net.W_out
    np.testing.assert_allclose(net.forward(s), ref, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.array([net.forward_one(r) for r in s[:50]]), ref[:50],
                               rtol=2e-5, atol=2e-5)
    # float64 or strided input is converted, not a numba typing error
    np.testing.assert_allclose(net.forward_one(s[0].astype(float)), ref[0], rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(net.forward(np.asfortranarray(s[:20])), ref[:20], rtol=2e-5,
                               atol=2e-5)


def _terms(rng, n):
    out = rng.normal(scale=2.0, size=(6, n + 1))  # A per band, then ln mfrac (ignored)
    scale = rng.uniform(0.5, 2.0, size=6)
    two_b = rng.uniform(1e-11, 3e-10, size=n)
    phot = two_b * scale[:, None] * np.sinh(out[:, :-1])
    unc = 0.05 * np.abs(phot).mean(axis=0) + 1e-12
    maggies = phot[0] + rng.normal(size=n) * unc
    a = rng.normal(scale=0.02, size=(n, n))
    emu_cov = a @ a.T + np.diag(rng.uniform(1e-4, 4e-4, size=n))
    return out, scale, two_b, unc, maggies, emu_cov


@pytest.mark.parametrize("mode", ["none", "diag", "cov"])
def test_lnlike_is_scipys_gaussian(mode):
    rng = np.random.default_rng(11)
    n = 9
    out, scale, two_b, unc, maggies, emu_cov = _terms(rng, n)
    S = {"none": np.zeros((n, n)), "diag": np.diag(np.diag(emu_cov)), "cov": emu_cov}[mode]
    ref = []
    for o, sc in zip(out, scale):
        phot = two_b * sc * np.sinh(o[:-1])
        jac = -LN10_25 * two_b * sc * np.cosh(o[:-1])  # d phot / d mag
        cov = np.diag(unc ** 2) + np.outer(jac, jac) * S
        ref.append(multivariate_normal(mean=phot, cov=cov).logpdf(maggies))
    third = {"none": 1.0 / unc ** 2, "diag": LN10_25 ** 2 * np.diag(emu_cov) * two_b ** 2,
             "cov": np.zeros(n)}[mode]
    obsv = np.ascontiguousarray(np.vstack([maggies, two_b, third, unc ** 2]))
    SJ = LN10_25 ** 2 * emu_cov * np.outer(two_b, two_b) if mode == "cov" else np.zeros((1, 1))
    const = (-0.5 * np.sum(np.log(2 * np.pi * unc ** 2)) if mode == "none"
             else -0.5 * n * np.log(2 * np.pi))
    m = kernels.MODES[mode]
    got = [kernels.lnlike_one(o, sc, obsv, SJ, const, m) for o, sc in zip(out, scale)]
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    np.testing.assert_allclose(kernels.lnlike_rows(out, scale, obsv, SJ, const, m), ref,
                               rtol=1e-10)


def test_lnlike_is_nan_for_bad_data_and_an_indefinite_covariance():
    rng = np.random.default_rng(12)
    n = 5
    out, scale, two_b, unc, maggies, emu_cov = _terms(rng, n)
    bad = maggies.copy()
    bad[2] = np.nan
    for mode in ("none", "diag", "cov"):
        third = np.ones(n) if mode != "cov" else np.zeros(n)
        obsv = np.ascontiguousarray(np.vstack([bad, two_b, third, unc ** 2]))
        SJ = np.outer(two_b, two_b) * emu_cov if mode == "cov" else np.zeros((1, 1))
        assert np.isnan(kernels.lnlike_one(out[0], scale[0], obsv, SJ, 0.0, kernels.MODES[mode]))
    obsv = np.ascontiguousarray(np.vstack([maggies, two_b, np.zeros(n), -unc ** 2]))
    SJ = -np.eye(n) * 1e-30  # C = -diag(unc^2) - ...: not positive definite
    assert np.isnan(kernels.lnlike_one(out[0], scale[0], obsv, SJ, 0.0, 2))
    rows = kernels.lnlike_rows(out, scale, obsv, SJ, 0.0, 2)
    assert rows.shape == (6,) and np.all(np.isnan(rows))


def _thetas(rng, n=60):
    th = np.column_stack([10 ** rng.uniform(8.5, 11.5, n), rng.uniform(-1.2, 0.2, n),
                          rng.uniform(0.0, 2.5, n), rng.uniform(0.05, 13.0, n),
                          rng.uniform(0.1, 10.0, n)])
    th[:5, 3] = 14.5  # outside the prior or the training box: -inf either way
    return th


@pytest.mark.parametrize("kind", ["photometric", "spectral"])
@pytest.mark.parametrize("mode", ["none", "diag", "cov"])
def test_lnprobfn_with_and_without_kernels_agree(mode, kind, monkeypatch):
    from prospect_emu.demo import DEMO_SPECTRAL_EMULATOR

    emu = DEMO_EMULATOR if kind == "photometric" else DEMO_SPECTRAL_EMULATOR
    pf = load_param_file(PARAM_FILE)
    obs = pf.build_obs()
    thetas = _thetas(np.random.default_rng(5))

    def values():
        model = emulate(pf.build_model(), emu, error=mode)
        one = np.array([lnprobfn(t, model=model, obs=obs) for t in thetas])
        return one, model

    fast, model = values()
    plan = model._fast_plans and next(iter(model._fast_plans.values()))
    assert plan._fused is not None and model.input_plan.kmap is not None
    monkeypatch.setattr(kernels, "ENABLED", False)
    slow, model = values()
    assert next(iter(model._fast_plans.values()))._fused is None
    assert np.array_equal(np.isfinite(fast), np.isfinite(slow)) and np.isinf(fast[:5]).all()
    ok = np.isfinite(slow)
    # the float32 network's fluxes agree to ~2e-6 relative (the tanh approximation); far
    # from the data (chi ~ 100) that moves ln L by ~1e-5 of itself
    np.testing.assert_allclose(fast[ok], slow[ok], rtol=3e-5, atol=1e-3)


def test_an_observation_changed_in_place_gets_a_new_likelihood():
    pf = load_param_file(PARAM_FILE)
    obs = pf.build_obs()
    model = emulate(pf.build_model(), DEMO_EMULATOR, error="diag")
    theta = np.array([1e10, -0.3, 0.4, 5.0, 2.0])
    before = lnprobfn(theta, model=model, obs=obs)
    obs["maggies"][0] *= 1.5  # the same array, new contents
    after = lnprobfn(theta, model=model, obs=obs)
    fresh = dict(obs, maggies=obs["maggies"].copy())
    assert after != before
    assert after == lnprobfn(theta, model=emulate(pf.build_model(), DEMO_EMULATOR,
                                                  error="diag"), obs=fresh)


def test_scaled_rows_is_the_numpy_scaling(monkeypatch):
    pf = load_param_file(PARAM_FILE)
    model = emulate(pf.build_model(), DEMO_EMULATOR)
    thetas = _thetas(np.random.default_rng(9), 200)
    thetas[5, 3] = 0.0  # log10(0): -inf, outside
    thetas[6, 4] = -1.0  # log10 of a negative number: NaN, outside
    compiled = model.input_plan
    assert compiled.kmap is not None
    x, _ = compiled.read_rows(model, thetas)
    got, inside = compiled.scaled_rows(x.copy())
    monkeypatch.setattr(kernels, "ENABLED", False)
    model_np = emulate(pf.build_model(), DEMO_EMULATOR)
    plan_np = model_np.input_plan
    assert plan_np.kmap is None
    ref, inside_ref = plan_np.scaled_rows(x.copy())
    np.testing.assert_array_equal(inside, inside_ref)
    assert not inside[[5, 6]].any() and inside.sum() > 100
    np.testing.assert_array_equal(got[inside], ref[inside])


def test_the_environment_switch_keeps_the_numpy_path():
    import os
    import subprocess
    import sys

    code = ("from prospect_emu.emulator import kernels; from prospect_emu.demo import DEMO_EMULATOR;"
            "from prospect_emu.emulator.artifact import Emulator;"
            "from prospect_emu.emulator.fastpath import FoldedNetwork; import numpy as np;"
            "net = FoldedNetwork(Emulator.load(DEMO_EMULATOR), np.arange(3));"
            "print(kernels.ENABLED, net._packed is None)")
    env = dict(os.environ, PROSPECT_EMU_NO_JIT="1")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "True"]


def test_spectral_network_is_the_numpy_path(monkeypatch):
    from sedpy.observate import load_filters

    from prospect_emu.demo import DEMO_SPECTRAL_EMULATOR
    from prospect_emu.emulator.fastpath import SpectralNetwork

    filters = load_filters(["galex_FUV", "sdss_r0", "twomass_Ks", "wise_w1"])

    def outputs():
        emu = Emulator.load(DEMO_SPECTRAL_EMULATOR)  # a fresh one: the folded net is cached on it
        proj = emu.photometry_plan(filters, 1.0)
        net = SpectralNetwork(emu, proj, np.full(len(filters), 2e-10))
        n = emu.inputs.n_network
        s = np.ones((40, n + 1), np.float32)
        s[:, :n] = np.random.default_rng(4).uniform(-1, 1, size=(40, n))
        return net, np.array([net.forward_one(r) for r in s]), net.forward(s)

    net, one, rows = outputs()
    assert net._packed is not None
    monkeypatch.setattr(kernels, "ENABLED", False)
    net_np, one_np, rows_np = outputs()
    assert net_np._packed is None
    np.testing.assert_allclose(one, one_np, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(rows, rows_np, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(one, rows, rtol=1e-6, atol=1e-6)
