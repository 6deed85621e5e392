"""Continuing a posterior's training (``--continue-from``) and what an interrupted or crashed
training leaves behind (the best weights so far), on the bundled demo emulator (no FSPS).

Expected values come from the earlier training's own record (its validation loss, its saved
arrays), not from the code that continues it.
"""

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("zuko")

from prospect_emu.amortized import flow as flowlib  # noqa: E402
from prospect_emu.amortized.posterior import AmortizedPosterior  # noqa: E402
from prospect_emu.amortized.train import train_posterior  # noqa: E402
from prospect_emu.demo import DEMO_EMULATOR, DEMO_SPECTRAL_EMULATOR  # noqa: E402
from prospect_emu.errors import ConfigurationError  # noqa: E402

TINY = {"simulations": 20_000, "epochs": 3, "hidden": 32, "components": 4, "batch": 512,
        "max_minutes": 2.0, "threads": 1, "seed": 3, "zred": (0.2, 2.5)}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    out = tmp_path_factory.mktemp("continue") / "first"
    return out, train_posterior(DEMO_EMULATOR, out, progress=False, **TINY)


def _arrays(path):
    with np.load(path / "flow.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def test_continuing_starts_from_the_earlier_weights(first, tmp_path):
    out, post = first
    # same simulations and validation split (same seed); a zero learning rate leaves the
    # weights where they were, so the first epoch's validation loss is the earlier best
    again = train_posterior(DEMO_EMULATOR, tmp_path / "again", progress=False,
                            **{**TINY, "epochs": 1, "learning_rate": 0.0},
                            continue_from=str(out))
    before = post.meta["training"]
    assert again.meta["training"]["val_loss"][0] == pytest.approx(before["best_val_loss"],
                                                                  rel=1e-5)
    for k, v in _arrays(out).items():
        np.testing.assert_array_equal(_arrays(tmp_path / "again")[k], v)
    assert again.meta["earlier_training"] == [before]


def test_continuing_keeps_the_coordinates_and_scaling_and_trains_on(first, tmp_path):
    out, post = first
    more = train_posterior(DEMO_EMULATOR, tmp_path / "more", progress=False,
                           **{**TINY, "seed": 11, "epochs": 4}, continue_from=str(out))
    # other simulations (seed 11) would give another feature scaling if it were refitted
    assert more.meta["features"] == post.meta["features"]
    assert more.meta["theta_space"] == post.meta["theta_space"]
    assert more.meta["flow"] == post.meta["flow"]
    # a fresh network of the same size, seed and epochs ends far higher than one that
    # continues the earlier 3 epochs (measured, seeds 11 and 12: best -0.41 and -0.36 nats
    # against 0.28 and 0.05; first epoch 0.42 and 0.49 against 3.70 and 4.04)
    fresh = train_posterior(DEMO_EMULATOR, tmp_path / "fresh", progress=False,
                            **{**TINY, "seed": 11, "epochs": 4})
    assert more.meta["training"]["best_val_loss"] < fresh.meta["training"]["best_val_loss"]
    assert more.meta["training"]["val_loss"][0] < fresh.meta["training"]["val_loss"][0]


def test_continuing_in_place_and_a_chain_keeps_the_whole_history(first, tmp_path):
    out, post = first
    twice = tmp_path / "twice"
    train_posterior(DEMO_EMULATOR, twice, progress=False, **{**TINY, "epochs": 1},
                    continue_from=str(out))
    last = train_posterior(DEMO_EMULATOR, twice, progress=False, **{**TINY, "epochs": 1},
                           continue_from=str(twice))
    history = last.meta["earlier_training"]
    assert len(history) == 2 and history[0] == post.meta["training"]
    assert json.loads((twice / "posterior.json").read_text()) == last.meta


def test_other_options_or_another_emulator_are_refused(first, tmp_path):
    out, _ = first
    with pytest.raises(ConfigurationError, match=r"--components 4 \(not 8\)"):
        train_posterior(DEMO_EMULATOR, tmp_path / "x", progress=False,
                        **{**TINY, "components": 8}, continue_from=str(out))
    with pytest.raises(ConfigurationError, match="--snr"):
        train_posterior(DEMO_EMULATOR, tmp_path / "x", progress=False,
                        **{**TINY, "snr": (10.0, 50.0)}, continue_from=str(out))
    with pytest.raises(ConfigurationError, match="another emulator"):
        train_posterior(DEMO_SPECTRAL_EMULATOR, tmp_path / "x", progress=False, **TINY,
                        continue_from=str(out))
    assert not (tmp_path / "x").exists()


def _failing_validation(monkeypatch, after: int, error: type[BaseException]):
    """Make the validation of epoch ``after + 1`` raise ``error``."""
    calls = {"n": 0}
    real = flowlib._loss

    def loss(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            raise error()
        return real(*args, **kwargs)
    monkeypatch.setattr(flowlib, "_loss", loss)


def test_an_interrupt_ends_training_with_the_best_weights(monkeypatch, tmp_path):
    _failing_validation(monkeypatch, 2, KeyboardInterrupt)
    post = train_posterior(DEMO_EMULATOR, tmp_path / "p", progress=False,
                           **{**TINY, "epochs": 10})
    t = post.meta["training"]
    assert t["stopped"] == "interrupted" and len(t["val_loss"]) == 2
    assert t["best_val_loss"] == min(t["val_loss"])
    assert AmortizedPosterior.load(tmp_path / "p").meta["training"] == t


def test_a_crash_leaves_the_best_epoch_so_far_on_disk(monkeypatch, tmp_path):
    _failing_validation(monkeypatch, 2, MemoryError)
    with pytest.raises(MemoryError):
        train_posterior(DEMO_EMULATOR, tmp_path / "p", progress=False,
                        **{**TINY, "epochs": 10})
    saved = AmortizedPosterior.load(tmp_path / "p")
    t = saved.meta["training"]
    assert 1 <= len(t["val_loss"]) <= 2 and t["best_val_loss"] == min(t["val_loss"])
    assert t["best_val_loss"] == t["val_loss"][-1]  # written at the improving epoch
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["flow.npz", "posterior.json"]
