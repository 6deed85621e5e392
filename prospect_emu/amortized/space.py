"""The two spaces an amortized posterior works in, as plain numpy (no torch here).

:class:`ThetaSpace`: the model's free parameters mapped to an unbounded space where the flow
lives (a bounded prior's range mapped onto [-1, 1], on a log scale for ranges spanning more
than two decades; a standardisation for unbounded priors), with the log Jacobian that turns the flow's density back into a density of theta (what importance
weights need).

:class:`Features`: what the flow is conditioned on, from one galaxy's photometry: per band
a colour from asinh magnitudes softened at the band's uncertainty (finite for any flux,
negative or zero included), the band's significance, and whether it was measured; plus
the mean magnitude and the redshift.  Standardised with the simulations' means and widths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigurationError

_LN10 = np.log(10.0)
#: A bounded range spanning more than this ratio (positive bounds) is mapped on a log scale.
LOG_SCALE_RATIO = 100.0


@dataclass
class ThetaSpace:
    """theta <-> the flow's coordinates y, per free parameter.

    A bounded prior's range maps affinely onto [-1, 1] (of ``ln theta`` where the range
    spans more than :data:`LOG_SCALE_RATIO`); an unbounded prior's coordinate is
    standardised.  Affine, not a logit: posteriors pressed against a prior's edge (an
    unconstrained age or tau) keep a plain edge in y instead of an exponential tail, which
    mixtures and Student-t proposals fit poorly; draws outside the range map to theta
    outside the prior and get weight 0.

    Attributes
    ----------
    labels : list of str
        The model's ``theta_labels()``.
    lo, hi : ndarray
        The range mapped onto [-1, 1] (on the log scale where ``log``), NaN where unbounded.
    log : ndarray of bool
        Whether the coordinate is ``ln theta``.
    mean, std : ndarray
        The standardisation of unbounded coordinates (unused for bounded ones).
    """

    labels: list[str]
    lo: np.ndarray
    hi: np.ndarray
    log: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def from_prior(cls, labels: list[str], bounds: np.ndarray, draws: np.ndarray) -> ThetaSpace:
        """The space for prior ``bounds`` ``(ndim, 2)`` (``inf`` where open), narrowed to
        the range the prior ``draws`` ``(n, ndim)`` reach (a prior truncated to the
        emulator's training box)."""
        lo_b, hi_b = np.asarray(bounds, dtype=float).T
        reach_lo, reach_hi = draws.min(axis=0), draws.max(axis=0)
        bounded = np.isfinite(lo_b) & np.isfinite(hi_b)
        log = bounded & (lo_b > 0) & (hi_b > LOG_SCALE_RATIO * np.where(lo_b > 0, lo_b, 1.0))
        v = np.where(log, np.log(np.where(log, draws, 1.0)), draws)
        lo = np.where(log, np.log(np.where(log, np.maximum(lo_b, reach_lo), 1.0)),
                      np.maximum(lo_b, reach_lo))
        hi = np.where(log, np.log(np.where(log, np.minimum(hi_b, reach_hi), 1.0)),
                      np.minimum(hi_b, reach_hi))
        lo, hi = np.where(bounded, lo, np.nan), np.where(bounded, hi, np.nan)
        mean = np.where(bounded, 0.0, v.mean(axis=0))
        std = np.where(bounded, 1.0, v.std(axis=0) + 1e-12)
        return cls(list(labels), lo, hi, log, mean, std)

    @property
    def bounded(self) -> np.ndarray:
        return np.isfinite(self.lo)

    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        """``(centre, half-width)`` per coordinate: y = (v - centre) / half."""
        b = self.bounded
        centre = np.where(b, 0.5 * (np.nan_to_num(self.lo) + np.nan_to_num(self.hi)), self.mean)
        half = np.where(b, 0.5 * (np.nan_to_num(self.hi) - np.nan_to_num(self.lo)), self.std)
        return centre, half

    def to_flow(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(y, log|dy/dtheta|)`` for rows of theta (NaN where a log coordinate is not
        positive)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        centre, half = self._affine()
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(self.log, np.log(theta), theta)
            jac = np.where(self.log, -np.log(theta), 0.0) - np.log(half)
        return (v - centre) / half, jac.sum(axis=1)

    def from_flow(self, y: np.ndarray) -> np.ndarray:
        """Rows of theta for rows of flow coordinates ``y``."""
        centre, half = self._affine()
        v = np.atleast_2d(np.asarray(y, dtype=float)) * half + centre
        with np.errstate(over="ignore"):
            return np.where(self.log, np.exp(v), v)

    def to_json(self) -> dict[str, Any]:
        return {"labels": self.labels, "lo": _list(self.lo), "hi": _list(self.hi),
                "log": self.log.astype(bool).tolist(), "mean": _list(self.mean),
                "std": _list(self.std)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ThetaSpace:
        arr = {k: np.array([np.nan if v is None else v for v in d[k]], dtype=float)
               for k in ("lo", "hi", "mean", "std")}
        return cls(list(d["labels"]), arr["lo"], arr["hi"], np.asarray(d["log"], dtype=bool),
                   arr["mean"], arr["std"])


def _list(a: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float)]


def asinh_mag(flux: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """Lupton's asinh magnitude of ``flux`` (maggies) softened at ``soft`` (> 0)."""
    return -2.5 / _LN10 * (np.arcsinh(0.5 * flux / soft) + np.log(soft))


@dataclass
class Features:
    """The flow's conditioning vector for rows of photometry.

    Per band: the colour (the band's asinh magnitude, softened at its uncertainty, minus the
    mean of the measured bands'), the significance ``asinh(flux / 2 unc) / ln 10`` (about
    ``log10`` of the S/N when it is high, linear through zero and negative fluxes), and 1
    where measured (0 and both values 0 where not); then the mean magnitude, the same
    corrected for distance (``+ 2.5 log10`` of the distance factor, near linear in log mass)
    and zred.
    ``mean``/``std`` standardise the columns (from the simulations).
    """

    bands: list[str]
    mean: np.ndarray
    std: np.ndarray

    @staticmethod
    def raw(maggies: np.ndarray, unc: np.ndarray, measured: np.ndarray,
            zred: np.ndarray) -> np.ndarray:
        """The unstandardised columns ``(n, 3 * nbands + 3)``."""
        from ..cosmology import distance_factor_array

        maggies, unc = np.atleast_2d(maggies), np.atleast_2d(unc)
        ok = np.atleast_2d(measured).astype(bool)
        safe = np.where(ok & (unc > 0), unc, 1.0)
        flux = np.where(ok, maggies, 0.0)
        mag = asinh_mag(flux, safe)
        count = np.maximum(ok.sum(axis=1), 1)
        ref = np.sum(np.where(ok, mag, 0.0), axis=1) / count
        color = np.where(ok, mag - ref[:, None], 0.0)
        signif = np.where(ok, np.arcsinh(0.5 * flux / safe) / _LN10, 0.0)
        z = np.atleast_1d(zred).astype(float)
        absolute = ref + 2.5 * np.log10(distance_factor_array(np.maximum(z, 1e-3)))
        return np.column_stack([color, signif, ok.astype(float), ref, absolute, z])

    @classmethod
    def fit(cls, bands: list[str], raw: np.ndarray, measured: np.ndarray) -> Features:
        """Standardisation from simulated rows (measured bands' values only)."""
        nb = len(bands)
        mean, std = np.zeros(raw.shape[1]), np.ones(raw.shape[1])
        for j in range(2 * nb):
            col = raw[measured[:, j % nb], j]
            if col.size:
                mean[j], std[j] = col.mean(), col.std() + 1e-6
        for j in (-3, -2, -1):
            mean[j], std[j] = raw[:, j].mean(), raw[:, j].std() + 1e-6
        return cls(list(bands), mean, std)

    def __call__(self, maggies, unc, measured, zred) -> np.ndarray:
        raw = self.raw(maggies, unc, measured, zred)
        nb = len(self.bands)
        ok = np.atleast_2d(measured).astype(bool)
        out = (raw - self.mean) / self.std
        out[:, :2 * nb] *= np.concatenate([ok, ok], axis=1)  # unmeasured: exactly 0
        out[:, 2 * nb:3 * nb] = raw[:, 2 * nb:3 * nb]
        if not np.all(np.isfinite(out)):
            raise ConfigurationError("a measured band's flux or uncertainty is not finite")
        return out.astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {"bands": self.bands, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Features:
        return cls(list(d["bands"]), np.asarray(d["mean"], dtype=float),
                   np.asarray(d["std"], dtype=float))
