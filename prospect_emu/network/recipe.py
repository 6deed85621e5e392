"""The training recipe: which inputs are log-scaled, which ratio inputs the network also
sees, and a schedule counted in optimizer steps.

A stage of the schedule is a (learning rate, batch size) pair.  Its length and its
early-stopping patience are counted in optimizer steps, so the recipe scales with the
set: a million-row set takes no longer per stage than a hundred-thousand-row one
unless asked to.  Validation happens every ``eval_every`` steps; the best weights seen
on the validation split are kept across all stages and restored at the end, also when
a time budget (``max_minutes``) ends training in the middle of a stage.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigurationError

#: an input is log10-scaled by ``auto`` when its range spans more than this many decades
AUTO_LOG_DECADES = 2.0
#: the ratio inputs ``auto`` adds where both parameters are inputs with positive bounds:
#: tage/tau, the number of e-folding times a parametric star-formation history has run
AUTO_RATIOS = (("tage", "tau"),)
#: the default cap of a ratio input: min(ratio, cap) (e^-30 of the peak rate is over)
DEFAULT_RATIO_CAP = 30.0
#: default cap on the optimizer steps of one stage, and on its patience
DEFAULT_STAGE_STEPS = 20000
DEFAULT_PATIENCE_STEPS = 3000
#: validate at most this many steps apart (and at least once per pass over the training rows)
DEFAULT_EVAL_EVERY = 500
DECAYS = ("constant", "cosine")
#: a cosine stage decays its learning rate to this fraction of the stage's rate
COSINE_FLOOR = 0.01


def resolve_log_inputs(spec: str | Sequence[str] | None, names: Sequence[str], raw_lo: np.ndarray,
                       raw_hi: np.ndarray, prior_log: np.ndarray) -> np.ndarray:
    """Which inputs the emulator scales by log10 before mapping them to [-1, 1].

    Parameters
    ----------
    spec : str or sequence of str or None
        ``"auto"`` (default, also for None): inputs with a log-uniform prior, and inputs
        whose training range has ``lo > 0`` and spans more than ``AUTO_LOG_DECADES``
        decades (e.g. ``tage`` over 0.001-13.8 Gyr); ``"prior"``: only inputs with a
        log-uniform prior (the behaviour before this option); ``"none"``: no input;
        otherwise the input names to scale, comma-separated or as a sequence.
    names : sequence of str
        The emulator's input names.
    raw_lo, raw_hi : ndarray
        The inputs' training bounds, raw (not log) values.
    prior_log : ndarray of bool
        Whether each input's prior is log-uniform.

    Returns
    -------
    ndarray of bool
        Per input: log10-scale it.

    Raises
    ------
    ConfigurationError
        For an unknown name, or a named input whose range reaches zero or below.
    """
    lo, hi = np.asarray(raw_lo, float), np.asarray(raw_hi, float)
    prior_log = np.asarray(prior_log, bool)
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "auto"):
        with np.errstate(divide="ignore", invalid="ignore"):
            wide = (lo > 0) & (np.log10(np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), 1.0))
                               > AUTO_LOG_DECADES)
        return prior_log | wide
    if isinstance(spec, str) and spec.strip().lower() == "prior":
        return prior_log.copy()
    if isinstance(spec, str) and spec.strip().lower() == "none":
        return np.zeros(len(names), dtype=bool)
    wanted = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s) for s in spec]
    wanted = [w for w in wanted if w]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ConfigurationError(f"--log-inputs names {unknown}, not inputs of this emulator "
                                 f"(inputs: {', '.join(names)}); use auto, prior, none or a "
                                 "comma-separated list of input names")
    flags = np.array([n in wanted for n in names], dtype=bool)
    bad = [f"{n} (range {lo[j]:.4g} to {hi[j]:.4g})" for j, n in enumerate(names)
           if flags[j] and not lo[j] > 0]
    if bad:
        raise ConfigurationError(f"--log-inputs: {', '.join(bad)} reaches zero or below, so log10 "
                                 "is undefined there; leave it out of --log-inputs (or generate "
                                 "with a positive --range)")
    return flags


def resolve_ratio_inputs(spec: str | None, names: Sequence[str],
                         raw_lo: np.ndarray) -> list[tuple[int, int, float]]:
    """The ratio inputs (``numerator / denominator``, capped) the network sees besides the
    scaled parameters (:class:`~prospect_emu.emulator.transforms.InputTransform`).

    Parameters
    ----------
    spec : str or None
        ``"auto"`` (default, also None): ``tage/tau`` where both are inputs with positive
        bounds (:data:`AUTO_RATIOS`); ``"none"``; or comma-separated ``NUM/DEN`` or
        ``NUM/DEN:CAP`` (cap default :data:`DEFAULT_RATIO_CAP`).
    names : sequence of str
        The emulator's input names.
    raw_lo : ndarray
        The inputs' lower training bounds (raw values).

    Returns
    -------
    list of (int, int, float)
        ``(numerator index, denominator index, cap)`` per ratio input.

    Raises
    ------
    ConfigurationError
        For a malformed entry, a name that is not an input, an input whose range reaches
        zero or below, or a cap that is not positive.
    """
    names = list(names)
    lo = np.asarray(raw_lo, float)
    text = "auto" if spec is None else str(spec).strip().lower()
    if text == "none":
        return []
    if text == "auto":
        return [(names.index(a), names.index(b), DEFAULT_RATIO_CAP) for a, b in AUTO_RATIOS
                if a in names and b in names and lo[names.index(a)] > 0 and lo[names.index(b)] > 0]
    out = []
    for item in (w.strip() for w in str(spec).split(",")):
        if not item:
            continue
        pair, _, cap_text = item.partition(":")
        a, _, b = pair.partition("/")
        a, b = a.strip(), b.strip()
        try:
            cap = float(cap_text) if cap_text.strip() else DEFAULT_RATIO_CAP
        except ValueError:
            cap = float("nan")
        if not (a and b) or a == b or not cap > 0:
            raise ConfigurationError(f"--ratio-inputs {item!r}: write NUM/DEN or NUM/DEN:CAP with "
                                     "two different inputs and a positive cap, e.g. tage/tau:30")
        for n in (a, b):
            if n not in names:
                raise ConfigurationError(f"--ratio-inputs {item!r}: {n!r} is not an input of this "
                                         f"emulator (inputs: {', '.join(names)})")
            if not lo[names.index(n)] > 0:
                raise ConfigurationError(f"--ratio-inputs {item!r}: {n}'s range reaches zero or "
                                         "below; a ratio input needs positive parameters")
        out.append((names.index(a), names.index(b), cap))
    return out


@dataclass
class Stage:
    """One stage of the plan, all counts in optimizer steps."""

    learning_rate: float
    batch_size: int
    steps: int           # at most
    patience: int        # stop the stage after this many steps without a new best
    eval_every: int      # steps between validation checks


def plan_stages(n_train: int, schedule: Sequence[Sequence[float]], *, epochs: int, patience: int,
                steps: int | None = None, patience_steps: int | None = None,
                eval_every: int | None = None) -> list[Stage]:
    """Turn a (learning rate, batch size) schedule into stages counted in optimizer steps.

    Per stage, with ``spe = ceil(n_train / batch)`` steps per pass over the training rows:
    at most the stage's own third element, else ``steps`` steps (default ``min(epochs * spe, DEFAULT_STAGE_STEPS)``), patience
    ``patience_steps`` (default ``min(patience * spe, DEFAULT_PATIENCE_STEPS)``), a
    validation check every ``eval_every`` steps (default ``min(spe, DEFAULT_EVAL_EVERY)``).
    """
    if n_train < 1:
        raise ConfigurationError("no training rows to plan a schedule for")
    for name, v in (("steps", steps), ("patience_steps", patience_steps), ("eval_every", eval_every)):
        if v is not None and int(v) < 1:
            raise ConfigurationError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    out = []
    for st in schedule:
        if len(st) not in (2, 3):
            raise ConfigurationError(f"schedule stage {tuple(st)}: give (learning rate, batch size) "
                                     "or (learning rate, batch size, steps)")
        lr, batch = st[0], int(st[1])
        if batch < 1 or not float(lr) > 0:
            raise ConfigurationError(f"schedule stage ({lr}, {batch}): the learning rate and the "
                                     "batch size must be positive")
        spe = math.ceil(n_train / batch)
        if len(st) == 3:
            n = int(st[2])
            if n < 1:
                raise ConfigurationError(f"schedule stage {tuple(st)}: steps must be >= 1")
        else:
            n = int(steps) if steps is not None else min(int(epochs) * spe, DEFAULT_STAGE_STEPS)
        p = int(patience_steps) if patience_steps is not None else \
            min(int(patience) * spe, DEFAULT_PATIENCE_STEPS)
        ev = int(eval_every) if eval_every is not None else min(spe, DEFAULT_EVAL_EVERY)
        ev = min(ev, n)
        out.append(Stage(float(lr), batch, n, max(p, ev), ev))
    return out


def learning_rate(stage: Stage, step: int, decay: str, time_frac: float = 0.0) -> float:
    """The learning rate after ``step`` steps of ``stage``: constant, or a cosine from the
    stage's rate down to ``COSINE_FLOOR`` of it at the stage's last step, or at the end of
    its share of a time budget (``time_frac``, the fraction of that share used), whichever
    comes first."""
    if decay == "constant":
        return stage.learning_rate
    frac = min(max(step / max(stage.steps, 1), time_frac, 0.0), 1.0)
    return stage.learning_rate * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * frac)))


class TrainRows(Protocol):
    """Where :func:`run_stages` takes its training batches from."""

    def __len__(self) -> int:
        """Training rows in one pass."""

    def take(self, n_rows: int, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The next ``n_rows`` rows, network inputs and targets, in blocks of whole batches."""


