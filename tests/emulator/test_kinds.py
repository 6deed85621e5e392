"""The emulator kinds (issue 22): one registry, one entry point that loads every kind, the
old names, and each kind's methods through which the model, the likelihood, validation and
training delegate instead of testing the kind.  Runs on the bundled artifacts (no FSPS);
expected values come from the artifacts' JSON and from the plain numpy inference paths
(``predict``, ``photometry``, ``predict_spectrum``), never from the method under test."""

from __future__ import annotations

import json
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from prospect_emu.emulator import kinds
from prospect_emu.emulator.artifact import KINDS, Emulator
from prospect_emu.emulator.photometric import PhotometricEmulator
from prospect_emu.emulator.spectral import SpectralEmulator
from prospect_emu.emulator.transforms import asinh_mag
from prospect_emu.errors import ConfigurationError
from tests.conftest import DATA, FLOAT32_RTOL, KIND_ARTIFACTS

BANDS = ["sdss_g0", "sdss_r0", "twomass_J"]


def _rows(emu, n: int, seed: int = 0) -> np.ndarray:
    lo, hi = emu.inputs.raw_lo, emu.inputs.raw_hi
    return lo + (hi - lo) * np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, len(lo)))


def _filters(names=BANDS):
    from prospect_emu.filters import load_filters

    return load_filters(names)


def _reference_photometry(emu, x: np.ndarray, filters, zred: float):
    """Maggies per Msun at 10 pc and mfrac for one vector, through the kind's plain path."""
    return emu.photometry(x, emu.photometry_plan(filters, zred))


# ---- the registry ---------------------------------------------------------------------------
def test_the_registry_lists_the_kinds_once_and_everyone_reads_it():
    from prospect_emu.cli.build_commands import add_train
    from prospect_emu.emulator.training import TrainConfig

    assert kinds.names() == ("photometry", "spectrum") == KINDS
    assert set(KIND_ARTIFACTS) == set(kinds.names())  # the kind fixture covers every kind
    for name in kinds.names():
        cls = kinds.get(name).emulator_class()
        assert issubclass(cls, Emulator) and cls.kind == name
        assert callable(kinds.get(name).build())
    import argparse

    sub = argparse.ArgumentParser().add_subparsers()
    add_train(sub)
    train = sub.choices["train"]
    action = next(a for a in train._actions if "--kind" in a.option_strings)
    assert tuple(action.choices) == kinds.names() and action.default == kinds.DEFAULT_KIND
    with pytest.raises(ConfigurationError, match="photometry or spectrum"):
        TrainConfig(kind="ensemble").validate()
    with pytest.raises(ConfigurationError, match="unknown emulator kind 'ensemble'"):
        kinds.get("ensemble")


def test_the_kinds_are_siblings_under_one_base():
    assert not issubclass(SpectralEmulator, PhotometricEmulator)
    assert not issubclass(PhotometricEmulator, SpectralEmulator)
    assert SpectralEmulator.__mro__[1] is Emulator and PhotometricEmulator.__mro__[1] is Emulator


def test_the_builders_are_the_registered_ones():
    from prospect_emu.emulator.spectral_training import train_spectrum
    from prospect_emu.emulator.training import train_photometry

    assert kinds.get("photometry").build() is train_photometry
    assert kinds.get("spectrum").build() is train_spectrum


class ToyEmulator(PhotometricEmulator):
    """A third kind for the test: the photometric network under another kind name."""

    kind = "toy"


def test_a_third_kind_is_one_class_and_one_registration(tmp_path, monkeypatch, demo_emulator):
    monkeypatch.setitem(kinds._KINDS, "toy", kinds.Kind("toy", f"{__name__}:ToyEmulator",
                                                        f"{__name__}:ToyEmulator"))
    art = tmp_path / "toy"
    shutil.copytree(demo_emulator, art)
    meta = json.loads((art / "emulator.json").read_text())
    meta["kind"] = "toy"
    (art / "emulator.json").write_text(json.dumps(meta))
    emu = Emulator.load(art)
    assert type(emu) is ToyEmulator and isinstance(emu, Emulator)
    x = _rows(emu, 5)
    np.testing.assert_array_equal(emu.predict(x).mags, Emulator.load(demo_emulator).predict(x).mags)
    monkeypatch.delitem(kinds._KINDS, "toy")
    with pytest.raises(ConfigurationError, match="kind 'toy'"):
        Emulator.load(art)


