"""One catalog object, worker side: build the emulated model once per worker (from the
emulator's stored parameter file or ``--param-file``), make the object's ``obs`` (its bands,
masked per object, at its redshift), and fit it with a sampler: a name in the sampler
registry (:func:`prospect_emu.prospector.samplers.get_sampler`, with its ``catalog`` preset) or
``"module:function"``, a function ``(model, obs, options) -> dict`` returning ``samples``
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
from ..options import DEFAULT_ERROR_MODE
from . import catalog_io as cio


def _default_sampler_options() -> dict[str, Any]:
    """dynesty's ``catalog`` preset (the registry's) under fit-catalog's generic names."""
    from ..prospector.samplers import get_sampler

    dynesty = get_sampler("dynesty")
    preset = dynesty.preset("catalog").values
    generic = {k: preset[key] for k, key in dynesty.aliases.items() if key in preset}
    return {"sampler": "dynesty", **generic, "maxcall": None, "nsamples": 1000, "seed": 0}


#: Default sampler settings: dynesty's ``catalog`` preset (uniform sampling in ellipsoids,
#: one static run), 1000 stored draws, seed 0.
DEFAULT_SAMPLER_OPTIONS: dict[str, Any] = _default_sampler_options()


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
                 run_params: dict[str, Any] | None = None, emulator_error: str = DEFAULT_ERROR_MODE,
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
    from ..sps_home_patch import patch_prospector

    patch_prospector()  # its build_model may build a SpecModel where SPS_HOME is unset
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


def zred_range(emu, model, filters) -> tuple[float, float]:
    """The redshifts at which the emulator predicts ``filters`` (sedpy filters) for
    ``model``: the emulator's kind decides (a photometric emulator its zred training bounds
    or the model's fixed zred, a spectral one wherever the bands stay inside its rest-frame
    range)."""
    return emu.zred_coverage(filters, float(np.squeeze(model.params.get("zred", 0.0))))


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