class ArrayRows:
    """Training rows held in memory, ``xs[idx]``, ``ys[idx]``: taken in seeded shuffled
    passes, one block per :meth:`take`."""

    def __init__(self, xs: np.ndarray, ys: np.ndarray, idx: np.ndarray, seed: int = 0):
        self.xs, self.ys, self.idx = xs, ys, np.asarray(idx)
        self.rng = np.random.default_rng(seed)
        self.order, self.pos = self.rng.permutation(self.idx), 0

    def __len__(self) -> int:
        return len(self.idx)

    def take(self, n_rows: int, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        take, need, n_tr = [], int(n_rows), len(self.idx)
        while need > 0:   # walk through shuffled passes over the training rows
            if self.pos >= n_tr:
                self.order, self.pos = self.rng.permutation(self.idx), 0
            k = min(need, n_tr - self.pos)
            take.append(self.order[self.pos:self.pos + k])
            self.pos, need = self.pos + k, need - k
        rows = np.concatenate(take)
        yield self.xs[rows], self.ys[rows]


def run_stages(model, xs: np.ndarray, ys: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
               stages: Sequence[Stage], *, decay: str = "constant", max_minutes: float | None = None,
               seed: int = 0, on_steps: Callable[[int, float, float], None] | None = None,
               on_skip: Callable[[int], None] | None = None,
               clock: Callable[[], float] = time.perf_counter,
               train_source: TrainRows | None = None) -> dict[str, Any]:
    """Train a compiled Keras ``model`` through ``stages``; restore the best weights.

    Parameters
    ----------
    model : keras.Model
        Compiled with an optimizer whose ``learning_rate`` is a variable.
    xs, ys : ndarray
        Network inputs and targets: all rows, or (with ``train_source``) the validation
        rows at least.
    train_idx, val_idx : ndarray
        Rows of ``xs`` to train on (unused with ``train_source``) and to validate on.
    stages : sequence of Stage
    decay : {"constant", "cosine"}
        Learning rate within a stage (:func:`learning_rate`).
    max_minutes : float, optional
        Time budget.  What is left of it is shared among the remaining stages in
        proportion to their planned samples (steps x batch size): a stage ends at the
        first validation check past its share, so that the later, lower learning-rate
        stages still run, and a cosine decays over whichever is shorter, the stage's
        steps or its share of time.  Training always stops at the first check past the
        whole budget; the best weights seen so far are restored.
    seed : int
        Seeds the order of the training rows.
    on_steps : callable, optional
        ``on_steps(n_steps_done, train_loss, val_loss)`` after every chunk of steps
        (a progress bar); without ``on_skip`` also called with ``val_loss=nan`` to account
        for skipped steps.
    on_skip : callable, optional
        ``on_skip(n_steps)`` for the planned steps a stage does not run (its patience or
        its share of the budget ended it), so that a progress bar can take them off its
        total and keep its rate and ETA those of the steps that run.
    train_source : TrainRows, optional
        Where the training batches come from instead of ``xs[train_idx]``, e.g. rows
        streamed from the training-set file
        (:class:`prospect_emu.emulator.streaming.StreamedRows`); default
        :class:`ArrayRows` over ``train_idx``.

    Returns
    -------
    dict
        ``history`` (per stage), ``best_val_loss``, ``stopped_by_budget``, ``steps``.
    """
    if decay not in DECAYS:
        raise ConfigurationError(f"unknown --decay {decay!r}; choose from {', '.join(DECAYS)}")
    source = ArrayRows(xs, ys, train_idx, seed) if train_source is None else train_source
    opt = model.optimizer
    t0 = clock()
    xv, yv = xs[val_idx], ys[val_idx]
    n_tr = len(source)

    def val_loss() -> float:
        pred = np.asarray(model.predict(xv, batch_size=8192, verbose=0))
        return float(np.mean((pred - yv) ** 2))

    best, best_w = val_loss(), model.get_weights()
    history, total, stopped = [], 0, False
    budget = None if max_minutes is None else 60.0 * float(max_minutes)
    for k, stage in enumerate(stages):
        done, since, stage_best, last_loss = 0, 0, np.inf, np.nan
        t_stage = clock()
        share = None
        if budget is not None:
            planned = np.array([s.steps * s.batch_size for s in stages[k:]], float)
            share = max(budget - (t_stage - t0), 0.0) * planned[0] / planned.sum()
        while done < stage.steps:
            n = min(stage.eval_every, stage.steps - done)
            tf_ = 0.0 if not share else (clock() - t_stage) / share
            opt.learning_rate.assign(learning_rate(stage, done, decay, tf_))
            fits = []   # (rows, mean loss) per block
            for xb, yb in source.take(n * stage.batch_size, stage.batch_size):
                h = model.fit(xb, yb, batch_size=stage.batch_size, epochs=1, shuffle=False,
                              verbose=0)
                fits.append((len(xb), float(h.history["loss"][-1])))
            last_loss = fits[0][1] if len(fits) == 1 else \
                sum(r * v for r, v in fits) / sum(r for r, _ in fits)
            done += n
            v = val_loss()
            stage_best = min(stage_best, v)
            if v < best:
                best, best_w, since = v, model.get_weights(), 0
            else:
                since += n
            if on_steps is not None:
                on_steps(n, last_loss, v)
            now = clock()
            if budget is not None and now - t0 > budget:
                stopped = True
                break
            if since >= stage.patience or (share is not None and now - t_stage > share):
                break
        total += done
        _skipped(stage.steps - done, on_steps, on_skip)
        model.set_weights(best_w)   # each stage starts from the best weights so far
        history.append({"learning_rate": stage.learning_rate, "batch_size": stage.batch_size,
                        "steps": done, "max_steps": stage.steps, "patience_steps": stage.patience,
                        "epochs": round(done * stage.batch_size / n_tr, 3),
                        "best_val_loss": float(stage_best), "final_loss": last_loss})
        if stopped:
            break
    if stopped:
        for stage in stages[len(history):]:
            _skipped(stage.steps, on_steps, on_skip)
    model.set_weights(best_w)
    return {"history": history, "best_val_loss": float(best), "stopped_by_budget": stopped,
            "steps": total, "seconds": clock() - t0}


def _skipped(n: int, on_steps, on_skip) -> None:
    """Report ``n`` planned steps that will not run (see :func:`run_stages`)."""
    if on_skip is not None:
        on_skip(n)
    elif on_steps is not None:
        on_steps(n, np.nan, np.nan)
