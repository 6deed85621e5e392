"""The emulator kinds on the Prospector side: what
:class:`~prospect_emu.prospector.model.EmulatedSpecModel` does differently per kind, so that
the adapter never tests which kind it holds.

Each emulator kind (:mod:`prospect_emu.emulator.kinds`, ``emulator.kind``) has one class
here, listed in :data:`REGISTRY` under the kind's name; the model holds an instance as
``model.kind`` (:func:`kind_for`) and calls its methods (:class:`AdapterKind`): its
``predict``, the options of the likelihood's fast network, the checks of an observation's
coverage, and Prospector's ``flux_norm`` / ``predict_phot`` where the kind runs Prospector's
own ``SpecModel.predict``.  The photometric kind is :class:`PhotometricKind` (here), the
spectral kind :class:`~prospect_emu.prospector.model_spectral.SpectralKind`.  Adding a kind
is one class and one entry of :data:`REGISTRY`.  :class:`KindHooks` holds the model's
methods that route to its kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ..emulator.transforms import LN10_25
from ..errors import ConfigurationError
from ..filters import obs_filters
from .model_spectral import SpectralKind
from .plans import element

__all__ = ["REGISTRY", "AdapterKind", "KindHooks", "PhotometricKind", "kind_for"]


class AdapterKind(Protocol):
    """What a kind's class defines (:class:`PhotometricKind` is the simplest example).

    A kind's class is constructed with the model's emulator, once per model, and may keep
    per-model caches.  Its methods take the model (an ``EmulatedSpecModel``) first.
    """

    #: the emulator kind it serves (``emulator.kind``, its key in :data:`REGISTRY`)
    name: str

    def predict(self, model: Any, theta: np.ndarray, obs: dict,
                sigma_spec: Any = None) -> tuple[np.ndarray, Any, float]:
        """``(spec, phot, mfrac)`` for ``model.predict`` (``obs`` already checked by
        ``emulator.check_observation``); sets ``model._dphot_dmag``."""
        ...

    def fast_network_options(self, model: Any) -> dict[str, Any]:
        """Keyword arguments of ``emulator.fast_network`` beyond the common ones."""
        ...

    def check_coverage(self, model: Any, obs: dict) -> None:
        """Refuse (``ConfigurationError``) what ``obs`` holds outside what the kind
        predicts at the fit's redshifts."""
        ...

    def flux_norm(self, model: Any, prospector: Callable[[], float]) -> float:
        """``model.flux_norm()``; ``prospector`` is Prospector's own."""
        ...

    def predict_phot(self, model: Any, filters: Any, prospector: Callable[[Any], Any]) -> Any:
        """``model.predict_phot(filters)``; ``prospector`` is Prospector's own."""
        ...


