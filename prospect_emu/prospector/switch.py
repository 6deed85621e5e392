"""The one flag: switch any Prospector parameter file between FSPS and an emulator.

The three-line change to a standard parameter file's ``__main__``::

    parser = prospect_args.get_parser()
    add_emulator_arguments(parser)                                     # 1
    ...
    model = build_model(**run_params)
    sps = emulator_sps(run_params) or build_sps(**run_params)          # 2
    model, lnprobfn = use_emulator(model, run_params)                  # 3
    output = fit_model(obs, model, sps, noise, lnprobfn=lnprobfn, **run_params)

Without ``--emulator`` nothing changes: the file fits with FSPS as before.  With it, line 2
gives an sps stand-in (:class:`EmulatorSPS`, no FSPS) that carries what the rest of a
classic ``__main__`` reads: ``run_params["sps_libraries"] = sps.ssp.libraries`` (the FSPS
libraries the emulator was trained on) and ``write_hdf5(..., sps=sps)`` (its best-fit
photometry).  ``sps = None if run_params["emulator"] else build_sps(**run_params)`` works
too, for scripts without those lines.

Pass the returned ``lnprobfn`` to ``fit_model`` (line 3 and the ``lnprobfn=`` keyword): with
``--emulator`` it is prospect-emu's compiled likelihood, which applies
``--emulator-error``.  A script that keeps ``fit_model``'s default (Prospector's own
``lnprobfn``) still fits the emulated model, but without emulator error (it warns once
where the model has some) and at about twice the cost per call, Prospector's own
per-call work being as large as the whole compiled likelihood
(``benchmarks/run.py``: the drop-in route rows).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..options import DEFAULT_ERROR_MODE, ERROR_MODES
from ..sps_home_patch import patch_prospector
from .twin import emulate


class EmulatorSPS:
    """The sps object of an emulated fit: what Prospector's scripts read from theirs.

    The emulated model makes its SED itself and ignores the sps object it is given, so this
    carries only ``ssp.libraries`` (the FSPS isochrone, spectral and dust libraries the
    emulator's training SEDs were made with, as recorded by ``generate``) and
    ``wavelengths`` (the emulator's rest-frame grid, empty where it predicts bands only),
    which ``prospect.io.write_results.write_hdf5`` stores with the best fit.

    Parameters
    ----------
    emulator : Emulator or str or Path
        An emulator, or the directory of one.
    """

    def __init__(self, emulator) -> None:
        import os
        from types import SimpleNamespace

        import numpy as np

        from ..emulator.artifact import Emulator

        if isinstance(emulator, (str, os.PathLike)):
            emulator = Emulator.load(emulator)
        self.emulator = emulator
        meta = emulator.meta.get("training_set", {}).get("metadata", {})
        self.ssp = SimpleNamespace(libraries=tuple(meta.get("sps_libraries", ())))
        self.wavelengths = np.asarray(getattr(emulator, "wavelength", np.zeros(0)), dtype=float)


def emulator_sps(run_params: dict[str, Any]) -> EmulatorSPS | None:
    """Line 2 of the switch: an :class:`EmulatorSPS` when ``run_params['emulator']`` is
    set, else None (then ``... or build_sps(**run_params)`` builds the FSPS one)."""
    patch_prospector()
    path = run_params.get("emulator")
    return EmulatorSPS(path) if path else None


def add_emulator_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--emulator PATH`` and ``--emulator-error {none,diag,cov}`` to a parser.

    Line 1 of the switch, called before the script's ``build_model``: it also installs
    :func:`prospect_emu.patch_prospector`, so that the model builds where ``SPS_HOME`` is
    unset (an emulated fit on a machine without FSPS)."""
    patch_prospector()
    group = parser.add_argument_group("prospect-emu")
    group.add_argument("--emulator", default=None, metavar="EMU_DIR",
                       help="fit with this prospect-emu emulator instead of FSPS")
    group.add_argument("--emulator-error", "--emulator_error", dest="emulator_error",
                       choices=ERROR_MODES, default=DEFAULT_ERROR_MODE,
                       help="emulator error in the likelihood: none, diag (per band, in "
                       "quadrature) or cov (full band x band covariance); default "
                       f"{DEFAULT_ERROR_MODE}")
    return parser


def use_emulator(model, run_params: dict[str, Any]) -> tuple[Any, Callable]:
    """``(model, lnprobfn)`` for ``fit_model(..., lnprobfn=lnprobfn)``: the emulated twin
    and :func:`prospect_emu.prospector.likelihood.lnprobfn` (the compiled likelihood, with
    the emulator error ``run_params['emulator_error']``) when ``run_params['emulator']`` is
    set, else the model unchanged and Prospector's ``lnprobfn``.

    The twin is built from the model as it is when this is called (per-galaxy values
    set after ``build_model``, such as ``model.params["zred"]``, are kept), and is
    checked against the emulator: a model the emulator was not trained for raises
    :class:`~prospect_emu.errors.ConfigurationError` (see :func:`prospect_emu.prospector.twin.emulate`).

    With ``run_params['emcee']`` from a parser without prospect-emu's sampler options
    (:func:`prospect_emu.prospector.samplers.add_sampler_arguments`) it warns that the
    script's ``fit_model`` runs Prospector's own emcee, not the batched one of ``prospect-emu
    fit --emcee``, and names the drop-in :func:`prospect_emu.prospector.samplers.fit_model`
    that runs the same sampler.
    """
    from prospect.fitting import lnprobfn as prospector_lnprobfn

    patch_prospector()
    path = run_params.get("emulator")
    if not path:
        return model, prospector_lnprobfn
    from .likelihood import lnprobfn

    if run_params.get("emcee") and "sampler_preset" not in run_params:
        _say_which_emcee()  # a parser without add_sampler_arguments: Prospector's fit_model
    return emulate(model, path, error=run_params.get("emulator_error", DEFAULT_ERROR_MODE)), lnprobfn


def _say_which_emcee() -> None:
    """``--emcee`` in a parameter file's own ``__main__`` runs Prospector's emcee (through
    Prospector's ``fit_model``), not the one ``prospect-emu fit --emcee`` runs: say so."""
    import warnings

    warnings.warn("--emcee here runs Prospector's own emcee through prospect.fitting.fit_model "
                  "(walkers started around the model's init values); prospect-emu fit --emcee runs "
                  "prospect-emu's batched emcee in the priors' unit cube. For that one here, call "
                  "prospect_emu.prospector.samplers.fit_model(obs, model, sps, noise, "
                  "lnprobfn=lnprobfn, **run_params) in place of Prospector's fit_model (and "
                  "add_sampler_arguments(parser) for its options)", UserWarning, stacklevel=3)
