"""Band weights in the training loss (``band_weight_power``), without FSPS."""

from __future__ import annotations

import time

import numpy as np
import pytest

from prospect_emu.emulator.training import TrainConfig
from prospect_emu.emulator.transforms import OutputTransform
from prospect_emu.errors import ConfigurationError

LN10_25 = np.log(10.0) / 2.5


def _synthetic_phot(n: int, seed: int):
    """Two bands of very different magnitude spread, and an mfrac, on inputs in [-1, 1]^2."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    # band 0 spans ~10 mag (a UV-like band), band 1 ~1 mag (an IR-like band); same shape
    # each band needs its own features, so a small network must share its capacity
    g0 = np.sin(3.0 * x[:, 0]) + 0.5 * np.sin(5.0 * x[:, 0] * x[:, 1])
    g1 = np.cos(3.0 * x[:, 1]) + 0.5 * np.cos(4.0 * x[:, 0] + 2.0 * x[:, 1])
    mags = np.column_stack([3.0 * g0 + 20.0, 0.3 * g1 + 18.0])
    phot = 10 ** (-0.4 * mags)
    mfrac = 0.6 + 0.1 * np.tanh(x[:, 1])
    return x, phot, mfrac


def _asinh(flux, soft):
    return -(np.arcsinh(flux / (2 * soft)) + np.log(soft)) / LN10_25


def test_band_weight_power_sets_the_output_scales():
    _, phot, mfrac = _synthetic_phot(4000, 0)
    soft = 1e-4 * np.median(phot, axis=0)
    mags = _asinh(phot, soft)
    sd = mags.std(axis=0)
    sd_mfrac = np.log10(mfrac).std()

    old = OutputTransform.fit(["a", "b"], phot, mfrac, 1e-4, band_weight_power=0.0)
    np.testing.assert_allclose(old.std, np.r_[sd, sd_mfrac], rtol=1e-12)

    mag = OutputTransform.fit(["a", "b"], phot, mfrac, 1e-4, band_weight_power=1.0)
    # one scale for both bands: the root mean square of their spreads; mfrac standardised
    common = np.sqrt(np.mean(sd ** 2))
    np.testing.assert_allclose(mag.std, [common, common, sd_mfrac], rtol=1e-12)
    np.testing.assert_allclose(mag.mean, old.mean, rtol=1e-12)
    # so a magnitude error weighs the same in both bands of the encoded targets
    z0 = mag.encode(phot, mfrac)
    z1 = mag.encode(phot * 10 ** (-0.4 * 0.01), mfrac)   # every band 0.01 mag fainter
    np.testing.assert_allclose(z1[:, 0] - z0[:, 0], z1[:, 1] - z0[:, 1], rtol=2e-3)  # asinh

    half = OutputTransform.fit(["a", "b"], phot, mfrac, 1e-4, band_weight_power=0.5)
    np.testing.assert_allclose(half.std[:2], np.sqrt(np.mean(sd)) * np.sqrt(sd), rtol=1e-12)
    # the mean encoded variance over the bands is 1 whatever the power
    for t in (old, mag, half):
        assert np.mean(t.encode(phot, mfrac)[:, :2].var(axis=0)) == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("power", [-0.1, 1.5])
def test_band_weight_power_outside_0_1_is_refused(power):
    _, phot, mfrac = _synthetic_phot(100, 0)
    with pytest.raises(ConfigurationError, match="band_weight_power"):
        OutputTransform.fit(["a", "b"], phot, mfrac, band_weight_power=power)
    with pytest.raises(ConfigurationError, match="--band-weight-power"):
        TrainConfig(band_weight_power=power).validate()


def test_loss_in_magnitudes_moves_a_rank_one_network_onto_the_wide_band():
    """A known answer: a linear network with a one-unit bottleneck can follow only one input.
    Band 0 is 3 x0 mag (wide), band 1 is 0.3 x1 mag (narrow), log10 mfrac follows x1.  With
    every output standardised (power 0), x1 carries two units of variance and x0 one, so the
    best rank-one fit follows x1 and leaves band 0 wrong by its whole spread, 3 std(x0) mag;
    with the loss in magnitudes (power 1) band 0 carries most of the variance, the fit
    follows x0 and band 1 is left wrong by 0.3 std(x1) mag."""
    keras = pytest.importorskip("keras")
    from prospect_emu.network.recipe import Stage, run_stages

    rng = np.random.default_rng(3)
    n = 3000
    x = rng.uniform(-1, 1, size=(n, 2))
    mags = np.column_stack([20.0 + 3.0 * x[:, 0], 18.0 + 0.3 * x[:, 1]])
    phot = 10 ** (-0.4 * mags)
    mfrac = 10 ** (-0.2 + 0.05 * x[:, 1])
    tr, va, te = np.arange(0, 2000), np.arange(2000, 2500), np.arange(2500, n)
    soft = 1e-4 * np.median(phot[tr], axis=0)
    true_mags = _asinh(phot[te], soft)
    # the error of a fit that ignores one input: that input's whole contribution
    miss_x0 = 3.0 * x[te, 0].std()
    miss_x1 = 0.3 * x[te, 1].std()
    err = {}
    for power in (0.0, 1.0):
        t = OutputTransform.fit(["a", "b"], phot[tr], mfrac[tr], 1e-4, band_weight_power=power)
        y = t.encode(phot, mfrac).astype("float32")
        keras.utils.set_random_seed(5)
        inp = keras.Input(shape=(2,))
        model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Dense(1)(inp)))
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        run_stages(model, x.astype("float32"), y, tr, va, [Stage(1e-2, 64, 800, 800, 100)],
                   seed=5)
        mags_hat, _ = t.decode_mags(np.asarray(model.predict(x[te].astype("float32"), verbose=0),
                                               float))
        err[power] = np.sqrt(np.mean((mags_hat - true_mags) ** 2, axis=0))
    # standardised bands: the wide band is left behind
    assert err[0.0][0] == pytest.approx(miss_x0, rel=0.1)
    assert err[0.0][1] < 0.1 * miss_x1
    # the loss in magnitudes: the wide band is fitted, the narrow band pays (10x less)
    assert err[1.0][0] < 0.05 * miss_x0
    assert err[1.0][1] == pytest.approx(miss_x1, rel=0.1)


@pytest.mark.parametrize("options", [{"steps": 1000}, {"patience_steps": 500}, {"eval_every": 100},
                                     {"decay": "cosine"},
                                     {"schedule": ((1e-3, 256, 5000), (1e-4, 1024, 2000))}])
def test_spectral_kind_refuses_the_step_counted_recipe(options):
    # the spectral trainer runs stages by passes (fit_schedule): step options used to crash
    # (three-element stages) or be ignored silently (--steps, --decay, ...)
    TrainConfig(kind="photometry", **options).validate()  # the photometric kind takes them
    with pytest.raises(ConfigurationError, match="spectral kind trains by passes"):
        TrainConfig(kind="spectrum", **options).validate()


def _toy_pca(seed: int):
    """A PCA (with coefficient statistics) of toy log10 spectra whose pixels spread from
    0.2 dex (an 'infrared') to 2 dex (a 'UV'), like the demo model's."""
    from prospect_emu.emulator.pca import fit_pca

    rng = np.random.default_rng(seed)
    n, n_w = 400, 30
    spread = np.geomspace(2.0, 0.2, n_w)
    t = rng.normal(size=(n, 3))
    shapes = np.array([np.ones(n_w), np.linspace(-1, 1, n_w), np.cos(np.linspace(0, 3, n_w))])
    logspec = -20.0 + (t @ shapes) * spread + 0.01 * rng.normal(size=(n, n_w))
    pca = fit_pca(lambda: [logspec]).truncated(5).with_coefficient_stats([logspec])
    return pca, logspec, rng


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_pixel_weights_put_the_spectral_loss_in_log_flux(power):
    """The spectral trainer's loss, built from ``loss_layers`` and targets weighted as
    ``train_spectrum`` weighs them, equals the pixel-weighted MSE of the log10 spectrum that
    the PCA reconstructs from the network's coefficients (computed here with
    ``PCABasis.reconstruct``): at power 1 the plain MSE in dex over the mean square
    spread, at power 0 the MSE of the standardised log flux."""
    keras = pytest.importorskip("keras")
    from prospect_emu.emulator.spectral_training import loss_layers
    from prospect_emu.network.architecture import build_spectral_trainer

    pca, logspec, rng = _toy_pca(1)
    projection, offset, encode = loss_layers(pca, power)
    keras.utils.set_random_seed(2)
    inp = keras.Input(shape=(3,))
    core = keras.Model(inp, keras.layers.Dense(pca.n_components + 1)(inp))
    trainer = build_spectral_trainer(core, projection, offset)
    x = rng.normal(size=(64, 3)).astype("float32")
    target = encode(logspec[:64])                                # train_spectrum's targets
    out_spec, _ = trainer.predict(x, verbose=0)
    loss = np.mean((np.asarray(out_spec, float) - target) ** 2)

    z = np.asarray(core.predict(x, verbose=0), float)[:, :-1]    # standardised coefficients
    l_hat = pca.reconstruct(z * pca.coeff_std + pca.coeff_mean)  # log10 spectra
    d = l_hat - logspec[:64]
    s = pca.scale
    expected = np.mean(s ** (2 * power - 2) * d * d) / np.mean(s ** (2 * power))
    assert loss == pytest.approx(expected, rel=1e-4)
    if power == 1.0:
        assert loss == pytest.approx(np.mean(d * d) / np.mean(s * s), rel=1e-4)
    if power == 0.0:
        assert loss == pytest.approx(np.mean((d / s) ** 2), rel=1e-4)


