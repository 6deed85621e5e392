"""One catalog object, worker side: build the emulated model once per worker (from the
emulator's stored parameter file or ``--param-file``), make the object's ``obs`` (its bands,
masked per object, at its redshift), and fit it with a sampler: a name in :data:`SAMPLERS`
or ``"module:function"``, a function ``(model, obs, options) -> dict`` returning ``samples``
(n, ndim), ``weights`` (n,) and ``ncall``.  :mod:`prospect_emu.analysis.catalog` drives the
whole catalog.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from . import catalog_io as cio

#: Default sampler settings: dynesty, uniform sampling in ellipsoids, one static run.
DEFAULT_SAMPLER_OPTIONS: dict[str, Any] = {
    "sampler": "dynesty", "nlive": 150, "bound": "multi", "sample": "unif", "dlogz": 0.2,
    "maxcall": None, "nsamples": 1000, "seed": 0}


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
    from ..emulator.artifact import Emulator

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

    from ..paramfile import load_param_file
    from ..prospector.fitting import call_builder
    from ..prospector.twin import emulate

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

    from ..prospector.fitting import posterior_samples
    from ..prospector.likelihood import lnprobfn

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
    """nautilus over the batched emulated likelihood (:func:`prospect_emu.prospector.samplers.run_nautilus`):
    ``nlive`` live points (nautilus_nlive), stop at ``neff`` effective samples; ``maxcall``."""
    from ..prospector.samplers import run_nautilus

    # the fast settings of prospect-emu demo --nautilus: one small network per bound
    kw = {"nautilus_nlive": int(options["nlive"]), "nautilus_maxcall": options.get("maxcall"),
          "nautilus_neff": 2000, "nautilus_nnetworks": 1, "nautilus_nn_layers": "32,16",
          "nautilus_nn_maxiter": 300}
    res, _ = run_nautilus(obs, model, seed=options.get("seed"), **kw)
    w = np.exp(res["logwt"] - np.max(res["logwt"]))
    return {"samples": res["samples"], "weights": w / w.sum(), "ncall": int(np.sum(res["ncall"])),
            "logz": float(res["logz"][-1]), "output": None}


#: emcee settings of fit-catalog --sampler emcee (see benchmarks/bench_samplers.py)
CATALOG_EMCEE = {"nwalkers": 96, "niter": 192, "nburn": [16, 32, 64], "emcee_moves": "de_kde"}


def emcee_sampler(model, obs: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """emcee over the batched emulated likelihood (:func:`prospect_emu.prospector.emcee_sampler.run_emcee`):
    ``nwalkers``, ``niter``, ``nburn`` (default :data:`CATALOG_EMCEE`); the production chain,
    equal weights."""
    from ..prospector.emcee_sampler import run_emcee

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
