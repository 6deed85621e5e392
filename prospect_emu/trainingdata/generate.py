"""Generate a training set: run a Prospector model over parameter draws, in chunks.

The main process draws every parameter row up front (from the seed alone), writes
them to the HDF5 file, and hands chunks of rows to workers: the calling process, a
local process pool, a Dask cluster, or any ``concurrent.futures.Executor``.  Each
worker builds the model and sps from the parameter file once (FSPS objects do not
pickle) and returns the chunk's photometry; only the main process writes the file.

Cost per SED with FSPS on the shared test tree (2-core machine): a new
``StellarPopulation`` ~3.5 s, then each isochrone metallicity first used ~1.4 s
(SSPs are cached per metallicity bin), then ~5 ms per SED, or ~1 ms when only
mass and redshift change since the previous row (the rest-frame spectrum is reused;
see :func:`prospect_emu.trainingdata.sampling.share_spectra`).  ``benchmarks/bench_generate.py``
measures these against naive prior draws.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..engines import open_executor
from ..errors import ConfigurationError
from ..filters import filter_hash, filter_names, load_filters
from ..normalization import MASS_CONVENTION, model_scaling
from ..paramfile import load_param_file, run_params_for_json
from ..provenance import package_versions, utc_now
from . import trainingset as ts
from .sampling import (
    ParameterSpace,
    apply_blocks,
    derived_dependencies,
    same_state,
    sampler_from_spec,
    share_spectra,
    spectrum_state,
)

#: ``block_param`` default: ``logzsol`` where it is sampled, else no blocks.
AUTO_BLOCK_PARAM = "auto"


@dataclass(frozen=True)
class ModelSource:
    """A picklable recipe for the model and sps: a parameter file and its run_params."""

    param_file: str
    run_params: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return json.dumps([self.param_file, run_params_for_json(self.run_params)], sort_keys=True)


# Built (model, sps) per worker process, keyed by ModelSource.key().
_BUILT: dict[str, tuple[Any, Any]] = {}


def build_from_source(source: ModelSource, with_sps: bool = True) -> tuple[Any, Any, Any]:
    """Build (module, model, sps) from a parameter file; sps is cached per process."""
    module = load_param_file(source.param_file)
    key = source.key()
    if with_sps and key in _BUILT:
        return module, *_BUILT[key]
    model = module.build_model(**source.run_params)
    sps = None
    if with_sps:
        if not callable(getattr(module, "build_sps", None)):
            raise ConfigurationError(f"parameter file {source.param_file} defines no "
                                     "build_sps(**run_params), needed to generate SEDs")
        sps = module.build_sps(**source.run_params)
        _BUILT[key] = (model, sps)
    return module, model, sps


def _spectrum_reusable(model) -> bool:
    """Whether photometry at another mass/redshift can reuse the rest-frame spectrum."""
    from prospect.models import SpecModel

    if not isinstance(model, SpecModel):
        return False
    p = model.params
    return not (np.any(p.get("add_igm_absorption", False)) or np.any(p.get("add_neb_emission", False)))


#: relative margin on the default rest-frame wavelength range of stored spectra
WAVE_MARGIN = 0.1


def default_wave_range(filters, zred_range: Sequence[float]) -> tuple[float, float]:
    """The rest-frame range (AA) that covers ``filters`` over ``zred_range``, plus a margin.

    A filter's transmission spans [lo, hi] observed; at redshift z it samples the rest frame
    [lo / (1 + z), hi / (1 + z)], so the union over z in [z0, z1] is
    [lo_min / (1 + z1), hi_max / (1 + z0)]; then ``WAVE_MARGIN`` (10%) on either side.
    """
    los, his = [], []
    for f in filters:
        pos = np.flatnonzero(np.asarray(f.transmission) > 0)
        w = np.asarray(f.wavelength)[pos]
        los.append(w.min())
        his.append(w.max())
    z0, z1 = (float(z) for z in zred_range)
    return (float(min(los) / (1 + z1) * (1 - WAVE_MARGIN)),
            float(max(his) / (1 + z0) * (1 + WAVE_MARGIN)))


def wave_slice(wavelength: np.ndarray, wave_range: Sequence[float] | None) -> slice:
    """The fewest contiguous pixels of ``wavelength`` covering ``wave_range``: the first at
    or below its low end, the last at or above its high end (or the grid's ends)."""
    if wave_range is None:
        return slice(None)
    lo, hi = wave_range
    i0 = max(int(np.searchsorted(wavelength, lo, side="right")) - 1, 0)
    i1 = min(int(np.searchsorted(wavelength, hi, side="left")), len(wavelength) - 1)
    return slice(i0, i1 + 1)


def compute_rows(model, sps, rows: np.ndarray, names: Sequence[str], ndim: int, filters,
                 store_spectrum: bool = False, first_row: int = 0,
                 wave_range: Sequence[float] | None = None) -> dict[str, Any]:
    """Photometry per unit formed mass at 10 pc for each parameter row.

    A row reuses the previous row's rest-frame spectrum (SpecModel without IGM
    absorption or nebular emission) only when every model parameter that can change
    it, after the model's ``depends_on`` parameters were computed for the row, is
    unchanged (:func:`~prospect_emu.trainingdata.sampling.spectrum_state`): rows differing only in
    ``zred``, ``lumdist`` or a scalar ``mass``.

    Parameters
    ----------
    model, sps
        A Prospector model and its source object.
    rows : ndarray, (n, P)
        Parameter rows: the first ``ndim`` columns are theta, the rest are fixed
        parameters named by ``names[ndim:]``.
    filters : list of sedpy filters
    store_spectrum : bool
        Also return the rest-frame spectrum per Msun formed (SpecModel only).
    first_row : int
        Index of ``rows[0]`` in the set, for failure messages.
    wave_range : (lo, hi), optional
        Rest-frame wavelength range (AA) of the stored spectra (see :func:`wave_slice`);
        None keeps the whole FSPS grid.

    Returns
    -------
    dict
        ``phot`` (n, F), ``mfrac`` (n,), ``status`` (n,) int8, ``spectrum`` or None,
        ``wavelength`` or None, ``errors`` [(row, message)], ``seconds``.
    """
    t0 = time.perf_counter()
    extra = list(names[ndim:])
    n = len(rows)
    phot = np.full((n, len(filters)), np.nan)
    mfrac = np.full(n, np.nan)
    status = np.full(n, ts.OK, dtype=np.int8)
    spectra = None
    wavelength = None
    errors: list[tuple[int, str]] = []
    obs = {"filters": filters, "wavelength": None, "spectrum": None, "maggies": None}
    reusable = _spectrum_reusable(model)
    previous = None  # spectrum_state of the row whose spectrum the model holds
    for i, row in enumerate(rows):
        for j, name in enumerate(extra):
            model.params[name] = np.atleast_1d(row[ndim + j]).astype(float)
        theta = np.asarray(row[:ndim], dtype=float)
        try:
            state = None
            if reusable:
                model.set_parameters(theta)  # computes the depends_on parameters too
                state = spectrum_state(model.params)
            if previous is not None and same_state(state, previous):
                model._zred = model.params.get("zred", 0)
                model._norm_spec = model._spec * model.flux_norm()
                p = model.predict_phot(filters)
                mf = model._mfrac
            else:
                previous = None
                _, p, mf = model.predict(theta, obs=obs, sps=sps)
                previous = state
            q = np.atleast_1d(p) / model_scaling(model.params)
            mf = float(np.squeeze(mf))
            if not (np.all(np.isfinite(q)) and np.isfinite(mf)):
                raise FloatingPointError("FSPS returned NaN or inf photometry")
            phot[i] = q
            mfrac[i] = mf
            if store_spectrum:
                if getattr(model, "_spec", None) is None:
                    raise ConfigurationError("storing spectra needs a SpecModel (Prospector's "
                                             "legacy SedModel gives no rest-frame spectrum)")
                if spectra is None:
                    sl = wave_slice(np.asarray(model._wave, dtype=float), wave_range)
                    wavelength = np.asarray(model._wave, dtype=float)[sl]
                    spectra = np.full((n, len(wavelength)), np.nan, dtype=np.float32)
                spectra[i] = model._spec[sl]
        except ConfigurationError:
            raise
        except Exception as exc:  # a failed draw is kept and reported, never dropped
            status[i] = ts.FAILED
            errors.append((first_row + i, f"{type(exc).__name__}: {exc}"))
            previous = None
    return {"phot": phot, "mfrac": mfrac, "status": status, "spectrum": spectra,
            "wavelength": wavelength, "errors": errors, "seconds": time.perf_counter() - t0}


def run_chunk(source: ModelSource, filter_list: Sequence[str], rows: np.ndarray,
              names: Sequence[str], ndim: int, store_spectrum: bool, first_row: int,
              wave_range: Sequence[float] | None = None) -> dict[str, Any]:
    """Worker entry point: build (once per process) and compute one chunk of rows."""
    _, model, sps = build_from_source(source)
    filters = load_filters(filter_list)
    out = compute_rows(model, sps, rows, names, ndim, filters, store_spectrum, first_row,
                       wave_range)
    out["pid"] = os.getpid()
    return out


@dataclass
class GenerationReport:
    """What a generation run did."""

    path: Path
    n_rows: int
    n_ok: int
    n_failed: int
    n_pending: int
    chunks_written: int
    seconds: float
    failures: list[dict[str, Any]]

    def __str__(self) -> str:
        s = (f"{self.path}: {self.n_ok} ok, {self.n_failed} failed, {self.n_pending} pending of "
             f"{self.n_rows} rows; {self.chunks_written} chunks written in {self.seconds:.1f} s")
        if self.n_failed:
            s += "\nfailed rows (parameters kept, status=2): " + ", ".join(
                f"{f['row']} ({f['error']})" for f in self.failures[:5])
        return s


def _model_description(model) -> dict[str, Any]:
    out = {}
    for name, info in model.config_dict.items():
        d = {"isfree": bool(info.get("isfree", False)), "units": str(info.get("units", ""))}
        if "prior" in info and info["prior"] is not None:
            d["prior"] = repr(info["prior"])
        if not d["isfree"]:
            d["init"] = repr(info.get("init"))
        out[name] = d
    return out


def generate(path: str | Path, n: int, *, param_file: str | Path | None = None,
             run_params: dict[str, Any] | None = None, model=None, sps=None,
             filters: Sequence[str] | None = None, seed: int = 0, sampler="prior",
             ranges: dict[str, Sequence[float]] | None = None,
             block_param: str | None = AUTO_BLOCK_PARAM, block_size: int = 20, share_spectrum: int = 1,
             chunk_size: int = 100, store_spectrum: bool = False,
             wave_range: Sequence[float] | None = None, workers: int | None = None,
             executor: Executor | None = None, dask_scheduler: str | None = None,
             resume: bool = False, overwrite: bool = False, progress: bool = True,
             max_chunks: int | None = None) -> GenerationReport:
    """Generate (or resume) a training set of ``n`` SEDs.

    Parameters
    ----------
    path : str or Path
        The HDF5 file to write.
    n : int
        Number of rows (parameter draws).
    param_file : str or Path, optional
        A Prospector parameter file; workers build ``build_model(**run_params)`` and
        ``build_sps(**run_params)`` from it.  Either this or ``model`` and ``sps``.
    run_params : dict, optional
        Passed to the parameter file's builders.
    model, sps : optional
        A built model and source object, used in this process only (``workers=1``).
    filters : sequence of str, optional
        sedpy filter names; default: the filters of the file's ``build_obs``.
    seed : int
        Seeds every draw: the same seed gives the same rows.
    sampler : str or Sampler
        ``"prior"``, ``"uniform"``, ``"callable:module:function"``,
        ``"mixture:prior=0.7,uniform=0.3"`` or a :class:`~prospect_emu.trainingdata.sampling.Sampler`.
    ranges : dict, optional
        Per-parameter ranges, also for fixed parameters (e.g. ``{"zred": (0, 4)}``).
    block_param, block_size : str or None, int
        Share one ``block_param`` value (a sampled column) across blocks of
        ``block_size`` rows (:func:`~prospect_emu.trainingdata.sampling.apply_blocks`);
        ``block_size=1`` or ``block_param=None`` turns it off.  The default
        ``"auto"`` is ``logzsol`` where it is sampled and no blocks otherwise; any
        other name that is not a sampled column is an error.
    share_spectrum : int
        Groups of this many rows differ only in mass and redshift
        (:func:`~prospect_emu.trainingdata.sampling.share_spectra`); 1 turns it off.  Refused
        (ConfigurationError) for models with a ``depends_on`` parameter computed from
        ``zred``, ``lumdist`` or a scalar ``mass``
        (:func:`~prospect_emu.trainingdata.sampling.derived_dependencies`), whose spectrum changes
        within a group.
    chunk_size : int
        Rows per chunk: the unit of work and of writing.
    store_spectrum : bool
        Also store rest-frame spectra (SpecModel only): float32, Lsun/Hz per Msun formed,
        gzip-compressed with byte shuffling (see :mod:`prospect_emu.trainingdata.trainingset`).
    wave_range : (lo, hi), optional
        Rest-frame wavelength range (AA) of the stored spectra; default: what covers the
        filters over the sampled (or fixed) zred range plus 10% (:func:`default_wave_range`).
    workers : int, optional
        Local worker processes (default: all cores); 1 runs in this process.
    executor : concurrent.futures.Executor, optional
        Run chunks on this executor instead (e.g. ``distributed.Client.get_executor()``).
    dask_scheduler : str, optional
        Address of a Dask distributed scheduler to run the chunks on.
    resume : bool
        Continue an interrupted run with the same configuration.
    overwrite : bool
        Replace an existing file.
    progress : bool
        Show a progress bar with rate and ETA.
    max_chunks : int, optional
        Stop after writing this many chunks (the file can be resumed later).

    Returns
    -------
    GenerationReport
    """
    t0 = time.perf_counter()
    path = Path(path)
    n = int(n)
    if n < 1:
        raise ConfigurationError(f"--n must be a positive number of SEDs, got {n}")
    if chunk_size < 1 or block_size < 1 or share_spectrum < 1:
        raise ConfigurationError("chunk size, block size and share-spectrum must be >= 1")
    run_params = dict(run_params or {})
    source = None
    if param_file is not None:
        if model is not None or sps is not None:
            raise ConfigurationError("give either param_file or model and sps, not both")
        source = ModelSource(str(Path(param_file).resolve()), run_params)
        module = load_param_file(source.param_file)
        from ..sps_environment import check_fsps_build, check_sps_home

        check_sps_home()
        try:
            model = module.build_model(**run_params)
        except TypeError as exc:
            if "NoneType" in str(exc) and not os.environ.get("SPS_HOME"):
                raise ConfigurationError("build_model failed because SPS_HOME is unset") from exc
            raise
        libraries = list(check_fsps_build())
        if filters is None:
            obs = None
            if callable(getattr(module, "build_obs", None)):
                try:
                    obs = module.build_obs(**run_params)
                except Exception as exc:
                    raise ConfigurationError(
                        f"{param_file}: build_obs failed ({type(exc).__name__}: {exc}); pass "
                        "--filters NAME,NAME or --filters-file FILE instead") from exc
            if not obs or obs.get("filters") is None:
                raise ConfigurationError(f"no filters: {param_file} has no build_obs with filters; "
                                         "pass --filters NAME,NAME or --filters-file FILE")
            filters = filter_names(obs["filters"])
        param_text = Path(source.param_file).read_text()
    else:
        if model is None or sps is None:
            raise ConfigurationError("generate needs a param_file, or both model and sps")
        if (workers not in (None, 1)) or executor is not None or dask_scheduler is not None:
            raise ConfigurationError("a built model and sps run in this process only: pass a "
                                     "param_file to use worker processes, an executor or Dask")
        if filters is None:
            raise ConfigurationError("pass filters=[...] (sedpy names) with a built model")
        workers = 1
        libraries = [x.decode() if isinstance(x, bytes) else str(x)
                     for x in getattr(getattr(sps, "ssp", None), "libraries", ())]
        param_text = None
    filter_objs = load_filters(list(filters))
    space = ParameterSpace(model, ranges)
    smp = sampler_from_spec(sampler)
    if block_param == AUTO_BLOCK_PARAM:
        block_param = "logzsol" if "logzsol" in space.names else None
    elif block_param is not None and block_param not in space.names:
        raise ConfigurationError(
            f"--block-param {block_param!r} is not a sampled parameter (sampled: "
            f"{', '.join(space.names)}): name one of these, or pass --block-size 1 to draw "
            "every row independently")
    if share_spectrum > 1:
        dependent = derived_dependencies(model, space)
        if dependent:
            what = "; ".join(f"{name} depends on {', '.join(cols)}"
                             for name, cols in sorted(dependent.items()))
            raise ConfigurationError(
                f"--share-spectrum {share_spectrum} reuses one rest-frame spectrum for rows that "
                "differ only in zred, lumdist or mass, but this model computes spectrum "
                f"parameters from those through depends_on ({what}), so the spectrum changes "
                "within a group: use --share-spectrum 1 for this model")
    if wave_range is not None and not store_spectrum:
        raise ConfigurationError("--wave-range sets the range of stored spectra: add --store-spectrum")
    if store_spectrum:
        if wave_range is None:
            if "zred" in space.names:
                zr = space.bounds[space.names.index("zred")]
            else:
                zr = np.ravel(model.params.get("zred", 0.0))[[0, 0]]
            wave_range = default_wave_range(filter_objs, zr)
        wave_range = [float(v) for v in wave_range]
        if not (len(wave_range) == 2 and np.all(np.isfinite(wave_range))
                and 0 < wave_range[0] < wave_range[1]):
            raise ConfigurationError(f"--wave-range {wave_range}: give LO,HI in AA with 0 < LO < HI")
    config = {
        "n": n, "seed": int(seed), "sampler": smp.config(), "space": space.config(),
        "filters": [[f.name, filter_hash(f)] for f in filter_objs],
        "block_param": block_param, "block_size": int(block_size),
        "share_spectrum": int(share_spectrum), "chunk_size": int(chunk_size),
        "store_spectrum": bool(store_spectrum), "param_file_text": param_text,
        **({"wave_range": wave_range} if store_spectrum else {}),
        "run_params": run_params_for_json(run_params) if source else None,
        "model": _model_description(model),
    }
    if path.exists():
        if overwrite:
            path.unlink()
        elif resume:
            old = ts.stored_config(path)
            if ts.config_hash(old) != ts.config_hash(config):
                diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
                raise ConfigurationError(
                    f"{path} was written with another configuration (differs in: {', '.join(diff)}); "
                    "resume with the same options, write to a new file, or pass --overwrite")
        else:
            raise ConfigurationError(f"{path} already exists: pass --resume to continue it with the "
                                     "same options, or --overwrite to replace it")
    if not path.exists():
        rng = np.random.default_rng(seed)
        draws = smp.draw(space, model, n, rng)
        draws = apply_blocks(draws, space, block_param, block_size)
        draws = share_spectra(draws, space, share_spectrum)
        units = {name: str(model.config_dict.get(space.param_of[name], {}).get("units", ""))
                 for name in space.names}
        metadata = {"created": utc_now(), "versions": package_versions(), "sps_libraries": libraries,
                    "mass_convention": MASS_CONVENTION, "units": units, "failures": [],
                    "model_class": type(model).__name__, "phot_units": "maggies per Msun formed at 10 pc",
                    "param_file": source.param_file if source else None}
        path.parent.mkdir(parents=True, exist_ok=True)
        ts.create(path, params=draws, names=space.names, filters=filter_objs, chunk_size=chunk_size,
                  config=config, metadata=metadata)
    with ts.h5py.File(path, "r") as f:
        draws = f["params"][...]
    todo = ts.pending_chunks(path)
    if max_chunks is not None:
        todo = todo[: int(max_chunks)]
    done_rows = n - sum(len(draws[c * chunk_size:(c + 1) * chunk_size])
                        for c in ts.pending_chunks(path))
    bar = tqdm(total=n, initial=done_rows, unit="SED", desc="generate", disable=not progress,
               dynamic_ncols=True, smoothing=0.1)
    written = 0

    def _write(c: int, res: dict[str, Any]) -> None:
        nonlocal written
        ts.write_chunk(path, c, res["phot"], res["mfrac"], res["status"], res["spectrum"],
                       res["errors"], wavelength=res["wavelength"])
        written += 1
        bar.update(len(res["status"]))

    def _rows(c: int) -> np.ndarray:
        return draws[c * chunk_size:(c + 1) * chunk_size]

    try:
        if executor is None and dask_scheduler is None and (workers or os.cpu_count() or 1) == 1:
            if source is not None:
                _, model_w, sps_w = build_from_source(source)
            else:
                model_w, sps_w = model, sps
            for c in todo:
                _write(c, compute_rows(model_w, sps_w, _rows(c), space.names, space.ndim, filter_objs,
                                       store_spectrum, c * chunk_size, wave_range))
        else:
            own_close = None
            if executor is None:
                executor, own_close = open_executor(workers, dask_scheduler)
            futures: dict = {}
            try:
                futures = {executor.submit(run_chunk, source, [f.name for f in filter_objs], _rows(c),
                                           space.names, space.ndim, store_spectrum, c * chunk_size,
                                           wave_range): c
                           for c in todo}
                for fut in as_completed(futures):
                    _write(futures[fut], fut.result())
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
            finally:
                if own_close is not None:
                    own_close()
    finally:
        bar.close()
    final = ts.TrainingSet(path)
    return GenerationReport(path=path, n_rows=n, n_ok=final.n_ok, n_failed=final.n_failed,
                            n_pending=int((final.status == ts.PENDING).sum()), chunks_written=written,
                            seconds=time.perf_counter() - t0,
                            failures=final.metadata.get("failures", []))
