"""Training, the artifact and the numpy forward pass, on real FSPS training sets."""

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from prospect_emu.emulator.artifact import Emulator
from prospect_emu.emulator.errorstats import quantile_table
from prospect_emu.emulator.training import TrainConfig, train
from prospect_emu.emulator.transforms import asinh_mag
from prospect_emu.errors import ConfigurationError
from prospect_emu.trainingdata.trainingset import TrainingSet
from tests.conftest import FILTERS12, FLOAT32_RTOL

#: |asinh-mag error| median and 90th percentile per band, and median |mfrac ratio - 1|,
#: that the small test emulator (3 x 64, trained ~1 min on 3000 SEDs) meets on fresh FSPS
#: SEDs with a 2x margin (measured: medians 0.015-0.11 mag, GALEX worst; 90th percentiles
#: 0.04-0.31; mfrac 0.003).  Swapping two adjacent bands gives medians ~0.5 there,
#: shuffled weights 0.6-3.4 mag and mfrac 0.05.
HELD_OUT_TOL = (0.2, 0.6, 0.01)


def test_artifact_contents_and_stored_test_errors(small_emulator, small_trainset):
    emu = Emulator.load(small_emulator)
    assert sorted(os.listdir(small_emulator)) == ["emulator.json", "model.keras", "weights.npz"]
    assert emu.input_names == ["logzsol", "dust2", "tage", "tau", "zred"]  # mass is analytic
    assert emu.filter_names == FILTERS12
    assert emu.inputs.log.tolist() == [False, False, False, True, False]
    meta = emu.meta
    assert meta["filters"][0]["hash"] and meta["versions"]["numpy"]
    assert meta["training_set"]["config"]["seed"] == 5
    # the split kept each metallicity block (20 rows, 5 shared spectra of 4) whole
    split = meta["training"]["split"]
    assert split["unit"] == "group" and split["group_rows"] == 20
    assert sum(split["n_groups"].values()) == 150 and split["n_rows"]["test"] == meta["training"]["n_test"]
    te = meta["test_errors"]
    assert quantile_table(te).shape == (13, 11)
    assert np.array(te["covariance"]).shape == (13, 13)
    assert te["n_rows"] == meta["training"]["n_test"]
    # test rows are whole groups never seen in training: a fair, not an interpolated, error
    for band in ("sdss_r0", "twomass_Ks"):
        assert te["per_output"][band]["median_abs"] < 0.05, te["per_output"][band]
        assert te["per_output"][band]["p95_abs"] < 0.25
    assert te["per_output"]["log10_mfrac"]["median_abs"] < 0.01


def _fresh_fsps_rows(ranges, n: int, seed: int):
    """New parameter draws over ``ranges`` (another seed than the training set's) and
    Prospector's own FSPS photometry (maggies) and surviving mass fraction for each."""
    from sedpy.observate import load_filters

    from prospect_emu.trainingdata.sampling import ParameterSpace, PriorSampler
    from prospect_emu.trainingdata.seds import ModelSource, build_from_source
    from tests.conftest import PARAM_FILE

    _, model, sps = build_from_source(ModelSource(str(PARAM_FILE), {}))
    space = ParameterSpace(model, ranges)
    draws = PriorSampler().draw(space, model, n, np.random.default_rng(seed))
    obs = {"filters": load_filters(FILTERS12), "wavelength": None, "spectrum": None}
    maggies, mfrac = np.zeros((n, len(FILTERS12))), np.zeros(n)
    for i, row in enumerate(draws):
        theta = space.set_row(model, row)
        _, maggies[i], mfrac[i] = model.predict(theta, obs=obs, sps=sps)
    return space.names, draws, maggies, mfrac


def _per_mass_at_10pc(names, draws, maggies):
    """FSPS maggies divided by mass and Prospector's distance factor (astropy WMAP9)."""
    from astropy.cosmology import WMAP9

    z = draws[:, names.index("zred")]
    dl_pc = WMAP9.luminosity_distance(z).to("pc").value
    return maggies / (draws[:, names.index("mass")] * (1 + z) / (dl_pc / 10.0) ** 2)[:, None]


def _held_out_errors(emu: Emulator, names, draws, truth, mfrac, band_order=None):
    """|asinh-mag error| median and 90th percentile per band, median |mfrac ratio - 1|."""
    pred = emu.predict(draws[:, 1:], names=names[1:])
    mags = pred.mags if band_order is None else pred.mags[:, band_order]
    dmag = np.abs(mags - asinh_mag(truth, emu.outputs.softening))
    return (np.median(dmag, axis=0), np.quantile(dmag, 0.9, axis=0),
            float(np.median(np.abs(pred.mfrac / mfrac - 1))))


