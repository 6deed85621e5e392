"""``prospect-emu fit-catalog``: fit every object of a photometric catalog with an emulator.

One model (the ``--param-file``, else the parameter-file text stored in the emulator)
is built once per worker and emulated; each object gets its redshift as the fixed
``zred``, its bands (masked per object) as ``obs``, and a fit through
:func:`prospect_emu.likelihood.lnprobfn` by :func:`fit_object`, in-process, with no
Prospector file per object unless asked.  The sampler is pluggable: ``fit_object``
calls ``sampler_options["sampler"]``, a name in :data:`SAMPLERS` (default ``dynesty``,
Prospector's ``fit_model`` with small settings suited to many objects) or
``"module:function"``, a function ``(model, obs, options) -> dict`` returning
``samples`` (n, ndim), ``weights`` (n,) and ``ncall``.

Work runs on local processes (``concurrent.futures.ProcessPoolExecutor``), a Dask
cluster (``distributed.Client(address).get_executor()``) or any executor; only the main
process writes.  Output layout and resumability: :mod:`prospect_emu.catalog_io`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import threading
import time
import types
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import catalog_io as cio
from .engines import open_executor
from .errors import ConfigurationError

#: Default sampler settings: dynesty, uniform sampling in ellipsoids, one static run.
DEFAULT_SAMPLER_OPTIONS: dict[str, Any] = {
    "sampler": "dynesty", "nlive": 150, "bound": "multi", "sample": "unif", "dlogz": 0.2,
    "maxcall": None, "nsamples": 1000, "seed": 0}

#: Seconds between rewrites of the summary table during a run (it is always written at the end).
SUMMARY_EVERY_S = 300.0


@dataclass(frozen=True)
class ModelSource:
    """What a worker needs to build the emulated model: picklable, small."""

    param_text: str
    param_path: str | None
    run_params: dict = field(hash=False)
    emulator: str
    emulator_error: str
    bands: tuple[str, ...]

    def key(self) -> str:
        blob = json.dumps([self.param_text, self.param_path, self.run_params, self.emulator,
                           self.emulator_error, self.bands], sort_keys=True, default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()


def model_source(emulator: str | Path, bands: Sequence[str], param_file: str | Path | None = None,
                 run_params: dict[str, Any] | None = None, emulator_error: str = "diag",
                 emu=None) -> ModelSource:
    """The model to fit with: ``param_file``, else the text stored in the emulator."""
    from .artifact import Emulator

    emu = emu or Emulator.load(emulator)
    run_params = dict(run_params or {})
    if param_file is not None:
        path = Path(param_file).resolve()
        if not path.is_file():
            raise ConfigurationError(f"--param-file {param_file} does not exist")
        return ModelSource(path.read_text(), str(path), run_params, str(Path(emulator).resolve()),
                           emulator_error, tuple(bands))
    config = emu.meta.get("training_set", {}).get("config", {})
    text = config.get("param_file_text")
    if not text:
        raise ConfigurationError(f"emulator {emulator} stores no parameter-file text: give the "
                                 "model with --param-file PARAM_FILE")
    stored = {k: v for k, v in (config.get("run_params") or {}).items()}
    stored.update(run_params)
    return ModelSource(text, None, stored, str(Path(emulator).resolve()), emulator_error, tuple(bands))


def _module_from_text(text: str) -> types.ModuleType:
    module = types.ModuleType("_prospect_emu_catalog_paramfile")
    try:
        exec(compile(text, "<parameter file stored in the emulator>", "exec"), module.__dict__)
    except Exception as exc:  # the user's code
        raise ConfigurationError(f"the parameter-file text stored in the emulator failed to run "
                                 f"({type(exc).__name__}: {exc}): give --param-file") from exc
    return module


_LOCAL = threading.local()


def build_model(source: ModelSource):
    """``(emulated model, sedpy filters)`` for ``source``, built once per thread."""
    cache = getattr(_LOCAL, "models", None)
    if cache is None:
        cache = _LOCAL.models = {}
    key = source.key()
    if key in cache:
        return cache[key]
    from sedpy.observate import load_filters

    from .fitting import call_builder
    from .model import emulate
    from .paramfile import load_param_file

    module = load_param_file(source.param_path) if source.param_path else _module_from_text(source.param_text)
    model = call_builder(module, "build_model", dict(source.run_params), "to build the model")
    if "zred" not in model.params:
        raise ConfigurationError("the model has no zred parameter: fit-catalog sets each object's "
                                 "redshift as zred; add zred (fixed) to the model")
    if "zred" in model.free_params:
        raise ConfigurationError("zred is a free parameter of the model: fit-catalog fixes it to each "
                                 "object's catalog redshift; make zred fixed (isfree=False)")
    twin = emulate(model, source.emulator, error=source.emulator_error)
    cache[key] = (twin, load_filters(list(source.bands)))
    return cache[key]


def zred_range(emu, model) -> tuple[float, float]:
    """The redshifts the emulator covers: its zred training bounds, or the model's fixed
    zred when zred is no emulator input."""
    if "zred" in emu.input_names:
        j = emu.input_names.index("zred")
        return float(emu.inputs.raw_lo[j]), float(emu.inputs.raw_hi[j])
    z = float(np.squeeze(model.params["zred"]))
    return z, z


def make_obs(filters, maggies: np.ndarray, unc: np.ndarray, ok: np.ndarray) -> dict[str, Any]:
    """A Prospector ``obs`` for one object; masked bands are NaN and out of ``phot_mask``."""
    from prospect.utils.obsutils import fix_obs

    ok = np.asarray(ok, dtype=bool)
    obs = {"filters": filters, "maggies": np.where(ok, maggies, np.nan),
           "maggies_unc": np.where(ok, unc, np.nan), "phot_mask": ok.copy(),
           "wavelength": None, "spectrum": None, "unc": None, "mask": None,
           "phot_wave": np.array([f.wave_effective for f in filters])}
    return fix_obs(obs)


# ---------------------------------------------------------------- samplers

_SEED = threading.local()


def _install_seeded_dynesty() -> None:
    """Let Prospector's dynesty run take a per-thread seed (it creates the sampler without
    an ``rstate``).  Transparent when no seed is set; installed once per process."""
    import prospect.fitting.nested as nested

    if getattr(nested.dynesty, "_prospect_emu_catalog", False):
        return
    real = nested.dynesty

    class _SeededDynesty:
        _prospect_emu_catalog = True

        def __getattr__(self, name):
            return getattr(real, name)

        def DynamicNestedSampler(self, *args, **kwargs):  # noqa: N802 - dynesty's name
            seed = getattr(_SEED, "seed", None)
            if seed is not None:
                kwargs.setdefault("rstate", np.random.default_rng(seed))
            return real.DynamicNestedSampler(*args, **kwargs)

    nested.dynesty = _SeededDynesty()


def dynesty_sampler(model, obs: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """dynesty through Prospector's ``fit_model``: ``nlive`` live points, ``bound``,
    ``sample``, stop at ``dlogz`` (or ``maxcall``), no batches."""
    from prospect.fitting import fit_model

    from .fitting import posterior_samples
    from .likelihood import lnprobfn

    _install_seeded_dynesty()
    kw = {"nested_nlive_init": int(options["nlive"]), "nested_bound": options["bound"],
          "nested_sample": options["sample"], "nested_dlogz_init": float(options["dlogz"]),
          "nested_maxbatch": 0, "nested_maxcall_init": options.get("maxcall"),
          "print_progress": False, "verbose": False}
    if options.get("walks") is not None:
        kw["nested_walks"] = int(options["walks"])
    _SEED.seed = options.get("seed")
    try:
        output = fit_model(obs, model, None, noise=(None, None), lnprobfn=lnprobfn, dynesty=True,
                           optimize=False, emcee=False, **kw)
    finally:
        _SEED.seed = None
    res = output["sampling"][0]
    samples, weights = posterior_samples(output)
    return {"samples": samples, "weights": weights, "ncall": int(np.sum(res["ncall"])),
            "logz": float(res["logz"][-1]), "output": output}


def nautilus_sampler(model, obs: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """nautilus over the batched emulated likelihood (:func:`prospect_emu.samplers.run_nautilus`):
    ``nlive`` live points (nautilus_nlive), stop at ``neff`` effective samples; ``maxcall``."""
    from .samplers import run_nautilus

    # the fast settings of prospect-emu demo --nautilus: one small network per bound
    kw = {"nautilus_nlive": int(options["nlive"]), "nautilus_maxcall": options.get("maxcall"),
          "nautilus_neff": 2000, "nautilus_nnetworks": 1, "nautilus_nn_layers": "32,16",
          "nautilus_nn_maxiter": 300}
    res, _ = run_nautilus(obs, model, seed=options.get("seed"), **kw)
    w = np.exp(res["logwt"] - np.max(res["logwt"]))
    return {"samples": res["samples"], "weights": w / w.sum(), "ncall": int(np.sum(res["ncall"])),
            "logz": float(res["logz"][-1]), "output": None}


#: emcee settings of fit-catalog --sampler emcee (see benchmarks/bench_samplers.py)
CATALOG_EMCEE = {"nwalkers": 96, "niter": 192, "nburn": [16, 32, 64], "emcee_moves": "kde"}


def emcee_sampler(model, obs: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """emcee over the batched emulated likelihood (:func:`prospect_emu.emcee_sampler.run_emcee`):
    ``nwalkers``, ``niter``, ``nburn`` (default :data:`CATALOG_EMCEE`); the production chain,
    equal weights."""
    from .emcee_sampler import run_emcee

    kw = dict(CATALOG_EMCEE)
    kw.update({k: options[k] for k in ("nwalkers", "niter", "nburn") if options.get(k) is not None})
    res, _ = run_emcee(obs, model, seed=options.get("seed"), **kw)
    return {"samples": res["flatchain"], "weights": None, "ncall": int(np.sum(res["ncall"])),
            "logz": np.nan, "output": None}


#: Samplers by name: ``(model, obs, options) -> {"samples", "weights", "ncall", ...}``.
SAMPLERS: dict[str, Callable[..., dict[str, Any]]] = {"dynesty": dynesty_sampler,
                                                      "nautilus": nautilus_sampler,
                                                      "emcee": emcee_sampler}


def resolve_sampler(name: str | Callable) -> Callable[..., dict[str, Any]]:
    """A sampler function from a name in :data:`SAMPLERS`, ``"module:function"`` or a callable."""
    if callable(name):
        return name
    if name in SAMPLERS:
        return SAMPLERS[name]
    mod, colon, func = str(name).partition(":")
    if colon:
        try:
            return getattr(importlib.import_module(mod), func)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(f"sampler {name!r} cannot be imported ({exc})") from exc
    raise ConfigurationError(f"unknown sampler {name!r}: use one of {list(SAMPLERS)} or "
                             "module:function")


def fit_object(model, obs: dict[str, Any], sampler_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit one object; the unit a batched sampler can replace.

    Parameters
    ----------
    model : EmulatedSpecModel
        With the object's fixed parameters (``zred``) already set.
    obs : dict
        Prospector observations (:func:`make_obs`).
    sampler_options : dict, optional
        :data:`DEFAULT_SAMPLER_OPTIONS` overridden: ``sampler`` (name or
        ``module:function``), its settings, ``nsamples`` equal-weight draws to keep and
        ``seed``.

    Returns
    -------
    dict
        ``samples`` (nsamples, ndim) equal-weight posterior draws, ``ncall``,
        ``seconds``, ``logz`` (NaN when the sampler gives none) and the sampler's
        ``output``.
    """
    opts = dict(DEFAULT_SAMPLER_OPTIONS)
    opts.update(sampler_options or {})
    sampler = resolve_sampler(opts["sampler"])
    t0 = time.perf_counter()
    res = sampler(model, obs, opts)
    seconds = time.perf_counter() - t0
    samples = np.asarray(res["samples"], dtype=float)
    w = res.get("weights")
    w = np.full(len(samples), 1.0 / len(samples)) if w is None else np.asarray(w, dtype=float) / np.sum(w)
    rng = np.random.default_rng(None if opts.get("seed") is None else int(opts["seed"]) + 1)
    draws = samples[rng.choice(len(samples), size=int(opts["nsamples"]), p=w)]
    return {"samples": draws, "ncall": int(res.get("ncall") or 0), "seconds": seconds,
            "logz": float(res.get("logz", np.nan)), "output": res.get("output")}


