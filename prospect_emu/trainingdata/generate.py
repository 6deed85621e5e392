"""Generate a training set: run a Prospector model over parameter draws, in chunks.

The plan, step by step in :func:`generate`: resolve the model and filters, the parameter
space and the sampler; check the options against the model (blocks, spectrum sharing,
stored wavelengths); draw every row and create the file (or resume it); then compute the
pending chunks (:mod:`prospect_emu.trainingdata.seds`) and write each as it arrives.

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

import os
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..dependencies import (
    dependency_order,
    fix_known_transforms,
    function_fingerprint,
    lagged_dependencies,
)
from ..errors import ConfigurationError
from ..filters import filter_hash, filter_names, load_filters
from ..normalization import MASS_CONVENTION
from ..paramfile import load_param_file, run_params_for_json
from ..provenance import package_versions, utc_now
from . import trainingset as ts
from .chunks import Chunks
from .generate_config import AUTO_BLOCK_PARAM, GenerateConfig
from .sampling import (
    ParameterSpace,
    apply_blocks,
    derived_dependencies,
    sampler_from_spec,
    share_spectra,
)
from .seds import FAR_IR_WAVE, ModelSource, default_wave_range, far_ir_emitters

__all__ = ["AUTO_BLOCK_PARAM", "GenerateConfig", "GenerationReport", "generate"]


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
    """Per parameter: ``isfree``, ``units``, the prior's repr, a fixed parameter's ``init``
    repr, and for a parameter computed by ``depends_on`` the function's content
    fingerprint (:func:`prospect_emu.dependencies.function_fingerprint`)."""
    out = {}
    for name, info in model.config_dict.items():
        d = {"isfree": bool(info.get("isfree", False)), "units": str(info.get("units", ""))}
        if "prior" in info and info["prior"] is not None:
            d["prior"] = repr(info["prior"])
        if not d["isfree"]:
            d["init"] = repr(info.get("init"))
        # None: not tied (stored, so that a description with fingerprints is recognisable)
        dep = info.get("depends_on")
        d["depends_on"] = function_fingerprint(dep) if callable(dep) else None
        out[name] = d
    return out


def _without_fingerprints(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the depends_on fingerprints (which older sets did not store)."""
    model = {k: {kk: vv for kk, vv in v.items() if kk != "depends_on"}
             for k, v in (config.get("model") or {}).items()}
    return {**config, "model": model}


