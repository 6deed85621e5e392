"""The spectral kind's photometry: the exact projection of a rest-frame spectrum through
sedpy filters at one redshift (:class:`PhotometryProjection`, built by
:func:`projection_matrix`; cached per filter set and zred by
:meth:`~prospect_emu.emulator.spectral.SpectralEmulator.photometry_plan`).  numpy only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigurationError
from .igm import igm_transmission

# Prospector 1.4.1's constants (prospect.sources.constants), copied so inference needs
# neither Prospector nor FSPS
LSUN = 3.846e33
PC = 3.085677581467192e18
LIGHTSPEED = 2.998e18
JANSKY_CGS = 1e-23
TO_CGS_AT_10PC = LSUN / (4.0 * np.pi * (PC * 10) ** 2)


@dataclass
class PhotometryProjection:
    """Photometry of an emulated rest-frame spectrum through filters at one redshift.

    ``phot = 10**log_spec[lo:hi] @ matrix`` is sedpy's ``Filter.obj_counts_hires`` (a
    trapezoid over the filter's pixels of the observed-frame grid ``wave * (1 + zred)``,
    one more pixel each side) divided by ``ab_zero_counts``, on the spectrum in maggies per
    Msun formed at 10 pc: Prospector's ``SpecModel.predict_phot`` without the mass and
    distance factor.  With ``igm_factor`` set (a model with ``add_igm_absorption``), the
    matrix also holds FSPS's IGM transmission at zred (:mod:`prospect_emu.emulator.igm`).
    """

    filter_names: list[str]
    zred: float
    lo: int
    hi: int
    matrix: np.ndarray           # (hi - lo, F)
    #: set by SpectralEmulator.photometry_plan, on the P rest-frame pixels where some
    #: filter's weight is not zero (the union of the filters' supports at zred, not the
    #: whole span [lo, hi)): their indices in the emulator's grid, ln(10) * the mean
    #: (P,) and the scaled basis (K, P), and the filter weights there (P, F)
    pixels: np.ndarray | None = None
    offset: np.ndarray | None = None
    basis: np.ndarray | None = None
    weights: np.ndarray | None = None
    #: FSPS's igm_factor of the IGM absorption folded into ``matrix``; None: no IGM
    igm_factor: float | None = None

    def photometry(self, coeffs: np.ndarray) -> np.ndarray:
        """Maggies per Msun formed at 10 pc from PCA coefficients, (K,) or (n, K)."""
        return np.exp(self.offset + coeffs @ self.basis) @ self.weights


def projection_matrix(wave: np.ndarray, filters: Sequence, zred: float,
                      kind_note: str = "", igm_factor: float | None = None
                      ) -> PhotometryProjection:
    """The :class:`PhotometryProjection` of ``filters`` at ``zred`` for the rest grid ``wave``.

    ``igm_factor`` (None: none) folds FSPS's IGM absorption at ``zred`` into the matrix,
    computed on the observed grid ``wave * (1 + zred)``
    (:func:`~prospect_emu.emulator.igm.igm_transmission`), as FSPS applies it to a spectrum
    made with ``add_igm_absorption`` on.

    Raises
    ------
    ConfigurationError
        For a band whose transmission at ``zred`` reaches outside the rest-frame range.
    """
    zred = float(zred)
    obs = np.asarray(wave, dtype=float) * (1.0 + zred)
    n = len(obs)
    igm = None if igm_factor is None else igm_transmission(obs, zred, float(igm_factor))
    cols, spans = [], []
    for f in filters:
        if not hasattr(f, "transmission"):
            raise ConfigurationError(f"{f!r} is not a sedpy Filter: load filters with "
                                     "sedpy.observate.load_filters([...])")
        trans = np.interp(obs, f.wavelength, f.transmission, left=0.0, right=0.0)
        pos = np.flatnonzero(trans > 0)
        fw = np.asarray(f.wavelength)[np.asarray(f.transmission) > 0]
        if pos.size == 0 or pos[0] < 1 or pos[-1] > n - 2 or fw.min() <= obs[0] or fw.max() >= obs[-1]:
            raise ConfigurationError(
                f"band {f.name} ({fw.min():.0f}-{fw.max():.0f} AA observed) at zred {zred:g} "
                f"samples rest-frame {fw.min() / (1 + zred):.0f}-{fw.max() / (1 + zred):.0f} AA, "
                f"outside the emulated rest-frame range {wave[0]:.0f}-{wave[-1]:.0f} AA"
                f"{kind_note}: drop the band, or train on spectra with a wider --wave-range")
        i0, i1 = pos[0] - 1, pos[-1] + 2
        x = obs[i0:i1]
        dw = np.empty_like(x)
        dw[1:-1] = 0.5 * (x[2:] - x[:-2])
        dw[0], dw[-1] = 0.5 * (x[1] - x[0]), 0.5 * (x[-1] - x[-2])
        col = np.zeros(n)
        col[i0:i1] = trans[i0:i1] * dw * LIGHTSPEED * TO_CGS_AT_10PC / (x * f.ab_zero_counts)
        if igm is not None:
            col[i0:i1] *= igm[i0:i1]
        cols.append(col)
        spans.append((i0, i1))
    lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
    mat = np.column_stack(cols)[lo:hi]
    return PhotometryProjection([f.name for f in filters], zred, lo, hi, mat,
                                igm_factor=None if igm_factor is None else float(igm_factor))
