"""The Prospector adapter: ``EmulatedSpecModel``, a drop-in ``SpecModel`` computed by an emulator.

Importing this module also makes Prospector 1.4.1's ``SpecModel`` constructible with
``SPS_HOME`` unset: there ``SpecModel.__init__`` reads ``$SPS_HOME/data/emlines_info.dat``
and fails with a ``TypeError``.  With SPS_HOME unset the line table is left empty (as
Prospector itself does when the file cannot be read), so an unmodified ``build_model``
works on a machine without FSPS; with SPS_HOME set nothing changes.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np
from prospect.models import SpecModel

from .artifact import Emulator
from .errors import ConfigurationError
from .filters import filter_names
from .normalization import distance_factor
from .priors import FastPriors
from .transforms import LN10_25, asinh_flux

ERROR_MODES = ("none", "diag", "cov")

_original_init_eline_info = SpecModel.init_eline_info


def _init_eline_info_without_sps_home(self, eline_file="emlines_info.dat"):
    if not os.getenv("SPS_HOME"):
        self.emline_info = OSError("SPS_HOME is unset: no emission-line table (emulated model)")
        return
    return _original_init_eline_info(self, eline_file)


if not getattr(SpecModel.init_eline_info, "_prospect_emu", False):
    _init_eline_info_without_sps_home._prospect_emu = True
    SpecModel.init_eline_info = _init_eline_info_without_sps_home


def _as_emulator(emulator: Emulator | str | Path) -> Emulator:
    return emulator if isinstance(emulator, Emulator) else Emulator.load(emulator)


class EmulatedSpecModel(SpecModel):
    """A ``SpecModel`` whose ``predict`` runs an emulator instead of FSPS.

    Parameters
    ----------
    configuration : list or dict
        Prospector parameter specifications, as for ``SpecModel``.
    emulator : Emulator or path
        The trained emulator.
    emulator_error : {'none', 'diag', 'cov'}
        How :func:`prospect_emu.likelihood.lnprobfn` adds emulator error to the
        photometric uncertainties.
    **kwargs
        Passed to ``SpecModel`` (``param_order``, ``verbose``).

    Notes
    -----
    ``predict(theta, obs, sps=None)`` returns ``(spec, phot, mfrac)`` as ``SpecModel``
    does: ``phot`` in maggies for ``obs["filters"]`` (any subset and order of the
    emulator's bands), mass and distance applied analytically as Prospector does,
    ``mfrac`` the surviving mass fraction.  ``spec`` is an empty array: the emulator
    is photometric, and observations with a spectrum are refused.  Parameters outside
    the emulator's training bounds raise ``ValueError``, which Prospector's
    ``lnprobfn`` turns into ln-probability -inf: the emulator never extrapolates.
    """

    def __init__(self, configuration, emulator: Emulator | str | Path | None = None,
                 emulator_error: str = "diag", **kwargs):
        if emulator is None:
            raise ConfigurationError("EmulatedSpecModel needs an emulator (a path or Emulator)")
        if emulator_error not in ERROR_MODES:
            raise ConfigurationError(f"emulator_error must be one of {ERROR_MODES}, got {emulator_error!r}")
        super().__init__(configuration, **kwargs)
        self.emulator = _as_emulator(emulator)
        self.emulator_error = emulator_error
        self._input_source = []
        for name in self.emulator.input_names:
            param, idx = name, 0
            if name not in self.params:
                head, _, tail = name.rpartition("_")
                if tail.isdigit() and head in self.params:
                    param, idx = head, int(tail) - 1
                else:
                    raise ConfigurationError(
                        f"the model has no parameter {name!r}, an input of the emulator "
                        f"(inputs {self.emulator.input_names}); add it to the model, fixed or free")
            self._input_source.append((param, idx))
        self._band_cache: dict[tuple[str, ...], np.ndarray] = {}
        self._emu_cov_cache: dict[tuple[str, ...], np.ndarray] = {}
        self._x = np.empty(len(self._input_source))
        self._dphot_dmag = None
        self.fast_priors = FastPriors.for_model(self)

    def prior_product(self, theta, nested=False, **extras):
        """Prospector's ``prior_product``, vectorised where every prior allows it."""
        if self.fast_priors is None or np.ndim(theta) != 1:
            return super().prior_product(theta, nested=nested, **extras)
        lpp = self.fast_priors.ln_prior(theta)
        if nested and np.isfinite(lpp):
            return 0.0
        return lpp

    def prior_transform(self, unit_coords):
        """Prospector's ``prior_transform``, vectorised where every prior allows it."""
        if self.fast_priors is None:
            return super().prior_transform(unit_coords)
        return self.fast_priors.unit_transform(unit_coords)

    def init_eline_info(self, eline_file: str = "emlines_info.dat") -> None:
        """No emission-line table is needed: the emulator predicts photometry directly."""
        self.emline_info = np.zeros(0, dtype=[("wave", "f8"), ("name", "<U20")])
        self._use_eline = np.zeros(0, dtype=bool)

    def bands_for(self, filters) -> np.ndarray:
        """Emulator output indices for ``obs['filters']``; a clear error for a missing band."""
        key = tuple(filter_names(filters))
        idx = self._band_cache.get(key)
        if idx is None:
            idx = self.emulator.band_indices(key)
            self._band_cache[key] = idx
        return idx

    def emulator_inputs(self) -> np.ndarray:
        """The emulator's input vector from the current parameters (free and fixed)."""
        p = self.params
        x = self._x
        for j, (name, i) in enumerate(self._input_source):
            x[j] = p[name][i]
        return x

    def predict(self, theta, obs=None, sps=None, sigma_spec=None, **extras):
        """``(spec, phot, mfrac)`` from the emulator; see the class notes."""
        obs = obs or {}
        if obs.get("spectrum", None) is not None:
            raise ConfigurationError(
                "this emulator is photometric: it cannot predict obs['spectrum']. Fit the "
                "photometry only (set obs['spectrum'] = None) or fit the spectrum with FSPS")
        self.set_parameters(theta)
        mags, mfrac = self.emulator.predict_one(self.emulator_inputs())
        p = self.params
        self._zred = float(np.squeeze(p.get("zred", 0.0)))
        lumdist = p.get("lumdist", None)
        scale = float(np.sum(p.get("mass", 1.0))) * distance_factor(
            self._zred, None if lumdist is None else float(np.squeeze(lumdist)))
        self._mfrac = mfrac
        self._wave = self._spec = None
        filters = obs.get("filters", None)
        spec = np.zeros(0)
        if filters is None:
            self._dphot_dmag = None
            return spec, 0.0, mfrac
        idx = self.bands_for(filters)
        soft = self.emulator.outputs.softening[idx]
        per_mass = asinh_flux(mags[idx], soft)
        phot = per_mass * scale
        # d(phot)/d(asinh mag) at this point, for the emulator-error terms
        self._dphot_dmag = -LN10_25 * np.sqrt(per_mass * per_mass + 4.0 * soft * soft) * scale
        return spec, phot, mfrac

    def emulator_covariance(self, filters) -> np.ndarray:
        """The emulator's residual covariance (asinh mag^2) for these filters, in order."""
        key = tuple(filter_names(filters))
        cov = self._emu_cov_cache.get(key)
        if cov is None:
            stats = self.emulator.error_stats
            if not stats:
                raise ConfigurationError("this emulator stores no test-set error statistics; use "
                                         "--emulator-error none or retrain it with prospect-emu train")
            full = np.asarray(stats["covariance"], dtype=float)
            idx = self.bands_for(filters)
            cov = full[np.ix_(idx, idx)]
            self._emu_cov_cache[key] = cov
        return cov


def emulate(model, emulator: Emulator | str | Path, error: str = "diag") -> EmulatedSpecModel:
    """The emulated twin of a Prospector model.

    Parameters
    ----------
    model : prospect.models.SpecModel, SedModel or subclass
        A model as a parameter file's ``build_model`` returns it.
    emulator : Emulator or path
    error : {'none', 'diag', 'cov'}
        Emulator-error treatment in :func:`prospect_emu.likelihood.lnprobfn`.

    Returns
    -------
    EmulatedSpecModel
        Same parameters, priors, ``theta_labels`` and ``depends_on`` transforms; its
        ``predict`` runs the emulator.
    """
    config: Any = copy.deepcopy(getattr(model, "init_config", None) or model.config_list)
    twin = EmulatedSpecModel(config, emulator=emulator, emulator_error=error,
                             param_order=getattr(model, "parameter_order", None),
                             verbose=getattr(model, "verbose", False))
    if twin.theta_labels() != model.theta_labels():  # pragma: no cover - defensive
        raise ConfigurationError("the emulated model's parameters differ from the original's")
    twin.set_parameters(model.theta)
    return twin
