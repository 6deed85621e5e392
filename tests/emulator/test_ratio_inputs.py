"""Ratio inputs (min(tage / tau, cap), an extra network input): resolving them, storing
them, and every inference path computing them as training did.

No FSPS, no Keras: an emulator with a ratio input is built from a stored emulator without
one (tests/data/schema1_emulator, the demo model's) by giving its first layer one more
input row.  For any one parameter vector
that row adds ``f(x) * w`` to the first layer's bias, so the expected prediction comes
from the *unchanged* demo emulator with that bias, ``f`` computed here with numpy.
"""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from prospect.models import priors
from prospect.models.templates import TemplateLibrary
from sedpy.observate import load_filters

from prospect_emu.demo import DEMO_ZRED
from prospect_emu.emulator.artifact import SCHEMA_VERSION, Emulator
from prospect_emu.emulator.transforms import InputTransform
from prospect_emu.errors import ConfigurationError
from prospect_emu.network.recipe import DEFAULT_RATIO_CAP, resolve_ratio_inputs

BASE = Path(__file__).resolve().parents[1] / "data" / "schema1_emulator"
NAMES = ["logzsol", "dust2", "tage", "tau", "zred"]
LO = np.array([-2.0, 0.0, 0.001, 0.1, 0.0])


def test_resolve_ratio_inputs():
    assert resolve_ratio_inputs("auto", NAMES, LO) == [(2, 3, DEFAULT_RATIO_CAP)]
    assert resolve_ratio_inputs(None, NAMES, LO) == [(2, 3, DEFAULT_RATIO_CAP)]
    assert resolve_ratio_inputs("none", NAMES, LO) == []
    assert resolve_ratio_inputs("tau/tage:5, tage/tau", NAMES, LO) == [(3, 2, 5.0), (2, 3, 30.0)]
    # auto needs both, with positive bounds
    assert resolve_ratio_inputs("auto", ["tage", "dust2"], np.array([0.1, 0.0])) == []
    assert resolve_ratio_inputs("auto", ["tage", "tau"], np.array([0.0, 0.1])) == []


@pytest.mark.parametrize("spec, words", [("tage/sfr", "'sfr' is not an input"),
                                         ("tage/dust2", "reaches zero"),
                                         ("tage/tau:0", "positive cap"),
                                         ("tage/tau:x", "positive cap"),
                                         ("tage", "NUM/DEN"),
                                         ("tau/tau", "two different")])
def test_resolve_ratio_inputs_refuses_bad_entries(spec, words):
    with pytest.raises(ConfigurationError, match=words):
        resolve_ratio_inputs(spec, NAMES, LO)


def test_input_transform_appends_the_scaled_capped_ratio_and_round_trips():
    hi = np.array([0.19, 2.0, 13.8, 30.0, 3.0])
    t = InputTransform.from_bounds(NAMES, LO, hi, [False, False, True, True, False], [(2, 3, 30.0)])
    assert t.n_network == 6 and t.ratio_names == ["tage/tau"]
    x = np.array([[-0.5, 0.3, 5.0, 0.2, 1.0],     # ratio 25
                  [-0.5, 0.3, 13.0, 0.1, 1.0],    # 130, capped at 30
                  [-0.5, 0.3, 0.01, 20.0, 1.0]])  # 5e-4
    z = t(x)
    np.testing.assert_allclose(z[:, 5], [25 / 15 - 1, 1.0, 5e-4 / 15 - 1])
    np.testing.assert_allclose(z[:, 2], (np.log10(x[:, 2]) - (np.log10(0.001) + np.log10(13.8)) / 2)
                               * 2 / (np.log10(13.8) - np.log10(0.001)))
    back = InputTransform.from_json(json.loads(json.dumps(t.to_json())))
    np.testing.assert_array_equal(back(x), z)
    assert "ratios" not in InputTransform.from_bounds(NAMES, LO, hi, [False] * 5).to_json()
    with pytest.raises(ValueError, match="positive bounds"):
        InputTransform.from_bounds(NAMES, LO, hi, [False] * 5, [(2, 1, 30.0)])  # dust2 from 0


