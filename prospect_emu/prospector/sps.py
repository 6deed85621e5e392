"""An emulated sps object: a spectral emulator behind Prospector's source interface.

``EmulatedSPS(emulator)`` stands in for ``CSPSpecBasis`` (or ``SSPBasis``) in Prospector's
own models, with no FSPS: ``SpecModel`` and ``PolySpecModel`` call
:meth:`~EmulatedSPS.get_galaxy_spectrum` and :meth:`~EmulatedSPS.get_galaxy_elines` and do
the redshifting, smoothing, calibration and filter projection themselves; the legacy
``SedModel`` calls :meth:`~EmulatedSPS.get_spectrum`, which runs Prospector 1.4.1's own
``SSPBasis.get_spectrum`` on the emulated rest-frame spectrum.

The spectrum covers the emulator's rest-frame range only (``emulator.wavelength``):
filters reaching beyond it at the model's redshift give wrong photometry through
Prospector's projection, so check them once with
``emulator.photometry_plan(filters, zred)``, which refuses them.  There is no separate
line list (``get_galaxy_elines`` is empty): nebular lines exist only inside the emulated
spectrum, where the training set had them in its stored spectra (``nebemlineinspec``);
training refuses sets whose lines were kept outside the spectrum, and sets with IGM
absorption (see :func:`prospect_emu.emulator.spectral_training.check_rest_frame_model`):
with ``add_igm_absorption`` on, :meth:`~EmulatedSPS.get_galaxy_spectrum` applies FSPS's IGM
absorption at the model's zred and ``igm_factor`` (:mod:`prospect_emu.emulator.igm`).

Parameters outside the training bounds raise ``ValueError``, which Prospector's
``lnprobfn`` turns into ln-probability -inf.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..trainingdata.sampling import parameter_of_label


class EmulatedSPS:
    """Prospector sps object backed by a :class:`~prospect_emu.emulator.spectral.SpectralEmulator`.

    Parameters
    ----------
    emulator : SpectralEmulator or str or Path
        A spectral emulator, or the directory of one.
    """

    #: as SSPBasis: parameters handled here rather than by the stellar population
    reserved_params = ("zred", "sigma_smooth")

    def __init__(self, emulator):
        from ..emulator.artifact import Emulator

        if isinstance(emulator, (str, os.PathLike)):
            emulator = Emulator.load(emulator)
        if not callable(getattr(emulator, "predict_spectrum", None)):  # what it calls
            raise ConfigurationError("EmulatedSPS needs a spectral emulator (train --kind "
                                     "spectrum); this one is photometric")
        self.emulator = emulator
        self.params: dict[str, Any] = {}
        self._source = [self._locate(n) for n in emulator.input_names]
        self._x = np.zeros(len(self._source))
        #: the last emulated spectrum and its inputs: parameters that are no emulator
        #: inputs (mass, zred, smoothing, calibration) change without a new spectrum
        self._last_x: list[float] = []
        self._last: tuple[np.ndarray, np.ndarray, float] | None = None
        #: how many spectra the emulator computed (calls with new inputs)
        self.n_spectra = 0

    @staticmethod
    def _locate(label: str) -> tuple[str, int | None]:
        """(parameter, index or None) of an input label: ``tau`` or ``mass_2``."""
        param = parameter_of_label(label)
        if param == label:
            return label, None
        return param, int(label.rpartition("_")[2]) - 1

    @property
    def wavelengths(self) -> np.ndarray:
        """The rest-frame wavelength grid, AA (as ``fsps.StellarPopulation.wavelengths``)."""
        return self.emulator.wavelength

    def update(self, **params) -> None:
        """Store parameters as SSPBasis does (length-1 sequences become scalars)."""
        for k, v in params.items():
            try:
                self.params[k] = v[0] if (len(v) == 1 and callable(v[0])) else np.squeeze(v)
            except TypeError:
                self.params[k] = v

    def inputs(self, params: Mapping[str, Any] | None = None) -> np.ndarray:
        """The emulator's input vector from parameters (default: the stored ones)."""
        p = self.params if params is None else params
        x = self._x
        for j, (name, i) in enumerate(self._source):
            if name not in p:
                raise ConfigurationError(f"the model has no parameter {name!r}, an input of the "
                                         f"spectral emulator (inputs {self.emulator.input_names})")
            v = np.ravel(p[name])
            if (i is None and v.size != 1) or (i is not None and i >= v.size):
                raise ConfigurationError(f"parameter {name!r} has {v.size} value(s); the emulator "
                                         f"input {self.emulator.input_names[j]!r} needs "
                                         f"{'one' if i is None else f'at least {i + 1}'}")
            x[j] = v[0 if i is None else i]
        return x

    def get_galaxy_spectrum(self, **params) -> tuple[np.ndarray, np.ndarray, float]:
        """Rest-frame spectrum, as ``CSPSpecBasis.get_galaxy_spectrum``.

        Returns
        -------
        wave : ndarray (W,)
            Rest-frame wavelength, AA.
        spectrum : ndarray (W,)
            L_nu in Lsun/Hz per Msun formed.
        mfrac : float
            Surviving / formed stellar mass.

        Raises
        ------
        ValueError
            For parameters outside the emulator's training bounds.

        Notes
        -----
        The inputs are read from ``params`` directly (``self.params`` is set by
        :meth:`update` and :meth:`get_spectrum`, as Prospector's ``SSPBasis`` does), and the
        last spectrum is reused (copied) while they do not change.
        """
        mu = params.get("mass_units", None)
        if mu is not None and np.any(np.asarray(mu) == "mstar"):
            raise ConfigurationError("mass_units='mstar' is not supported by the emulated sps: "
                                     "use the default (mass formed)")
        x = self.inputs(params)
        key = x.tolist()
        if key != self._last_x:
            wave, spec, mfrac = self.emulator.predict_spectrum(x)
            self._last = (wave, spec, float(mfrac))
            self._last_x = key
            self.n_spectra += 1
        wave, spec, mfrac = self._last
        if np.any(params.get("add_igm_absorption", False)):
            # FSPS absorbs the rest-frame spectrum by the IGM at zred (none at zred 0)
            from ..emulator.igm import igm_transmission

            z = float(np.squeeze(params.get("zred", 0.0)))
            if z > 0:
                f = float(np.squeeze(params.get("igm_factor", 1.0)))
                return wave, spec * igm_transmission(wave * (1 + z), z, f), mfrac
        return wave, spec.copy(), mfrac

    def get_galaxy_elines(self) -> tuple[np.ndarray, np.ndarray]:
        """No emulated emission lines: empty wavelength and luminosity arrays."""
        return np.zeros(0), np.zeros(0)

    def smoothspec(self, wave, spec, sigma, outwave=None, **kwargs):
        from prospect.utils.smoothing import smoothspec

        return smoothspec(wave, spec, sigma, outwave=outwave, **kwargs)

    def get_spectrum(self, outwave=None, filters=None, peraa: bool = False, **params):
        """Observed spectrum and photometry, as Prospector's ``SSPBasis.get_spectrum``
        (whose code runs here on the emulated rest-frame spectrum).

        Returns
        -------
        spec : ndarray
            At ``outwave`` (default: the observed-frame grid), maggies (erg/s/cm^2/AA with
            ``peraa``), including mass and distance.
        phot : ndarray or 0.0
            Maggies through ``filters``.
        mfrac : float
        """
        from prospect.sources.ssp_basis import SSPBasis

        self.update(**params)
        return SSPBasis.get_spectrum(self, outwave=outwave, filters=filters, peraa=peraa, **params)