def generate(path: str | Path, n: int | None = None, *, config: GenerateConfig | None = None,
             param_file: str | Path | None = None, run_params: dict[str, Any] | None = None,
             model=None, sps=None, filters: Sequence[str] | None = None,
             executor: Executor | None = None, progress: bool = True,
             max_chunks: int | None = None, **options: Any) -> GenerationReport:
    """Generate (or resume) a training set of ``n`` SEDs.

    Parameters
    ----------
    path : str or Path
        The HDF5 file to write.
    n : int, optional
        Number of rows (parameter draws); overrides ``config.n``.
    config : GenerateConfig, optional
        The run's options (:class:`~prospect_emu.trainingdata.generate_config.GenerateConfig`:
        seed, sampler, ranges, prior quantiles, blocks, spectrum sharing, chunks, stored
        spectra, workers, Dask, resume, overwrite); default: its defaults.
    param_file : str or Path, optional
        A Prospector parameter file; workers build ``build_model(**run_params)`` and
        ``build_sps(**run_params)`` from it.  Either this or ``model`` and ``sps``.
    run_params : dict, optional
        Passed to the parameter file's builders.
    model, sps : optional
        A built model and source object, used in this process only (``workers=1``).
    filters : sequence of str, optional
        sedpy filter names; default: the filters of the file's ``build_obs``.
    executor : concurrent.futures.Executor, optional
        Run chunks on this executor instead (e.g. ``distributed.Client.get_executor()``).
    progress : bool
        Show a progress bar with rate and ETA.
    max_chunks : int, optional
        Stop after writing this many chunks (the file can be resumed later).
    **options
        Fields of :class:`GenerateConfig`, replacing ``config``'s (``seed=1``,
        ``ranges={"zred": (0, 4)}``, ``workers=1``, ...).  Where they are documented:
        ``block_param`` shares one value of a sampled column across blocks of
        ``block_size`` rows (:func:`~prospect_emu.trainingdata.sampling.apply_blocks`;
        ``"auto"``: ``logzsol`` where it is sampled, else none; another name that is not a
        sampled column is an error); ``share_spectrum`` groups rows that differ only in mass
        and redshift (:func:`~prospect_emu.trainingdata.sampling.share_spectra`), refused
        for models with a ``depends_on`` parameter computed from ``zred``, ``lumdist`` or a
        scalar ``mass`` (:func:`~prospect_emu.trainingdata.sampling.derived_dependencies`);
        ``store_spectrum`` stores float32 rest-frame spectra, Lsun/Hz per Msun formed
        (:mod:`prospect_emu.trainingdata.trainingset`), over ``wave_range`` (default
        :func:`default_wave_range`, extended by
        :func:`~prospect_emu.trainingdata.seds.far_ir_emitters`); ``prior_quantiles`` are
        stored in the set's ``config["space"]["prior_truncation"]``.

    Returns
    -------
    GenerationReport

    Raises
    ------
    ConfigurationError
        For bad options, and when the first :data:`~prospect_emu.trainingdata.chunks.EARLY_STOP_ROWS` rows (whole chunks;
        all rows of a smaller set) all failed: the message quotes the first row's error
        and parameter values.  The rows written so far stay in the file.
    TypeError
        For an option that is not a field of :class:`GenerateConfig`.

    Notes
    -----
    Prospector transforms known to fail on an array ``zred`` (``zred_to_agebins`` in
    Prospector 1.4.1, which every model with a free or sampled zred and age bins tied to
    it meets) are wrapped to receive a scalar (:func:`prospect_emu.dependencies.fix_known_transforms`).
    """
    t0 = time.perf_counter()
    cfg = GenerateConfig.build(n, config, options)
    path = Path(path)
    n = _check_counts(cfg.n, cfg.chunk_size, cfg.block_size, cfg.share_spectrum)
    run_params = dict(run_params or {})
    src = _resolve_source(param_file, run_params, model, sps, filters, cfg.workers, executor,
                          cfg.dask_scheduler)
    filter_objs = load_filters(list(src.filters))
    space = ParameterSpace(src.model, cfg.ranges, cfg.prior_quantiles)
    smp = sampler_from_spec(cfg.sampler)
    block_param = _resolve_block_param(cfg.block_param, space)
    dependent = derived_dependencies(src.model, space)
    _check_sharing(dependent, cfg.share_spectrum)
    wave_range = _resolve_wave_range(cfg.store_spectrum, cfg.wave_range, space, src.model,
                                     filter_objs)
    config = {
        "n": n, "seed": int(cfg.seed), "sampler": smp.config(), "space": space.config(),
        "filters": [[f.name, filter_hash(f)] for f in filter_objs],
        "block_param": block_param, "block_size": int(cfg.block_size),
        "share_spectrum": int(cfg.share_spectrum), "chunk_size": int(cfg.chunk_size),
        "store_spectrum": bool(cfg.store_spectrum), "param_file_text": src.param_text,
        **({"wave_range": wave_range} if cfg.store_spectrum else {}),
        "run_params": run_params_for_json(run_params) if src.source else None,
        "model": _model_description(src.model),
        # derived parameters that follow zred / lumdist / mass: the spectral kind shows the
        # network such a column (its spectrum is no longer invariant in it)
        "spectrum_depends_on": dependent,
        # the order derived parameters are computed in (fix_known_transforms's)
        "dependency_order": dependency_order(src.model),
    }
    if not _existing_file_resumes(path, config, cfg.resume, cfg.overwrite, src.lagged):
        rng = np.random.default_rng(cfg.seed)
        draws = smp.draw(space, src.model, n, rng)
        draws = apply_blocks(draws, space, block_param, cfg.block_size)
        draws = share_spectra(draws, space, cfg.share_spectrum)
        _create_file(path, draws, space, src, filter_objs, cfg.chunk_size, config)
    job = Chunks(path, space, filter_objs, cfg.store_spectrum, wave_range, cfg.chunk_size)
    written = job.run(src, cfg.workers if src.source else 1, executor, cfg.dask_scheduler,
                      progress, max_chunks)
    final = ts.TrainingSet(path)
    return GenerationReport(path=path, n_rows=n, n_ok=final.n_ok, n_failed=final.n_failed,
                            n_pending=int((final.status == ts.PENDING).sum()), chunks_written=written,
                            seconds=time.perf_counter() - t0,
                            failures=final.metadata.get("failures", []))