def _with_ratio_input(w_extra_scale=0.3, seed=1):
    """(the stored emulator with a tage/tau input row added, that emulator, the row)."""
    base = Emulator.load(BASE)
    assert not base.inputs.ratios
    meta = copy.deepcopy(base.meta)
    names = meta["inputs"]["names"]
    meta["inputs"]["ratios"] = [{"numerator": "tage", "denominator": "tau", "cap": 30.0}]
    meta["schema_version"] = SCHEMA_VERSION  # as training writes it
    weights = {k: np.array(v) for k, v in base.weights.items()}
    w0 = meta["layers"][0]["W"]
    row = (w_extra_scale * np.random.default_rng(seed).normal(size=weights[w0].shape[1])).astype(np.float32)
    weights[w0] = np.vstack([weights[w0], row])
    assert names.index("tage") >= 0
    return Emulator(meta, weights), base, row


def _expected(base, row, x):
    """The base emulator's prediction at x with the ratio row folded into its first bias."""
    t = base.inputs
    f = np.minimum(x[t.names.index("tage")] / x[t.names.index("tau")], 30.0) / 15.0 - 1.0
    meta = copy.deepcopy(base.meta)
    weights = {k: np.array(v) for k, v in base.weights.items()}
    b0 = meta["layers"][0]["b"]
    weights[b0] = (weights[b0].astype(np.float64) + f * row.astype(np.float64)).astype(np.float32)
    return Emulator(meta, weights).predict(x)


