"""What every sampler shares: the result type, named presets and the :class:`Sampler` base.

A sampler module (:mod:`.dynesty`, :mod:`.emcee`, :mod:`.nautilus`) defines one
:class:`Sampler` subclass: its name (also the ``run_params`` flag that selects it:
``--dynesty``, ``--emcee``, ``--nautilus``), its presets (each defined once, here shown in
the CLI help), the generic option names it understands (``nlive``, ``nwalkers``, ...) and
``run``, shaped like Prospector's ``run_dynesty``: ``(obs, model, sps, noise, lnprobfn,
seed=..., **run_params) -> (result, seconds)``.  :mod:`.registry` holds the samplers by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from ...errors import ConfigurationError

__all__ = ["Preset", "Sampler", "SamplingResults", "blas_threads", "str2bool"]


class SamplingResults(dict):
    """A sampler's result: a dict whose keys are also attributes (dynesty's or emcee's
    layout, so that Prospector's ``write_hdf5`` stores it)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Preset:
    """Named sampler settings.

    Attributes
    ----------
    name : str
        ``default``, ``fast``, ``demo``, ``catalog``, ...
    description : str
        One line: what the preset is for.
    values : mapping
        ``run_params`` keys (Prospector-style option names) -> values; empty for the
        sampler's own defaults.
    """

    name: str
    description: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def describe(self) -> str:
        """``name: description (key=value, ...)``, as the CLI help shows it."""
        vals = ", ".join(f"{k}={_fmt(v)}" for k, v in self.values.items())
        return f"{self.name}: {self.description}" + (f" ({vals})" if vals else "")


class Sampler:
    """Base class of the samplers of :mod:`prospect_emu.prospector.samplers`.

    Subclasses set the class attributes and implement :meth:`run` and :meth:`posterior`.
    """

    #: registry name, also the boolean ``run_params`` key (command-line flag) selecting it
    name: ClassVar[str] = ""
    #: one line for the CLI help
    summary: ClassVar[str] = ""
    #: presets by name; every sampler has ``default``
    presets: ClassVar[dict[str, Preset]] = {}
    #: generic option names (fit-catalog's, the demo's) -> this sampler's run_params keys
    aliases: ClassVar[dict[str, str]] = {}

    def run(self, obs: dict, model, sps=None, noise=(None, None), lnprobfn=None, *,
            seed: int | None = None, **run_params) -> tuple[Any, float]:
        """Sample the posterior; ``(result, seconds)`` as Prospector's ``run_dynesty``."""
        raise NotImplementedError

    def posterior(self, result) -> tuple[np.ndarray, np.ndarray]:
        """``(samples (n, ndim), weights (n,) summing to 1)`` of a result of :meth:`run`."""
        raise NotImplementedError

    def logz(self, result) -> float:
        """ln-evidence of a result (NaN for samplers that give none)."""
        return float("nan")

    def ncall(self, result) -> int:
        """Likelihood calls of a result."""
        return int(np.sum(result["ncall"]))

    def preset(self, name: str | None) -> Preset:
        """The preset ``name`` (None: ``default``).

        Raises
        ------
        ConfigurationError
            For a name this sampler has no preset of; the message lists its presets.
        """
        name = name or "default"
        if name not in self.presets:
            raise ConfigurationError(f"the {self.name} sampler has no preset {name!r}: use one of "
                                     f"{', '.join(self.presets)}")
        return self.presets[name]

    def translate(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` with generic names (``nlive``, ``maxcall``, ...) turned into this
        sampler's run_params keys; generic names it does not use and None values dropped,
        its own run_params keys kept."""
        out = {}
        generic = {"nlive", "bound", "sample", "dlogz", "maxcall", "walks", "nwalkers", "niter",
                   "nburn", "starts"}
        for k, v in options.items():
            if v is None:
                continue
            if k in self.aliases:
                out[self.aliases[k]] = v
            elif k not in generic:
                out[k] = v
        return out

    def settings(self, preset: str | None = None, **overrides) -> dict[str, Any]:
        """The preset's run_params updated with ``overrides`` (generic names translated)."""
        out = dict(self.preset(preset).values)
        out.update(self.translate(overrides))
        return out

    def argv(self, preset: str | None = None, **overrides) -> list[str]:
        """Prospector-style command-line options selecting this sampler with these settings
        (for scripts and benchmarks that drive ``prospect-emu fit``)."""
        out = ["--" + self.name]
        for k, v in self.settings(preset, **overrides).items():
            out += ["--" + k, *_fmt(v).split()]
        return out

    def fit_object(self, model, obs: dict, options: Mapping[str, Any],
                   preset: str = "catalog") -> dict[str, Any]:
        """One catalog object (``fit-catalog``): ``preset`` updated with the generic
        ``options`` (``nlive``, ``nwalkers``, ..., ``seed``) through the emulated likelihood.

        Returns
        -------
        dict
            ``samples``, ``weights``, ``ncall``, ``logz`` and ``output`` (``fit_model``'s
            shape, for Prospector's result file).
        """
        opts = {k: v for k, v in options.items()
                if k not in ("sampler", "seed", "nsamples", "preset")}
        result, seconds = self.run(obs, model, seed=options.get("seed"),
                                   **self.settings(preset, **opts))
        samples, weights = self.posterior(result)
        return {"samples": samples, "weights": weights, "ncall": self.ncall(result),
                "logz": self.logz(result),
                "output": {"optimization": (None, 0.0), "sampling": (result, seconds)}}


def str2bool(v: Any) -> bool:
    """``True``/``False`` from a command-line string (``1``, ``true``, ``yes``, ...)."""
    if isinstance(v, bool):
        return v
    if str(v).lower() in ("1", "true", "yes", "y"):
        return True
    if str(v).lower() in ("0", "false", "no", "n"):
        return False
    raise ConfigurationError(f"expected True or False, got {v!r}")


_CONTROLLER: list = []


def _blas_controller():
    """This process's threadpoolctl controller (None without threadpoolctl), made once:
    finding the loaded libraries costs milliseconds, too much per catalog object.  SciPy's
    BLAS, which the compiled kernels' products call, is loaded first so it is found."""
    if not _CONTROLLER:
        try:
            import scipy.linalg  # noqa: F401 - loads SciPy's BLAS
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - nautilus brings it (scikit-learn)
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


class blas_threads:  # noqa: N801 - a context manager used like a function
    """Limit BLAS threads (threadpoolctl, when installed) while sampling."""

    def __init__(self, n: int | None):
        self.n, self.ctl = n, None

    def __enter__(self):
        controller = _blas_controller() if self.n else None
        if controller is not None:
            self.ctl = controller.limit(limits=self.n, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self.ctl is not None:
            self.ctl.restore_original_limits()
        return False

