"""The training recipe: log10 inputs chosen inside the emulator, stages counted in
optimizer steps, a time budget that still ends on the best weights, and a progress
total known up front."""

import math

import numpy as np
import pytest

from prospect_emu.errors import ConfigurationError
from prospect_emu.network.recipe import (
    DEFAULT_PATIENCE_STEPS,
    DEFAULT_STAGE_STEPS,
    Stage,
    learning_rate,
    plan_stages,
    resolve_log_inputs,
    run_stages,
)

DEMO_NAMES = ["logzsol", "dust2", "tage", "tau", "zred"]
DEMO_LO = np.array([-2.0, 0.0, 0.001, 0.1, 0.0])
DEMO_HI = np.array([0.19, 2.0, 13.8, 30.0, 3.0])
DEMO_PRIOR_LOG = np.array([False, False, False, True, False])


def test_auto_logs_wide_positive_ranges_and_loguniform_priors():
    flags = resolve_log_inputs("auto", DEMO_NAMES, DEMO_LO, DEMO_HI, DEMO_PRIOR_LOG)
    # tage spans log10(13.8 / 0.001) = 4.1 decades from a positive floor; tau is LogUniform
    assert dict(zip(DEMO_NAMES, flags.tolist())) == {
        "logzsol": False, "dust2": False, "tage": True, "tau": True, "zred": False}
    # a positive range of under two decades stays linear unless its prior is log-uniform
    narrow = resolve_log_inputs("auto", ["a", "b"], [0.5, 0.5], [10.0, 10.0], [False, True])
    assert narrow.tolist() == [False, True]
    assert resolve_log_inputs("prior", DEMO_NAMES, DEMO_LO, DEMO_HI, DEMO_PRIOR_LOG).tolist() \
        == DEMO_PRIOR_LOG.tolist()
    assert not resolve_log_inputs("none", DEMO_NAMES, DEMO_LO, DEMO_HI, DEMO_PRIOR_LOG).any()
    named = resolve_log_inputs("tage, tau", DEMO_NAMES, DEMO_LO, DEMO_HI, DEMO_PRIOR_LOG)
    assert named.tolist() == [False, False, True, True, False]


@pytest.mark.parametrize("spec, words", [("tage,mass", ["mass", "not inputs"]),
                                         ("zred", ["zred", "zero or below"])])
def test_log_inputs_refuses_unknown_names_and_nonpositive_ranges(spec, words):
    with pytest.raises(ConfigurationError) as exc:
        resolve_log_inputs(spec, DEMO_NAMES, DEMO_LO, DEMO_HI, DEMO_PRIOR_LOG)
    assert all(w in str(exc.value) for w in words)


def test_stage_length_is_counted_in_steps_not_set_size():
    sched = ((1e-3, 128), (1e-4, 1024))
    small = plan_stages(10_000, sched, epochs=300, patience=15)
    huge = plan_stages(1_000_000, sched, epochs=300, patience=15)
    # 10,000 rows at batch 128: ceil(10000/128) = 79 steps a pass
    assert small[0].steps == min(300 * 79, DEFAULT_STAGE_STEPS)
    assert small[1].steps == 300 * 10 and small[1].patience == 15 * 10
    # a million rows: the caps, not 300 passes of 7,813 steps
    assert [s.steps for s in huge] == [DEFAULT_STAGE_STEPS] * 2
    assert [s.patience for s in huge] == [DEFAULT_PATIENCE_STEPS] * 2
    fixed = plan_stages(1_000_000, sched, epochs=300, patience=15, steps=4000, patience_steps=800,
                        eval_every=200)
    assert [(s.steps, s.patience, s.eval_every) for s in fixed] == [(4000, 800, 200)] * 2
    own = plan_stages(1_000_000, ((1e-3, 128, 30000), (1e-4, 1024)), epochs=300, patience=15,
                      steps=4000)
    assert [s.steps for s in own] == [30000, 4000]


