"""The samplers by name: :func:`get_sampler`, the command-line options that choose one, and
:func:`fit_model`, Prospector's ``fit_model`` with the sampler chosen by the registry.

``prospect-emu fit`` (:func:`prospect_emu.prospector.fitting.run_fit`), ``fit-catalog``
(:func:`prospect_emu.analysis.catalog_object.fit_object`), ``compare`` and the demo all go
through :func:`get_sampler`; the presets each sampler module defines are applied by
:func:`apply_sampler` and listed in the CLI help by :func:`presets_help`.  A new sampler is
one module with a :class:`~.base.Sampler` subclass, added to :data:`REGISTRY`.

Where no sampler is named, the model's number of free parameters chooses one
(:data:`DEFAULT_BY_DIMENSION`, defined here only, shown in the CLI help by
:func:`dimension_help`; :func:`choose_sampler`): a named sampler, a sampler's own option
(``--nested_*``, ``--nautilus_*``, ``--nwalkers``, ...) or ``--optimize`` alone always wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ConfigurationError
from .base import Sampler, str2bool
from .dynesty import DynestySampler
from .emcee import EMCEE_OPTIONS, EmceeSampler
from .nautilus import NAUTILUS_OPTIONS, NautilusSampler

__all__ = ["DEFAULT_BY_DIMENSION", "REGISTRY", "DimensionDefault", "SamplerChoice",
           "add_sampler_arguments", "apply_sampler", "choose_sampler", "default_for_dimension",
           "dimension_help", "fit_model", "get_sampler", "named_sampler", "presets_help",
           "sampler_name"]

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


@dataclass(frozen=True)
class DimensionDefault:
    """The default sampler for models with at least ``min_free`` free parameters.

    Attributes
    ----------
    min_free : int
        The row applies from this many free parameters (up to the next row's).
    sampler : str
        A registered sampler.
    preset : str or None
        Its preset for ``fit`` / ``compare`` (None: the sampler's own defaults).
    catalog_preset : str
        Its preset for ``fit-catalog``.
    why : str
        What was measured, printed with the choice.
    """

    min_free: int
    sampler: str
    preset: str | None
    catalog_preset: str
    why: str

    def describe(self, catalog: bool = False) -> str:
        """``sampler, preset P``."""
        preset = self.catalog_preset if catalog else self.preset
        return f"{self.sampler}, " + (f"preset {preset}" if preset else "its own defaults")


#: The default sampler by the model's number of free parameters, where no sampler is named
#: (``prospect-emu fit``, ``compare``, :func:`~prospect_emu.prospector.fitting.run_fit`,
#: ``fit-catalog``).  Ascending ``min_free``; the last row whose ``min_free`` the model reaches.
DEFAULT_BY_DIMENSION: tuple[DimensionDefault, ...] = (
    DimensionDefault(0, "dynesty", None, "catalog",
                     "measured on the 5-parameter demo model: ~450k calls with Prospector's "
                     "defaults, ~25k with the demo and catalog presets (docs/performance.rst)"),
    # Measured on a 14-parameter Prospector-alpha-like emulator (docs/performance.rst): no emcee
    # setting converged (autocorrelation time growing with chain length, split R-hat 1.3-2.3,
    # kde/de_kde acceptance 0.003-0.014), Prospector's dynesty defaults took 1.6 M calls (561 s),
    # nautilus with 300-400 live points converged at 83-120k calls (1,300-1,900 effective samples).
    DimensionDefault(8, "nautilus", "wide", "wide",
                     "at 14 free parameters no emcee setting converged and Prospector's dynesty "
                     "defaults took 1.6 M calls, where nautilus with 400 live points reached "
                     "1,300-1,900 effective samples in 83-120k calls (docs/performance.rst)"),
)


@dataclass(frozen=True)
class SamplerChoice:
    """The sampler a fit runs and why (:func:`choose_sampler`).

    Attributes
    ----------
    sampler : str or None
        A registered sampler; None for an optimizer-only run.
    preset : str or None
        The preset for the options not given.
    reason : str
        Why: named on the command line, or the model's dimension and what was measured.
    by_dimension : bool
        True where the model's number of free parameters chose it.
    """

    sampler: str | None
    preset: str | None
    reason: str
    by_dimension: bool

    def describe(self) -> str:
        """One line for the user, e.g. ``sampler nautilus, preset wide: 14 free ...``."""
        what = ("no sampler (--optimize only)" if self.sampler is None else
                f"sampler {self.sampler}, " + (f"preset {self.preset}" if self.preset
                                                else "its own defaults"))
        return f"{what}: {self.reason}"


def default_for_dimension(ndim: int) -> DimensionDefault:
    """The row of :data:`DEFAULT_BY_DIMENSION` for a model with ``ndim`` free parameters."""
    rows = [r for r in DEFAULT_BY_DIMENSION if ndim >= r.min_free]
    return rows[-1] if rows else DEFAULT_BY_DIMENSION[0]


def dimension_help(catalog: bool = False) -> str:
    """:data:`DEFAULT_BY_DIMENSION` as CLI help lines (``fit-catalog``'s presets where
    ``catalog``)."""
    lines = []
    for i, row in enumerate(DEFAULT_BY_DIMENSION):
        nxt = DEFAULT_BY_DIMENSION[i + 1].min_free if i + 1 < len(DEFAULT_BY_DIMENSION) else None
        span = (f"{row.min_free} or more" if nxt is None else
                f"fewer than {nxt}" if row.min_free <= 1 else f"{row.min_free}-{nxt - 1}")
        lines.append(f"  {span} free parameters: {row.describe(catalog)} ({row.why})")
    return "\n".join(lines)


def _option_owner(key: str) -> str | None:
    """The sampler a run_params option belongs to (``nested_*``: dynesty; ``nautilus_*``:
    nautilus; emcee's walkers, steps and ``emcee_*``: emcee); None for others."""
    if key.startswith("nested_"):
        return "dynesty"
    if key in NAUTILUS_OPTIONS:
        return "nautilus"
    if key in EMCEE_OPTIONS or key in ("nwalkers", "niter", "nburn"):
        return "emcee"
    return None


def named_sampler(flags: Mapping[str, Any], given: Iterable[str] = ()) -> str | None:
    """The sampler the user named: a flag set in ``flags`` (``dynesty``, ``emcee``,
    ``nautilus``), else the one sampler whose options are in ``given`` (the option names on
    the command line); None where nothing names one.

    Raises
    ------
    ConfigurationError
        For two sampler flags, or options of two samplers and no flag.
    """
    if any(flags.get(n) for n in ("nautilus", "emcee", "dynesty")):
        return sampler_name(flags)  # the flags' order of precedence, defined once
    owners = sorted({o for o in map(_option_owner, given) if o is not None})
    if len(owners) > 1:
        raise ConfigurationError(f"options of the samplers {', '.join(owners)} given and no sampler "
                                 f"named: add one of {', '.join('--' + o for o in owners)}")
    return owners[0] if owners else None


def _installed(name: str) -> bool:
    if name != "nautilus":
        return True
    import importlib.util

    return importlib.util.find_spec("nautilus") is not None


def choose_sampler(flags: Mapping[str, Any], ndim: int, given: Iterable[str] = (),
                   sampler: str | None = None, preset: str | None = None,
                   catalog: bool = False) -> SamplerChoice:
    """The sampler a fit of a model with ``ndim`` free parameters runs.

    In order: ``sampler`` (a caller's explicit choice); the sampler ``flags`` / ``given``
    name (:func:`named_sampler`); no sampler for ``--optimize`` alone; else
    :data:`DEFAULT_BY_DIMENSION`.  ``preset`` (else ``flags["sampler_preset"]``, ``--preset``)
    wins over the table's preset; a preset given without a sampler that the dimension's
    sampler does not have picks the one sampler that has it.  Where the table's sampler is
    not installed (nautilus), the first row's stands in, and the reason says so.

    Parameters
    ----------
    flags : mapping
        run_params, or the options given on the command line as ``{name: True}``.
    ndim : int
        The model's number of free parameters.
    given : iterable of str
        Option names given on the command line.
    sampler, preset : str, optional
        An explicit choice (``run_fit(sampler=, preset=)``, ``fit-catalog --sampler``).
    catalog : bool
        Use the table's ``catalog_preset`` (``fit-catalog``).
    """
    preset = preset or flags.get("sampler_preset")
    if sampler is not None:
        return SamplerChoice(get_sampler(sampler).name, preset, "as asked", False)
    named = named_sampler(flags, given)
    if named is not None:
        return SamplerChoice(named, preset, "named on the command line", False)
    if flags.get("optimize"):
        return SamplerChoice(None, preset, "--optimize without a sampler", False)
    row = default_for_dimension(ndim)
    name, why = row.sampler, f"the default for {ndim} free parameters ({row.why})"
    chosen = row.catalog_preset if catalog else row.preset
    if not _installed(name):
        first = DEFAULT_BY_DIMENSION[0]
        why = (f"{ndim} free parameters, where {row.describe(catalog)} is the default, but "
               f"{name} is not installed (pip install nautilus-sampler): {first.sampler} "
               "instead, which costs many more likelihood calls at this dimension")
        name, chosen = first.sampler, first.catalog_preset if catalog else first.preset
    if preset is not None:
        if preset not in get_sampler(name).presets:
            owners = [s.name for s in REGISTRY.values() if preset in s.presets]
            name = owners[0] if len(owners) == 1 else name
        chosen = preset
    return SamplerChoice(name, chosen, why, True)


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