def _check_counts(n: int, chunk_size: int, block_size: int, share_spectrum: int) -> int:
    n = int(n)
    if n < 1:
        raise ConfigurationError(f"--n must be a positive number of SEDs, got {n}")
    if chunk_size < 1 or block_size < 1 or share_spectrum < 1:
        raise ConfigurationError("chunk size, block size and share-spectrum must be >= 1")
    return n


@dataclass
class _Source:
    """The model and sps to generate with, and where they came from."""

    source: ModelSource | None  # None: a built model and sps, used in this process only
    model: Any
    sps: Any
    filters: list[str]
    libraries: list[str]
    param_text: str | None
    lagged: list[tuple[str, str]]  # in Prospector's own order (lagged_dependencies)


def _resolve_source(param_file, run_params, model, sps, filters, workers, executor,
                    dask_scheduler) -> _Source:
    """Build the model (and check FSPS) from a parameter file, or check a built model and
    sps; resolve the filters (default: the parameter file's ``build_obs``)."""
    if param_file is None:
        if model is None or sps is None:
            raise ConfigurationError("generate needs a param_file, or both model and sps")
        if (workers not in (None, 1)) or executor is not None or dask_scheduler is not None:
            raise ConfigurationError("a built model and sps run in this process only: pass a "
                                     "param_file to use worker processes, an executor or Dask")
        if filters is None:
            raise ConfigurationError("pass filters=[...] (sedpy names) with a built model")
        libraries = [x.decode() if isinstance(x, bytes) else str(x)
                     for x in getattr(getattr(sps, "ssp", None), "libraries", ())]
        lagged = lagged_dependencies(model)
        fix_known_transforms(model)
        return _Source(None, model, sps, list(filters), libraries, None, lagged)
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
    lagged = lagged_dependencies(model)
    fix_known_transforms(model)
    libraries = list(check_fsps_build())
    if filters is None:
        filters = _filters_of_param_file(module, param_file, run_params)
    return _Source(source, model, None, list(filters), libraries,
                   Path(source.param_file).read_text(), lagged)


def _filters_of_param_file(module, param_file, run_params) -> list[str]:
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
    return filter_names(obs["filters"])


def _resolve_block_param(block_param: str | None, space: ParameterSpace) -> str | None:
    if block_param == AUTO_BLOCK_PARAM:
        return "logzsol" if "logzsol" in space.names else None
    if block_param is not None and block_param not in space.names:
        raise ConfigurationError(
            f"--block-param {block_param!r} is not a sampled parameter (sampled: "
            f"{', '.join(space.names)}): name one of these, or pass --block-size 1 to draw "
            "every row independently")
    return block_param


def _check_sharing(dependent: dict[str, list[str]], share_spectrum: int) -> None:
    """Refuse spectrum sharing where ``depends_on`` makes the spectrum change within a group
    (``dependent``: :func:`~prospect_emu.trainingdata.sampling.derived_dependencies`)."""
    if share_spectrum <= 1:
        return
    if dependent:
        what = "; ".join(f"{name} depends on {', '.join(cols)}"
                         for name, cols in sorted(dependent.items()))
        raise ConfigurationError(
            f"--share-spectrum {share_spectrum} reuses one rest-frame spectrum for rows that "
            "differ only in zred, lumdist or mass, but this model computes spectrum "
            f"parameters from those through depends_on ({what}), so the spectrum changes "
            "within a group: use --share-spectrum 1 for this model")


