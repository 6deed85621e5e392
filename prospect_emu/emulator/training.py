"""Train an emulator on a training set with Keras and export it as a numpy artifact.

Recipe (after Alsing et al. 2020): Adam; stages of decreasing learning rate and
growing batch size; within each stage early stopping on a held-out validation split,
keeping the best weights.  Stage lengths and patience are counted in optimizer steps
(:mod:`prospect_emu.network.architecture.recipe`), so the recipe scales with the set; a time budget ends
training with the best weights restored and the test statistics written.  Training is
seeded (``keras.utils.set_random_seed``); Keras uses a GPU where its backend sees one.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigurationError
from ..network.recipe import (
    DECAYS,
    plan_stages,
    resolve_log_inputs,
    resolve_ratio_inputs,
    run_stages,
)
from ..normalization import MASS_CONVENTION
from ..provenance import package_versions, utc_now
from ..trainingdata.sampling import parameter_of_label
from ..trainingdata.trainingset import OK, TrainingSet, group_rows
from .artifact import SCHEMA_VERSION, Emulator
from .errorstats import residual_statistics
from .transforms import InputTransform, OutputTransform

#: (learning rate, batch size) per stage
DEFAULT_SCHEDULE = ((1e-3, 128), (5e-4, 256), (2e-4, 512), (1e-4, 1024), (5e-5, 2048), (2e-5, 4096))
NOT_INPUTS = ("mass", "lumdist")
#: fewest whole groups of rows in each of the validation and test splits
MIN_SPLIT_GROUPS = 3


@dataclass
class TrainConfig:
    """Network shape and training recipe."""

    width: int = 128
    depth: int = 4
    activation: str = "alsing"
    schedule: Sequence[Sequence[float]] = DEFAULT_SCHEDULE
    epochs: int = 300          # at most, per stage (capped at recipe.DEFAULT_STAGE_STEPS steps)
    patience: int = 15         # early stopping, per stage (capped at DEFAULT_PATIENCE_STEPS steps)
    steps: int | None = None           # optimizer steps per stage, at most (overrides epochs)
    patience_steps: int | None = None  # early-stopping patience in steps (overrides patience)
    eval_every: int | None = None      # steps between validation checks
    decay: str = "constant"            # learning rate within a stage: constant | cosine
    log_inputs: str = "auto"           # auto | prior | none | name,name (recipe.resolve_log_inputs)
    ratio_inputs: str = "auto"         # auto | none | num/den[:cap],... (recipe.resolve_ratio_inputs;
    #                                    the spectral kind takes named ones only)
    val_frac: float = 0.1
    test_frac: float = 0.1
    seed: int = 0
    softening_fraction: float = 1e-4
    #: band weights in the loss (transforms.OutputTransform.fit): 0 each band standardised
    #: (emulators before this option), 1 the loss in magnitudes; 0.5 measured best on the
    #: demo model (95th percentile over all bands and in the worst band)
    band_weight_power: float = 0.5
    #: spectrum: pixel weights in the loss (spectral_training.pixel_weights): 0 each pixel's
    #: standardised log flux (emulators before this option), 1 the loss in log flux; None
    #: the spectral kind's default, spectral_training.DEFAULT_PIXEL_WEIGHT_POWER (0.5)
    pixel_weight_power: float | None = None
    max_minutes: float | None = None   # time budget: stop, restore the best weights, export
    provenance: str = ""               # what the SEDs are, for the artifact's users
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "photometry"           # or "spectrum" (prospect_emu.emulator.spectral_training)
    pca_tolerance: float = 0.005       # spectrum: median fractional PCA reconstruction error
    max_components: int = 128          # spectrum: at most this many PCA components

    def validate(self) -> None:
        if self.kind not in ("photometry", "spectrum"):
            raise ConfigurationError(f"--kind {self.kind!r}: choose photometry or spectrum")
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
        if self.pixel_weight_power is not None:
            if self.kind != "spectrum":
                raise ConfigurationError("--pixel-weight-power weighs the rest-frame pixels of the "
                                         "spectral kind (--kind spectrum); the photometric kind's "
                                         "bands take --band-weight-power")
            if not 0.0 <= self.pixel_weight_power <= 1.0:
                raise ConfigurationError(f"--pixel-weight-power {self.pixel_weight_power} lies "
                                         "outside [0, 1]: 0 standardises each pixel's log flux, 1 "
                                         "weighs every pixel's fractional error the same")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigurationError(f"--max-minutes must be positive, got {self.max_minutes}")
        if self.kind == "spectrum":
            stepped = [opt for opt, used in (
                ("--steps", self.steps is not None),
                ("--patience-steps", self.patience_steps is not None),
                ("--eval-every", self.eval_every is not None),
                ("--decay cosine", self.decay != "constant"),
                ("LR:BATCH:STEPS stages in --schedule", any(len(st) > 2 for st in self.schedule)))
                if used]
            if stepped:
                raise ConfigurationError(
                    f"{', '.join(stepped)}: the spectral kind trains by passes over the rows "
                    "(stages LR:BATCH, --epochs, --patience, --max-minutes at an epoch end); "
                    "the step-counted recipe is the photometric kind's. Drop those options")


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
    pos_group = np.flatnonzero(good) // int(group_size)
    n = len(pos_group)
    ids, counts = np.unique(pos_group, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(ids))
    members = np.split(np.argsort(pos_group, kind="stable"), np.cumsum(counts)[:-1])
    sizes = counts[order]
    n_test = _take_groups(sizes, test_frac * n)
    n_val = _take_groups(sizes[n_test:], val_frac * n)
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val],
             "train": order[n_test + n_val:]}
    split = {k: (np.concatenate([members[g] for g in v]) if len(v) else np.zeros(0, dtype=int))
             for k, v in parts.items()}
    return split, {k: int(len(v)) for k, v in parts.items()}


def _check_representable(data: TrainingSet) -> None:
    vector_mass = [n for n in data.names if n != "mass" and parameter_of_label(n) == "mass"]
    if vector_mass:
        raise ConfigurationError(
            f"{data.path} samples a vector mass ({', '.join(vector_mass)}: the per-bin masses of a "
            "non-parametric SFH); their ratios shape the spectrum, but an emulator treats mass only "
            "as an analytic scaling by the total mass formed, so it cannot represent this model: "
            "parametrise the SFH by a total mass and shape parameters (e.g. Prospector's "
            "continuity_sfh: logmass and logsfr_ratios, with mass computed by depends_on) and "
            "generate the training set again")


def prepare(data: TrainingSet, config: TrainConfig) -> PreparedData:
    """Select good rows, choose inputs and transforms, split train/val/test.

    Rows that share a rest-frame spectrum (``share_spectrum``) or a metallicity block
    (``block_param``/``block_size``) are kept together: the split assigns whole groups
    of :func:`~prospect_emu.trainingdata.trainingset.group_rows` consecutive rows, so no validation
    or test row has a sibling in training (:func:`split_by_group`).
    """
    _check_representable(data)
    space = data.config["space"]
    bounds = np.asarray(space["bounds"], float)
    log = np.asarray(space["log"], bool)
    cols = [j for j, n in enumerate(data.names) if parameter_of_label(n) not in NOT_INPUTS]
    names = [data.names[j] for j in cols]
    if not cols:
        raise ConfigurationError("the training set varies no parameter besides mass: nothing to learn")
    good = (data.status == OK) & np.all(np.isfinite(data.phot), axis=1) & np.isfinite(data.mfrac) \
        & (data.mfrac > 0) & np.all(np.isfinite(data.params), axis=1)
    n_excluded = int((~good).sum())
    rows = np.flatnonzero(good)
    x = data.params[good][:, cols]
    phot, mfrac = data.phot[good], data.mfrac[good]
    n = len(x)
    k = group_rows(data.config)
    split, n_groups = split_by_group(good, k, config.val_frac, config.test_frac, config.seed)
    n_test, n_val = len(split["test"]), len(split["val"])
    ties = []
    if int(data.config.get("share_spectrum") or 1) > 1:
        ties.append(f"a rest-frame spectrum (share_spectrum={data.config['share_spectrum']})")
    if data.config.get("block_param") and int(data.config.get("block_size") or 1) > 1:
        ties.append(f"a {data.config['block_param']} value (block_size={data.config['block_size']})")
    grouped = (f" in {sum(n_groups.values())} groups of {k} rows that share {' or '.join(ties)}, "
               "each kept whole in one split") if k > 1 else ""
    if n < 50 or n_test < 10 or n_val < 10 or (k > 1 and min(n_groups["test"], n_groups["val"])
                                               < MIN_SPLIT_GROUPS) or n_groups["train"] < 1:
        raise ConfigurationError(
            f"{data.path} has {n} usable rows{grouped} ({n_excluded} excluded: failed, pending or "
            f"NaN); too few to split into train/validation/test ({n_val} val rows in "
            f"{n_groups['val']} groups, {n_test} test rows in {n_groups['test']} groups; needed: "
            f"10 rows{f' and {MIN_SPLIT_GROUPS} groups' if k > 1 else ''} each): generate at least "
            "a few thousand SEDs (prospect-emu generate --n ... or --resume)"
            + (", or smaller --share-spectrum/--block-size (one a multiple of the other keeps "
               "groups small)" if k > 1 else ""))
    log_in = resolve_log_inputs(config.log_inputs, names, bounds[cols, 0], bounds[cols, 1], log[cols])
    ratios = resolve_ratio_inputs(config.ratio_inputs, names, bounds[cols, 0])
    inputs = InputTransform.from_bounds(names, bounds[cols, 0], bounds[cols, 1], log_in, ratios)
    outputs = OutputTransform.fit(data.filter_names, phot[split["train"]], mfrac[split["train"]],
                                  config.softening_fraction, config.band_weight_power)
    y = outputs.encode(phot, mfrac)
    split_info = {"unit": "group", "group_rows": int(k),
                  "share_spectrum": int(data.config.get("share_spectrum") or 1),
                  "block_param": data.config.get("block_param"),
                  "block_size": int(data.config.get("block_size") or 1), "seed": int(config.seed),
                  "n_groups": n_groups, "n_rows": {s: int(len(v)) for s, v in split.items()}}
    return PreparedData(inputs, outputs, x, y, phot, mfrac, split, n_excluded, rows, split_info)


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


def train(data_path: str | Path, out: str | Path, config: TrainConfig | None = None,
          progress: bool = True, keep_keras: bool = True) -> Emulator:
    """Train an emulator and write its artifact directory.

    Parameters
    ----------
    data_path : str or Path
        A training set written by :func:`prospect_emu.trainingdata.generate.generate`.
    out : str or Path
        The emulator directory to write (replaced atomically if it exists).
    config : TrainConfig, optional
    progress : bool
        Show a progress bar.
    keep_keras : bool
        Also store ``model.keras`` beside the artifact, for continued training.

    Returns
    -------
    Emulator
        The exported emulator, with test-set error statistics in ``meta["test_errors"]``.
    """
    config = config or TrainConfig()
    config.validate()
    if config.kind == "spectrum":
        from .spectral_training import train_spectrum

        return train_spectrum(data_path, out, config, progress=progress, keep_keras=keep_keras)
    try:
        import keras
    except ImportError as exc:
        raise ConfigurationError("training needs Keras 3 and a backend: pip install "
                                 "'prospect-emu[train]' (TensorFlow), or keras with jax or torch "
                                 "and KERAS_BACKEND set") from exc
    data = TrainingSet(data_path)
    prep = prepare(data, config)

    from ..network.architecture import build_network, export_layers

    keras.utils.set_random_seed(config.seed)
    xs = prep.inputs(prep.x).astype("float32")
    ys = prep.y.astype("float32")
    tr, va, te = prep.split["train"], prep.split["val"], prep.split["test"]
    model = build_network(xs.shape[1], ys.shape[1], config.width, config.depth, config.activation)
    stages = plan_stages(len(tr), config.schedule, epochs=config.epochs, patience=config.patience,
                         steps=config.steps, patience_steps=config.patience_steps,
                         eval_every=config.eval_every)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=stages[0].learning_rate), loss="mse")
    bar = tqdm(total=sum(s.steps for s in stages), unit="step", desc="train",
               disable=not progress, dynamic_ncols=True)

    deadline = None if config.max_minutes is None else time.perf_counter() + 60 * config.max_minutes

    def on_steps(n: int, loss: float, val: float) -> None:
        bar.update(n)
        info = {"loss": f"{loss:.2e}", "val": f"{val:.2e}"}
        if deadline is not None:  # the budget can end training before the planned steps
            info["budget_left"] = f"{max(deadline - time.perf_counter(), 0.0) / 60:.1f}min"
        bar.set_postfix(info)

    def on_skip(n: int) -> None:  # planned steps a stage will not run: off the total
        bar.total -= n
        bar.refresh()

    try:
        run = run_stages(model, xs, ys, tr, va, stages, decay=config.decay,
                         max_minutes=config.max_minutes, seed=config.seed, on_steps=on_steps,
                         on_skip=on_skip)
    finally:
        bar.close()
    history = run["history"]
    seconds = run["seconds"]
    layer_spec, weights = export_layers(model)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "kind": "photometry",
        "created": utc_now(),
        "inputs": prep.inputs.to_json(),
        "outputs": prep.outputs.to_json(),
        "filters": [{"name": n, "hash": data.filter_hashes[n]} for n in data.filter_names],
        "units": {n: data.metadata.get("units", {}).get(n, "") for n in prep.inputs.names},
        "mass_convention": MASS_CONVENTION,
        "layers": layer_spec,
        "network": {"width": config.width, "depth": config.depth, "activation": config.activation,
                    "backend": keras.backend.backend()},
        "training": {**asdict(config), "schedule": [list(s) for s in config.schedule],
                     "history": history, "seconds": seconds, "n_train": int(len(tr)),
                     "steps_done": run["steps"], "stopped_by_budget": run["stopped_by_budget"],
                     "best_val_loss": run["best_val_loss"],
                     "n_val": int(len(va)), "n_test": int(len(te)), "n_excluded": prep.n_excluded,
                     "split": prep.split_info},
        "training_set": {"path": str(Path(data_path).resolve()), "config": data.config,
                         "metadata": {k: v for k, v in data.metadata.items() if k != "failures"}},
        "versions": package_versions(),
        "provenance": config.provenance,
    }
    emu = Emulator(meta, weights)
    # test-set errors through the numpy forward pass that inference uses
    pred = emu.predict(prep.x[te])
    resid = np.column_stack([pred.mags - prep.outputs.decode_mags(ys[te])[0],
                             np.log10(pred.mfrac) - np.log10(prep.mfrac[te])])
    names = list(data.filter_names) + ["log10_mfrac"]
    meta["test_errors"] = {**residual_statistics(resid, names), "units": "asinh mag (log10 for mfrac)"}
    save_artifact(emu, out, model, xs[te[:256]], keep_keras)
    return Emulator.load(out)


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