def _object_seed(seed: int | None, row: int) -> int | None:
    return None if seed is None else int(np.random.SeedSequence([int(seed), int(row)]).generate_state(1)[0])


def fit_task(source: ModelSource, task: dict[str, Any], sampler_options: dict[str, Any],
             keep_output: bool = False) -> dict[str, Any]:
    """Fit one catalog row in a worker: the summary row and the float32 draws (free
    parameters, then derived quantities).  A sampler error makes a ``failed`` row;
    a ConfigurationError (a problem of the setup, not of the object) propagates."""
    from .derived import DERIVED, derived_quantities

    model, filters = build_model(source)
    model.params["zred"] = np.atleast_1d(float(task["z"]))
    obs = make_obs(filters, task["maggies"], task["unc"], task["ok"])
    row = {"id": task["id"], "row": task["row"], "z": float(task["z"]), "nbands": int(np.sum(task["ok"]))}
    opts = dict(sampler_options, seed=_object_seed(sampler_options.get("seed"), task["row"]))
    t0 = time.perf_counter()
    try:
        fit = fit_object(model, obs, opts)
    except ConfigurationError:
        raise
    except Exception as exc:  # a sampler failure on this object: report it, go on
        row.update(status=cio.FAILED, message=f"{type(exc).__name__}: {exc}"[:500], ncall=None,
                   seconds=time.perf_counter() - t0)
        return {"row": row, "draws": None, "output": None}
    draws = fit["samples"]
    derived = derived_quantities(model, draws, obs)
    table = np.column_stack([draws] + [derived[k] for k in DERIVED])
    for j, name in enumerate(list(model.theta_labels()) + list(DERIVED)):
        col = table[:, j]
        col = col[np.isfinite(col)]
        q = np.percentile(col, [16, 50, 84]) if col.size else [np.nan] * 3
        row.update({f"{name}_p16": float(q[0]), f"{name}_p50": float(q[1]), f"{name}_p84": float(q[2])})
    row.update(status=cio.OK, message="", ncall=fit["ncall"], seconds=time.perf_counter() - t0)
    return {"row": row, "draws": table.astype(np.float32),
            "output": fit["output"] if keep_output else None, "obs": obs if keep_output else None}


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
                param_file: str | Path | None = None, run_params: dict[str, Any] | None = None,
                emulator_error: str = "diag", column_map: dict | None = None,
                flux_unit: str = "maggies", z_column: str | None = None, id_column: str | None = None,
                flag_column: str | None = None, flag_value: str | None = None,
                missing_value: float | None = None, sampler_options: dict[str, Any] | None = None,
                workers: int | None = None, dask_scheduler: str | None = None,
                executor: Executor | None = None, max_objects: int | None = None,
                summary_name: str = "summary.ecsv", overwrite: bool = False,
                full_results: bool = False, progress: bool = True) -> CatalogReport:
    """Fit every row of a catalog; resumable.  See the module notes and
    :func:`prospect_emu.catalog_io.load_catalog` for the catalog options.

    Parameters
    ----------
    catalog, emulator, out : path
        The table, the emulator directory and the output folder.
    param_file : path, optional
        The model; default: the parameter-file text stored in the emulator.
    run_params : dict, optional
        Passed to ``build_model``.
    sampler_options : dict, optional
        Overrides of :data:`DEFAULT_SAMPLER_OPTIONS`.
    workers : int, optional
        Local processes (default: all cores; 1: in this process).
    dask_scheduler : str, optional
        Address of a Dask scheduler to run on instead.
    executor : Executor, optional
        Any ``concurrent.futures`` executor instead.
    max_objects : int, optional
        Fit at most this many objects in this run (a rerun continues).
    summary_name : str
        File name of the summary in ``out``: ``.ecsv`` (default), ``.fits``, ``.csv``, ``.h5``.
    overwrite : bool
        Start again in a folder holding an earlier fit with other settings.
    full_results : bool
        Also write Prospector's HDF5 result per object in ``out/full/``.
    """
    from tqdm.auto import tqdm

    from .artifact import Emulator
    from .derived import DERIVED
    from .fitting import write_result
    from .trainingset import config_hash, deferred_interrupts

    emu = Emulator.load(emulator)
    opts = dict(DEFAULT_SAMPLER_OPTIONS)
    opts.update(sampler_options or {})
    unknown = set(opts) - set(DEFAULT_SAMPLER_OPTIONS) - {"walks", "nwalkers", "niter", "nburn"}
    if unknown and opts["sampler"] in SAMPLERS:
        raise ConfigurationError(f"unknown sampler options {sorted(unknown)}")
    resolve_sampler(opts["sampler"])
    data = cio.load_catalog(catalog, emu.filter_names, column_map=column_map, flux_unit=flux_unit,
                            z_column=z_column, id_column=id_column, flag_column=flag_column,
                            flag_value=flag_value, missing_value=missing_value)
    bands = [b.band for b in data.bands]
    source = model_source(emulator, bands, param_file, run_params, emulator_error, emu=emu)
    model, _ = build_model(source)
    labels = list(model.theta_labels())
    columns = labels + list(DERIVED)
    zrange = zred_range(emu, model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary_path, samples_path = out / summary_name, out / "samples.h5"
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
    if overwrite and samples_path.exists():
        samples_path.unlink()
    journal = cio.Journal(out / "progress.jsonl", config, config_hash(config), overwrite=overwrite)
    if full_results:
        (out / "full").mkdir(exist_ok=True)
        pf = out / "param_file.py"
        if not pf.exists():
            pf.write_text(source.param_text)
        full_run_params = dict(source.run_params, emulator=source.emulator,
                               emulator_error=emulator_error, dynesty=True,
                               param_file=str(source.param_path or pf))

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

    def task(i: int) -> dict[str, Any]:
        return {"row": i, "id": data.ids[i], "z": float(data.z[i]), "maggies": data.maggies[i],
                "unc": data.unc[i], "ok": data.band_ok[i]}

    bar = tqdm(total=len(todo), unit="obj", desc="fit-catalog", disable=not progress,
               dynamic_ncols=True, smoothing=0.1)
    fitted = 0
    t0 = last_summary = time.perf_counter()

    def _summary() -> None:
        rows = sorted(journal.rows.values(), key=lambda r: r["row"])
        cio.write_summary(summary_path, cio.summary_table(rows, columns))

    def _write(res: dict[str, Any]) -> None:
        nonlocal fitted, last_summary
        row = res["row"]
        with deferred_interrupts():
            if res["draws"] is not None:
                cio.write_samples(samples_path, columns, [(row["id"], row["row"], res["draws"])])
            if full_results and res.get("output") is not None:
                model.params["zred"] = np.atleast_1d(row["z"])
                hfile = out / "full" / f"{cio._dataset_name(row['id'])}_result.h5"
                # results_from rebuilds the model with build_model(**run_params): pass zred
                write_result(hfile, dict(full_run_params, zred=row["z"], catalog_id=row["id"]), model,
                             res["obs"], res["output"], None)
            journal.append([row])
        fitted += 1
        bar.update(1)
        now = time.perf_counter()
        bar.set_postfix_str(f"{60.0 * fitted / max(now - t0, 1e-9):.1f} obj/min")
        if now - last_summary > SUMMARY_EVERY_S:  # a current summary also during long runs
            with deferred_interrupts():
                _summary()
            last_summary = now

    try:
        if executor is None and dask_scheduler is None and (workers or os.cpu_count() or 1) == 1:
            for i in todo:
                _write(fit_task(source, task(i), opts, full_results))
        else:
            own_close = None
            if executor is None:
                executor, own_close = open_executor(workers, dask_scheduler)
            window = 4 * (workers or os.cpu_count() or 1)
            pending: set = set()
            it = iter(todo)
            try:
                while True:
                    for i in it:
                        pending.add(executor.submit(fit_task, source, task(i), opts, full_results))
                        if len(pending) >= window:
                            break
                    if not pending:
                        break
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        _write(fut.result())
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
            finally:
                if own_close is not None:
                    own_close()
    finally:
        seconds = time.perf_counter() - t0
        bar.close()
        _summary()
    counts: dict[str, int] = {}
    for r in journal.rows.values():
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return CatalogReport(out, summary_path, samples_path, len(data.ids), len(journal.rows), counts,
                         fitted, seconds)
