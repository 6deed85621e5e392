"""The samplers by name: :func:`get_sampler`, the command-line options that choose one, and
:func:`fit_model`, Prospector's ``fit_model`` with the sampler chosen by the registry.

``prospect-emu fit`` (:func:`prospect_emu.prospector.fitting.run_fit`), ``fit-catalog``
(:func:`prospect_emu.analysis.catalog_object.fit_object`), ``compare`` and the demo all go
through :func:`get_sampler`; the presets each sampler module defines are applied by
:func:`apply_sampler` and listed in the CLI help by :func:`presets_help`.  A new sampler is
one module with a :class:`~.base.Sampler` subclass, added to :data:`REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ...errors import ConfigurationError
from .base import Sampler, str2bool
from .dynesty import DynestySampler
from .emcee import EMCEE_OPTIONS, EmceeSampler
from .nautilus import NAUTILUS_OPTIONS, NautilusSampler

__all__ = ["REGISTRY", "add_sampler_arguments", "apply_sampler", "fit_model", "get_sampler",
           "presets_help", "sampler_name"]

#: Every sampler, by name (the name is also the run_params flag that selects it).
REGISTRY: dict[str, Sampler] = {s.name: s for s in (DynestySampler(), EmceeSampler(),
                                                    NautilusSampler())}


def get_sampler(name: str | Sampler) -> Sampler:
    """The registered sampler ``name`` (a :class:`~.base.Sampler` is returned as it is).

    Raises
    ------
    ConfigurationError
        For a name not registered; the message lists the registered ones.
    """
    if isinstance(name, Sampler):
        return name
    if name not in REGISTRY:
        raise ConfigurationError(f"unknown sampler {name!r}: the registered samplers are "
                                 f"{', '.join(REGISTRY)}")
    return REGISTRY[name]


def sampler_name(run_params: Mapping[str, Any]) -> str | None:
    """The sampler the flags of ``run_params`` choose: ``--nautilus``, else ``--emcee``, else
    dynesty (``--dynesty``, or no flag and no ``--optimize``); None for an optimizer-only run.

    Raises
    ------
    ConfigurationError
        For ``--nautilus`` with ``--emcee``.
    """
    if run_params.get("nautilus") and run_params.get("emcee"):
        raise ConfigurationError("--nautilus and --emcee both given: choose one sampler")
    for name in ("nautilus", "emcee", "dynesty"):
        if run_params.get(name):
            return name
    return None if run_params.get("optimize") else "dynesty"


def apply_sampler(run_params: dict[str, Any], name: str | None = None, preset: str | None = None,
                  given: Iterable[str] = (), **overrides) -> dict[str, Any]:
    """``run_params`` set up for one sampler: its flag on and the others off, the preset's
    values for the options not in ``given`` (options the user gave), then ``overrides``
    (generic names such as ``nlive`` translated).  Modified in place and returned.

    ``name`` None: the sampler the flags choose; ``preset`` None:
    ``run_params["sampler_preset"]`` (``--preset``), else ``fast`` where
    ``--nautilus_fast True``, else none.
    """
    name = name or sampler_name(run_params)
    preset = preset or run_params.get("sampler_preset")
    if name is None:
        if preset:
            raise ConfigurationError(f"--preset {preset} given without a sampler: add --dynesty, "
                                     "--emcee or --nautilus")
        return run_params
    sampler = get_sampler(name)
    for n in REGISTRY:
        run_params[n] = n == name
    run_params["sampler_preset"] = preset
    if preset:
        given = set(given)
        run_params.update({k: v for k, v in sampler.preset(preset).values.items() if k not in given})
    run_params.update(sampler.translate(overrides))
    return run_params


def add_sampler_arguments(parser):
    """Add ``--nautilus``, ``--preset`` and the ``--nautilus_*`` and ``--emcee_*`` options to
    a Prospector parser (which has ``--dynesty``, ``--emcee`` and their options already)."""
    group = parser.add_argument_group("prospect-emu samplers")
    group.add_argument("--nautilus", action="store_true",
                       help="sample with nautilus (batched proposals; pip install nautilus-sampler)")
    group.add_argument("--preset", "--sampler_preset", dest="sampler_preset", default=None,
                       metavar="NAME", help="the sampler's preset for the options not given "
                       "(presets: see below or prospect-emu fit --help)")
    for key, (default, kind, text) in {**NAUTILUS_OPTIONS, **EMCEE_OPTIONS}.items():
        group.add_argument("--" + key, type=str2bool if kind is bool else kind, default=default,
                           help=f"{text} (default {default})")
    return parser


def presets_help(names: Iterable[str] | None = None, presets: Iterable[str] | None = None) -> str:
    """The presets of the samplers ``names`` (all by default), restricted to ``presets``, one
    line each, for a CLI help text."""
    lines = []
    for name in names or REGISTRY:
        s = get_sampler(name)
        for p in s.presets.values():
            if presets is None or p.name in presets:
                lines.append(f"  {s.name} {p.describe()}")
    return "\n".join(lines)


def fit_model(obs: dict, model, sps=None, noise=(None, None), lnprobfn=None, *,
              seed: int | None = None, **run_params) -> dict[str, Any]:
    """Prospector's ``fit_model``, with the sampler chosen as ``prospect-emu fit`` chooses it.

    A parameter file's ``__main__`` that calls this in place of
    ``prospect.fitting.fit_model`` runs the same samplers for ``--emcee`` / ``--nautilus``
    / ``--dynesty`` as ``prospect-emu fit`` (Prospector's ``fit_model`` runs Prospector's
    own emcee for ``--emcee``).

    Parameters
    ----------
    obs, model, sps, noise, lnprobfn
        As for Prospector's ``fit_model``.
    seed : int, optional
        Seed the optimizer's starts and the sampler.
    **run_params
        Prospector's run_params (``optimize``, ``dynesty``, ``emcee``, ``nested_*``, ...),
        plus ``nautilus`` and the ``nautilus_*`` / ``emcee_*`` options.

    Returns
    -------
    dict
        ``{"optimization": (results, seconds), "sampling": (result, seconds)}``.
    """
    from prospect.fitting import fit_model as prospector_fit_model

    name = sampler_name(run_params)
    output: dict[str, Any] = {"optimization": (None, 0.0), "sampling": (None, 0.0)}
    if run_params.get("optimize"):
        if seed is not None:
            np.random.seed(seed)  # Prospector's optimizer draws its extra starts from numpy
        kw = {k: v for k, v in run_params.items() if k not in ("optimize", "emcee", "dynesty")}
        output = prospector_fit_model(obs, model, sps, noise, optimize=True, emcee=False,
                                      dynesty=False, **({"lnprobfn": lnprobfn} if lnprobfn else {}),
                                      **kw)
    if name is not None:
        output["sampling"] = get_sampler(name).run(obs, model, sps, noise, lnprobfn, seed=seed,
                                                   **run_params)
    return output
