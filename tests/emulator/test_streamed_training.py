"""Streamed training (``TrainConfig(stream="on")``, :mod:`prospect_emu.emulator.streaming`):
the photometric kind trained from batches read from the HDF5 file against the same set
loaded whole.  No FSPS: the sets are synthetic (smooth known functions of the parameters)
written with the package's own training-set writer."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

pytest.importorskip("keras")

from prospect_emu.emulator import streaming  # noqa: E402
from prospect_emu.emulator.artifact import Emulator  # noqa: E402
from prospect_emu.emulator.training import TrainConfig, train  # noqa: E402
from prospect_emu.emulator.training_base import split_by_group, usable_rows  # noqa: E402
from prospect_emu.emulator.transforms import InputTransform, OutputTransform  # noqa: E402
from prospect_emu.filters import load_filters  # noqa: E402
from prospect_emu.trainingdata import trainingset as ts  # noqa: E402

BANDS = ["galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0", "twomass_J", "wise_w1"]
NAMES = ["mass", "a", "b", "c", "d"]


def synthetic_rows(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Photometry (maggies per unit mass) and mfrac: smooth functions of a, b, c, d."""
    t = params[:, 1:]
    k = np.arange(len(BANDS))[None, :]
    mags = (20.0 + 1.5 * t[:, :1] * (1 + 0.2 * k) - 0.8 * t[:, 1:2] * np.cos(0.4 * k)
            + 0.6 * np.sin(3 * t[:, 2:3] + 0.3 * k) + 0.5 * t[:, 3:4] * t[:, :1] * (k / 8.0))
    mfrac = 0.55 + 0.3 * np.exp(-2 * t[:, 0]) + 0.1 * t[:, 3]
    return 10 ** (-0.4 * mags), mfrac


def write_synthetic_set(path, n: int, seed: int = 0, chunk_size: int = 20000,
                        failed_every: int = 97) -> None:
    """A training-set file of ``n`` synthetic rows (every ``failed_every``-th row failed)."""
    rng = np.random.default_rng(seed)
    params = np.column_stack([10 ** rng.uniform(8, 12, n), rng.uniform(0, 1, (n, 4))])
    bounds = [[1e8, 1e12]] + [[0.0, 1.0]] * 4
    config = {"n": n, "seed": seed, "sampler": {"name": "synthetic"}, "chunk_size": chunk_size,
              "space": {"names": NAMES, "free": NAMES, "extra": [], "bounds": bounds,
                        "log": [True, False, False, False, False], "ranges": {}},
              "share_spectrum": 1, "block_param": None, "block_size": 1, "store_spectrum": False}
    ts.create(path, params=params, names=NAMES, filters=load_filters(BANDS), chunk_size=chunk_size,
              config=config, metadata={"units": {}, "failures": []})
    for c, lo in enumerate(range(0, n, chunk_size)):
        p = params[lo:lo + chunk_size]
        phot, mfrac = synthetic_rows(p)
        status = np.full(len(p), ts.OK, dtype=np.int8)
        bad = (np.arange(lo, lo + len(p)) % failed_every) == 0
        status[bad], phot[bad], mfrac[bad] = ts.FAILED, np.nan, np.nan
        ts.write_chunk(path, c, phot, mfrac, status)