# ---- one entry point, old names -------------------------------------------------------------
def test_emulator_load_returns_the_class_of_each_kind(kind_emulator):
    meta_kind = kind_emulator.meta.get("kind", "photometry")
    assert kind_emulator.kind == meta_kind
    assert type(kind_emulator) is kinds.get(meta_kind).emulator_class()
    assert isinstance(kind_emulator, Emulator)
    # the constructor chooses the class by the metadata too (what training and tests use)
    again = Emulator(kind_emulator.meta, kind_emulator.weights)
    assert type(again) is type(kind_emulator)


def test_a_kind_class_refuses_an_artifact_of_another_kind(demo_emulator):
    from prospect_emu.demo import DEMO_SPECTRAL_EMULATOR

    with pytest.raises(ConfigurationError, match="kind 'photometry', not a SpectralEmulator"):
        SpectralEmulator.load(demo_emulator)
    with pytest.raises(ConfigurationError, match="kind 'spectrum', not a PhotometricEmulator"):
        PhotometricEmulator.load(DEMO_SPECTRAL_EMULATOR)
    assert type(PhotometricEmulator.load(demo_emulator)) is PhotometricEmulator
    assert type(SpectralEmulator.load(DEMO_SPECTRAL_EMULATOR)) is SpectralEmulator


def test_schema1_artifact_loads_as_the_photometric_kind():
    emu = Emulator.load(DATA / "schema1_emulator")
    assert type(emu) is PhotometricEmulator and "kind" not in emu.meta


def test_the_old_names_still_import():
    import prospect_emu
    import prospect_emu.emulator as pe
    from prospect_emu.analysis.validate import _check_compatible, spectral_errors  # noqa: F401
    from prospect_emu.emulator import spectral, spectral_training, training

    assert prospect_emu.Emulator is pe.Emulator is Emulator
    assert prospect_emu.SpectralEmulator is pe.SpectralEmulator is spectral.SpectralEmulator
    assert pe.PhotometricEmulator is PhotometricEmulator
    for name in ("TrainConfig", "prepare", "split_by_group", "fit_schedule", "save_artifact",
                 "PreparedData", "DEFAULT_SCHEDULE", "train"):
        assert hasattr(training, name), name
    for name in ("_error_table", "_unique_rows", "REPORT_RANGE", "train_spectrum"):
        assert hasattr(spectral_training, name), name
    for name in ("projection_matrix", "PhotometryProjection", "TO_CGS_AT_10PC"):
        assert hasattr(spectral, name), name


# ---- what each kind owns ----------------------------------------------------------------------
def test_resolve_bands_and_softening_follow_the_artifact(kind_emulator):
    emu = kind_emulator
    meta = emu.meta
    filters = _filters(BANDS + ["bessell_U"])
    hashes = {d["name"]: d["hash"] for d in meta["filters"]}
    soft_json = np.asarray(meta["outputs"]["softening"], dtype=float)
    if emu.kind == "photometry":
        with pytest.raises(ConfigurationError, match="no band.*bessell_U"):
            emu.resolve_bands(filters, hashes)
        idx, notes = emu.resolve_bands(filters[:3], hashes)
        assert notes == []
        assert list(idx) == [meta["outputs"]["filter_names"].index(b) for b in BANDS]
        np.testing.assert_array_equal(emu.band_softening(idx), soft_json[idx])
        assert "name only" in emu.resolve_bands(filters[:3], {})[1][0]
    else:
        idx, notes = emu.resolve_bands(filters, hashes)
        assert notes == [] and idx[-1] == -1
        assert list(idx[:3]) == [meta["outputs"]["filter_names"].index(b) for b in BANDS]
        soft = emu.band_softening(idx)
        np.testing.assert_array_equal(soft[:3], soft_json[idx[:3]])
        assert soft[3] == np.median(soft_json)


def test_a_redefined_transmission_is_caught_by_each_kind(kind_emulator):
    emu = kind_emulator
    hashes = {d["name"]: d["hash"] for d in emu.meta["filters"]}
    hashes["sdss_r0"] = "0" * len(hashes["sdss_r0"])  # as if the curve had been edited
    if emu.kind == "photometry":
        with pytest.raises(ConfigurationError, match="transmission curve differs"):
            emu.resolve_bands(_filters(), hashes)
    else:  # predicted exactly, but without the training band's error statistics
        idx, _ = emu.resolve_bands(_filters(), hashes)
        assert idx[1] == -1 and idx[0] >= 0


