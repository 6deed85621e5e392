"""What every kind's trainer shares: the training configuration (:class:`TrainConfig`),
the selection and group-wise train/validation/test split of a training set's rows
(:func:`prepare`), the epoch-wise Keras schedule with early stopping and a time budget
(:func:`fit_schedule`), and the export of a trained network (:func:`save_artifact`).
The kinds' builders are :func:`prospect_emu.emulator.training.train_photometry` and
:func:`prospect_emu.emulator.spectral_training.train_spectrum`, found through
:mod:`prospect_emu.emulator.kinds`; :func:`prospect_emu.emulator.training.train` picks
one.  Keras is imported inside the functions that need it.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigurationError
from ..network.recipe import (
    DECAYS,
    DEFAULT_PATIENCE_STEPS,
    DEFAULT_STAGE_STEPS,
    resolve_log_inputs,
    resolve_ratio_inputs,
)
from ..options import opt
from ..trainingdata.sampling import parameter_of_label
from ..trainingdata.trainingset import OK, TrainingSet, group_rows
from . import kinds
from .artifact import Emulator
from .transforms import SOFTENING_REFERENCES, InputTransform, OutputTransform

#: (learning rate, batch size) per stage
DEFAULT_SCHEDULE = ((1e-3, 128), (5e-4, 256), (2e-4, 512), (1e-4, 1024), (5e-5, 2048), (2e-5, 4096))
NOT_INPUTS = ("mass", "lumdist")
#: fewest whole groups of rows in each of the validation and test splits
MIN_SPLIT_GROUPS = 3
#: --stream: auto (when the in-memory trainer would exceed the memory budget), on, off
STREAM_MODES = ("auto", "on", "off")


def parse_schedule(text: str) -> tuple[tuple[float, ...], ...]:
    """``"1e-3:128,1e-4:1024:8000"`` as ((learning rate, batch size[, steps]), ...)."""
    stages = []
    for part in text.split(","):
        bits = part.split(":")
        try:
            if len(bits) not in (2, 3):
                raise ValueError(part)
            stages.append((float(bits[0]), int(bits[1]), *(int(b) for b in bits[2:])))
        except ValueError as exc:
            raise ConfigurationError(f"--schedule {text!r}: use LR:BATCH[:STEPS],... "
                                     "e.g. 1e-3:128,1e-4:1024 or 2e-3:256:30000,1e-4:1024:8000"
                                     ) from exc
    return tuple(stages)


@dataclass
class TrainConfig:
    """Network shape and training recipe.  Each field's help is also ``prospect-emu train
    --help``'s (:func:`prospect_emu.options.add_options`)."""

    width: int = opt(128, "neurons per hidden layer")
    depth: int = opt(4, "hidden layers")
    activation: str = opt("alsing", "alsing | gelu (erf form) | gelu_tanh | relu | tanh | silu")
    schedule: Sequence[Sequence[float]] = opt(
        DEFAULT_SCHEDULE, "learning rate:batch size[:steps] per stage, e.g. 1e-3:128,1e-4:1024 "
        "or 2e-3:256:30000,1e-4:1024:8000", parse=parse_schedule)
    epochs: int = opt(300, "maximum passes over the training rows per schedule stage, capped "
                      f"at {DEFAULT_STAGE_STEPS:,} optimizer steps (see --steps)")
    patience: int = opt(15, "early-stopping patience per stage in passes, capped at "
                        f"{DEFAULT_PATIENCE_STEPS:,} steps")
    steps: int | None = opt(None, "optimizer steps per stage, at most (replaces --epochs): the "
                            "same cost whatever the set's size")
    patience_steps: int | None = opt(None, "early-stopping patience in optimizer steps "
                                     "(replaces --patience)")
    eval_every: int | None = opt(None, "steps between validation checks (default: one pass, at "
                                 "most 500)")
    decay: str = opt("constant", "learning rate within each stage: constant, or a cosine down "
                     "to 1% of it", choices=DECAYS)
    log_inputs: str = opt(
        "auto", "inputs the network sees as log10: auto (log-uniform priors and positive ranges "
        "over more than 2 decades, e.g. tage), prior (log-uniform priors only), none, or "
        "names: tage,tau")
    ratio_inputs: str = opt(
        "auto", "ratios the network also sees, min(NUM/DEN, CAP) scaled to [-1, 1]: auto "
        "(photometric kind: tage/tau where both are inputs, how many e-folds a parametric SFH "
        "has run; spectral kind: none), none, or NUM/DEN[:CAP],... (CAP default 30; the "
        "spectral kind takes named ones only)")
    val_frac: float = opt(0.1, "fraction of the rows (whole groups) for validation")
    test_frac: float = opt(0.1, "fraction of the rows (whole groups) for the test statistics")
    seed: int = opt(0, "seeds the split and the network's initial weights")
    softening_fraction: float = opt(1e-4, "softening of each band's asinh magnitude, a "
                                    "fraction of its median flux", cli=False)
    softening_reference: str = opt(
        "band", "what each band's asinh softening (1e-4 of it) is a fraction of: band, the "
        "band's median flux; peak, the median of each SED's brightest band, for sets in "
        "which bands drop out (a free zred through the Lyman break)",
        choices=SOFTENING_REFERENCES)
    band_weight_power: float = opt(
        0.5, "photometry: weight of each band's magnitude error in the loss, std**(2P) relative "
        "to a standardised band (std: the band's magnitude spread): 0 each band standardised "
        "(emulators trained before this option), which leaves the widest bands (UV) the least "
        "accurate; 1 the loss in magnitudes, every band counts the same; the default between, "
        "the best measured on the demo model", metavar="P")
    pixel_weight_power: float | None = opt(
        None, "spectrum: weight of each rest-frame pixel's log-flux error in the loss, "
        "scale**(2P) relative to a standardised pixel (scale: the pixel's log-flux spread): 0 "
        "each pixel standardised, which leaves the widest pixels (the UV) the least accurate; 1 "
        "every pixel's fractional error counts the same; default: the spectral kind's "
        "(spectral_training.DEFAULT_PIXEL_WEIGHT_POWER), between, the best measured on the "
        "demo model", metavar="P")
    max_minutes: float | None = opt(
        None, "time budget: stop training after this many minutes, restore the best weights "
        "and write the emulator with its test statistics")
    provenance: str = opt("", "what the training SEDs are (SPS libraries, intended use), "
                          "stored in the artifact")
    extra: dict[str, Any] = opt({}, "free-form notes stored with the artifact", cli=False)
    kind: str = opt(kinds.DEFAULT_KIND, "photometry: bands of the training set; spectrum: "
                    "rest-frame spectra (PCA + network; needs generate --store-spectrum), any "
                    "filter at any zred", choices=kinds.names())
    spectrum_floor: float = opt(
        1e-12, "spectrum: floor of each stored spectrum, a fraction of its brightest pixel, "
        "set where FSPS gives zero flux (the ionizing continuum of old stars) or less (the "
        "far-UV behind heavy dust), 30 mag below the peak by default: a log-spectrum PCA "
        "needs positive pixels, and rows with a zero pixel were left out before", metavar="FRAC")
    pca_tolerance: float = opt(0.005, "spectrum: median fractional PCA reconstruction error on "
                               "the validation spectra that sets the number of components")
    max_components: int = opt(128, "spectrum: at most this many PCA components")
    stream: str = opt(
        "auto", "photometry: read the training rows from the HDF5 file in batches instead of "
        "loading the set (emulator.streaming): auto when the in-memory trainer would hold more "
        "than --memory-budget-gb, on, or off", choices=STREAM_MODES)
    memory_budget_gb: float = opt(2.0, "with --stream auto: stream sets whose in-memory "
                                  "training would hold more than this many GB", metavar="GB")

    def validate(self) -> None:
        """Check the options; the kind's own checks are its emulator class's
        ``check_train_config`` (:mod:`prospect_emu.emulator.kinds`)."""
        if self.kind not in kinds.names():
            raise ConfigurationError(f"--kind {self.kind!r}: choose {' or '.join(kinds.names())}")
        if not 0 < self.spectrum_floor < 1e-3:
            raise ConfigurationError(f"--spectrum-floor {self.spectrum_floor}: use a fraction of "
                                     "a spectrum's brightest pixel in (0, 1e-3), e.g. 1e-12")
        if self.softening_reference not in SOFTENING_REFERENCES:
            raise ConfigurationError(f"--softening-reference {self.softening_reference!r}: "
                                     f"choose {' or '.join(SOFTENING_REFERENCES)}")
        if not (0 < self.pca_tolerance < 1) or self.max_components < 1:
            raise ConfigurationError("--pca-tolerance must lie in (0, 1) and --max-components be >= 1")
        if self.width < 1 or self.depth < 1:
            raise ConfigurationError("--width and --depth must be >= 1")
        if not (0 < self.val_frac < 0.5 and 0 < self.test_frac < 0.5):
            raise ConfigurationError("--val-frac and --test-frac must lie in (0, 0.5)")
        if not self.schedule:
            raise ConfigurationError("the schedule needs at least one (learning rate, batch) stage")
        if self.decay not in DECAYS:
            raise ConfigurationError(f"unknown --decay {self.decay!r}; choose from {', '.join(DECAYS)}")
        if not 0.0 <= self.band_weight_power <= 1.0:
            raise ConfigurationError(f"--band-weight-power {self.band_weight_power} lies outside "
                                     "[0, 1]: 0 standardises each band, 1 weighs every band's "
                                     "magnitude error the same")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigurationError(f"--max-minutes must be positive, got {self.max_minutes}")
        if self.stream not in STREAM_MODES or not self.memory_budget_gb > 0:
            raise ConfigurationError(f"--stream {self.stream!r} --memory-budget-gb "
                                     f"{self.memory_budget_gb}: choose {', '.join(STREAM_MODES)} "
                                     "and a positive budget")
        if self.stream == "on" and self.kind != "photometry":
            raise ConfigurationError(f"--stream on: the {self.kind} kind loads its training set "
                                     "(only the photometric kind streams); use --stream auto")
        kinds.get(self.kind).check_config(self)