@pytest.fixture(scope="module")
def set_20k(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "set20k.h5"
    write_synthetic_set(path, 20000)
    return path


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 1,024 rows, 4 per buffer: a 20,000-row set is read in ~20 blocks, so the
    block order, the buffer refills and the passes are all exercised."""
    monkeypatch.setattr(streaming, "READ_ROWS", 1024)
    monkeypatch.setattr(streaming, "BUFFER_READS", 4)


SCHEDULE = ((2e-3, 256, 800), (5e-4, 1024, 300))


def _config(stream: str, **kw) -> TrainConfig:
    base = dict(width=64, depth=3, schedule=SCHEDULE, eval_every=250, seed=3, stream=stream)
    return TrainConfig(**{**base, **kw})


def _p95(emu: Emulator) -> float:
    """All-band 95th percentile |residual| (mag) on the test split, from the artifact."""
    per = emu.meta["test_errors"]["per_output"]
    return max(per[b]["p95_abs"] for b in BANDS)


def test_streamed_training_matches_in_memory(set_20k, small_blocks, tmp_path):
    mem = train(set_20k, tmp_path / "mem", _config("off"), progress=False, keep_keras=False)
    st = train(set_20k, tmp_path / "stream", _config("on"), progress=False, keep_keras=False)
    tm, ts_ = mem.meta["training"], st.meta["training"]
    assert tm["streamed"] is None and ts_["streamed"]["n_train"] == tm["n_train"]
    # the same split (whole groups, same seed) and test rows: the statistics compare like for like
    assert ts_["split"]["n_rows"] == tm["split"]["n_rows"] and ts_["n_test"] == tm["n_test"]
    assert ts_["steps_done"] == tm["steps_done"]
    # the training rows were read from the file while training, more than one pass
    assert ts_["streamed"]["file_rows_read_in_training"] > 20000
    # both learned the map: errors far below the magnitudes' spread (~1 mag) ...
    p_mem, p_st = _p95(mem), _p95(st)
    assert p_mem < 0.1 and p_st < 0.1, (p_mem, p_st)
    # ... and streaming costs no accuracy beyond the spread between shuffle orders: ratios
    # streamed / in-memory 0.96-1.02 over 3 seeds (benchmarks/bench_streamed_training.py,
    # 100,000 rows); a broken stream (wrong rows or targets, one block repeated) gives
    # several times the error
    assert p_st < 1.5 * p_mem, (p_st, p_mem)


def test_streamed_split_and_transforms_are_the_in_memory_ones(set_20k, small_blocks):
    from prospect_emu.emulator.training_base import prepare
    from prospect_emu.trainingdata.trainingset import TrainingSet

    cfg = _config("on")
    data = TrainingSet(set_20k)
    mem = prepare(data, cfg)
    sf, prep, rows = streaming.prepare_streamed(set_20k, cfg)
    try:
        good = usable_rows(data.params, data.phot, data.mfrac, data.status)
        assert prep.n_excluded == int((~good).sum()) == mem.n_excluded > 0
        np.testing.assert_array_equal(np.sort(prep.rows[prep.split["test"]]),
                                      np.sort(mem.rows[mem.split["test"]]))
        assert len(rows) == len(mem.split["train"])
        # all training rows fit the output transform here (fewer than FIT_ROWS)
        np.testing.assert_allclose(prep.outputs.mean, mem.outputs.mean, rtol=1e-12)
        np.testing.assert_allclose(prep.outputs.std, mem.outputs.std, rtol=1e-12)
        np.testing.assert_array_equal(prep.outputs.softening, mem.outputs.softening)
        # one pass of streamed rows is the training split, each row once, targets as in memory
        xs, ys = zip(*rows.take(len(rows), 1))
        x, y = np.concatenate(xs), np.concatenate(ys)
        want_x = mem.inputs(mem.x[mem.split["train"]]).astype(np.float32)
        want_y = mem.y[mem.split["train"]].astype(np.float32)
        key = np.lexsort(x.T)
        want = np.lexsort(want_x.T)
        np.testing.assert_array_equal(x[key], want_x[want])
        # the output means may differ in the last bit (summed in another order)
        np.testing.assert_allclose(y[key], want_y[want], rtol=0, atol=1e-6)
    finally:
        rows.close()


def test_peak_memory_streamed_is_a_fraction_of_in_memory(tmp_path):
    """On a set of ~200 MB in memory (560,000 rows), the numpy memory (tracemalloc: numpy's
    arrays; not Keras's tensors, the same for both) of a short training run."""
    path = tmp_path / "big.h5"
    write_synthetic_set(path, 560_000, chunk_size=70_000)
    assert streaming.SetFile(path).in_memory_bytes() > 190e6
    peaks = {}
    for mode in ("off", "on"):
        cfg = _config(mode, schedule=((1e-3, 512, 40),), eval_every=20)
        tracemalloc.start()
        emu = train(path, tmp_path / mode, cfg, progress=False, keep_keras=False)
        peaks[mode] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert emu.meta["training"]["n_train"] > 400_000
    assert peaks["off"] > 150e6, peaks   # the whole set and its copies
    # measured 63 MB against 250 MB: the streamed peak is the split's index arrays (a few
    # int64 per row, briefly; groups of one row here, the worst case) and fixed-size buffers
    assert peaks["on"] < 0.3 * peaks["off"], peaks


def test_max_minutes_ends_a_streamed_run_with_the_best_weights(set_20k, small_blocks, tmp_path):
    cfg = _config("on", schedule=((3e-2, 256, 10**6),), eval_every=20, max_minutes=0.05)
    emu = train(set_20k, tmp_path / "budget", cfg, progress=False, keep_keras=False)
    tr = emu.meta["training"]
    assert tr["stopped_by_budget"] and tr["steps_done"] < 10**6
    assert tr["seconds"] < 3.0 + 30.0   # the budget, and at most a check's worth past it
    # the stored weights are the best validation check's: recompute the validation loss
    data = ts.TrainingSet(set_20k)
    good = usable_rows(data.params, data.phot, data.mfrac, data.status)
    split, _ = split_by_group(good, 1, cfg.val_frac, cfg.test_frac, cfg.seed)
    val = np.flatnonzero(good)[split["val"]]
    inputs = InputTransform.from_json(emu.meta["inputs"])
    outputs = OutputTransform.from_json(emu.meta["outputs"])
    y = outputs.encode(data.phot[val], data.mfrac[val]).astype(np.float32)
    pred = emu.forward(inputs(data.params[val][:, 1:]).astype(np.float32))
    assert np.mean((pred - y) ** 2) == pytest.approx(tr["best_val_loss"], rel=2e-3)