def test_error_covariance_is_the_stored_one(kind_emulator):
    emu = kind_emulator
    full = np.asarray(emu.meta["test_errors"]["covariance"], dtype=float)
    idx = np.array([3, 0, 7])
    np.testing.assert_array_equal(emu.error_covariance(idx, ["a", "b", "c"], "diag"),
                                  full[np.ix_(idx, idx)])
    with pytest.raises(ConfigurationError, match=r"obs bands \['b'\].*emulator-error none"):
        emu.error_covariance(np.array([3, -1]), ["a", "b"], "cov")


def test_fast_network_gives_the_kinds_photometry(kind_emulator):
    emu = kind_emulator
    filters = _filters()
    idx, _ = emu.resolve_bands(filters, {})
    two_soft = 2.0 * emu.band_softening(idx)
    zred = 0.4
    net = emu.fast_network(filters, np.arange(len(filters)), idx, zred, two_soft)
    x = _rows(emu, 6, seed=3)
    if "zred" in emu.input_names:
        x[:, emu.input_names.index("zred")] = zred
    s = np.ones((len(x), emu.inputs.n_network + 1), dtype=np.float32)
    s[:, :-1] = emu.inputs(x)
    rows = net.forward(s)
    for r in range(len(x)):
        phot, mfrac = _reference_photometry(emu, x[r], filters, zred)
        for out in (rows[r], net.forward_one(s[r])):
            np.testing.assert_allclose(two_soft * np.sinh(out[:-1]), phot, rtol=FLOAT32_RTOL)
            assert math.exp(out[-1]) == pytest.approx(mfrac, rel=FLOAT32_RTOL)


def test_fast_network_lnlike_theta_is_the_gaussian_of_the_photometry(kind_emulator):
    from prospect_emu.emulator import kernels

    emu = kind_emulator
    filters = _filters()
    idx, _ = emu.resolve_bands(filters, {})
    two_soft = 2.0 * emu.band_softening(idx)
    zred, scale = 0.4, 2.5e9
    net = emu.fast_network(filters, np.arange(len(filters)), idx, zred, two_soft)
    if net._packed is None:
        pytest.skip("the compiled kernels are off (no numba, or PROSPECT_EMU_NO_JIT)")
    t = emu.inputs
    x = _rows(emu, 1, seed=4)[0]
    if "zred" in emu.input_names:
        x[emu.input_names.index("zred")] = zred
    imap = kernels.InputMap(range(len(x)), t.log, t.inv_half, t.center * t.inv_half,
                            [(a, b, cap, 2.0 / cap) for a, b, cap in t.ratios], 1.0 + 1e-9)
    phot, _ = _reference_photometry(emu, x, filters, zred)
    model = phot * scale
    maggies = model * (1.0 + 0.03 * np.array([1.0, -2.0, 0.5]))
    unc = 0.02 * maggies
    const = -0.5 * float(np.sum(np.log(2 * np.pi * unc ** 2)))
    obsv = np.ascontiguousarray(np.vstack([maggies, two_soft, 1.0 / unc ** 2, unc ** 2]))
    got = net.lnlike_theta(x, imap, scale, obsv, np.zeros((1, 1)), const, kernels.MODES["none"])
    expected = -0.5 * np.sum(((maggies - model) / unc) ** 2) + const
    assert got == pytest.approx(expected, abs=1e-3)  # chi^2 ~ 7 from float32 photometry
    outside = x.copy()
    outside[0] = t.raw_hi[0] + 1.0
    assert net.lnlike_theta(outside, imap, scale, obsv, np.zeros((1, 1)), const,
                            kernels.MODES["none"]) == -math.inf


def test_plan_needs_zred_where_zred_is_no_network_input(kind_emulator):
    emu = kind_emulator
    assert emu.plan_needs_zred == ("zred" not in emu.input_names)


def test_fast_network_takes_the_used_bands_of_the_observation(kind_emulator):
    emu = kind_emulator
    filters = _filters()
    idx, _ = emu.resolve_bands(filters, {})
    used = np.array([2, 0])
    two_soft = 2.0 * emu.band_softening(idx)[used]
    full = emu.fast_network(filters, np.arange(3), idx, 0.4, 2.0 * emu.band_softening(idx))
    part = emu.fast_network(filters, used, idx[used], 0.4, two_soft)
    x = _rows(emu, 3, seed=8)
    s = np.ones((len(x), emu.inputs.n_network + 1), dtype=np.float32)
    s[:, :-1] = emu.inputs(x)
    np.testing.assert_allclose(part.forward(s), full.forward(s)[:, [2, 0, 3]], rtol=1e-12)