@dataclass
class PreparedData:
    inputs: InputTransform
    outputs: OutputTransform
    x: np.ndarray        # raw inputs, ok rows
    y: np.ndarray        # standardised outputs
    phot: np.ndarray
    mfrac: np.ndarray
    split: dict[str, np.ndarray]     # indices into the ok rows (x, y, phot, mfrac)
    n_excluded: int
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # file rows of x
    split_info: dict[str, Any] = field(default_factory=dict)


def _take_groups(sizes: np.ndarray, target: float) -> int:
    """How many leading groups (of ``sizes`` rows) come closest to ``target`` rows (>= 1)."""
    if len(sizes) == 0:
        return 0
    return int(np.argmin(np.abs(np.cumsum(sizes) - target))) + 1


def split_by_group(good: np.ndarray, group_size: int, val_frac: float, test_frac: float,
                   seed: int) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Split the ok rows into test/val/train by whole groups of consecutive file rows.

    Parameters
    ----------
    good : ndarray of bool, (N,)
        Which rows of the file are usable.
    group_size : int
        Rows per group (:func:`prospect_emu.trainingdata.trainingset.group_rows`); group ``g`` is
        file rows ``[g*group_size, (g+1)*group_size)``, counted before bad rows are
        dropped.
    val_frac, test_frac : float
        Target fractions of the usable rows; whole groups are taken, in a seeded
        random order, until the row count is closest to the target.
    seed : int

    Returns
    -------
    split : dict
        ``test``, ``val``, ``train``: indices into the usable rows.  With
        ``group_size=1`` this is the same split as a plain row permutation.
    n_groups : dict
        Groups per split.
    """
    pos_group = np.flatnonzero(good) // int(group_size)   # non-decreasing
    n = len(pos_group)
    starts = np.flatnonzero(np.diff(pos_group, prepend=-1))   # each group's first usable row
    del pos_group
    counts = np.diff(starts, append=n)
    order = np.random.default_rng(seed).permutation(len(counts))
    sizes = counts[order]
    n_test = _take_groups(sizes, test_frac * n)
    n_val = _take_groups(sizes[n_test:], val_frac * n)
    # the rows group by group in the shuffled group order, each group's rows in file order
    # (no per-group arrays: a million-row set has up to a million groups)
    cut = np.cumsum(sizes)
    rows = np.arange(n) - np.repeat(cut - sizes - starts[order], sizes)
    ends = [0, int(cut[n_test - 1]) if n_test else 0,
            int(cut[n_test + n_val - 1]) if n_test + n_val else 0, n]
    split = {k: rows[ends[i]:ends[i + 1]] for i, k in enumerate(("test", "val", "train"))}
    n_groups = {"test": n_test, "val": n_val, "train": len(order) - n_test - n_val}
    return split, n_groups


def check_representable(data: Any) -> None:
    """Refuse a set an emulator cannot represent (a vector mass); ``data`` has ``names``
    and ``path`` (a :class:`TrainingSet`, or a streamed set's header)."""
    vector_mass = [n for n in data.names if n != "mass" and parameter_of_label(n) == "mass"]
    if vector_mass:
        raise ConfigurationError(
            f"{data.path} samples a vector mass ({', '.join(vector_mass)}: the per-bin masses of a "
            "non-parametric SFH); their ratios shape the spectrum, but an emulator treats mass only "
            "as an analytic scaling by the total mass formed, so it cannot represent this model: "
            "parametrise the SFH by a total mass and shape parameters (e.g. Prospector's "
            "continuity_sfh: logmass and logsfr_ratios, with mass computed by depends_on) and "
            "generate the training set again")


def usable_rows(params: np.ndarray, phot: np.ndarray, mfrac: np.ndarray,
                status: np.ndarray) -> np.ndarray:
    """Rows an emulator trains on: ok, with finite parameters, photometry and mfrac > 0."""
    return (status == OK) & np.all(np.isfinite(phot), axis=1) & np.isfinite(mfrac) \
        & (mfrac > 0) & np.all(np.isfinite(params), axis=1)


def input_transform(all_names: Sequence[str], data_config: dict[str, Any],
                    config: TrainConfig) -> tuple[list[int], InputTransform]:
    """The input columns of a set's parameters (all but mass and lumdist) and their transform."""
    space = data_config["space"]
    bounds = np.asarray(space["bounds"], float)
    log = np.asarray(space["log"], bool)
    cols = [j for j, n in enumerate(all_names) if parameter_of_label(n) not in NOT_INPUTS]
    names = [all_names[j] for j in cols]
    if not cols:
        raise ConfigurationError("the training set varies no parameter besides mass: nothing to learn")
    log_in = resolve_log_inputs(config.log_inputs, names, bounds[cols, 0], bounds[cols, 1], log[cols])
    ratios = resolve_ratio_inputs(config.ratio_inputs, names, bounds[cols, 0])
    return cols, InputTransform.from_bounds(names, bounds[cols, 0], bounds[cols, 1], log_in, ratios)


def split_checked(good: np.ndarray, data_config: dict[str, Any], path: Any,
                  config: TrainConfig) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:func:`split_by_group` of the usable rows ``good``, refused (ConfigurationError) when a
    split gets too few rows or groups; the split and its description (``split_info``)."""
    n, n_excluded = int(good.sum()), int((~good).sum())
    k = group_rows(data_config)
    split, n_groups = split_by_group(good, k, config.val_frac, config.test_frac, config.seed)
    n_test, n_val = len(split["test"]), len(split["val"])
    ties = []
    if int(data_config.get("share_spectrum") or 1) > 1:
        ties.append(f"a rest-frame spectrum (share_spectrum={data_config['share_spectrum']})")
    if data_config.get("block_param") and int(data_config.get("block_size") or 1) > 1:
        ties.append(f"a {data_config['block_param']} value (block_size={data_config['block_size']})")
    grouped = (f" in {sum(n_groups.values())} groups of {k} rows that share {' or '.join(ties)}, "
               "each kept whole in one split") if k > 1 else ""
    if n < 50 or n_test < 10 or n_val < 10 or (k > 1 and min(n_groups["test"], n_groups["val"])
                                               < MIN_SPLIT_GROUPS) or n_groups["train"] < 1:
        raise ConfigurationError(
            f"{path} has {n} usable rows{grouped} ({n_excluded} excluded: failed, pending or "
            f"NaN); too few to split into train/validation/test ({n_val} val rows in "
            f"{n_groups['val']} groups, {n_test} test rows in {n_groups['test']} groups; needed: "
            f"10 rows{f' and {MIN_SPLIT_GROUPS} groups' if k > 1 else ''} each): generate at least "
            "a few thousand SEDs (prospect-emu generate --n ... or --resume)"
            + (", or smaller --share-spectrum/--block-size (one a multiple of the other keeps "
               "groups small)" if k > 1 else ""))
    split_info = {"unit": "group", "group_rows": int(k),
                  "share_spectrum": int(data_config.get("share_spectrum") or 1),
                  "block_param": data_config.get("block_param"),
                  "block_size": int(data_config.get("block_size") or 1), "seed": int(config.seed),
                  "n_groups": n_groups, "n_rows": {s: int(len(v)) for s, v in split.items()}}
    return split, split_info


def prepare(data: TrainingSet, config: TrainConfig) -> PreparedData:
    """Select good rows, choose inputs and transforms, split train/val/test.

    Rows that share a rest-frame spectrum (``share_spectrum``) or a metallicity block
    (``block_param``/``block_size``) are kept together: the split assigns whole groups
    of :func:`~prospect_emu.trainingdata.trainingset.group_rows` consecutive rows, so no validation
    or test row has a sibling in training (:func:`split_by_group`).  A set larger than
    memory: :func:`prospect_emu.emulator.streaming.prepare_streamed`.
    """
    check_representable(data)
    cols, inputs = input_transform(data.names, data.config, config)
    good = usable_rows(data.params, data.phot, data.mfrac, data.status)
    split, split_info = split_checked(good, data.config, data.path, config)
    rows = np.flatnonzero(good)
    x = data.params[good][:, cols]
    phot, mfrac = data.phot[good], data.mfrac[good]
    outputs = OutputTransform.fit(data.filter_names, phot[split["train"]], mfrac[split["train"]],
                                  config.softening_fraction, config.band_weight_power,
                                  config.softening_reference)
    y = outputs.encode(phot, mfrac)
    return PreparedData(inputs, outputs, x, y, phot, mfrac, split, int((~good).sum()), rows,
                        split_info)


class _TqdmEpochs:
    """A Keras callback showing one bar over all epochs, with the losses."""

    def __new__(cls, bar):
        import keras

        class Cb(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                bar.update(1)
                bar.set_postfix(loss=f"{logs.get('loss', np.nan):.2e}",
                                val=f"{logs.get('val_loss', np.nan):.2e}")
        return Cb()


class _Deadline:
    """A Keras callback that ends ``fit`` at the first epoch end past ``deadline``
    (``time.perf_counter()`` seconds); ``stopped`` says whether it did.  Put it after
    ``EarlyStopping(restore_best_weights=True)``, which then restores the best epoch."""

    def __new__(cls, deadline: float):
        import keras

        class Cb(keras.callbacks.Callback):
            stopped = False

            def on_epoch_end(self, epoch, logs=None):
                if time.perf_counter() > deadline:
                    self.stopped = True
                    self.model.stop_training = True
        return Cb()


def fit_schedule(model, optimizer, x_train, y_train, validation, config: TrainConfig,
                 progress: bool = True) -> list[dict[str, Any]]:
    """Fit ``model`` stage by stage (learning rate, batch size) with early stopping on
    ``validation`` per stage, keeping each stage's best weights; the history per stage.

    With ``config.max_minutes`` the run ends at the first epoch end past the budget, with
    the best weights of that stage, and no later stage starts; the last history entry has
    ``stopped_by_budget`` true."""
    import keras

    history: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    deadline = math.inf if config.max_minutes is None else t0 + 60 * config.max_minutes
    bar = tqdm(total=config.epochs * len(config.schedule), unit="epoch", desc="train",
               disable=not progress, dynamic_ncols=True)
    try:
        for lr, batch in config.schedule:
            if time.perf_counter() > deadline:
                break
            optimizer.learning_rate.assign(float(lr))
            stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                                 restore_best_weights=True)
            budget = _Deadline(deadline)
            h = model.fit(x_train, y_train, batch_size=int(batch), epochs=config.epochs,
                          validation_data=validation, callbacks=[stop, budget, _TqdmEpochs(bar)],
                          verbose=0, shuffle=True)
            n_ep = len(h.history["loss"])
            bar.update(config.epochs - n_ep)
            history.append({"learning_rate": float(lr), "batch_size": int(batch), "epochs": n_ep,
                            "best_val_loss": float(np.min(h.history["val_loss"])),
                            "final_loss": float(h.history["loss"][-1]),
                            "stopped_by_budget": bool(budget.stopped)})
            if budget.stopped:
                break
    finally:
        bar.close()
    return history


def save_artifact(emu: Emulator, out: str | Path, keras_model, x_check: np.ndarray,
                  keep_keras: bool) -> None:
    """Record how far the numpy pass is from Keras on ``x_check`` (``export_check_max_abs``)
    and write the artifact, with ``model.keras`` beside it if ``keep_keras``."""
    keras_out = np.asarray(keras_model(x_check))
    emu.meta["export_check_max_abs"] = float(np.max(np.abs(emu.forward(x_check) - keras_out)))
    extra = {}
    with tempfile.TemporaryDirectory() as tmp:
        if keep_keras:
            kpath = os.path.join(tmp, "model.keras")
            keras_model.save(kpath)
            extra["model.keras"] = kpath
        emu.save(out, extra_files=extra)
