"""Fit an unmodified Prospector parameter file with FSPS or an emulator, and write the result.

This is what ``prospect-emu fit`` runs: the file's ``build_obs``, ``build_model``,
``build_sps`` and ``build_noise`` with run_params from the command line, the model
swapped for its emulated twin when an emulator is given, the optimizer and sampler
(:func:`prospect_emu.prospector.samplers.fit_model`),
and Prospector's HDF5 result file, which ``prospect.io.read_results.results_from``
reads back (also where FSPS is not installed: the stored parameter-file text rebuilds
the emulated model).  The sampler comes from the registry
(:func:`prospect_emu.prospector.samplers.get_sampler`): ``--dynesty`` (the default) is
Prospector's dynesty, seeded; ``--nautilus`` (and ``--nautilus_*`` options) nautilus over the
batched emulated likelihood, its result written in dynesty's layout; ``--emcee`` (with
Prospector's ``--nwalkers``, ``--niter``, ``--nburn``) prospect-emu's emcee in the priors'
unit cube over the same batched likelihood (not Prospector's own emcee), its result written in
emcee's layout.  ``--preset NAME`` fills the options not given with a named preset.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..options import DEFAULT_ERROR_MODE
from ..paramfile import load_param_file, prospector_run_params
from .switch import add_emulator_arguments, use_emulator

#: Appended to the stored parameter-file text, so that results_from rebuilds the model
#: the fit used (the emulated twin when run_params names an emulator).
REBUILD_SUFFIX = '''

# ---- added by prospect-emu fit: rebuild the emulated model when the result is read ----
def _prospect_emu_rebuild(build_model):
    def _find_emulator(run_params):
        # the stored absolute path, else an artifact of the same name beside this parameter
        # file or in the current folder, with the artifact hash the fit stored
        import hashlib
        import os

        stored = run_params["emulator"]
        want = run_params.get("emulator_hash")
        name = os.path.basename(os.path.normpath(stored))
        here = os.path.dirname(os.path.abspath(globals().get("__file__") or "."))
        tried = []
        for path in (stored, os.path.join(here, name), os.path.join(os.getcwd(), name)):
            if path in tried or not os.path.exists(path):
                tried.append(path)
                continue
            tried.append(path)
            files = sorted(os.listdir(path)) if os.path.isdir(path) else [""]
            h = hashlib.sha256()
            for f in files:
                full = os.path.join(path, f) if f else path
                if os.path.isfile(full):
                    h.update(f.encode())
                    with open(full, "rb") as fh:
                        h.update(hashlib.sha256(fh.read()).digest())
            if want is None or h.hexdigest() == want:
                return path
        raise FileNotFoundError(
            f"the emulator this result was fitted with ({stored}, artifact hash {want}) was not "
            f"found (tried {tried}, checking the hash)")

    def build_emulated_model(**run_params):
        # public names (stable across package layouts); patch_prospector lets SpecModel
        # build without SPS_HOME, on a machine without FSPS
        import warnings

        from prospect_emu import EmulatedSpecModel, emulate, patch_prospector  # noqa: F401
        from prospect_emu.options import DEFAULT_ERROR_MODE
        patch_prospector()
        model = build_model(**run_params)
        if run_params.get("emulator"):
            try:
                path = _find_emulator(run_params)
                model = emulate(model, path, error=run_params.get("emulator_error", DEFAULT_ERROR_MODE))
            except Exception as exc:  # results_from hides it and returns model=None: say why
                warnings.warn(f"prospect-emu: cannot rebuild the emulated model, so results_from "
                              f"returns model=None: {type(exc).__name__}: {exc}")
                raise
        return model
    return build_emulated_model


build_model = _prospect_emu_rebuild(build_model)
'''


@contextlib.contextmanager
def seeded_samplers(seed: int | None):
    """Seed numpy's global state (Prospector's optimizer starts, its emcee) and Prospector's
    dynesty (:func:`prospect_emu.prospector.samplers.seeded_dynesty`) within the block."""
    from .samplers import seeded_dynesty

    if seed is not None:
        np.random.seed(seed)
    with seeded_dynesty(seed):
        yield


@dataclass
class FitResult:
    """What :func:`run_fit` produced."""

    hfile: Path | None
    output: dict[str, Any]
    obs: dict[str, Any]
    model: Any
    sps: Any
    run_params: dict[str, Any]
    seconds: float
    ncall: int | None

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """Posterior samples and weights (dynesty: importance weights; emcee: flat chain)."""
        return posterior_samples(self.output)

    def convergence(self) -> dict[str, Any] | None:
        """The sampler's convergence report where it writes one (``result["convergence"]``,
        e.g. emcee's, :mod:`prospect_emu.prospector.convergence`), else None."""
        res = self.output["sampling"][0]
        return res.get("convergence") if isinstance(res, dict) else None

    def best_theta(self) -> np.ndarray | None:
        """The highest-likelihood sample (or the best optimizer result)."""
        return _best_theta(self.output)

    def equal_weight_samples(self, n: int = 1000, seed: int = 0) -> np.ndarray:
        """``n`` posterior draws with equal weights (resampled by weight)."""
        s, w = self.samples()
        idx = np.random.default_rng(seed).choice(len(s), size=n, p=w)
        return s[idx]