class PhotometricKind:
    """The photometric kind (``emulator.kind == "photometry"``): the folded network of the
    observation's bands, mass and distance applied analytically; Prospector's own
    ``SpecModel.predict`` never runs.

    Parameters
    ----------
    emulator : PhotometricEmulator
        The model's emulator.
    """

    #: the emulator kind served (``emulator.json`` ``kind``)
    name = "photometry"

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator

    @staticmethod
    def predict(model: Any, theta: np.ndarray, obs: dict,
                sigma_spec: Any = None) -> tuple[np.ndarray, Any, float]:
        """``(spec, phot, mfrac)``: ``spec`` empty, ``phot`` maggies for
        ``obs['filters']`` (0.0 without filters)."""
        s, scale = model.input_plan.fast(model, theta)  # sets the parameters, as set_parameters
        if s is None:
            raw = model.emulator_inputs().copy()
            oob = model.emulator.inputs.out_of_bounds(raw) | ~np.isfinite(raw)
            raise ValueError(model.emulator.bounds_message(raw, oob))
        filters = obs_filters(obs)
        net = model.network_for(filters)
        out = net.forward_one(s)
        mfrac = math.exp(out[-1])
        model._zred = element(model.params.get("zred", 0.0), 0)
        model._mfrac = mfrac
        model._wave = model._spec = None
        spec = np.zeros(0)
        if filters is None:
            model._dphot_dmag = None
            return spec, 0.0, mfrac
        a = out[:-1]
        ts = model.emulator.outputs.softening[net.bands] * (2.0 * scale)
        phot = ts * np.sinh(a)
        # d(phot)/d(asinh mag) at this point, for the emulator-error terms
        model._dphot_dmag = -LN10_25 * ts * np.cosh(a)
        return spec, phot, mfrac

    @staticmethod
    def fast_network_options(model: Any) -> dict[str, Any]:
        """None: the folded network takes the bands only."""
        return {}

    @staticmethod
    def check_coverage(model: Any, obs: dict) -> None:
        """Nothing to check: the bands are checked by ``model.bands_for`` and an observed
        spectrum is refused by ``emulator.check_observation``."""

    @staticmethod
    def flux_norm(model: Any, prospector: Callable[[], float]) -> float:
        """Prospector's own (this kind's ``predict`` never calls it)."""
        return prospector()

    @staticmethod
    def predict_phot(model: Any, filters: Any, prospector: Callable[[Any], Any]) -> Any:
        """Prospector's own (this kind's ``predict`` never calls it)."""
        return prospector(filters)


#: the adapter's class per emulator kind name (``emulator.kind``)
REGISTRY: dict[str, type[AdapterKind]] = {
    PhotometricKind.name: PhotometricKind,
    SpectralKind.name: SpectralKind,
}


def kind_for(emulator: Any) -> AdapterKind:
    """The adapter's kind object for ``emulator``, from :data:`REGISTRY`.

    Raises
    ------
    ConfigurationError
        For an emulator whose kind has no class in :data:`REGISTRY`, naming the known ones.
    """
    name = getattr(emulator, "kind", None)
    try:
        cls = REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"the Prospector adapter knows no emulator kind {name!r} (known kinds: "
            f"{', '.join(REGISTRY)}): add its class to "
            "prospect_emu.prospector.kinds.REGISTRY") from None
    return cls(emulator)


class KindHooks:
    """The methods of :class:`~prospect_emu.prospector.model.EmulatedSpecModel` that route to
    its kind (``self.kind``); placed before ``SpecModel`` in its bases, so that ``super()``
    here is Prospector's (or the original model class's, e.g. ``PolySpecModel``)."""

    kind: AdapterKind
    params: Any

    def prospector_predict(self, theta, **kwargs):
        """Prospector's own ``predict`` of the model class (for a kind that runs it on an
        emulated sps)."""
        return super().predict(theta, **kwargs)

    def check_spectral_coverage(self, obs: dict) -> None:
        """Refuse what ``obs`` holds outside what the emulator predicts at the fit's
        redshifts (the kind's ``check_coverage``).

        Raises
        ------
        ConfigurationError
            Naming the wavelengths or bands, the redshift and the emulated range.
        """
        self.kind.check_coverage(self, obs)

    def igm_factor(self) -> float | None:
        """FSPS's ``igm_factor`` where the model has ``add_igm_absorption`` on, else None:
        the spectral kind applies FSPS's IGM absorption after redshifting
        (:mod:`prospect_emu.emulator.igm`; none at zred 0, as FSPS)."""
        p = self.params
        if not np.any(p.get("add_igm_absorption", False)):
            return None
        return float(np.squeeze(p.get("igm_factor", 1.0)))

    def flux_norm(self) -> float:
        """``SpecModel.flux_norm``, as the kind computes it (the spectral kind caches the
        distance per (zred, lumdist) instead of astropy's per call)."""
        return self.kind.flux_norm(self, super().flux_norm)

    def predict_phot(self, filters):
        """``SpecModel.predict_phot``, as the kind computes it (the spectral kind projects
        the emulated spectrum through cached filter projections)."""
        return self.kind.predict_phot(self, filters, super().predict_phot)
