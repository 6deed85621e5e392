"""The spectral emulator kind: artifact format (schema 2, version 1 still read), PCA,
exact filter projection, training on real FSPS spectra and held-out accuracy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from prospect_emu.errors import ConfigurationError
from tests.spectral_fixtures import (
    FILTERS,
    PCA_TOLERANCE,
    RANGES,
    build_spectral_emulator,
    build_spectral_trainset,
)


@pytest.fixture(scope="session")
def spectral_trainset(sps_home, tmp_path_factory):
    return build_spectral_trainset(tmp_path_factory)


@pytest.fixture(scope="session")
def spectral_emulator(sps_home, tmp_path_factory):
    return build_spectral_emulator(tmp_path_factory)

DEMO = Path(__file__).resolve().parents[2] / "prospect_emu" / "data" / "demo_emulator"
#: a schema-1 artifact as written before the spectral kind (the bundled demo emulator of that
#: release, kept unchanged): old artifacts must keep loading and predicting
SCHEMA1 = Path(__file__).resolve().parents[1] / "data" / "schema1_emulator"


def _independent_forward(path: Path, x: np.ndarray) -> np.ndarray:
    """The demo network written out from the JSON and npz, in float64 (no package code)."""
    meta = json.loads((path / "emulator.json").read_text())
    w = np.load(path / "weights.npz")
    t = meta["inputs"]
    s = np.array(x, dtype=float)
    s[np.array(t["log10"])] = np.log10(s[np.array(t["log10"])])
    lo, hi = np.array(t["lo"]), np.array(t["hi"])
    z = (s - 0.5 * (lo + hi)) * 2.0 / (hi - lo)
    for spec in meta["layers"]:
        if spec["type"] == "dense":
            z = z @ w[spec["W"]].astype(float) + w[spec["b"]].astype(float)
        else:
            a, b = w[spec["alpha"]].astype(float), w[spec["beta"]].astype(float)
            z = (b + (1 - b) / (1 + np.exp(-a * z))) * z
    out = meta["outputs"]
    y = z * np.array(out["std"]) + np.array(out["mean"])
    soft = np.array(out["softening"])
    phot = 2.0 * soft * np.sinh(-y[:-1] * np.log(10) / 2.5 - np.log(soft))
    return phot, 10 ** y[-1]


# ---- artifact format, without FSPS ---------------------------------------------------------
def test_version1_artifact_loads_as_photometric_kind_and_predicts_as_before():
    from prospect_emu.emulator.artifact import Emulator

    emu = Emulator.load(SCHEMA1)
    assert emu.meta["schema_version"] == 1 and emu.kind == "photometry"
    x = np.array([-0.3, 0.5, 3.0, 1.2, 0.8])  # logzsol dust2 tage tau zred
    want_phot, want_mfrac = _independent_forward(SCHEMA1, x)
    plan = emu.photometry_plan(["sdss_r0", "galex_FUV", "wise_w1"])
    phot, mfrac = emu.photometry(x, plan)
    idx = [emu.filter_names.index(b) for b in ("sdss_r0", "galex_FUV", "wise_w1")]
    np.testing.assert_allclose(phot, want_phot[idx], rtol=2e-5)
    np.testing.assert_allclose(mfrac, want_mfrac, rtol=2e-5)
    mags, mf = emu.predict_one(x)  # the hot path, untouched
    np.testing.assert_allclose(emu.predict(x).phot, want_phot, rtol=2e-5)


def test_schema2_photometric_loads_and_unknown_kind_refused(tmp_path):
    from prospect_emu.emulator.artifact import Emulator

    v2 = tmp_path / "v2"
    shutil.copytree(DEMO, v2)
    meta = json.loads((v2 / "emulator.json").read_text())
    meta.update(schema_version=2, kind="photometry")
    (v2 / "emulator.json").write_text(json.dumps(meta))
    x = np.array([-0.3, 0.5, 3.0, 1.2, 0.8])
    np.testing.assert_array_equal(Emulator.load(v2).predict(x).phot, Emulator.load(DEMO).predict(x).phot)
    meta["kind"] = "hyperspectral"
    (v2 / "emulator.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigurationError, match="kind 'hyperspectral'"):
        Emulator.load(v2)


def test_pca_matches_svd_and_tolerance_picks_rank():
    from prospect_emu.emulator.pca import choose_components, fit_pca

    rng = np.random.default_rng(0)
    n, w, rank = 600, 80, 4
    modes = rng.normal(size=(rank, w))
    logs = -20 + rng.normal(size=(n, rank)) * [3, 1, 0.3, 0.1] @ modes + 1e-7 * rng.normal(size=(n, w))
    pca = fit_pca(lambda: (logs[i:i + 97] for i in range(0, n, 97)))
    u = (logs - logs.mean(0)) / logs.std(0)
    _, sv, vt = np.linalg.svd(u, full_matrices=False)
    np.testing.assert_allclose(pca.eigenvalues[:rank], sv[:rank] ** 2 / (n - 1), rtol=1e-8)
    for k in range(rank):  # the same subspace, up to sign
        assert abs(abs(pca.basis[k] @ vt[k]) - 1) < 1e-8
    k, stats = choose_components(pca, logs[:100], tolerance=1e-5)
    assert k == rank and stats["median"] <= 1e-5


def test_projection_is_sedpy_getsed_and_refuses_bands_outside_range():
    from sedpy.observate import getSED, load_filters

    from prospect_emu.emulator.spectral import projection_matrix

    wave = np.geomspace(500, 60000, 1500)
    lnu = 1e-15 * (wave / 5000) ** 1.3 * (1 + 0.3 * np.sin(wave / 300))
    filters = load_filters(["sdss_r0", "jwst_f200w", "wfc3_ir_f160w", "galex_NUV"])
    for z in (0.5, 1.7):
        plan = projection_matrix(wave, filters, z)
        got = lnu[plan.lo:plan.hi] @ plan.matrix
        ow = wave * (1 + z)
        to_cgs = 3.846e33 / (4 * np.pi * (3.085677581467192e19) ** 2)
        want = 10 ** (-0.4 * getSED(ow, lnu * 2.998e18 / ow ** 2 * to_cgs, filters))
        np.testing.assert_allclose(got, want, rtol=1e-10)
    with pytest.raises(ConfigurationError, match=r"galex_NUV.*zred 5.*500-60000 AA"):
        projection_matrix(wave, filters, 5.0)


# ---- real FSPS -----------------------------------------------------------------------------
def _heldout_params(n: int, seed: int = 2024) -> dict[str, np.ndarray]:
    """Draws from the training distribution (the delayed-tau priors cut to RANGES)."""
    rng = np.random.default_rng(seed)
    return {"logzsol": rng.uniform(*RANGES["logzsol"], n), "dust2": rng.uniform(0, 2, n),
            "tage": rng.uniform(*RANGES["tage"], n),
            "tau": np.exp(rng.uniform(*np.log(RANGES["tau"]), n))}


def test_stored_spectra_are_fsps_on_the_default_range(spectral_trainset):
    from sedpy.observate import load_filters

    from prospect_emu.trainingdata.trainingset import TrainingSet
    from tests.spectral_fixtures import fsps_truth

    ts = TrainingSet(spectral_trainset, with_spectrum=True)
    fl = load_filters(FILTERS)
    lo = min(f.wavelength[f.transmission > 0].min() for f in fl) / 4.0 * 0.9
    hi = max(f.wavelength[f.transmission > 0].max() for f in fl) / 1.0 * 1.1
    w = ts.wavelength
    assert w[0] <= lo < w[1] and w[-2] < hi <= w[-1]
    model, sps = fsps_truth()
    for r in (0, 777):
        params = dict(model.params)
        params.update({n: np.atleast_1d(v) for n, v in zip(ts.names, ts.params[r])})
        wave, spec, _ = sps.get_galaxy_spectrum(**params)
        i0 = np.searchsorted(wave, w[0])
        np.testing.assert_allclose(ts.spectrum[r], spec[i0:i0 + len(w)], rtol=1e-6)


def test_pca_reconstruction_tolerance_on_fresh_fsps_spectra(spectral_emulator):
    from tests.spectral_fixtures import fsps_truth

    w = np.load(spectral_emulator / "weights.npz")
    mean, scale, basis = (w[k].astype(float) for k in ("pca_mean", "pca_scale", "pca_basis"))
    model, sps = fsps_truth()
    draws = _heldout_params(40, seed=7)
    i0 = None
    errs = []
    for j in range(40):
        params = dict(model.params)
        params.update({k: np.atleast_1d(v[j]) for k, v in draws.items()})
        wave, spec, _ = sps.get_galaxy_spectrum(**params)
        i0 = np.searchsorted(wave, w["wavelength"][0] * (1 - 1e-6)) if i0 is None else i0
        ls = np.log10(spec[i0:i0 + len(mean)])
        c = ((ls - mean) / scale) @ basis.T
        errs.append(np.abs(10 ** (mean + scale * (c @ basis) - ls) - 1))
    errs = np.array(errs)
    assert np.median(errs) <= 1.5 * PCA_TOLERANCE, np.median(errs)


def test_spectral_artifact_statistics_and_info(spectral_emulator):
    from prospect_emu.emulator.artifact import SCHEMA_VERSION, Emulator
    from prospect_emu.emulator.spectral import SpectralEmulator

    emu = Emulator.load(spectral_emulator)
    assert isinstance(emu, SpectralEmulator) and emu.kind == "spectrum"
    assert emu.meta["schema_version"] == SCHEMA_VERSION >= 2
    assert not emu.inputs.ratios  # --ratio-inputs auto adds none for the spectral kind
    assert "zred" not in emu.input_names and "mass" not in emu.input_names
    assert emu.inputs.log[emu.input_names.index("tage")]
    se = emu.meta["spectral_errors"]
    assert len(se["median"]) == len(emu.wavelength) and se["overall"]["p95"] >= se["overall"]["median"]
    te = emu.error_stats
    assert te["names"] == FILTERS + ["log10_mfrac"] and np.shape(te["covariance"]) == (13, 13)
    assert "PCA components" in emu.summary()


def test_rows_with_zero_pixels_are_floored_and_trained_on_not_left_out(spectral_trainset,
                                                                      spectral_emulator):
    """FSPS gives zero flux blueward of old populations' ionizing edges; such rows used to be
    dropped from training (98% of a free-zred alpha-class set).  Counted from the file."""
    import h5py

    from prospect_emu.emulator.artifact import Emulator
    from prospect_emu.trainingdata.trainingset import OK

    with h5py.File(spectral_trainset, "r") as f:
        spec, status = f["spectrum"][:].astype(float), f["status"][:]
    usable = (status == OK) & np.all(np.isfinite(spec), axis=1)
    floored = usable & np.any(spec < 1e-12 * spec.max(axis=1, keepdims=True), axis=1)
    assert floored.sum() > 0   # the fixture's range reaches 300 AA: old populations give zeros
    tr = Emulator.load(spectral_emulator).meta["training"]
    assert tr["n_rows_floored"] == floored.sum() and tr["spectrum_floor"] == 1e-12
    assert tr["n_train"] + tr["n_val"] + tr["n_test"] == usable.sum()