@pytest.mark.parametrize("power", [-0.1, 1.5])
def test_pixel_weight_power_outside_0_1_or_for_photometry_is_refused(power):
    with pytest.raises(ConfigurationError, match="--pixel-weight-power"):
        TrainConfig(kind="spectrum", pixel_weight_power=power).validate()
    TrainConfig(kind="spectrum", pixel_weight_power=0.5).validate()
    with pytest.raises(ConfigurationError, match="photometric kind's bands take --band-weight"):
        TrainConfig(kind="photometry", pixel_weight_power=0.5).validate()


def test_fit_schedule_stops_at_the_budget_with_the_best_weights():
    """The spectral kind's stages by passes: ``--max-minutes`` ends the run at the first
    epoch end past the budget (it used to be checked only between stages, so a stage of a
    large set could run on for hours), with the best epoch's weights restored and no later
    stage started."""
    keras = pytest.importorskip("keras")
    from prospect_emu.emulator.training import fit_schedule

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(2000, 2)).astype("float32")
    y = (np.sin(3 * x[:, :1]) + x[:, 1:]).astype("float32")
    xv, yv = x[:200], y[:200]
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(2,))
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Dense(16, activation="tanh")(inp)))
    opt = keras.optimizers.Adam(1e-2)
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)   # compiled and warm: epochs are short
    cfg = TrainConfig(kind="spectrum", epochs=400, patience=400, max_minutes=0.5 / 60,
                      schedule=((3e-2, 64), (1e-3, 64), (1e-4, 64)))
    t0 = time.perf_counter()
    history = fit_schedule(model, opt, x, y, (xv, yv), cfg, progress=False)
    assert time.perf_counter() - t0 < 20          # 400 x 3 epochs would take minutes
    assert len(history) == 1 and history[0]["stopped_by_budget"]
    assert 1 <= history[0]["epochs"] < 400
    final = float(model.evaluate(xv, yv, verbose=0))
    assert final == pytest.approx(history[0]["best_val_loss"], rel=1e-4)  # best weights kept

    cfg.max_minutes = None
    cfg.epochs, cfg.patience = 2, 2
    history = fit_schedule(model, opt, x, y, (xv, yv), cfg, progress=False)
    assert [h["stopped_by_budget"] for h in history] == [False] * 3


