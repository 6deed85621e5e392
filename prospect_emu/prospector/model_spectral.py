"""The spectral kind of :class:`~prospect_emu.prospector.model.EmulatedSpecModel`
(:class:`SpectralKind`, registered in :mod:`prospect_emu.prospector.kinds`): the redshift
range a fit reaches, refusing wavelengths and bands outside the emulated rest frame, the
cached filter projections, and ``predict`` through Prospector's own ``SpecModel.predict`` on
the emulated sps (with a spectrum) or the exact projection of the emulated spectrum
(photometry only)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from prospect.sources.constants import jansky_cgs, to_cgs_at_10pc

from ..emulator.transforms import LN10_25
from ..errors import ConfigurationError
from ..filters import obs_filters

#: Filter sets remembered per model (by the identity of their filter objects).
_MAX_FILTER_SETS = 64
#: Prospector's Lsun/Hz per Msun at 10 pc -> maggies (SpecModel.flux_norm's unit_conversion)
_TO_MAGGIES = to_cgs_at_10pc / (3631 * jansky_cgs)


class SpectralKind:
    """The spectral kind (``emulator.kind == "spectrum"``) of
    :class:`~prospect_emu.prospector.model.EmulatedSpecModel`: one per model, held as
    ``model.kind`` and found in :data:`prospect_emu.prospector.kinds.REGISTRY`.

    Parameters
    ----------
    emulator : SpectralEmulator
        The model's emulator.

    Attributes
    ----------
    sps : EmulatedSPS
        The sps object on which Prospector's own ``predict`` runs (with an observed spectrum).
    """

    #: the emulator kind served (``emulator.json`` ``kind``)
    name = "spectrum"

    def __init__(self, emulator: Any) -> None:
        from .sps import EmulatedSPS

        self.sps = EmulatedSPS(emulator)
        #: photometry projections per (filter set, zred, igm_factor)
        self._proj_cache: dict[tuple, Any] = {}
        #: folded networks through those projections (photometry only, zred fixed)
        self._net_cache: dict[tuple, Any] = {}
        #: filter sets and redshift ranges whose bands were checked
        self._range_checked: set = set()
        #: the content of the last wavelengths and mask checked
        self._wave_checked: tuple | None = None

    @staticmethod
    def zred_range(model) -> tuple[float, float]:
        """The redshifts a fit can reach: the fixed value, or a free zred's prior range."""
        zred = float(np.squeeze(model.params.get("zred", 0.0)))
        if "zred" in model.theta_index:
            prior = model.config_dict.get("zred", {}).get("prior")
            rng = getattr(prior, "range", None)
            if rng is not None:
                return float(np.min(rng[0])), float(np.max(rng[1]))
        return zred, zred

    def check_coverage(self, model, obs: dict) -> None:
        """Refuse observed wavelengths (``obs['wavelength']`` of unmasked pixels) and bands
        that reach outside the emulated rest-frame range at the fit's redshift (a free
        zred: over its prior range).  The wavelengths and mask are compared by content at
        every call (about a microsecond), so an array edited in place is checked again; the
        bands once per filter set and redshift range (cached).

        Raises
        ------
        ConfigurationError
            Naming the wavelengths, the redshift and the emulated range.
        """
        wave = obs.get("wavelength", None)
        filters = obs.get("filters", None)
        zlo, zhi = self.zred_range(model)
        if wave is not None and obs.get("spectrum", None) is not None:
            mask = obs.get("mask", None)
            if type(wave) is np.ndarray and (mask is None or type(mask) is np.ndarray):
                # content, not identity: an array edited in place is checked again
                key = (wave.tobytes(), wave.dtype.char, zlo, zhi,
                       None if mask is None else (mask.tobytes(), mask.dtype.char))
                if key != self._wave_checked:
                    self._check_wavelengths(model, wave, mask, zlo, zhi)
                    self._wave_checked = key
            else:
                self._check_wavelengths(model, wave, mask, zlo, zhi)
        if filters is None:
            return
        key = (model._filters_key(filters), zlo, zhi)
        if key in self._range_checked:
            return
        for z in {zlo, zhi}:
            model.emulator.photometry_plan(list(filters), z)  # refuses bands out of range
        if len(self._range_checked) >= _MAX_FILTER_SETS:
            self._range_checked.clear()
        self._range_checked.add(key)

    @staticmethod
    def _check_wavelengths(model, wave, mask, zlo: float, zhi: float) -> None:
        """The unmasked observed wavelengths, redshifted over ``zlo``-``zhi``, inside the
        emulated rest-frame range (else a ConfigurationError)."""
        w = np.asarray(wave, dtype=float)
        if mask is not None and np.size(mask) == np.size(w):
            w = w[np.asarray(mask, dtype=bool)]
        if not w.size:
            return
        ew = model.emulator.wavelength
        wmin, wmax = w.min(), w.max()
        lo_rest, hi_rest = wmin / (1 + zhi), wmax / (1 + zlo)
        if lo_rest < ew[0] or hi_rest > ew[-1] or not (wmin == wmin and wmax == wmax):
            ztxt = f"zred {zlo:g}" if zlo == zhi else f"zred {zlo:g}-{zhi:g}"
            raise ConfigurationError(
                f"obs['wavelength'] spans {wmin:.0f}-{wmax:.0f} AA observed, rest "
                f"frame {lo_rest:.0f}-{hi_rest:.0f} AA at {ztxt}, outside the spectral "
                f"emulator's rest-frame range {ew[0]:.0f}-{ew[-1]:.0f} AA: mask or cut "
                "those pixels (obs['mask']), or train on spectra with a wider "
                "--wave-range")

    def fast_network_options(self, model) -> dict[str, Any]:
        """The model's IGM absorption (fixed ``igm_factor``, or None), folded into the
        likelihood's fast network (``emulator.fast_network(..., igm_factor=...)``)."""
        return {"igm_factor": model.igm_factor()}

    def projection(self, model, filters, zred: float, igm_factor: float | None = None):
        """The spectral emulator's photometry plan for ``filters`` at ``zred`` (with IGM
        absorption scaled by ``igm_factor``; None: none), cached per (filter set, zred,
        igm_factor): built once for a fixed zred, per new value for a free one (~0.1 ms per
        filter)."""
        key = (model._filters_key(filters), zred, igm_factor)
        proj = self._proj_cache.get(key)
        if proj is None:
            model.bands_for(filters)  # keeps the filter objects (and their ids) alive
            if len(self._proj_cache) >= 4 * _MAX_FILTER_SETS:
                self._proj_cache.clear()
            proj = self._proj_cache[key] = model.emulator.photometry_plan(list(filters), zred,
                                                                          igm_factor)
        return proj

    def predict(self, model, theta, obs: dict, sigma_spec=None):
        """``model.predict`` for a spectral emulator: Prospector's own ``SpecModel.predict``
        (the model class's, through ``model.prospector_predict``) with :attr:`sps` when
        ``obs`` has a spectrum; otherwise the exact photometry of the emulated spectrum
        through the cached projection."""
        filters = obs_filters(obs)
        if obs.get("spectrum", None) is not None or filters is not None:
            self.check_coverage(model, obs)
        if obs.get("spectrum", None) is not None:
            spec, phot, mfrac = model.prospector_predict(theta, obs=obs, sps=self.sps,
                                                         sigma_spec=sigma_spec)
            if filters is None:
                model._dphot_dmag = None
                return spec, phot, mfrac
            zred = float(np.squeeze(model.params.get("zred", 0.0)))
            lumdist = model.params.get("lumdist", None)
            lumdist = None if lumdist is None else float(np.squeeze(lumdist))
            scale = float(np.sum(model.params.get("mass", 1.0))) * \
                model.input_plan.distance_factor(zred, lumdist)
        elif filters is not None and not (model.input_plan.zred_free
                                          or model.input_plan.igm_free):
            return self._predict_folded(model, theta, filters)
        else:
            plan = model.input_plan
            x, scale = plan.set_and_read(model, theta)
            zred = float(np.squeeze(model.params.get("zred", 0.0)))
            model._zred = zred
            model._wave = model._spec = None
            spec = np.zeros(0)
            if filters is None:
                _, mfrac = model.emulator.coefficients_one(np.array(x, dtype=float))
                model._mfrac = mfrac
                model._dphot_dmag = None
                return spec, 0.0, mfrac
            phot, mfrac = model.emulator.photometry(
                x, self.projection(model, filters, zred, model.igm_factor()))
            phot = phot * scale
            model._mfrac = mfrac
        # d(phot)/d(asinh mag) = -(ln 10 / 2.5) 2 b s cosh(A), phot = 2 b s sinh(A)
        tbs = 2.0 * model.band_softening(filters) * scale
        model._dphot_dmag = -LN10_25 * np.sqrt(tbs * tbs + phot * phot)
        return spec, phot, mfrac

    def _predict_folded(self, model, theta, filters) -> tuple[np.ndarray, np.ndarray, float]:
        """Photometry only, zred and igm_factor fixed: the folded network through the projection
        (:class:`~prospect_emu.emulator.fastpath.SpectralNetwork`, what the compiled
        likelihood runs), cached per (filter set, zred, igm_factor): the same numbers as the
        projection path in about half the time."""
        s, scale = model.input_plan.fast(model, theta)  # sets the parameters
        if s is None:
            raw = model.emulator_inputs().copy()
            oob = model.emulator.inputs.out_of_bounds(raw) | ~np.isfinite(raw)
            raise ValueError(model.emulator.bounds_message(raw, oob))
        zred = float(np.squeeze(model.params.get("zred", 0.0)))
        igm = model.igm_factor()
        key = (model._filters_key(filters), zred, igm)
        net = self._net_cache.get(key)
        if net is None:
            bands = model.bands_for(filters)  # keeps the filter objects (and their ids) alive
            if len(self._net_cache) >= _MAX_FILTER_SETS:
                self._net_cache.clear()
            net = self._net_cache[key] = model.emulator.fast_network(
                filters, np.arange(len(bands)), bands, zred,
                2.0 * model.band_softening(filters), igm_factor=igm)
        out = net.forward_one(s)
        a = out[:-1]
        ts = net.two_soft * scale
        mfrac = math.exp(out[-1])
        model._zred, model._mfrac = zred, mfrac
        model._wave = model._spec = None
        # d(phot)/d(asinh mag) = -(ln 10 / 2.5) 2 b s cosh(A), phot = 2 b s sinh(A)
        model._dphot_dmag = -LN10_25 * ts * np.cosh(a)
        return np.zeros(0), ts * np.sinh(a), mfrac

    @staticmethod
    def flux_norm(model, prospector: Callable[[], float]) -> float:
        """``SpecModel.flux_norm`` (Lsun/Hz per Msun formed -> maggies), with the distance
        cached per (zred, lumdist) instead of astropy's per call (~0.5 ms); ``prospector``
        (Prospector's own) is not needed."""
        zred = float(np.squeeze(model._zred))
        lumdist = model.params.get("lumdist", None)
        lumdist = None if lumdist is None else float(np.squeeze(lumdist))
        return float(np.sum(model.params.get("mass", 1.0))) * _TO_MAGGIES * \
            model.input_plan.distance_factor(zred, lumdist)

    def predict_phot(self, model, filters, prospector: Callable[[Any], Any]):
        """``SpecModel.predict_phot`` on the emulated spectrum (after Prospector's
        ``predict_spec``): the cached projection of the filters at this zred
        (:meth:`~prospect_emu.emulator.spectral.SpectralEmulator.photometry_plan`, sedpy's
        ``getSED`` as a matrix on the filters' pixels) instead of sedpy per call, else
        ``prospector(filters)`` (Prospector's own).  No IGM here: the emulated sps put it
        into the spectrum already."""
        if (not isinstance(filters, (list, tuple))
                or getattr(model, "_norm_spec", None) is None
                or (getattr(model, "_want_lines", False) and getattr(model, "_need_lines", False))):
            return prospector(filters)
        plan = self.projection(model, filters, float(np.squeeze(model._zred)))
        return (model._norm_spec[plan.pixels] @ plan.weights) / _TO_MAGGIES