def _resolve_wave_range(store_spectrum: bool, wave_range, space: ParameterSpace, model,
                        filter_objs) -> list[float] | None:
    """The rest-frame range of stored spectra: given, or what covers the filters, to
    1000 um rest where the model has dust emission or an AGN torus
    (:func:`~prospect_emu.trainingdata.seds.far_ir_emitters`)."""
    if not store_spectrum:
        if wave_range is not None:
            raise ConfigurationError("--wave-range sets the range of stored spectra: add "
                                     "--store-spectrum")
        return None
    if wave_range is None:
        if "zred" in space.names:
            zr = space.bounds[space.names.index("zred")]
        else:
            zr = np.ravel(model.params.get("zred", 0.0))[[0, 0]]
        wave_range = default_wave_range(filter_objs, zr)
        if far_ir_emitters(model):  # dust emission or a torus: the rest frame to 1000 um
            wave_range = (wave_range[0], max(wave_range[1], FAR_IR_WAVE))
    wave_range = [float(v) for v in wave_range]
    if not (len(wave_range) == 2 and np.all(np.isfinite(wave_range))
            and 0 < wave_range[0] < wave_range[1]):
        raise ConfigurationError(f"--wave-range {wave_range}: give LO,HI in AA with 0 < LO < HI")
    return wave_range


def _existing_file_resumes(path: Path, config: dict[str, Any], resume: bool,
                           overwrite: bool, lagged: list[tuple[str, str]]) -> bool:
    """Whether ``path`` exists and is resumed; replaces it with ``overwrite``, else refuses
    (also a set whose rows were computed in Prospector's ``lagged`` order)."""
    if not path.exists():
        return False
    if overwrite:
        path.unlink()
        return False
    if not resume:
        raise ConfigurationError(f"{path} already exists: pass --resume to continue it with the "
                                 "same options, or --overwrite to replace it")
    old = ts.stored_config(path)
    if not any("depends_on" in v for v in (old.get("model") or {}).values()):
        config = _without_fingerprints(config)  # a set written before fingerprints
    if "spectrum_depends_on" not in old:  # a set written before that record
        config = {k: v for k, v in config.items() if k != "spectrum_depends_on"}
    if "dependency_order" not in old:  # a set written before derived parameters were ordered
        _refuse_lagged_rows(path, lagged)
        config = {k: v for k, v in config.items() if k != "dependency_order"}
    if ts.config_hash(old) != ts.config_hash(config):
        diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
        raise ConfigurationError(
            f"{path} was written with another configuration (differs in: {', '.join(diff)}); "
            "resume with the same options, write to a new file, or pass --overwrite")
    return True


def _refuse_lagged_rows(path: Path, lagged: list[tuple[str, str]]) -> None:
    """Refuse to resume a set whose rows computed a derived parameter from the row before."""
    if lagged:
        what = ", ".join(f"{x} from the previous row's {y}" for x, y in lagged)
        raise ConfigurationError(
            f"{path} was written before prospect-emu ordered derived parameters: in "
            f"Prospector's config_dict order its rows computed {what}, so they are wrong, "
            "and resuming would mix them with correct ones; regenerate it (--overwrite, or "
            "a new file)")


def _create_file(path: Path, draws: np.ndarray, space: ParameterSpace, src: _Source,
                 filter_objs, chunk_size: int, config: dict[str, Any]) -> None:
    """Write every parameter row (no SEDs yet: all chunks pending) and the metadata."""
    model = src.model
    units = {name: str(model.config_dict.get(space.param_of[name], {}).get("units", ""))
             for name in space.names}
    metadata = {"created": utc_now(), "versions": package_versions(),
                "sps_libraries": src.libraries, "mass_convention": MASS_CONVENTION,
                "units": units, "failures": [], "model_class": type(model).__name__,
                "phot_units": "maggies per Msun formed at 10 pc",
                "param_file": src.source.param_file if src.source else None}
    path.parent.mkdir(parents=True, exist_ok=True)
    ts.create(path, params=draws, names=space.names, filters=filter_objs, chunk_size=chunk_size,
              config=config, metadata=metadata)
