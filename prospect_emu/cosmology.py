"""WMAP9 luminosity distance from a table, for a free redshift in a likelihood.

Prospector 1.4.1 takes the luminosity distance from ``astropy.cosmology.WMAP9``, which
costs tens of microseconds per redshift (more than an emulated likelihood call).  For a
fit with ``zred`` free, :func:`luminosity_distance_mpc` reads it from a table built once
per process (a few milliseconds): the comoving distance ``D_C`` integrated with 8-point
Gauss-Legendre on a grid uniform in ``u = ln(1 + z)`` and interpolated by cubic Hermite
polynomials with the exact derivative ``dD_C/du = (1 + z) D_H / E(z)``; then
``d_L = (1 + z) D_C``.  Its relative error against astropy is below 1e-9 for
``0 < z <= ZMAX`` (tested); beyond ``ZMAX`` astropy itself is called.
"""

from __future__ import annotations

import math

import numpy as np

#: The table covers 0 <= z <= ZMAX.
ZMAX = 20.0
_N = 3000


class _Table:
    def __init__(self, zmax: float = ZMAX, n: int = _N):
        from astropy.cosmology import WMAP9

        self.zmax = zmax
        self.umax = math.log1p(zmax)
        self.h = self.umax / n
        u = np.linspace(0.0, self.umax, n + 1)
        dh = WMAP9.hubble_distance.to("Mpc").value
        # D_C(u) = D_H int_0^u e^u' / E(e^u' - 1) du'
        x, w = np.polynomial.legendre.leggauss(8)
        mid, half = 0.5 * (u[1:] + u[:-1]), 0.5 * self.h
        nodes = mid[:, None] + half * x[None, :]
        f = np.exp(nodes) / WMAP9.efunc(np.expm1(nodes))
        pieces = dh * half * (f @ w)
        self.d = np.concatenate([[0.0], np.cumsum(pieces)])
        self.dd = dh * np.exp(u) / WMAP9.efunc(np.expm1(u)) * self.h   # dD_C/du * h
        self._d = self.d.tolist()
        self._dd = self.dd.tolist()

    def comoving(self, z: float) -> float:
        u = math.log1p(z)
        t = u / self.h
        i = int(t)
        if i >= len(self._d) - 1:
            i = len(self._d) - 2
        t -= i
        d0, d1, m0, m1 = self._d[i], self._d[i + 1], self._dd[i], self._dd[i + 1]
        t2 = t * t
        t3 = t2 * t
        return ((2 * t3 - 3 * t2 + 1) * d0 + (t3 - 2 * t2 + t) * m0
                + (-2 * t3 + 3 * t2) * d1 + (t3 - t2) * m1)

    def comoving_array(self, z: np.ndarray) -> np.ndarray:
        t = np.log1p(z) / self.h
        i = np.minimum(t.astype(int), len(self.d) - 2)
        t = t - i
        t2 = t * t
        t3 = t2 * t
        return ((2 * t3 - 3 * t2 + 1) * self.d[i] + (t3 - 2 * t2 + t) * self.dd[i]
                + (-2 * t3 + 3 * t2) * self.d[i + 1] + (t3 - t2) * self.dd[i + 1])


_TABLE: _Table | None = None


def _table() -> _Table:
    global _TABLE
    if _TABLE is None:
        _TABLE = _Table()
    return _TABLE


def luminosity_distance_mpc(zred: float) -> float:
    """WMAP9 luminosity distance in Mpc from the table (astropy beyond ``ZMAX``).

    Parameters
    ----------
    zred : float
        Redshift, ``>= 0``.
    """
    if not 0.0 <= zred <= ZMAX:
        from .normalization import luminosity_distance_mpc as exact

        return exact(zred)
    return (1.0 + zred) * _table().comoving(zred)


def luminosity_distance_mpc_array(zred: np.ndarray) -> np.ndarray:
    """:func:`luminosity_distance_mpc` for an array of redshifts."""
    z = np.asarray(zred, dtype=float)
    inside = (z >= 0.0) & (z <= ZMAX)
    out = np.empty_like(z)
    out[inside] = (1.0 + z[inside]) * _table().comoving_array(z[inside])
    if not inside.all():
        from .normalization import luminosity_distance_mpc as exact

        out[~inside] = [exact(v) if v == v else np.nan for v in z[~inside]]
    return out


def distance_factor(zred: float, lumdist: float | None = None) -> float:
    """``(1 + zred) / (d_L / 10 pc)**2`` as :func:`prospect_emu.normalization.distance_factor`,
    with d_L from the table."""
    if lumdist is None:
        lumdist = 1e-5 if zred == 0 else luminosity_distance_mpc(zred)
    return (1.0 + zred) / (lumdist * 1e5) ** 2


def distance_factor_array(zred: np.ndarray, lumdist: np.ndarray | float | None = None) -> np.ndarray:
    """:func:`distance_factor` for an array of redshifts (and optional lumdist)."""
    z = np.asarray(zred, dtype=float)
    if lumdist is None:
        dl = np.where(z == 0, 1e-5, luminosity_distance_mpc_array(np.where(z == 0, 1.0, z)))
    else:
        dl = np.broadcast_to(np.asarray(lumdist, dtype=float), z.shape)
    return (1.0 + z) / (dl * 1e5) ** 2