def test_large_set_paths_compute_in_place_what_the_formulas_give():
    """The spectral trainer's memory-lean paths (a million spectra): ``log_spectra(...,
    inplace=True)`` and ``encode(l, out=l)`` overwrite a float32 array, chunk by chunk, with
    exactly what numpy's formula gives for the whole array at once."""
    from prospect_emu.emulator.pca import log_spectra
    from prospect_emu.emulator.spectral_training import loss_layers

    rng = np.random.default_rng(4)
    spectra = (10.0 ** rng.uniform(-30, -15, size=(1000, 17))).astype(np.float32)
    exact = np.log10(spectra.astype(np.float64))
    whole = np.log10(spectra, dtype=np.float32)          # the whole array at once, a copy
    out = log_spectra(spectra, inplace=True, chunk=64)
    assert np.shares_memory(out, spectra)
    np.testing.assert_array_equal(out, whole)
    np.testing.assert_allclose(out, exact, rtol=3e-7)    # float32's rounding
    copy = log_spectra(10.0 ** exact, chunk=64)          # float64 in: a new float32 array
    assert copy.dtype == np.float32
    np.testing.assert_allclose(copy, exact, rtol=3e-7)
    bad = np.ones((300, 4), np.float32)
    bad[250, 2] = 0.0
    with pytest.raises(ConfigurationError, match="positive spectra"):
        log_spectra(bad, inplace=True, chunk=100)

    pca, logspec, _ = _toy_pca(3)
    _, _, encode = loss_layers(pca, 0.5)
    w = pca.scale ** 0.5 / np.sqrt(np.mean(pca.scale))  # pixel_weights' definition, power 0.5
    lsp = logspec.astype(np.float32)
    formula = ((lsp.astype(np.float64) - pca.mean) / pca.scale * w).astype(np.float32)
    np.testing.assert_array_equal(encode(lsp), formula)
    enc = encode(lsp, out=lsp, chunk=7)
    assert enc is lsp
    np.testing.assert_array_equal(enc, formula)
