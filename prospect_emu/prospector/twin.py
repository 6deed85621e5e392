"""The emulated twin of a Prospector model: :func:`emulate` copies a model's current state
(:func:`current_configuration`) into an :class:`~prospect_emu.prospector.model.EmulatedSpecModel`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from prospect.models import SpecModel

from ..emulator.artifact import Emulator
from ..errors import ConfigurationError
from ..options import DEFAULT_ERROR_MODE
from .model import EmulatedSpecModel


def current_configuration(model) -> list[dict[str, Any]]:
    """A Prospector configuration list holding a model's *current* state.

    Every parameter's ``init`` is its current value in ``model.params`` (fixed ones
    too: a ``model.params["zred"] = 1.5`` set after ``build_model`` is kept), with its
    current prior, ``isfree`` (as the model's ``theta_index`` has it), ``depends_on``
    and other keys from ``config_dict``; free parameters come first, in theta order.
    Values in ``model.params`` without a ``config_dict`` entry become fixed parameters.

    Parameters
    ----------
    model : prospect.models.ProspectorParams
    """
    cd = model.config_dict
    tindex = model.theta_index
    free = sorted(tindex, key=lambda k: tindex[k].start)
    names = free + [n for n in cd if n not in tindex] + [n for n in model.params if n not in cd]
    config = []
    for name in names:
        info = copy.deepcopy(dict(cd.get(name, {})))
        info.pop("name", None)
        if info.get("prior") is not None:
            info.pop("prior_function", None)  # configure() would put the original back
        value = model.params[name] if name in model.params else info.get("init")
        info["init"] = copy.deepcopy(value)
        info["isfree"] = name in tindex
        info.setdefault("N", int(np.size(value)))
        config.append({"name": name, **info})
    return config


def emulate(model, emulator: Emulator | str | Path, error: str = DEFAULT_ERROR_MODE) -> EmulatedSpecModel:
    """The emulated twin of a Prospector model, in the model's current state.

    Parameters
    ----------
    model : prospect.models.SpecModel, SedModel or subclass
        A model as a parameter file's ``build_model`` returns it, possibly changed
        since: current parameter values (fixed ones too, e.g. a per-galaxy
        ``model.params["zred"]``), priors, ``isfree`` and ``depends_on`` are copied
        (see :func:`current_configuration`).
    emulator : Emulator or path
    error : {'none', 'diag', 'cov'}
        Emulator-error treatment in :func:`prospect_emu.prospector.likelihood.lnprobfn`, the
        likelihood to fit the twin with (``fit_model(..., lnprobfn=lnprobfn)``; see
        :func:`~prospect_emu.prospector.switch.use_emulator`).  Prospector's own
        ``lnprobfn`` also runs on the twin, but ignores this (it warns once where it is
        'diag' or 'cov') and costs about twice as much per call.

    Returns
    -------
    EmulatedSpecModel
        Same parameters, priors, ``theta_labels`` and ``depends_on`` transforms; its
        ``predict`` runs the emulator.  Its priors are copies: change the twin's to
        change the emulated fit.

    Raises
    ------
    ConfigurationError
        Where the model is not one the emulator can stand in for; see
        :class:`EmulatedSpecModel`.
    """
    cls = EmulatedSpecModel
    base = type(model)
    if issubclass(base, SpecModel) and not issubclass(base, EmulatedSpecModel) and base is not SpecModel:
        # e.g. PolySpecModel: its spectral calibration runs in the emulated spectral predict
        cls = type(f"Emulated{base.__name__}", (EmulatedSpecModel, base), {})
    twin = cls(current_configuration(model), emulator=emulator, emulator_error=error,
               verbose=getattr(model, "verbose", False))
    if twin.theta_labels() != model.theta_labels():  # pragma: no cover - defensive
        raise ConfigurationError("the emulated model's parameters differ from the original's")
    twin.set_parameters(model.theta)
    return twin
