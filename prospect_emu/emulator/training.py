"""Train an emulator on a training set with Keras and export it as a numpy artifact:
:func:`train` (any kind: it calls the kind's builder, :mod:`prospect_emu.emulator.kinds`)
and the photometric kind's builder, :func:`train_photometry`.  The configuration and the
steps every kind shares are in :mod:`prospect_emu.emulator.training_base` (re-exported here).

Recipe (after Alsing et al. 2020): Adam; stages of decreasing learning rate and
growing batch size; within each stage early stopping on a held-out validation split,
keeping the best weights.  Stage lengths and patience are counted in optimizer steps
(:mod:`prospect_emu.network.recipe`), so the recipe scales with the set; a time budget ends
training with the best weights restored and the test statistics written.  Training is
seeded (``keras.utils.set_random_seed``); Keras uses a GPU where its backend sees one.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigurationError
from ..network.recipe import plan_stages, run_stages
from ..normalization import MASS_CONVENTION
from ..provenance import package_versions, utc_now
from ..trainingdata.trainingset import TrainingSet
from . import kinds, streaming
from .artifact import SCHEMA_VERSION, Emulator
from .errorstats import residual_statistics
from .photometric import PhotometricEmulator
from .training_base import (  # noqa: F401 - re-exported, where callers have always found them
    DEFAULT_SCHEDULE,
    MIN_SPLIT_GROUPS,
    NOT_INPUTS,
    PreparedData,
    TrainConfig,
    fit_schedule,
    prepare,
    save_artifact,
    split_by_group,
)


def train(data_path: str | Path, out: str | Path, config: TrainConfig | None = None,
          progress: bool = True, keep_keras: bool = True) -> Emulator:
    """Train an emulator of ``config.kind`` and write its artifact directory.

    Parameters
    ----------
    data_path : str or Path
        A training set written by :func:`prospect_emu.trainingdata.generate.generate`
        (with ``--store-spectrum`` for the spectral kind).
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
        The exported emulator of the kind's class, with test-set error statistics in
        ``meta["test_errors"]``.
    """
    config = config or TrainConfig()
    config.validate()
    build = kinds.get(config.kind).build()
    return build(data_path, out, config, progress=progress, keep_keras=keep_keras)


def train_photometry(data_path: str | Path, out: str | Path, config: TrainConfig,
                     progress: bool = True, keep_keras: bool = True) -> PhotometricEmulator:
    """Train a photometric emulator and write its artifact directory (the photometric
    kind's builder; :func:`train` checks ``config`` and calls it).

    Parameters
    ----------
    data_path : str or Path
        A training set written by :func:`prospect_emu.trainingdata.generate.generate`.
    out : str or Path
        The emulator directory to write (replaced atomically if it exists).
    config : TrainConfig
        Checked (``config.validate()``), ``kind == "photometry"``.
    progress : bool
        Show a progress bar.
    keep_keras : bool
        Also store ``model.keras`` beside the artifact, for continued training.

    Returns
    -------
    PhotometricEmulator
        The exported emulator, with test-set error statistics in ``meta["test_errors"]``.
    """
    try:
        import keras
    except ImportError as exc:
        raise ConfigurationError("training needs Keras 3 and a backend: pip install "
                                 "'prospect-emu[train]' (TensorFlow), or keras with jax or torch "
                                 "and KERAS_BACKEND set") from exc
    source = None   # the training rows streamed from the file (emulator.streaming)
    if streaming.wants_stream(data_path, config):
        data, prep, source = streaming.prepare_streamed(data_path, config)
    else:
        data = TrainingSet(data_path)
        prep = prepare(data, config)

    from ..network.architecture import build_network, export_layers

    keras.utils.set_random_seed(config.seed)
    xs = prep.inputs(prep.x).astype("float32")
    ys = prep.y.astype("float32")
    tr, va, te = prep.split["train"], prep.split["val"], prep.split["test"]
    n_train = len(tr) if source is None else len(source)
    model = build_network(xs.shape[1], ys.shape[1], config.width, config.depth, config.activation)
    stages = plan_stages(n_train, config.schedule, epochs=config.epochs, patience=config.patience,
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
                         on_skip=on_skip, train_source=source)
    finally:
        bar.close()
        if source is not None:
            source.close()
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
                     "history": history, "seconds": seconds, "n_train": int(n_train),
                     "steps_done": run["steps"], "stopped_by_budget": run["stopped_by_budget"],
                     "best_val_loss": run["best_val_loss"],
                     "n_val": int(len(va)), "n_test": int(len(te)), "n_excluded": prep.n_excluded,
                     "split": prep.split_info,
                     "streamed": None if source is None else streaming.stream_info(source, prep)},
        "training_set": {"path": str(Path(data_path).resolve()), "config": data.config,
                         "metadata": {k: v for k, v in data.metadata.items() if k != "failures"}},
        "versions": package_versions(),
        "provenance": config.provenance,
    }
    emu = PhotometricEmulator(meta, weights)
    # test-set errors through the numpy forward pass that inference uses
    pred = emu.predict(prep.x[te])
    resid = np.column_stack([pred.mags - prep.outputs.decode_mags(ys[te])[0],
                             np.log10(pred.mfrac) - np.log10(prep.mfrac[te])])
    names = list(data.filter_names) + ["log10_mfrac"]
    meta["test_errors"] = {**residual_statistics(resid, names), "units": "asinh mag (log10 for mfrac)"}
    save_artifact(emu, out, model, xs[te[:256]], keep_keras)
    return PhotometricEmulator.load(out)
