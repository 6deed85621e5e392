"""Drawing from Prospector priors: the training box of each free parameter and the
unit-cube transform of many rows at once.

:func:`theta_box` gives, per free parameter element, its bounds and the unit-cube range
that draws it: bounded priors keep their bounds; an unbounded side of a prior that
transforms element by element through a scipy ``ppf`` (:func:`is_elementwise`: Normal,
StudentT, the upper side of LogNormal, SkewNormal, ...) is cut at a quantile
(:data:`DEFAULT_QUANTILES`, 0.1% and 99.9%), so the draws follow the prior truncated
there and renormalised.  Joint priors (Prospector-beta's ``NzSFH``, whose ``bounds()``
gives one ``(lo, hi)`` pair per component) get per-element bounds from those pairs.
:func:`prior_transform_rows` is ``model.prior_transform`` over many rows, calling each
parameter's transform once where it broadcasts (joint priors: row by row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError

#: default truncation of unbounded priors: the 0.1% and 99.9% quantiles
DEFAULT_QUANTILES = (0.001, 0.999)


def check_quantiles(quantiles: Sequence[float]) -> tuple[float, float]:
    """``quantiles`` as two floats 0 < lo < hi < 1 (ConfigurationError otherwise)."""
    try:
        lo, hi = (float(q) for q in quantiles)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"prior quantiles must be two numbers LO,HI, got {quantiles!r}") from exc
    if not 0.0 < lo < hi < 1.0:
        raise ConfigurationError(f"prior quantiles {lo}, {hi}: give 0 < LO < HI < 1, e.g. "
                                 "0.001,0.999 (the 0.1% and 99.9% quantiles)")
    return lo, hi


def is_elementwise(prior) -> bool:
    """Whether a prior transforms each element on its own through a scipy ``ppf``
    (Prospector's ``Prior.unit_transform``: TopHat, Normal, ClippedNormal, LogUniform,
    Beta, LogNormal, SkewNormal, StudentT, ...), so its marginals can be truncated at
    quantiles."""
    from prospect.models.priors import Prior

    return (isinstance(prior, Prior) and type(prior).unit_transform is Prior.unit_transform
            and getattr(prior, "distribution", None) is not None)


def _as_pairs(bounds: Any, n: int) -> np.ndarray | None:
    """(n, 2) bounds from a prior's ``bounds()``: ``(lo, hi)`` (scalars or length-n), or a
    joint prior's sequence of ``(lo, hi)`` pairs, one per component, the last component
    covering the remaining elements (Prospector-beta's ``NzSFH``: zred, mass, metallicity,
    then the SFR ratios)."""
    try:
        if len(bounds) == 2:
            lo, hi = (np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in bounds)
            return np.column_stack([lo, hi])
        pairs = [np.asarray(b, dtype=float).reshape(2) for b in bounds]
    except (TypeError, ValueError):
        return None
    if not 0 < len(pairs) <= n:
        return None
    rows = pairs[:-1] + [pairs[-1]] * (n - len(pairs) + 1)
    return np.array(rows, dtype=float)


def parameter_box(prior, n: int, quantiles: Sequence[float] = DEFAULT_QUANTILES
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The training box of one free parameter and the unit-cube range that draws it.

    Bounded sides keep the prior's bounds (unit coordinate 0 or 1); an unbounded side of an
    elementwise prior (:func:`is_elementwise`) is cut at the quantile (``quantiles[0]``
    below, ``quantiles[1]`` above): the bound is the prior's ``unit_transform`` there.

    Returns
    -------
    bounds, unit_range : ndarray (n, 2)
    """
    try:
        with np.errstate(all="ignore"):
            pb = _as_pairs(prior.bounds(), n)
    except Exception:  # a prior without bounds(): its unit transform's ends
        pb = None
    if pb is None:
        try:
            with np.errstate(all="ignore"):
                pb = np.column_stack([np.broadcast_to(np.asarray(prior.unit_transform(np.full(n, u)),
                                                                 float), (n,)) for u in (0.0, 1.0)])
        except Exception as exc:
            raise ConfigurationError(
                f"cannot find the bounds of the prior {prior!r} ({type(exc).__name__}: {exc}): "
                "give the parameter a range (--range NAME=LO,HI)") from exc
    unit = np.tile([0.0, 1.0], (n, 1))
    inf = ~np.isfinite(pb)
    if inf.any() and is_elementwise(prior):
        unit[inf[:, 0], 0] = quantiles[0]
        unit[inf[:, 1], 1] = quantiles[1]
        with np.errstate(all="ignore"):
            for k in (0, 1):
                if inf[:, k].any():
                    v = np.broadcast_to(np.asarray(prior.unit_transform(unit[:, k]), float), (n,))
                    pb[inf[:, k], k] = v[inf[:, k]]
    return pb, unit


def theta_box(model, quantiles: Sequence[float] = DEFAULT_QUANTILES
              ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parameter_box` of every free parameter, in theta order: ``(ndim, 2)`` bounds
    and unit-cube ranges.  Unlike Prospector's ``theta_bounds`` this handles vector
    parameters with joint priors (``NzSFH`` and the like)."""
    bounds = np.zeros((model.ndim, 2))
    unit = np.tile([0.0, 1.0], (model.ndim, 1))
    for name, inds in model.theta_index.items():
        n = inds.stop - inds.start
        bounds[inds], unit[inds] = parameter_box(model.config_dict[name]["prior"], n, quantiles)
    return bounds, unit



#: rows on which a prior's vectorised unit_transform is checked against its per-row call
PRIOR_CHECK_ROWS = 3


def prior_transform_rows(model, u: np.ndarray) -> np.ndarray:
    """``model.prior_transform`` of each row of ``u``, one call per parameter over all rows.

    Prospector's ``prior_transform`` takes one unit-cube vector, so 10^6 draws cost 10^6
    Python calls into scipy (~80 us each).  Each free parameter's ``unit_transform`` (a
    scipy ``ppf`` for the standard priors) is called here once on its ``(n, size)`` block
    of ``u``; where that raises, returns another shape, or differs from the per-row call
    on the first :data:`PRIOR_CHECK_ROWS` rows (a prior that does not broadcast over
    rows), that parameter is transformed row by row as Prospector does.

    Parameters
    ----------
    model : prospect.models.ProspectorParams
    u : ndarray, (n, model.ndim)
        Unit-cube coordinates.

    Returns
    -------
    ndarray, (n, model.ndim)
    """
    u = np.atleast_2d(np.asarray(u, dtype=float))
    theta = np.empty(u.shape)
    for name, inds in model.theta_index.items():
        func = model.config_dict[name]["prior"].unit_transform
        block = u[:, inds]
        values = _broadcast_transform(func, block)
        if values is None:
            values = np.array([np.atleast_1d(func(row)) for row in block], dtype=float)
        theta[:, inds] = values.reshape(block.shape)
    return theta


def _broadcast_transform(func: Callable, block: np.ndarray) -> np.ndarray | None:
    """``func`` over all rows of ``block`` at once, or None where it does not match the
    per-row call."""
    try:
        values = np.asarray(func(block), dtype=float)
    except Exception:  # a prior that takes one vector only: row by row
        return None
    if values.shape != block.shape:
        return None
    for i in range(min(PRIOR_CHECK_ROWS, len(block))):
        one = np.atleast_1d(np.asarray(func(block[i]), dtype=float))
        if one.shape != values[i].shape or not np.allclose(one, values[i], rtol=1e-12, atol=0,
                                                           equal_nan=True):
            return None
    return values
