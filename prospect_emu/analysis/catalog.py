"""``prospect-emu fit-catalog``: fit every object of a photometric catalog with an emulator.

One model (the ``--param-file``, else the parameter-file text stored in the emulator)
is built once per worker and emulated; each object gets its redshift as the fixed
``zred``, its bands (masked per object) as ``obs``, and a fit through
:func:`prospect_emu.prospector.likelihood.lnprobfn` by
:func:`~prospect_emu.analysis.catalog_object.fit_object`, in-process, with no
Prospector file per object unless asked.  The sampler is pluggable: ``fit_object``
calls ``sampler_options["sampler"]``, a name in the sampler registry
(:func:`prospect_emu.prospector.samplers.get_sampler`: ``dynesty``, the default, ``emcee``
or ``nautilus``, each with its ``catalog`` preset, small settings suited to many objects) or
``"module:function"``, a function ``(model, obs, options) -> dict`` returning
``samples`` (n, ndim), ``weights`` (n,) and ``ncall``.

Work runs on local processes (``concurrent.futures.ProcessPoolExecutor``), a Dask
cluster (``distributed.Client(address).get_executor()``) or any executor; only the main
process writes.  Output layout and resumability: :mod:`prospect_emu.analysis.catalog_io`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engines import in_process, open_executor
from ..errors import ConfigurationError
from . import catalog_io as cio
from .catalog_config import CatalogConfig
from .catalog_object import (
    DEFAULT_SAMPLER_OPTIONS,
    SAMPLERS,
    build_model,
    fit_task,
    model_source,
    resolve_sampler,
    zred_range,
)

#: Seconds between rewrites of the summary table during a run (it is always written at the end).
SUMMARY_EVERY_S = 300.0
@dataclass
class CatalogReport:
    """What :func:`fit_catalog` did."""

    out: Path
    summary: Path
    samples: Path
    n_rows: int
    n_done: int
    counts: dict[str, int]
    fitted_now: int
    seconds: float

    @property
    def rate_per_hour(self) -> float:
        """Objects fitted per hour in this run (wall clock of the fitting loop)."""
        return 3600.0 * self.fitted_now / self.seconds if self.seconds > 0 else float("nan")

    @property
    def complete(self) -> bool:
        return self.n_done == self.n_rows

    def __str__(self) -> str:
        parts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items()))
        lines = [f"{self.n_done}/{self.n_rows} objects done ({parts})"]
        if self.fitted_now:
            lines.append(f"fitted {self.fitted_now} objects in {self.seconds:.1f} s: "
                         f"{self.rate_per_hour:.0f} objects/hour")
        if not self.complete:
            lines.append(f"{self.n_rows - self.n_done} objects left: rerun the same command to continue")
        lines.append(f"wrote {self.summary} and {self.samples}")
        return "\n".join(lines)


def fit_catalog(catalog: str | Path, emulator: str | Path, out: str | Path, *,
                config: CatalogConfig | None = None, param_file: str | Path | None = None,
                run_params: dict[str, Any] | None = None,
                sampler_options: dict[str, Any] | None = None, executor: Executor | None = None,
                progress: bool = True, **options: Any) -> CatalogReport:
    """Fit every row of a catalog; resumable.  See the module notes and
    :func:`prospect_emu.analysis.catalog_io.load_catalog` for the catalog options.

    Parameters
    ----------
    catalog, emulator, out : path
        The table, the emulator directory and the output folder.
    config : CatalogConfig, optional
        The fit's options (:class:`~prospect_emu.analysis.catalog_config.CatalogConfig`:
        emulator error, catalog columns and units, sampler settings, workers, Dask,
        ``max_objects``, summary name, ``overwrite``, ``full_results``); default: its
        defaults.
    param_file : path, optional
        The model; default: the parameter-file text stored in the emulator.
    run_params : dict, optional
        Passed to ``build_model``.
    sampler_options : dict, optional
        Sampler options overriding ``config``'s (a function sampler's own options too).
    executor : Executor, optional
        Any ``concurrent.futures`` executor instead of local processes or Dask.
    progress : bool
        Show a progress bar.
    **options
        Fields of :class:`CatalogConfig`, replacing ``config``'s (``flux_unit="nJy"``,
        ``workers=1``, ``max_objects=10``, ...).

    Raises
    ------
    TypeError
        For an option that is not a field of :class:`CatalogConfig`.
    """
    cfg = CatalogConfig.build(config, options)
    emulator_error, flux_unit = cfg.emulator_error, cfg.flux_unit
    flag_column, flag_value, missing_value = cfg.flag_column, cfg.flag_value, cfg.missing_value
    workers, dask_scheduler, full_results = cfg.workers, cfg.dask_scheduler, cfg.full_results
    from ..emulator.artifact import Emulator
    from ..filters import load_filters
    from ..trainingdata.trainingset import config_hash
    from .derived import DERIVED

    emu = Emulator.load(emulator)
    given = {**cfg.sampler_options(), **(sampler_options or {})}
    opts = _sampler_options(given)
    data = cio.load_catalog(catalog, emu.filter_names, column_map=cfg.column_map,
                            flux_unit=flux_unit, z_column=cfg.z_column,
                            id_column=cfg.id_column, flag_column=flag_column,
                            flag_value=flag_value, missing_value=missing_value)
    bands = [b.band for b in data.bands]
    source = model_source(emulator, bands, param_file, run_params, emulator_error, emu=emu)
    model, _ = build_model(source)
    opts = _sampler_options(given, model.ndim, say=progress)
    task_fn = fit_task
    if cfg.posterior is not None:
        from ..amortized.route import fit_task as task_fn
        from ..amortized.route import load_posterior

        load_posterior(cfg.posterior, source)  # refuses another model, emulator or bands now
        opts.update(cfg.route_options())
    columns = list(model.theta_labels()) + list(DERIVED)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary_path, samples_path = out / cfg.summary_name, out / "samples.h5"
    config = _run_config(data, source, emu, opts, columns, flux_unit=flux_unit,
                         flag_column=flag_column, flag_value=flag_value,
                         missing_value=missing_value)
    if cfg.overwrite and samples_path.exists():
        samples_path.unlink()
    journal = cio.Journal(out / "progress.jsonl", config, config_hash(config),
                          overwrite=cfg.overwrite)
    todo = _rows_to_fit(data, journal, zred_range(emu, model, load_filters(bands)),
                        cfg.max_objects)
    writer = _Writer(out, journal, columns, summary_path, samples_path, model, len(todo), progress)
    if full_results:
        writer.keep_full_results(source, emulator_error)

    def task(i: int) -> dict[str, Any]:
        return {"row": i, "id": data.ids[i], "z": float(data.z[i]), "maggies": data.maggies[i],
                "unc": data.unc[i], "ok": data.band_ok[i]}

    tasks = (task(i) for i in todo)
    try:
        if in_process(workers, dask_scheduler, executor):
            for t in tasks:
                writer.write(task_fn(source, t, opts, full_results))
        else:
            _run_on_executor(task_fn, tasks, source, opts, full_results, writer, workers,
                             executor, dask_scheduler)
    finally:
        seconds = writer.close()
    counts: dict[str, int] = {}
    for r in journal.rows.values():
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return CatalogReport(out, summary_path, samples_path, len(data.ids), len(journal.rows), counts,
                         writer.fitted, seconds)


def _sampler_options(sampler_options: dict[str, Any] | None, ndim: int | None = None,
                     say: bool = False) -> dict[str, Any]:
    """The defaults updated with the user's options, checked (and the sampler resolved).
    Where no sampler is named and the model's ``ndim`` is given, the sampler registry's
    table by dimension chooses it (``choose_sampler``, its catalog preset), said where ``say``."""
    user = {k: v for k, v in (sampler_options or {}).items() if v is not None}
    opts = dict(DEFAULT_SAMPLER_OPTIONS)
    if "sampler" not in user and ndim is not None:
        from ..prospector.samplers import choose_sampler

        choice = choose_sampler({}, ndim, catalog=True)
        if (choice.sampler, choice.preset) != (opts["sampler"], "catalog"):
            # None: the chosen preset's value (fit_object merges the defaults in again)
            opts = {k: v if k in ("maxcall", "nsamples", "seed") else None for k, v in opts.items()}
            opts.update(sampler=choice.sampler, preset=choice.preset)
        if say:
            print(f"prospect-emu fit-catalog: {choice.describe()}", flush=True)
    opts.update(user)
    unknown = set(opts) - set(DEFAULT_SAMPLER_OPTIONS) - {"walks", "nwalkers", "niter", "nburn",
                                                          "preset"}
    if unknown and opts["sampler"] in SAMPLERS:
        raise ConfigurationError(f"unknown sampler options {sorted(unknown)}")
    resolve_sampler(opts["sampler"])
    return opts


def _run_config(data, source, emu, opts: dict[str, Any], columns: list[str], *, flux_unit: str,
                flag_column, flag_value, missing_value) -> dict[str, Any]:
    """What a resumed run must share with the first: the catalog's contents, the column
    mapping, the model, the emulator and the sampler settings."""
    digest = hashlib.sha256(json.dumps(data.ids).encode())
    for arr in (data.z, data.maggies, data.unc, data.band_ok, data.flagged):
        digest.update(np.ascontiguousarray(arr).tobytes())
    config = {"catalog": digest.hexdigest(),
              "bands": [[b.band, b.flux, b.unc, b.flag] for b in data.bands], "flux_unit": flux_unit,
              "z_column": data.z_column, "id_column": data.id_column, "flag_column": flag_column,
              "flag_value": flag_value, "missing_value": missing_value, "model": source.key(),
              "emulator": hashlib.sha256(json.dumps(emu.meta, sort_keys=True, default=repr)
                                         .encode()).hexdigest(),
              "sampler": {k: (v if isinstance(v, (int, float, str, type(None))) else repr(v))
                          for k, v in opts.items()}, "columns": columns}
    if opts.get("posterior") is not None:  # the flow's weights, not only its path
        from ..amortized.posterior import WEIGHTS_FILE

        config["posterior_sha256"] = hashlib.sha256(
            (Path(opts["posterior"]) / WEIGHTS_FILE).read_bytes()).hexdigest()
    return config


def _rows_to_fit(data, journal, zrange: tuple[float, float], max_objects: int | None) -> list[int]:
    """Rows not yet in the journal that can be fitted; bad rows are journaled as skipped."""
    from ..trainingdata.trainingset import deferred_interrupts

    todo, skipped = [], []
    for i, obj_id in enumerate(data.ids):
        if obj_id in journal.rows:
            continue
        problem = cio.row_problem(data, i, zrange)
        if problem is None:
            todo.append(i)
        else:
            skipped.append({"id": obj_id, "row": i, "z": float(data.z[i]), "status": problem[0],
                            "message": problem[1], "ncall": None, "seconds": 0.0,
                            "nbands": int(data.band_ok[i].sum())})
    if skipped:
        with deferred_interrupts():
            journal.append(skipped)
    if max_objects is not None:
        todo = todo[:max(int(max_objects), 0)]
    return todo


class _Writer:
    """Writes each fitted object as it arrives (samples, optional full result, then the
    journal line, with interrupts held back), keeps the progress bar and rewrites the
    summary table every :data:`SUMMARY_EVERY_S` seconds and at the end."""

    def __init__(self, out: Path, journal, columns: list[str], summary_path: Path,
                 samples_path: Path, model, n_todo: int, progress: bool):
        from tqdm.auto import tqdm

        self.out, self.journal, self.columns, self.model = out, journal, columns, model
        self.summary_path, self.samples_path = summary_path, samples_path
        self.full_run_params: dict[str, Any] | None = None
        self.bar = tqdm(total=n_todo, unit="obj", desc="fit-catalog", disable=not progress,
                        dynamic_ncols=True, smoothing=0.1)
        self.fitted = 0
        self.t0 = self.last_summary = time.perf_counter()

    def keep_full_results(self, source, emulator_error: str) -> None:
        """Also write Prospector's HDF5 result per object in ``out/full/``."""
        (self.out / "full").mkdir(exist_ok=True)
        pf = self.out / "param_file.py"
        if not pf.exists():
            pf.write_text(source.param_text)
        self.full_run_params = dict(source.run_params, emulator=source.emulator,
                                    emulator_error=emulator_error, dynesty=True,
                                    param_file=str(source.param_path or pf))

    def summary(self) -> None:
        rows = sorted(self.journal.rows.values(), key=lambda r: r["row"])
        cio.write_summary(self.summary_path, cio.summary_table(rows, self.columns))

    def write(self, res: dict[str, Any]) -> None:
        from ..prospector.fitting import write_result
        from ..trainingdata.trainingset import deferred_interrupts

        row = res["row"]
        with deferred_interrupts():
            if res["draws"] is not None:
                cio.write_samples(self.samples_path, self.columns,
                                  [(row["id"], row["row"], res["draws"])])
            if self.full_run_params is not None and res.get("output") is not None:
                self.model.params["zred"] = np.atleast_1d(row["z"])
                hfile = self.out / "full" / f"{cio._dataset_name(row['id'])}_result.h5"
                # results_from rebuilds the model with build_model(**run_params): pass zred
                write_result(hfile, dict(self.full_run_params, zred=row["z"], catalog_id=row["id"]),
                             self.model, res["obs"], res["output"], None)
            self.journal.append([row])
        self.fitted += 1
        self.bar.update(1)
        now = time.perf_counter()
        self.bar.set_postfix_str(f"{60.0 * self.fitted / max(now - self.t0, 1e-9):.1f} obj/min")
        if now - self.last_summary > SUMMARY_EVERY_S:  # a current summary also during long runs
            with deferred_interrupts():
                self.summary()
            self.last_summary = now

    def close(self) -> float:
        """Close the bar and write the summary; the seconds spent fitting."""
        seconds = time.perf_counter() - self.t0
        self.bar.close()
        self.summary()
        return seconds


def _run_on_executor(task_fn, tasks, source, opts: dict[str, Any], full_results: bool,
                     writer: _Writer, workers: int | None, executor: Executor | None,
                     dask_scheduler: str | None) -> None:
    """Fit the tasks with ``task_fn`` on an executor, a window of a few per worker in flight
    at a time, writing each result in this process as it completes; pending work is
    cancelled on any error."""
    own_close = None
    if executor is None:
        executor, own_close = open_executor(workers, dask_scheduler)
    window = 4 * (workers or os.cpu_count() or 1)
    pending: set = set()
    try:
        while True:
            for t in tasks:
                pending.add(executor.submit(task_fn, source, t, opts, full_results))
                if len(pending) >= window:
                    break
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                writer.write(fut.result())
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise
    finally:
        if own_close is not None:
            own_close()