def test_held_out_accuracy_against_fresh_fsps_seds(small_emulator, small_trainset):
    """Rows drawn with another seed, whose spectra never entered training, against FSPS
    recomputed here; the same tolerances reject a network with shuffled weights and
    mis-ordered bands."""
    emu = Emulator.load(small_emulator)
    train = TrainingSet(small_trainset)
    names, draws, maggies, mfrac = _fresh_fsps_rows(train.config["space"]["ranges"], 200, seed=2024)
    assert names == train.names
    spec_cols = [names.index(n) for n in emu.input_names if n != "zred"]
    assert not np.isin(draws[:, spec_cols], train.params[:, spec_cols]).any()  # never trained on
    truth = _per_mass_at_10pc(names, draws, maggies)
    med_tol, p90_tol, mfrac_tol = HELD_OUT_TOL

    def within(errors) -> bool:
        med, p90, dmf = errors
        return bool(np.all(med < med_tol) and np.all(p90 < p90_tol) and dmf < mfrac_tol)

    ok = _held_out_errors(emu, names, draws, truth, mfrac)
    print("\nheld-out |dmag| median", np.round(ok[0], 3), "p90", np.round(ok[1], 3), "mfrac", ok[2])
    assert within(ok), ok
    # a broken emulator fails the same tolerances
    r, i = FILTERS12.index("sdss_r0"), FILTERS12.index("sdss_i0")
    order = np.arange(12)
    order[[r, i]] = order[[i, r]]
    swapped = _held_out_errors(emu, names, draws, truth, mfrac, band_order=order)
    print("r and i swapped: median", np.round(swapped[0], 3))
    assert not within(swapped)
    rng = np.random.default_rng(0)
    shuffled = {k: rng.permutation(v.ravel()).reshape(v.shape) if v.ndim == 2 else v
                for k, v in emu.weights.items()}
    bad = _held_out_errors(Emulator(emu.meta, shuffled), names, draws, truth, mfrac)
    print("shuffled weights: median", np.round(bad[0], 3), "mfrac", bad[2])
    assert not within(bad)


def test_numpy_matches_keras_to_float32(small_emulator):
    import keras

    from prospect_emu.network import architecture  # noqa: F401 - registers the custom layers

    emu = Emulator.load(small_emulator)
    model = keras.saving.load_model(small_emulator / "model.keras")
    x = np.random.default_rng(0).uniform(-1, 1, size=(500, emu.inputs.n_network)).astype("f4")
    ref = np.asarray(model(x))
    got = emu.forward(x)
    np.testing.assert_allclose(got, ref, atol=2e-5 * np.abs(ref).max(), rtol=1e-5)


def test_predict_shapes_names_and_mfrac(small_emulator):
    emu = Emulator.load(small_emulator)
    x = np.array([-0.2, 0.5, 3.0, 2.0, 0.7])
    one = emu.predict(x)
    assert one.phot.shape == (12,) and np.ndim(one.mfrac) == 0 and not one.out_of_bounds.any()
    batch = emu.predict(np.vstack([x, x, x]))
    assert batch.phot.shape == (3, 12) and batch.mfrac.shape == (3,)
    np.testing.assert_allclose(batch.phot[1], one.phot, rtol=FLOAT32_RTOL)  # float32 BLAS paths
    by_name = emu.predict(dict(zip(emu.input_names, x)))
    np.testing.assert_allclose(by_name.phot, one.phot)
    reordered = emu.predict(x[::-1], names=emu.input_names[::-1])
    np.testing.assert_allclose(reordered.phot, one.phot)
    mags, mfrac = emu.predict_one(x)
    # two float32 paths (folded fast path vs batch path): see FLOAT32_RTOL
    np.testing.assert_allclose(mags, one.mags, rtol=FLOAT32_RTOL, atol=FLOAT32_RTOL * np.abs(one.mags).max())
    assert mfrac == pytest.approx(float(one.mfrac), rel=FLOAT32_RTOL) and 0.3 < mfrac < 1


def test_outside_training_bounds_is_never_silent(small_emulator):
    emu = Emulator.load(small_emulator)
    x = np.array([[-0.2, 0.5, 3.0, 2.0, 0.7], [-0.2, 0.5, 3.0, 2.0, 2.5]])
    pred = emu.predict(x)
    assert pred.out_of_bounds.tolist() == [[False] * 5, [False] * 4 + [True]]
    with pytest.raises(ValueError, match=r"zred.*outside \[0, 2\]"):
        emu.predict(x, strict=True)
    with pytest.raises(ValueError, match="zred"):
        emu.predict_one(x[1])