def test_mfrac_rows_is_predicts_mfrac_and_nan_outside(kind_emulator):
    emu = kind_emulator
    x = _rows(emu, 40, seed=5)
    x[3, 0] = emu.inputs.raw_hi[0] * 10 + 1  # outside the box
    x[7, 1] = np.nan
    if emu.kind == "photometry":
        inside = np.ones(len(x), bool)
        inside[[3, 7]] = False
        truth = np.full(len(x), np.nan)
        truth[inside] = emu.predict(x[inside]).mfrac
    else:
        truth = np.array([emu.predict_spectrum(r)[2] if i not in (3, 7) else np.nan
                          for i, r in enumerate(x)])
    got = emu.mfrac_rows(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(truth))
    np.testing.assert_allclose(got, truth, rtol=FLOAT32_RTOL)


def test_check_observation_and_exact_parameters(kind_emulator):
    emu = kind_emulator
    with_spectrum = {"spectrum": np.ones(3), "wavelength": np.arange(3.0)}
    if emu.predicts_spectrum:
        emu.check_observation(with_spectrum)
        assert emu.exact_parameters == {"zred", "mass", "lumdist", "sigma_smooth",
                                        "add_igm_absorption", "igm_factor"}
    else:
        with pytest.raises(ConfigurationError, match="photometric: it cannot predict"):
            emu.check_observation(with_spectrum)
        assert emu.exact_parameters == set()
    emu.check_observation({"spectrum": None})


def test_each_kind_checks_its_training_options():
    from prospect_emu.emulator.training import TrainConfig

    with pytest.raises(ConfigurationError, match="--pixel-weight-power weighs"):
        TrainConfig(kind="photometry", pixel_weight_power=0.5).validate()
    with pytest.raises(ConfigurationError, match="--steps: the spectral kind"):
        TrainConfig(kind="spectrum", steps=100).validate()
    TrainConfig(kind="spectrum", pixel_weight_power=0.5).validate()
    TrainConfig(kind="photometry", steps=100).validate()


def _test_set(emu, n: int = 30):
    """A test set's interface (trainingdata.TrainingSet) holding this emulator's inputs and
    zred, FSPS-free: only the bands and the rows' redshifts matter to the methods tested."""
    names = list(emu.input_names) + ([] if "zred" in emu.input_names else ["zred"])
    params = np.column_stack([_rows(emu, n, seed=6)] + ([] if "zred" in emu.input_names
                                                       else [np.full(n, 0.5)]))
    bands = list(emu.filter_names[:4])
    hashes = {d["name"]: d["hash"] for d in emu.meta["filters"]}
    return SimpleNamespace(path="test.h5", names=names, params=params, filter_names=bands,
                           filter_hashes={b: hashes[b] for b in bands},
                           phot=np.full((n, len(bands)), 1e-10), spectrum=None, wavelength=None,
                           column=lambda c: params[:, names.index(c)], status=np.zeros(n),
                           config={"model": {"zred": {"isfree": False, "init": "0.5"}}})


def test_validation_methods_compare_the_kinds_own_outputs(kind_emulator):
    emu = kind_emulator
    test = _test_set(emu)
    rows = np.arange(len(test.params))
    x = emu.as_vector(test.params, names=test.names)
    if emu.kind == "photometry":
        with pytest.raises(ConfigurationError, match="predicts bands"):
            emu.check_test_set(test, "emu")  # the test set holds 4 of its bands only
        bands, mags, mfrac, soft = emu.test_set_magnitudes(test, rows, x)
        pred = emu.predict(x)
        assert bands == emu.filter_names == emu.validation_bands(test)
        np.testing.assert_array_equal(mags, pred.mags)
        assert emu.validation_extras(test, rows, x) == {}
    else:
        emu.check_test_set(test, "emu")
        bands, mags, mfrac, soft = emu.test_set_magnitudes(test, rows, x)
        assert bands == test.filter_names == emu.validation_bands(test)
        for r in (0, 11):
            phot, mf = _reference_photometry(emu, x[r], _filters(bands), 0.5)
            np.testing.assert_allclose(mags[r], asinh_mag(phot, soft), rtol=0, atol=1e-5)
            assert mfrac[r] == pytest.approx(mf, rel=FLOAT32_RTOL)
        assert "stores no spectra" in emu.validation_extras(test, rows, x)["spectrum"]["note"]
        # a test set that does not vary zred is validated at its model's fixed zred
        test.names = [n for n in test.names if n != "zred"]
        emu.check_test_set(test, "emu")
        again = emu.test_set_magnitudes(test, rows, x)
        np.testing.assert_array_equal(again[1], mags)