def _draws(emu, n=8, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = emu.inputs.raw_lo, emu.inputs.raw_hi
    u = rng.uniform(size=(n, len(lo)))
    j, k = emu.input_names.index("tage"), emu.input_names.index("tau")
    x = lo + u * (hi - lo)
    x[:, k] = 10 ** (np.log10(lo[k]) + u[:, k] * np.log10(hi[k] / lo[k]))
    x[0, j], x[0, k] = 13.0, 0.1   # ratio far above the cap
    x[1, j], x[1, k] = 0.01, 25.0  # ratio near 0
    return x


def test_artifact_predictions_include_the_ratio_input(tmp_path):
    emu, base, row = _with_ratio_input()
    path = emu.save(tmp_path / "ratio_emu")
    loaded = Emulator.load(path)
    assert json.loads((path / "emulator.json").read_text())["schema_version"] == 3
    assert "tage/tau" in loaded.summary()
    for x in _draws(emu):
        ref = _expected(base, row, x)
        got = loaded.predict(x)
        np.testing.assert_allclose(got.mags, ref.mags, rtol=1e-6, atol=2e-5)
        mags, mfrac = loaded.predict_one(x)  # the likelihood's one-vector path
        np.testing.assert_allclose(mags, ref.mags, rtol=1e-6, atol=2e-5)
        np.testing.assert_allclose(mfrac, ref.mfrac, rtol=2e-5)
    # the extra row matters: without the ratio the predictions differ
    x = _draws(emu)[0]
    assert np.abs(base.predict(x).mags - loaded.predict(x).mags).max() > 1e-3


def test_every_likelihood_path_computes_the_ratio_input():
    """Prospector's predict (one-vector fast path and the generic one), the batched
    likelihood's rows and the batched mfrac all equal the expected predictions."""
    from prospect.utils.obsutils import fix_obs

    from prospect_emu.prospector.batched import lnprob_batch
    from prospect_emu.prospector.likelihood import lnprobfn
    from prospect_emu.prospector.model import EmulatedSpecModel

    emu, base, row = _with_ratio_input()
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = DEMO_ZRED
    params["mass"]["prior"] = priors.LogUniform(mini=1e8, maxi=1e12)
    model = EmulatedSpecModel(params, emulator=emu, emulator_error="none")
    bands = ["galex_FUV", "sdss_u0", "sdss_r0", "twomass_Ks", "wise_w2"]
    obs = {"filters": load_filters(bands), "wavelength": None, "spectrum": None}
    cols = [emu.filter_names.index(b) for b in bands]
    xs = _draws(emu)
    xs[:, emu.input_names.index("zred")] = DEMO_ZRED
    thetas = []
    for x in xs:
        theta = model.theta.copy()
        for name in ("logzsol", "dust2", "tage", "tau"):
            theta[model.theta_index[name]] = x[emu.input_names.index(name)]
        theta[model.theta_index["mass"]] = 1e10
        thetas.append(theta)
        ref = _expected(base, row, x)
        _, phot_fast, mfrac = model.predict(theta, obs=obs)
        _, phot_slow, _ = model.predict(list(theta), obs=obs)  # not an ndarray: generic path
        for got in (phot_fast, phot_slow):  # colours: the distance and mass scale cancel
            np.testing.assert_allclose(got / got[2], ref.phot[cols] / ref.phot[cols][2], rtol=5e-5)
        np.testing.assert_allclose(mfrac, ref.mfrac, rtol=2e-5)
        # lnprobfn's one-vector hot path and the batched rows, on data = 1.1 x that photometry
        unc = 0.05 * phot_fast
        data = fix_obs(dict(obs, maggies=1.1 * phot_fast, maggies_unc=unc))
        expected = -0.5 * np.sum((0.1 * phot_fast / unc) ** 2 + np.log(2 * np.pi * unc ** 2))
        assert lnprobfn(theta, model=model, obs=data, nested=True) == pytest.approx(expected, rel=1e-4)
        assert lnprob_batch(theta[None], model, data, nested=True)[0] == pytest.approx(expected, rel=1e-4)
    thetas = np.array(thetas)
    np.testing.assert_allclose(model.mfrac_rows(thetas),
                               [_expected(base, row, x).mfrac for x in xs], rtol=2e-5)
    s, inside = model.input_plan.scaled_rows(model.input_plan.read_rows(model, thetas)[0])
    assert inside.all() and s.shape[1] == 7
    np.testing.assert_allclose(s[:, 5], np.minimum(xs[:, 2] / xs[:, 3], 30) / 15 - 1, rtol=1e-6, atol=1e-7)


def test_spectral_kind_computes_a_named_ratio_input_on_every_path():
    """A spectral emulator with a tage/tau input row (built from the bundled spectral one):
    the batched coefficients, the one-vector path and an emulated model's photometry fast
    path all equal the unchanged emulator with the row folded into its first bias."""
    from prospect_emu.prospector.model import EmulatedSpecModel

    base = Emulator.load(Path(__file__).resolve().parents[2] / "prospect_emu" / "data"
                         / "demo_spectral_emulator")
    assert base.kind == "spectrum" and not base.inputs.ratios
    meta = copy.deepcopy(base.meta)
    meta["inputs"]["ratios"] = [{"numerator": "tage", "denominator": "tau", "cap": 30.0}]
    meta["schema_version"] = SCHEMA_VERSION
    weights = {k: np.array(v) for k, v in base.weights.items()}
    w0, b0 = meta["layers"][0]["W"], meta["layers"][0]["b"]
    row = (0.3 * np.random.default_rng(2).normal(size=weights[w0].shape[1])).astype(np.float32)
    weights[w0] = np.vstack([weights[w0], row])
    emu = type(base)(meta, weights)
    names = emu.input_names
    filters = load_filters(["sdss_u0", "sdss_r0", "twomass_Ks"])
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = DEMO_ZRED
    model = EmulatedSpecModel(params, emulator=emu, emulator_error="none")
    obs = {"filters": filters, "wavelength": None, "spectrum": None}
    xs = _draws(emu, n=6)
    coeffs, mfrac, _ = emu.coefficients(xs)
    for x, c, mf in zip(xs, coeffs, mfrac):
        f = min(x[names.index("tage")] / x[names.index("tau")], 30.0) / 15.0 - 1.0
        wb = dict(weights)
        wb[w0] = base.weights[w0]
        wb[b0] = (base.weights[b0].astype(np.float64) + f * row).astype(np.float32)
        ref = type(base)(copy.deepcopy(base.meta), wb)
        c_ref, mf_ref, _ = ref.coefficients(x)
        np.testing.assert_allclose(c, c_ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(emu.coefficients_one(x)[0], c_ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(mf, mf_ref, rtol=2e-5)
        theta = model.theta.copy()
        for name in names:
            theta[model.theta_index[name]] = x[names.index(name)]
        _, phot, _ = model.predict(theta, obs=obs)  # the fast path (SpectralNetwork)
        phot_ref, _ = ref.predict_photometry(x, filters, DEMO_ZRED)
        np.testing.assert_allclose(phot / phot[1], phot_ref / phot_ref[1], rtol=5e-5)
        # the likelihood's folded spectral network, one vector and rows, on data = 1.1 x phot
        from prospect.utils.obsutils import fix_obs

        from prospect_emu.prospector.batched import lnprob_batch
        from prospect_emu.prospector.likelihood import lnprobfn

        unc = 0.05 * phot
        data = fix_obs(dict(obs, maggies=1.1 * phot, maggies_unc=unc))
        expected = -0.5 * np.sum(((1.1 * phot - phot) / unc) ** 2 + np.log(2 * np.pi * unc ** 2))
        assert lnprobfn(theta, model=model, obs=data, nested=True) == pytest.approx(expected, rel=1e-4)
        assert lnprob_batch(theta[None], model, data, nested=True)[0] == pytest.approx(expected, rel=1e-4)