def posterior_samples(output: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(samples, weights) from ``fit_model``'s output."""
    res = output["sampling"][0]
    if res is None:
        raise ConfigurationError("the fit ran no sampler (only --optimize): no posterior samples")
    if hasattr(res, "samples") and hasattr(res, "logwt"):  # dynesty
        w = np.exp(res["logwt"] - res["logz"][-1])
        return np.asarray(res["samples"]), w / w.sum()
    chain = np.asarray(res.get_chain(flat=True) if hasattr(res, "get_chain") else res.flatchain)
    return chain, np.full(len(chain), 1.0 / len(chain))


def noisy_observation(obs: dict[str, Any], phot: np.ndarray, snr: float,
                      rng: np.random.Generator, floor_mag: float | None = None) -> dict[str, Any]:
    """``obs`` with its photometry replaced by ``phot`` plus Gaussian noise at S/N ``snr``.

    ``floor_mag``: a sky-limited floor. Each band's uncertainty is at least that of a band
    ``floor_mag`` magnitudes below the brightest band observed at S/N ``snr``, so that bands
    fainter than that have S/N falling with their flux, as in a catalogue with a depth
    (``None``: S/N ``snr`` in every band, however faint).
    """
    from prospect.utils.obsutils import fix_obs

    unc = np.abs(phot) / snr
    if floor_mag is not None:
        if not floor_mag >= 0:
            raise ConfigurationError(f"noise floor {floor_mag} mag: give how many magnitudes "
                                     "below the brightest band the floor lies (>= 0)")
        unc = np.maximum(unc, unc.max() * 10 ** (-0.4 * float(floor_mag)))
    return fix_obs(dict(obs, maggies=phot + unc * rng.normal(size=phot.size), maggies_unc=unc))


def _ncall(output: dict[str, Any]) -> int | None:
    res = output["sampling"][0]
    if res is not None and hasattr(res, "ncall"):
        return int(np.sum(res["ncall"]))
    return None


def _path_of(module) -> str:
    return getattr(module, "__prospect_emu_path__", getattr(module, "__file__", "the parameter file"))


def builder(module, name: str, why: str = "") -> Callable[..., Any]:
    """The parameter file's function ``name``; a ConfigurationError naming the file and
    the function when it is not defined."""
    func = getattr(module, name, None)
    if not callable(func):
        raise ConfigurationError(f"parameter file {_path_of(module)} defines no {name}(**run_params), "
                                 f"which is needed {why or 'here'}: add it (see Prospector's demo "
                                 "parameter files)")
    return func


def call_builder(module, name: str, run_params: dict[str, Any], why: str = "") -> Any:
    """``module.<name>(**run_params)`` from a parameter file, never a silent None.

    Parameters
    ----------
    module : module
        A parameter file loaded by :func:`prospect_emu.paramfile.load_param_file`.
    name : str
        ``build_obs``, ``build_model`` or ``build_sps``.
    run_params : dict
    why : str
        What the function is needed for, for the error message.

    Raises
    ------
    ConfigurationError
        When the file defines no such function, or it returns None; the message names
        the parameter file and the function.
    """
    out = builder(module, name, why)(**run_params)
    if out is None:
        raise ConfigurationError(f"{name}(**run_params) in parameter file {_path_of(module)} returned "
                                 f"None: it must return the {name[6:]} object (is a `return` missing?)")
    return out


def build_run_params(argv: list[str], emulator: str | None = None,
                     emulator_error: str | None = None) -> dict[str, Any]:
    """run_params from Prospector's parser plus the emulator and sampler options and any
    extras; a sampler the options name has its flag set and its ``--preset`` applied to the
    options not given (:func:`prospect_emu.prospector.samplers.apply_sampler`).  Where none
    is named, the first row of the table by dimension (dynesty) stands until
    :func:`run_fit` knows the model's number of free parameters
    (:func:`prospect_emu.prospector.samplers.choose_sampler`)."""
    from .samplers import DEFAULT_BY_DIMENSION, REGISTRY, apply_sampler, named_sampler

    run_params = prospector_run_params(list(argv), extra_parser_hook=_add_arguments)
    if emulator is not None:
        run_params["emulator"] = str(emulator)
    if emulator_error is not None:
        run_params["emulator_error"] = emulator_error
    given = _given_options(argv)
    name = named_sampler({k: True for k in given}, given)
    if name is None and not run_params.get("optimize"):
        for n in REGISTRY:  # provisional: no preset until the model's dimension is known
            run_params[n] = n == DEFAULT_BY_DIMENSION[0].sampler
        return run_params
    return apply_sampler(run_params, name, given=given)


def _given_options(argv: list[str]) -> set[str]:
    """The run_params keys of the options on a command line (``--nested_nlive_init 50``)."""
    return {a[2:].split("=", 1)[0].replace("-", "_") for a in argv
            if isinstance(a, str) and a.startswith("--")}


def _add_arguments(parser):
    from .samplers import add_sampler_arguments

    add_emulator_arguments(parser)
    return add_sampler_arguments(parser)


def run_fit(param_file: str | Path, argv: list[str] | None = None, *, emulator: str | Path | None = None,
            emulator_error: str | None = None, run_params: dict[str, Any] | None = None,
            obs: dict[str, Any] | None = None, write: bool = True, sps=None,
            seed: int | None = None, sampler: str | None = None, preset: str | None = None,
            sampler_options: dict[str, Any] | None = None) -> FitResult:
    """Fit a parameter file's observations, with an emulator if one is given.

    Parameters
    ----------
    param_file : str or Path
    argv : list of str, optional
        Prospector command-line options (``--dynesty --nested_maxcall 5000 --objid 3``).
    emulator : path, optional
        Fit with this emulator; without it, with FSPS through ``build_sps``.
    emulator_error : {'none', 'diag', 'cov'}, optional
    run_params : dict, optional
        Instead of ``argv``: the run_params, used as given.
    obs : dict, optional
        Observations to fit instead of the file's ``build_obs`` (used for mocks).
    write : bool
        Write the HDF5 result to ``{outfile}_result.h5``.
    sps : optional
        An already built sps to reuse (FSPS path only).
    seed : int, optional
        Seed the sampler (dynesty, emcee, optimizer starts) for a reproducible fit.
    sampler : str, optional
        A registered sampler (:func:`prospect_emu.prospector.samplers.get_sampler`) in place
        of the one ``argv``'s flags choose.  Where neither names one, the model's number of
        free parameters chooses it
        (:data:`prospect_emu.prospector.samplers.DEFAULT_BY_DIMENSION`: below 8 dynesty with
        Prospector's defaults, 8 or more nautilus's ``wide`` preset), printed with why.
    preset : str, optional
        The sampler's preset, for the options ``argv`` does not give.
    sampler_options : dict, optional
        Sampler options over the preset: run_params keys or generic names (``nlive``,
        ``nwalkers``, ``niter``, ``nburn``, ``maxcall``).
    """
    module = load_param_file(param_file)
    from_argv = run_params is None
    run_params = fit_run_params(param_file, argv, emulator=emulator,
                                emulator_error=emulator_error, run_params=run_params)
    if obs is None:
        obs = call_builder(module, "build_obs", run_params, "to provide the observations to fit")
    model = call_builder(module, "build_model", run_params, "to build the model")
    from ..dependencies import fix_known_transforms

    fix_known_transforms(model)  # the FSPS route too: Prospector's zred_to_agebins on array zred
    _choose_sampler(run_params, model, argv, from_argv, sampler, preset, sampler_options)
    noise = module.build_noise(**run_params) if callable(getattr(module, "build_noise", None)) else (None, None)
    if run_params.get("emulator"):
        sps = None  # the emulator replaces FSPS: build_sps is neither needed nor called
    elif sps is None:
        from ..sps_environment import check_sps_home

        why = "to fit with FSPS (no --emulator given)"
        builder(module, "build_sps", why)  # a missing function before a missing SPS_HOME
        check_sps_home()
        sps = call_builder(module, "build_sps", run_params, why)
    # only the emulator keys: use_emulator's note on Prospector's own --emcee is for scripts
    model, lnprobfn = use_emulator(model, {k: run_params.get(k) for k in ("emulator", "emulator_error")
                                           if run_params.get(k) is not None})
    from .samplers import fit_model

    t0 = time.perf_counter()
    output = fit_model(obs, model, sps, noise, lnprobfn, seed=seed, **run_params)
    seconds = time.perf_counter() - t0
    hfile = None
    if write:
        hfile = Path(f"{run_params.get('outfile') or 'prospector_fit'}_result.h5")
        write_result(hfile, run_params, model, obs, output, sps)
    return FitResult(hfile, output, obs, model, sps, run_params, seconds, _ncall(output))


def fit_run_params(param_file: str | Path, argv: list[str] | None = None, *,
                   emulator: str | Path | None = None, emulator_error: str | None = None,
                   run_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run_params :func:`run_fit` fits and writes with: ``argv`` parsed as Prospector
    does (:func:`build_run_params`), or ``run_params`` as given; the parameter file's and
    the emulator's absolute paths and the emulator's hash (``results_from`` finds both
    from any folder)."""
    if run_params is None:
        run_params = build_run_params(argv or [], None if emulator is None else str(emulator),
                                      emulator_error)
    else:
        run_params = dict(run_params)
        if emulator is not None:
            run_params["emulator"] = str(emulator)
            run_params.setdefault("emulator_error", emulator_error or DEFAULT_ERROR_MODE)
    run_params["param_file"] = str(Path(param_file).resolve())
    if run_params.get("emulator") and Path(run_params["emulator"]).exists():
        run_params["emulator"] = str(Path(run_params["emulator"]).resolve())
        run_params["emulator_hash"] = artifact_hash(run_params["emulator"])
    return run_params


def _choose_sampler(run_params: dict[str, Any], model, argv: list[str] | None, from_argv: bool,
                    sampler: str | None, preset: str | None,
                    sampler_options: dict[str, Any] | None) -> None:
    """Set ``run_params`` up for the sampler the options name, else the one the model's
    number of free parameters chooses (printed, with why; stored as ``sampler_choice``)."""
    from .samplers import apply_sampler, choose_sampler

    given = _given_options(argv or [])
    flags = {k: True for k in given} if from_argv else run_params
    choice = choose_sampler({**flags, "sampler_preset": run_params.get("sampler_preset")},
                            model.ndim, given, sampler=sampler, preset=preset)
    if choice.by_dimension or sampler is not None or preset is not None or sampler_options:
        apply_sampler(run_params, choice.sampler, choice.preset, given=given,
                      **(sampler_options or {}))
    run_params["sampler_choice"] = choice.describe()
    if choice.by_dimension:
        print(f"prospect-emu: {choice.describe()}", flush=True)


def _storable(run_params: dict[str, Any]) -> dict[str, Any]:
    """run_params for the result file's header: arrays of more than 64 values (emcee's
    ``emcee_starts``) described by their shape, so that the header stays an HDF5 attribute."""
    return {k: (f"array of shape {v.shape}" if isinstance(v, np.ndarray) and v.size > 64 else v)
            for k, v in run_params.items()}


def write_result(hfile: Path, run_params: dict[str, Any], model, obs, output, sps) -> None:
    """Prospector's ``write_hdf5``, plus a ``bestfit`` group and a rebuildable parameter file."""
    import h5py
    from prospect.io import write_results as writer

    hfile.parent.mkdir(parents=True, exist_ok=True)
    tmp = hfile.with_name(hfile.name + ".tmp")
    with warnings.catch_warnings():
        # Prospector 1.4.1 warns these on every write, for every model: its wheel has no
        # _version.__githash__, and model_params holding prior objects are always pickled
        # (results_from reads them back); nothing for the user to do
        for msg in ("Could not obtain prospector version info",
                    "Could not JSON serialize model_params, pickled instead"):
            warnings.filterwarnings("ignore", message=re.escape(msg), category=RuntimeWarning)
        writer.write_hdf5(str(tmp), _storable(run_params), model, obs, output["sampling"][0], None,
                          tsample=output["sampling"][1], toptimize=output["optimization"][1],
                          sps=sps if not run_params.get("emulator") else None)
    with h5py.File(tmp, "r+") as hf:
        path = Path(run_params["param_file"])
        # results_from exec()s this text, where __file__ is otherwise undefined
        text = f"__file__ = {str(path)!r}  # added by prospect-emu fit\n" + path.read_text()
        hf.attrs["paramfile_text"] = json.dumps(text + REBUILD_SUFFIX)
        if run_params.get("emulator") and "bestfit" not in hf:
            best = _best_theta(output)
            if best is not None:
                spec, phot, mfrac = model.predict(best, obs=obs, sps=None)
                g = hf.create_group("bestfit")
                g.create_dataset("spectrum", data=np.asarray(spec))
                g.create_dataset("photometry", data=np.asarray(phot))
                g.create_dataset("parameter", data=best)
                g.attrs["mfrac"] = mfrac
        box = getattr(model, "box_prior", None)
        hf.attrs["prospect_emu"] = json.dumps({
            "emulator": run_params.get("emulator"),
            "emulator_hash": run_params.get("emulator_hash"),
            "emulator_error": run_params.get("emulator_error"),
            # where the emulator's training box truncates the priors (prospector/boxprior.py)
            **({"prior_box": box.summary()} if box is not None and box.active else {})})
    tmp.replace(hfile)


def artifact_hash(path: str | Path) -> str:
    """SHA-256 of an emulator artifact: its files' names and contents (a directory), or the
    file's.  The same digest as the rebuild code in :data:`REBUILD_SUFFIX` computes."""
    import hashlib

    path = Path(path)
    files = sorted(p.name for p in path.iterdir()) if path.is_dir() else [""]
    h = hashlib.sha256()
    for name in files:
        full = path / name if name else path
        if full.is_file():
            h.update(name.encode())
            h.update(hashlib.sha256(full.read_bytes()).digest())
    return h.hexdigest()


def _best_theta(output) -> np.ndarray | None:
    res = output["sampling"][0]
    if res is not None:
        if hasattr(res, "logl"):
            return np.asarray(res["samples"][np.argmax(res["logl"])])
        lnp = np.asarray(res.get_log_prob(flat=True) if hasattr(res, "get_log_prob") else res.flatlnprobability)
        return np.asarray((res.get_chain(flat=True) if hasattr(res, "get_chain") else res.flatchain)[np.argmax(lnp)])
    opt = output["optimization"][0]
    if opt:
        return np.asarray(min(opt, key=lambda r: r.cost if hasattr(r, "cost") else r.fun).x)
    return None
