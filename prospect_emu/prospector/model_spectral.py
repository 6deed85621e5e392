"""The spectral kind's part of :class:`~prospect_emu.prospector.model.EmulatedSpecModel`:
the redshift range a fit reaches, refusing wavelengths and bands outside the emulated rest
frame, the cached filter projections, and ``predict`` through Prospector's own
``SpecModel.predict`` on the emulated sps (with a spectrum) or the exact projection of the
emulated spectrum (photometry only)."""

from __future__ import annotations

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
    """Mixin of :class:`~prospect_emu.prospector.model.EmulatedSpecModel` for spectral
    emulators (placed before ``SpecModel`` in its bases: ``super().predict`` here is
    Prospector's)."""

    def _zred_range(self) -> tuple[float, float]:
        """The redshifts a fit can reach: the fixed value, or a free zred's prior range."""
        zred = float(np.squeeze(self.params.get("zred", 0.0)))
        if "zred" in self.theta_index:
            prior = self.config_dict.get("zred", {}).get("prior")
            rng = getattr(prior, "range", None)
            if rng is not None:
                return float(np.min(rng[0])), float(np.max(rng[1]))
        return zred, zred

    def check_spectral_coverage(self, obs: dict) -> None:
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
        zlo, zhi = self._zred_range()
        if wave is not None and obs.get("spectrum", None) is not None:
            mask = obs.get("mask", None)
            if type(wave) is np.ndarray and (mask is None or type(mask) is np.ndarray):
                # content, not identity: an array edited in place is checked again
                key = (wave.tobytes(), wave.dtype.char, zlo, zhi,
                       None if mask is None else (mask.tobytes(), mask.dtype.char))
                if key != self.__dict__.get("_wave_checked"):
                    self._check_wavelengths(wave, mask, zlo, zhi)
                    self._wave_checked = key
            else:
                self._check_wavelengths(wave, mask, zlo, zhi)
        if filters is None:
            return
        key = (self._filters_key(filters), zlo, zhi)
        if key in self._range_checked:
            return
        for z in {zlo, zhi}:
            self.emulator.photometry_plan(list(filters), z)  # refuses bands out of range
        if len(self._range_checked) >= _MAX_FILTER_SETS:
            self._range_checked.clear()
        self._range_checked.add(key)

    def _check_wavelengths(self, wave, mask, zlo: float, zhi: float) -> None:
        """The unmasked observed wavelengths, redshifted over ``zlo``-``zhi``, inside the
        emulated rest-frame range (else a ConfigurationError)."""
        w = np.asarray(wave, dtype=float)
        if mask is not None and np.size(mask) == np.size(w):
            w = w[np.asarray(mask, dtype=bool)]
        if not w.size:
            return
        ew = self.emulator.wavelength
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

    def igm_factor(self) -> float | None:
        """FSPS's ``igm_factor`` where the model has ``add_igm_absorption`` on, else None:
        the spectral kind applies FSPS's IGM absorption after redshifting
        (:mod:`prospect_emu.emulator.igm`; none at zred 0, as FSPS)."""
        p = self.params
        if not np.any(p.get("add_igm_absorption", False)):
            return None
        return float(np.squeeze(p.get("igm_factor", 1.0)))

    def _projection(self, filters, zred: float, igm_factor: float | None = None):
        """The spectral emulator's photometry plan for ``filters`` at ``zred`` (with IGM
        absorption scaled by ``igm_factor``; None: none), cached per (filter set, zred,
        igm_factor): built once for a fixed zred, per new value for a free one (~0.1 ms per
        filter)."""
        key = (self._filters_key(filters), zred, igm_factor)
        proj = self._proj_cache.get(key)
        if proj is None:
            self.bands_for(filters)  # keeps the filter objects (and their ids) alive
            if len(self._proj_cache) >= 4 * _MAX_FILTER_SETS:
                self._proj_cache.clear()
            proj = self._proj_cache[key] = self.emulator.photometry_plan(list(filters), zred,
                                                                         igm_factor)
        return proj

    def _predict_spectral(self, theta, obs: dict, sigma_spec=None):
        """``predict`` for a spectral emulator: Prospector's own ``SpecModel.predict`` with
        :class:`~prospect_emu.prospector.sps.EmulatedSPS` when ``obs`` has a spectrum; otherwise the
        exact photometry of the emulated spectrum through the cached projection."""
        filters = obs_filters(obs)
        if obs.get("spectrum", None) is not None or filters is not None:
            self.check_spectral_coverage(obs)
        if obs.get("spectrum", None) is not None:
            spec, phot, mfrac = super().predict(theta, obs=obs, sps=self._emu_sps,
                                                sigma_spec=sigma_spec)
            if filters is None:
                self._dphot_dmag = None
                return spec, phot, mfrac
            zred = float(np.squeeze(self.params.get("zred", 0.0)))
            lumdist = self.params.get("lumdist", None)
            lumdist = None if lumdist is None else float(np.squeeze(lumdist))
            scale = float(np.sum(self.params.get("mass", 1.0))) * \
                self.input_plan.distance_factor(zred, lumdist)
        else:
            plan = self.input_plan
            x, scale = plan.set_and_read(self, theta)
            zred = float(np.squeeze(self.params.get("zred", 0.0)))
            self._zred = zred
            self._wave = self._spec = None
            spec = np.zeros(0)
            if filters is None:
                _, mfrac = self.emulator.coefficients_one(np.array(x, dtype=float))
                self._mfrac = mfrac
                self._dphot_dmag = None
                return spec, 0.0, mfrac
            phot, mfrac = self.emulator.photometry(
                x, self._projection(filters, zred, self.igm_factor()))
            phot = phot * scale
            self._mfrac = mfrac
        # d(phot)/d(asinh mag) = -(ln 10 / 2.5) 2 b s cosh(A), phot = 2 b s sinh(A)
        tbs = 2.0 * self.band_softening(filters) * scale
        self._dphot_dmag = -LN10_25 * np.sqrt(tbs * tbs + phot * phot)
        return spec, phot, mfrac

    def flux_norm(self) -> float:
        """``SpecModel.flux_norm`` (Lsun/Hz per Msun formed -> maggies), with the distance
        cached per (zred, lumdist) instead of astropy's per call (~0.5 ms); the spectral
        kind only (the photometric kind never calls it)."""
        if not self.emulator.predicts_spectrum:
            return super().flux_norm()
        zred = float(np.squeeze(self._zred))
        lumdist = self.params.get("lumdist", None)
        lumdist = None if lumdist is None else float(np.squeeze(lumdist))
        return float(np.sum(self.params.get("mass", 1.0))) * _TO_MAGGIES * \
            self.input_plan.distance_factor(zred, lumdist)

    def predict_phot(self, filters):
        """``SpecModel.predict_phot`` on the emulated spectrum (the spectral kind, after
        Prospector's ``predict_spec``): the cached projection of the filters at this zred
        (:meth:`~prospect_emu.emulator.spectral.SpectralEmulator.photometry_plan`, sedpy's
        ``getSED`` as a matrix on the filters' pixels) instead of sedpy per call.  No IGM
        here: the emulated sps put it into the spectrum already."""
        if (not self.emulator.predicts_spectrum or not isinstance(filters, (list, tuple))
                or getattr(self, "_norm_spec", None) is None
                or (getattr(self, "_want_lines", False) and getattr(self, "_need_lines", False))):
            return super().predict_phot(filters)
        plan = self._projection(filters, float(np.squeeze(self._zred)))
        return (self._norm_spec[plan.pixels] @ plan.weights) / _TO_MAGGIES