def _registered(name: str) -> Callable[..., dict[str, Any]]:
    """The registry's sampler ``name`` as a fit-catalog sampler function (its ``catalog``
    preset updated with the generic options)."""
    from ..prospector.samplers import get_sampler

    sampler = get_sampler(name)

    def fit(model, obs: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        return sampler.fit_object(model, obs, options, preset=options.get("preset") or "catalog")
    fit.__name__ = fit.__qualname__ = f"{name}_sampler"
    fit.__doc__ = f"{sampler.summary}: its catalog preset updated with the options."
    return fit


def _registry_names() -> tuple[str, ...]:
    from ..prospector.samplers import REGISTRY

    return tuple(REGISTRY)


#: Samplers by name (the registry's), as ``(model, obs, options) -> {"samples", "weights",
#: "ncall", ...}`` functions.
SAMPLERS: dict[str, Callable[..., dict[str, Any]]] = {n: _registered(n) for n in _registry_names()}


def resolve_sampler(name: str | Callable) -> Callable[..., dict[str, Any]]:
    """A sampler function from a registered name, ``"module:function"`` or a callable.

    Raises
    ------
    ConfigurationError
        For a name neither registered nor importable; the message lists the registered ones.
    """
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
    raise ConfigurationError(f"unknown sampler {name!r}: the registered samplers are "
                             f"{', '.join(SAMPLERS)}; or give module:function")


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
    draws = equal_weight_draws(samples, res.get("weights"), int(opts["nsamples"]), opts.get("seed"))
    return {"samples": draws, "ncall": int(res.get("ncall") or 0), "seconds": seconds,
            "logz": float(res.get("logz", np.nan)), "output": res.get("output")}


def equal_weight_draws(samples: np.ndarray, weights: np.ndarray | None, n: int,
                       seed: int | None) -> np.ndarray:
    """``n`` equal-weight draws from weighted ``samples`` (equal weights where None), by
    systematic resampling, in random order.

    Sample ``i`` is drawn ``floor(n w_i)`` or ``ceil(n w_i)`` times (dynesty's
    ``resample_equal`` does the same): drawing independently with replacement would add its
    own multinomial noise, and leave ``n`` draws from weights of effective size ``E`` worth
    about ``1 / (1/E + 1/n)`` independent draws instead of nearly ``E``.
    """
    w = (np.full(len(samples), 1.0) if weights is None else np.asarray(weights, dtype=float))
    if len(w) == 0 or not (np.all(np.isfinite(w) & (w >= 0)) and np.sum(w) > 0):
        raise ValueError(f"cannot resample {len(w)} samples whose weights are not finite, "
                         "non-negative and of positive sum")
    rng = np.random.default_rng(None if seed is None else int(seed) + 1)
    edges = np.cumsum(w)
    positions = (rng.random() + np.arange(n)) / n * edges[-1]
    which = np.searchsorted(edges, positions, side="right")  # zero weights are never hit
    which = np.minimum(which, np.flatnonzero(w)[-1])  # a position rounded up to the last edge
    return samples[rng.permutation(which)]


def object_seed(seed: int | None, row: int) -> int | None:
    return None if seed is None else int(np.random.SeedSequence([int(seed), int(row)]).generate_state(1)[0])


def object_setup(source: ModelSource, task: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The worker's model at the object's redshift, the object's ``obs`` and its summary row
    so far."""
    model, filters = build_model(source)
    model.params["zred"] = np.atleast_1d(float(task["z"]))
    obs = make_obs(filters, task["maggies"], task["unc"], task["ok"])
    row = {"id": task["id"], "row": task["row"], "z": float(task["z"]), "nbands": int(np.sum(task["ok"]))}
    return model, obs, row


def sampler_name(sampler_options: dict[str, Any]) -> str:
    """How the route column names a sampler: its registered name or ``module:function``."""
    s = sampler_options.get("sampler")
    return s if isinstance(s, str) else getattr(s, "__name__", repr(s))


def fit_task(source: ModelSource, task: dict[str, Any], sampler_options: dict[str, Any],
             keep_output: bool = False) -> dict[str, Any]:
    """Fit one catalog row in a worker: the summary row and the float32 draws (free
    parameters, then derived quantities).  A sampler error makes a ``failed`` row;
    a ConfigurationError (a problem of the setup, not of the object) propagates."""
    model, obs, row = object_setup(source, task)
    row["route"] = sampler_name(sampler_options)
    opts = dict(sampler_options, seed=object_seed(sampler_options.get("seed"), task["row"]))
    t0 = time.perf_counter()
    try:
        fit = fit_object(model, obs, opts)
    except ConfigurationError:
        raise
    except Exception as exc:  # a sampler failure on this object: report it, go on
        return failed_row(row, exc, t0)
    return finish_row(model, obs, row, fit, t0, keep_output)


def failed_row(row: dict[str, Any], exc: Exception, t0: float) -> dict[str, Any]:
    """The result of an object whose fit raised ``exc``."""
    row.update(status=cio.FAILED, message=f"{type(exc).__name__}: {exc}"[:500], ncall=None,
               seconds=time.perf_counter() - t0)
    return {"row": row, "draws": None, "output": None}


def finish_row(model, obs: dict[str, Any], row: dict[str, Any], fit: dict[str, Any], t0: float,
               keep_output: bool = False) -> dict[str, Any]:
    """The summary row (percentiles of each parameter and derived quantity) and the float32
    draws of a fitted object; ``fit`` as :func:`fit_object` returns it."""
    from .derived import DERIVED, derived_quantities

    draws = fit["samples"]
    derived = derived_quantities(model, draws, obs)
    table = np.column_stack([draws] + [derived[k] for k in DERIVED])
    for j, name in enumerate(list(model.theta_labels()) + list(DERIVED)):
        col = table[:, j]
        col = col[np.isfinite(col)]
        q = np.percentile(col, [16, 50, 84]) if col.size else [np.nan] * 3
        row.update({f"{name}_p16": float(q[0]), f"{name}_p50": float(q[1]), f"{name}_p84": float(q[2])})
    row.setdefault("message", "")
    # ess: the importance step's effective sample size (amortized route), else NaN
    row.update(status=cio.OK, ncall=fit["ncall"], seconds=time.perf_counter() - t0,
               ess=fit.get("ess", np.nan))
    return {"row": row, "draws": table.astype(np.float32),
            "output": fit["output"] if keep_output else None, "obs": obs if keep_output else None}