def test_load_never_imports_keras_or_tensorflow(small_emulator):
    code = ("import sys; from prospect_emu.emulator.artifact import Emulator; "
            f"e = Emulator.load({str(small_emulator)!r}); e.predict_one(e.inputs.raw_lo + 0.1); "
            "bad = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]; "
            "print('HEAVY', bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_bad_artifacts(small_emulator, tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        Emulator.load(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(small_emulator, broken)
    (broken / "weights.npz").write_bytes((small_emulator / "weights.npz").read_bytes()[:200])
    with pytest.raises(ConfigurationError, match="truncated"):
        Emulator.load(broken)
    (broken / "weights.npz").unlink()
    with pytest.raises(ConfigurationError, match="missing weights.npz"):
        Emulator.load(broken)
    old = tmp_path / "old"
    shutil.copytree(small_emulator, old)
    meta = json.loads((old / "emulator.json").read_text())
    meta["schema_version"] = 99
    (old / "emulator.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigurationError, match="schema_version 99"):
        Emulator.load(old)
    (old / "emulator.json").write_text("{\"schema_version\": 1, ")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        Emulator.load(old)


def test_unknown_band_or_parameter(small_emulator):
    emu = Emulator.load(small_emulator)
    with pytest.raises(ConfigurationError, match="no band.*'hst_f160w'"):
        emu.band_indices(["sdss_r0", "hst_f160w"])
    with pytest.raises(ConfigurationError, match="no value for emulator input.*zred"):
        emu.predict({"logzsol": 0, "dust2": 0.1, "tage": 1, "tau": 1})


def test_nan_rows_excluded_and_counted(small_trainset, tmp_path):
    path = tmp_path / "nan.h5"
    shutil.copy(small_trainset, path)
    with h5py.File(path, "r+") as f:
        phot = f["phot"][...]
        phot[:7, 3] = np.nan
        f["phot"][...] = phot
    cfg = TrainConfig(width=8, depth=1, epochs=1, schedule=((1e-3, 512),))
    emu = train(path, tmp_path / "emu", cfg, progress=False, keep_keras=False)
    assert emu.meta["training"]["n_excluded"] == 7
    t = emu.meta["training"]
    assert t["n_train"] + t["n_val"] + t["n_test"] == 3000 - 7


def test_too_small_to_split(small_trainset, tmp_path):
    path = tmp_path / "tiny.h5"
    shutil.copy(small_trainset, path)
    with h5py.File(path, "r+") as f:
        st = f["status"][...]
        st[40:] = 2
        f["status"][...] = st
    with pytest.raises(ConfigurationError, match="too few to split"):
        train(path, tmp_path / "emu", TrainConfig(), progress=False)


def test_cli_train_and_info(small_trainset, tmp_path):
    out = tmp_path / "cli_emu"
    res = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "train", str(small_trainset),
                          "--out", str(out), "--width", "8", "--depth", "1", "--epochs", "2",
                          "--schedule", "1e-3:512", "--activation", "gelu", "--quiet", "--no-keras"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    meta = json.loads((out / "emulator.json").read_text())
    assert meta["layers"][1] == {"type": "gelu", "approximate": False}
    res = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "info", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0 and "sdss_r0" in res.stdout and "zred" in res.stdout


@pytest.mark.parametrize("activation", ["gelu_tanh", "relu", "silu", "tanh"])
def test_every_activation_exports_exactly(small_trainset, tmp_path, activation):
    import keras

    emu = train(small_trainset, tmp_path / activation,
                TrainConfig(width=16, depth=2, epochs=1, activation=activation, schedule=((1e-3, 512),)),
                progress=False)
    model = keras.saving.load_model(tmp_path / activation / "model.keras")
    x = np.random.default_rng(1).uniform(-1, 1, (64, emu.inputs.n_network)).astype("f4")
    np.testing.assert_allclose(emu.forward(x), np.asarray(model(x)), atol=1e-5, rtol=1e-5)


def test_jax_backend_training_step(small_trainset, tmp_path):
    pytest.importorskip("jax", reason="jax is not installed: the JAX-backend check needs it")
    code = ("from prospect_emu.emulator.training import train, TrainConfig; import sys; "
            f"e = train({str(small_trainset)!r}, {str(tmp_path / 'jaxemu')!r}, "
            "TrainConfig(width=8, depth=1, epochs=1, schedule=((1e-3, 512),)), progress=False); "
            "assert e.meta['network']['backend'] == 'jax'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "KERAS_BACKEND": "jax"})
    assert res.returncode == 0, res.stderr[-2000:]