def test_cosine_decay_runs_from_the_stage_rate_to_one_percent():
    st = Stage(2e-3, 256, 1000, 100, 100)
    assert learning_rate(st, 0, "cosine") == pytest.approx(2e-3)
    assert learning_rate(st, 1000, "cosine") == pytest.approx(2e-5)
    assert learning_rate(st, 500, "cosine") == pytest.approx(2e-3 * (0.01 + 0.99 * 0.5))
    assert learning_rate(st, 700, "constant") == 2e-3


def _toy(seed=0, n=600):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2)).astype("float32")
    y = np.column_stack([np.sin(3 * x[:, 0]) * x[:, 1], np.cos(2 * x[:, 1])]).astype("float32")
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(2,))
    h = keras.layers.Dense(16, activation="tanh")(keras.layers.Dense(16, activation="tanh")(inp))
    model = keras.Model(inp, keras.layers.Dense(2)(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model, x, y, np.arange(0, 450), np.arange(450, n)


def _ticking_clock():
    ticks = iter(np.arange(0.0, 1e5, 1.0))   # one "second" per clock reading
    return lambda: float(next(ticks))


def test_time_budget_stops_mid_stage_and_restores_the_best_weights():
    model, x, y, tr, va = _toy()
    stages = [Stage(1e-2, 32, 400, 400, 20)]
    seen_val, done = [], []

    def on_steps(n, loss, val):
        done.append(n)
        if np.isfinite(val):
            seen_val.append(val)

    # budget: 6 seconds = a handful of validation checks, well inside the stage (20 checks)
    run = run_stages(model, x, y, tr, va, stages, max_minutes=6 / 60, on_steps=on_steps,
                     clock=_ticking_clock())
    assert run["stopped_by_budget"]
    assert len(run["history"]) == 1 and 0 < run["history"][0]["steps"] < 400
    # the progress total adds up to the planned steps even when stopped early
    assert sum(done) == 400
    # the weights in the model are the best ones seen on the validation rows
    final = float(np.mean((np.asarray(model.predict(x[va], verbose=0)) - y[va]) ** 2))
    assert final == pytest.approx(min(seen_val), rel=1e-5)
    assert run["best_val_loss"] == pytest.approx(min(seen_val), rel=1e-5)


def test_skipped_steps_go_to_on_skip_so_a_progress_bar_counts_only_steps_that_ran():
    model, x, y, tr, va = _toy(seed=1)
    stages = [Stage(1e-2, 32, 400, 400, 20), Stage(1e-3, 32, 200, 200, 20)]
    ran, skipped = [], []
    run = run_stages(model, x, y, tr, va, stages, max_minutes=6 / 60, clock=_ticking_clock(),
                     on_steps=lambda n, loss, val: ran.append((n, val)), on_skip=skipped.append)
    assert run["stopped_by_budget"]
    assert all(np.isfinite(v) for _, v in ran)       # only chunks that trained
    assert sum(n for n, _ in ran) == run["steps"] == sum(h["steps"] for h in run["history"])
    assert sum(skipped) == 600 - run["steps"] and len(skipped) == len(run["history"]) == 2


def test_time_budget_is_shared_so_later_stages_run_and_cosine_follows_time():
    model, x, y, tr, va = _toy(seed=2)
    # equal planned samples (steps x batch): each stage gets half of a 40 s budget
    stages = [Stage(1e-2, 32, 2000, 2000, 20), Stage(1e-3, 64, 1000, 1000, 20)]
    rates = []
    run = run_stages(model, x, y, tr, va, stages, decay="cosine", max_minutes=40 / 60,
                     clock=_ticking_clock(),
                     on_steps=lambda n, loss, val: rates.append(float(model.optimizer.learning_rate))
                     if np.isfinite(val) else None)
    hist = run["history"]
    assert len(hist) == 2, "the first stage used the whole budget"
    assert hist[0]["steps"] < 2000 and hist[1]["steps"] < 1000
    # within the first stage the rate decayed with time, far below the step-based cosine
    n1 = hist[0]["steps"] // 20
    step_based = learning_rate(stages[0], hist[0]["steps"] - 20, "cosine")
    assert rates[n1 - 1] < 0.5 * step_based
    assert rates[n1 - 1] < 0.2 * stages[0].learning_rate


def test_patience_in_steps_ends_a_stage():
    model, x, y, tr, va = _toy(seed=1)
    # learning rate so small that nothing improves: the stage ends after its patience
    stages = [Stage(1e-12, 32, 1000, 60, 20)]
    run = run_stages(model, x, y, tr, va, stages)
    # a new best may come at the first check at most; then 60 steps (3 checks) without one
    assert run["history"][0]["steps"] <= 20 + 60
    assert math.isfinite(run["best_val_loss"])


def test_log_input_inside_the_emulator_matches_keras_and_checks_raw_bounds(small_trainset, tmp_path):
    """A log10 input and the tage/tau ratio input are applied by the numpy artifact exactly as
    the network was trained on them, and the bounds stay in raw units."""
    keras = pytest.importorskip("keras")
    import prospect_emu.network.architecture  # noqa: F401 - registers the custom layers for load_model
    from prospect_emu.emulator.artifact import Emulator
    from prospect_emu.emulator.training import TrainConfig, train
    from prospect_emu.trainingdata.trainingset import OK, TrainingSet
    from tests.conftest import FLOAT32_RTOL

    out = tmp_path / "emu"
    emu = train(small_trainset, out, TrainConfig(width=32, depth=2, schedule=((2e-3, 128),), steps=200,
                                                 log_inputs="tage", seed=3), progress=False)
    emu = Emulator.load(out)
    names = emu.input_names
    assert [n for n, f in zip(names, emu.inputs.log) if f] == ["tage"]
    data = TrainingSet(small_trainset)
    space = data.config["space"]
    lo = {n: b[0] for n, b in zip(space["names"], space["bounds"])}
    hi = {n: b[1] for n, b in zip(space["names"], space["bounds"])}
    good = data.status == OK
    x = data.params[good][:50][:, [space["names"].index(n) for n in names]]
    # network inputs built here from the training set's bounds: log10 for tage only
    z = np.empty_like(x)
    for k, n in enumerate(names):
        v, a, b = x[:, k], lo[n], hi[n]
        if n == "tage":
            v, a, b = np.log10(v), np.log10(a), np.log10(b)
        z[:, k] = 2 * (v - a) / (b - a) - 1
    # and the default ratio input: min(tage / tau, 30) from [0, 30] to [-1, 1]
    assert emu.inputs.ratio_names == ["tage/tau"]
    ratio = np.minimum(x[:, names.index("tage")] / x[:, names.index("tau")], 30.0)
    z = np.column_stack([z, ratio / 15.0 - 1.0])
    model = keras.saving.load_model(out / "model.keras")
    keras_mags, keras_lmf = emu.outputs.decode_mags(np.asarray(model(z.astype("float32")), float))
    pred = emu.predict(x)
    np.testing.assert_allclose(pred.mags, keras_mags, rtol=FLOAT32_RTOL, atol=1e-4)
    np.testing.assert_allclose(np.log10(pred.mfrac), keras_lmf, rtol=FLOAT32_RTOL, atol=1e-5)
    # bounds in raw Gyr, not in log10
    j = names.index("tage")
    probe = np.repeat(x[:1], 3, axis=0)
    probe[:, j] = [hi["tage"], hi["tage"] * 1.001, lo["tage"] * 0.999]
    assert emu.inputs.out_of_bounds(probe)[:, j].tolist() == [False, True, True]
    with pytest.raises(ValueError, match="tage"):
        emu.predict(probe[1], strict=True)
