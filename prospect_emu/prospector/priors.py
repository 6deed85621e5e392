"""Vectorised twins of Prospector's priors, for fast emulated likelihoods.

Prospector 1.4.1 evaluates each prior through scipy.stats objects: ~0.4 ms for
``prior_product`` and ~0.7 ms for ``prior_transform`` with the ``parametric_sfh``
template, ten times the cost of a small network.  :class:`FastPriors` computes the
same numbers with a few numpy operations, for one parameter vector or a batch (rows),
for Prospector's ``TopHat``/``Uniform``, ``LogUniform``, ``Normal``, ``ClippedNormal``,
``LogNormal``, ``LogNormalLinpar``, ``StudentT``, ``Beta`` and ``SkewNormal`` priors
(``SkewNormal``'s unit transform, which has no closed form, is scipy's own).  A
parameter with any other prior (``MultiVariateNormal``, the ``Fast*`` classes, a user's
class, a subclass that overrides a method) is evaluated by its own prior object inside
the same call, one vector at a time as Prospector's ``prior_product`` and
``prior_transform`` do (such a ``__call__`` need not broadcast over rows: ``FastUniform``
returns a list), so the fast path covers every model and always returns Prospector's
numbers.

A :class:`FastPriors` is a snapshot of the priors.  :class:`PriorWatch` tells cheaply
whether a model's priors changed since a snapshot: a prior
object replaced, a prior's ``update(...)`` (which stores new values in ``prior.params``),
the ``config_dict`` or the theta layout replaced, so that the snapshot is rebuilt and
the fast path always agrees with Prospector's own ``prior_product``.
"""

from __future__ import annotations

import math

import numpy as np
from prospect.models import priors as _pp
from scipy.special import (
    betaincinv,
    betaln,
    gammaln,
    log_ndtr,
    ndtr,
    ndtri,
    stdtrit,
    xlog1py,
    xlogy,
)

from ..errors import ConfigurationError

_LN_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class PriorWatch:
    """A cheap fingerprint of a model's free-parameter priors.

    It notices a new ``config_dict`` or ``theta_index``, a prior object replaced in
    ``config_dict``, and a changed value in a prior's ``params`` (as ``Prior.update``
    stores them): identity and equality tests on a few objects, about a microsecond
    for a handful of parameters.  An array in ``prior.params`` modified in place is
    not noticed: use ``prior.update(...)``.

    Parameters
    ----------
    model : prospect.models.ProspectorParams
    """

    def __init__(self, model):
        self._config_dict = cd = model.config_dict
        self._theta_index = model.theta_index
        self._items = []
        for name in model.theta_index:
            entry = cd[name]
            prior = entry.get("prior")
            params = getattr(prior, "params", None)
            values = tuple(params.values()) if isinstance(params, dict) else None
            self._items.append((entry, prior, params if values is not None else None, values))

    def changed(self, model) -> bool:
        """Whether the model's priors may differ from the fingerprinted ones."""
        if model.config_dict is not self._config_dict or model.theta_index is not self._theta_index:
            return True
        try:
            for entry, prior, params, values in self._items:
                if entry["prior"] is not prior:
                    return True
                if params is not None and tuple(params.values()) != values:
                    return True
        except Exception:  # e.g. arrays of several elements compared: call it a change
            return True
        return False


def _exact(prior, cls) -> bool:
    """``prior`` is an instance of Prospector's ``cls`` itself or a subclass that
    overrides nothing the prior's value depends on."""
    t = type(prior)
    if not isinstance(prior, cls):
        return False
    if t is cls:
        return True
    own = set(vars(t))
    return not own & {"__call__", "unit_transform", "distribution", "args", "loc", "scale",
                      "prior_params", "bounds", "range", "__len__"}


def _p(prior, key, default=None):
    v = prior.params.get(key, default)
    if v is None:
        raise KeyError(key)
    return np.asarray(v, dtype=float)


class _Group:
    """One kind of prior: the theta indices it covers and its parameters per index."""

    def __init__(self, kind: str):
        self.kind = kind
        self.idx: list[int] = []
        self.cols: dict[str, list[float]] = {}

    def add(self, sl: slice, **values) -> None:
        n = sl.stop - sl.start
        self.idx.extend(range(sl.start, sl.stop))
        for k, v in values.items():
            self.cols.setdefault(k, []).extend(np.broadcast_to(np.asarray(v, float), (n,)).tolist())

    def finish(self) -> None:
        self.idx = np.asarray(self.idx, dtype=int)
        for k, v in self.cols.items():
            setattr(self, k, np.asarray(v, dtype=float))


class FastPriors:
    """ln-prior and unit-cube transform for a model's free parameters, in theta order.

    Built from the priors as they are when constructed (:meth:`for_model`).  Works on
    one vector ``(ndim,)`` or a batch ``(n, ndim)``.
    """

    #: Prospector prior classes with a vectorised twin here (and the kind they map to)
    KINDS = {"TopHat": "uniform", "Uniform": "uniform", "LogUniform": "loguniform",
             "Normal": "normal", "ClippedNormal": "clipped", "LogNormal": "lognormal",
             "LogNormalLinpar": "lognormal", "StudentT": "studentt", "Beta": "beta",
             "SkewNormal": "skewnormal"}

    def __init__(self, ndim: int, groups: dict[str, _Group], others: list[tuple[slice, object]],
                 names: dict[int, str] | None = None):
        self.ndim = ndim
        self.groups = {k: g for k, g in groups.items() if len(g.idx)}
        self.others = others
        #: parameter names of the ``others`` (by first theta index), for error messages
        self.names = names or {}
        #: whether ``unit_transform`` of the open unit cube lies inside every prior's support
        #: (all but the priors of unknown classes, whose support this class does not know)
        self.transform_in_support = not any(what == "both" for _, _, what in others)
        const = 0.0
        lo = np.full(ndim, -np.inf)
        hi = np.full(ndim, np.inf)
        g = self.groups
        if "uniform" in g:
            u = g["uniform"]
            const -= np.sum(np.log(u.hi - u.lo))
            lo[u.idx], hi[u.idx] = u.lo, u.hi
        if "loguniform" in g:
            u = g["loguniform"]
            const -= np.sum(np.log(np.log(u.hi) - np.log(u.lo)))
            lo[u.idx], hi[u.idx] = u.lo, u.hi
            u.log_lo, u.log_span = np.log(u.lo), np.log(u.hi) - np.log(u.lo)
        if "normal" in g:
            u = g["normal"]
            const -= np.sum(np.log(u.sigma)) + len(u.idx) * _LN_SQRT_2PI
        if "clipped" in g:
            u = g["clipped"]
            a, b = (u.lo - u.mean) / u.sigma, (u.hi - u.mean) / u.sigma
            # the normalisation Phi(b) - Phi(a), from the nearer tail for precision
            flip = a > 0
            u.flip = flip
            u.pa = np.where(flip, ndtr(-a), ndtr(a))
            u.pb = np.where(flip, ndtr(-b), ndtr(b))
            mass = np.abs(u.pb - u.pa)
            const -= np.sum(np.log(u.sigma * mass)) + len(u.idx) * _LN_SQRT_2PI
            lo[u.idx], hi[u.idx] = u.lo, u.hi
        if "lognormal" in g:
            u = g["lognormal"]
            const -= np.sum(np.log(u.s)) + len(u.idx) * _LN_SQRT_2PI
        if "studentt" in g:
            u = g["studentt"]
            nu = u.df
            const += np.sum(gammaln(0.5 * (nu + 1)) - gammaln(0.5 * nu) - 0.5 * np.log(nu * np.pi)
                            - np.log(u.scale))
        if "beta" in g:
            u = g["beta"]
            const -= np.sum(betaln(u.a, u.b) + np.log(u.scale))
            lo[u.idx], hi[u.idx] = u.loc, u.loc + u.scale
        if "skewnormal" in g:
            u = g["skewnormal"]
            const += np.sum(np.log(2.0) - np.log(u.sigma)) - len(u.idx) * _LN_SQRT_2PI
        self.const = float(const)
        bounded = np.isfinite(lo) | np.isfinite(hi)
        self.bounded = np.flatnonzero(bounded)
        self.all_bounded = bool(bounded.all())
        self.lo, self.hi = lo[self.bounded], hi[self.bounded]
        self.mid = 0.5 * (self.lo + self.hi)
        self.half = 0.5 * (self.hi - self.lo)
        # the scalar hot path of the most common models (uniform and log-uniform only)
        self._simple = (set(self.groups) <= {"uniform", "loguniform"} and not others
                        and self.all_bounded)
        self._log_idx = (g["loguniform"].idx.tolist() if "loguniform" in g else [])
        self._bounds = list(zip(lo.tolist(), hi.tolist()))

    @classmethod
    def for_model(cls, model) -> FastPriors:
        """A FastPriors for the model's current priors (other kinds evaluated by their own
        prior objects)."""
        n = len(model.theta)
        groups = {k: _Group(k) for k in set(cls.KINDS.values())}
        others = []
        for name, sl in model.theta_index.items():
            prior = model.config_dict[name].get("prior")
            kind = None
            for cname, k in cls.KINDS.items():
                klass = getattr(_pp, cname, None)
                if klass is not None and type(prior).__name__ == cname and _exact(prior, klass):
                    kind = k
                    break
            try:
                if kind == "uniform":
                    groups[kind].add(sl, lo=_p(prior, "mini"), hi=_p(prior, "maxi"))
                elif kind == "loguniform":
                    groups[kind].add(sl, lo=_p(prior, "mini"), hi=_p(prior, "maxi"))
                elif kind == "normal":
                    groups[kind].add(sl, mean=_p(prior, "mean"), sigma=_p(prior, "sigma"))
                elif kind == "clipped":
                    groups[kind].add(sl, mean=_p(prior, "mean"), sigma=_p(prior, "sigma"),
                                     lo=_p(prior, "mini"), hi=_p(prior, "maxi"))
                elif kind == "lognormal":
                    # scipy lognorm(s, scale): the prior's own args and scale
                    groups[kind].add(sl, s=np.asarray(prior.args[0], float),
                                     log_scale=np.log(np.asarray(prior.scale, float)))
                elif kind == "studentt":
                    groups[kind].add(sl, mean=_p(prior, "mean"), scale=_p(prior, "scale"),
                                     df=_p(prior, "df"))
                elif kind == "beta":
                    groups[kind].add(sl, loc=np.asarray(prior.loc, float),
                                     scale=np.asarray(prior.scale, float),
                                     a=_p(prior, "alpha"), b=_p(prior, "beta"))
                elif kind == "skewnormal":
                    groups[kind].add(sl, loc=_p(prior, "location"), sigma=_p(prior, "sigma"),
                                     alpha=_p(prior, "skew"))
                    others.append((sl, prior, "transform"))
                else:
                    others.append((sl, prior, "both"))
            except (KeyError, TypeError, ValueError):
                others.append((sl, prior, "both"))
        for g in groups.values():
            g.finish()
        names = {sl.start: name for name, sl in model.theta_index.items()}
        return cls(n, groups, others, names)

    # ---- ln-prior -------------------------------------------------------------------------
    def ln_prior(self, theta: np.ndarray) -> float | np.ndarray:
        """Sum of the ln-prior densities (``-inf`` outside bounds): a float for one
        vector, an array ``(n,)`` for rows ``(n, ndim)``."""
        if self._simple and type(theta) is np.ndarray and theta.shape == (self.ndim,):
            # a handful of Python floats is faster than numpy here
            th = theta.tolist()
            for v, (lo, hi) in zip(th, self._bounds):
                if v < lo or v > hi:
                    return -math.inf
            lnp = self.const
            for i in self._log_idx:
                v = th[i]
                lnp -= math.log(v) if v == v else math.nan
            return lnp
        return self._ln_prior(np.asarray(theta, dtype=float))

    def _ln_prior(self, theta: np.ndarray) -> float | np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._ln_prior_unchecked(theta)

    def _ln_prior_unchecked(self, theta: np.ndarray) -> float | np.ndarray:
        g = self.groups
        xb = theta[..., self.bounded]
        out = (xb < self.lo).any(axis=-1) | (xb > self.hi).any(axis=-1)
        lnp = np.full(theta.shape[:-1], self.const)
        if "loguniform" in g:
            lnp -= np.log(theta[..., g["loguniform"].idx]).sum(axis=-1)
        for name in ("normal", "clipped"):
            if name in g:
                u = g[name]
                z = (theta[..., u.idx] - u.mean) / u.sigma
                lnp -= 0.5 * (z * z).sum(axis=-1)
        if "lognormal" in g:
            u = g["lognormal"]
            x = theta[..., u.idx]
            lx = np.log(x)
            z = (lx - u.log_scale) / u.s
            lnp -= (lx + 0.5 * z * z).sum(axis=-1)
            out |= (x <= 0).any(axis=-1)
        if "studentt" in g:
            u = g["studentt"]
            z = (theta[..., u.idx] - u.mean) / u.scale
            lnp -= (0.5 * (u.df + 1) * np.log1p(z * z / u.df)).sum(axis=-1)
        if "beta" in g:
            u = g["beta"]
            y = (theta[..., u.idx] - u.loc) / u.scale
            lnp += (xlogy(u.a - 1, y) + xlog1py(u.b - 1, -y)).sum(axis=-1)
        if "skewnormal" in g:
            u = g["skewnormal"]
            z = (theta[..., u.idx] - u.loc) / u.sigma
            lnp += (log_ndtr(u.alpha * z) - 0.5 * z * z).sum(axis=-1)
        for sl, prior, what in self.others:
            if what == "both":
                lnp = lnp + _own_ln_prior(prior, theta[..., sl], self.names.get(sl.start, "?"))
        lnp = np.where(out, -np.inf, lnp)
        return float(lnp) if lnp.ndim == 0 else lnp

    # ---- unit transform -------------------------------------------------------------------
    def unit_transform(self, u: np.ndarray) -> np.ndarray:
        """Map points of the unit cube to theta (``prior_transform``), one vector or rows."""
        u = np.asarray(u, dtype=float)
        theta = np.empty(u.shape)
        g = self.groups
        if "uniform" in g:
            p = g["uniform"]
            theta[..., p.idx] = p.lo + u[..., p.idx] * (p.hi - p.lo)
        if "loguniform" in g:
            p = g["loguniform"]
            theta[..., p.idx] = np.exp(p.log_lo + u[..., p.idx] * p.log_span)
        if "normal" in g:
            p = g["normal"]
            theta[..., p.idx] = p.mean + p.sigma * ndtri(u[..., p.idx])
        if "clipped" in g:
            p = g["clipped"]
            q = p.pa + u[..., p.idx] * (p.pb - p.pa)
            z = np.where(p.flip, -ndtri(q), ndtri(q))
            theta[..., p.idx] = p.mean + p.sigma * z
        if "lognormal" in g:
            p = g["lognormal"]
            theta[..., p.idx] = np.exp(p.log_scale + p.s * ndtri(u[..., p.idx]))
        if "studentt" in g:
            p = g["studentt"]
            theta[..., p.idx] = p.mean + p.scale * stdtrit(p.df, u[..., p.idx])
        if "beta" in g:
            p = g["beta"]
            theta[..., p.idx] = p.loc + p.scale * betaincinv(p.a, p.b, u[..., p.idx])
        for sl, prior, what in self.others:
            if what == "transform" or u.ndim == 1:  # SkewNormal: scipy's ppf, elementwise
                theta[..., sl] = prior.unit_transform(u[..., sl])
            else:  # a prior of unknown class: one vector at a time, as prior_transform
                block = u[..., sl]
                rows = block.reshape(-1, block.shape[-1])
                theta[..., sl] = np.array([np.broadcast_to(prior.unit_transform(r), r.shape)
                                           for r in rows], dtype=float).reshape(block.shape)
        return theta


def _own_ln_prior(prior, x: np.ndarray, name: str) -> float | np.ndarray:
    """A prior of a class without a vectorised twin, evaluated by itself as Prospector's
    ``prior_product`` does (``np.sum(prior(x), axis=-1)``) on each vector of ``x``.

    Its ``__call__`` is not trusted to broadcast over rows: Prospector's ``FastUniform``
    returns a list (which ``np.sum(..., axis=-1)`` would total over all rows), and
    ``FastTruncatedNormal`` a ragged list.  So rows ``(..., size)`` are evaluated one at a
    time (a Python call per row, as Prospector's own ``prior_product`` per vector).

    Raises
    ------
    ConfigurationError
        Where the prior gives more than one number for one vector (Prospector 1.4.1's
        ``MultiVariateNormal`` on a parameter of several elements: its ``prior_product``
        is then an array, not a ln-probability).
    """
    if x.ndim == 1:
        return _one_value(prior, np.sum(prior(x), axis=-1), name)
    rows = x.reshape(-1, x.shape[-1])
    values = [np.sum(prior(r), axis=-1) for r in rows]
    try:
        out = np.array(values, dtype=float)
    except (TypeError, ValueError):  # ragged: some row gave several numbers
        out = None
    if out is None or out.size != len(rows):  # raises, naming the parameter, where a row
        out = np.array([_one_value(prior, v, name) for v in values])  # gave several numbers
    return out.reshape(x.shape[:-1])


def _one_value(prior, lnp, name: str) -> float:
    if np.size(lnp) != 1:
        raise ConfigurationError(
            f"the prior of {name!r} ({type(prior).__name__}) gives {np.size(lnp)} "
            "ln-probabilities for one parameter vector (Prospector's prior_product would "
            "return an array, not a number): use a prior with one value per element, e.g. "
            "priors.Normal with array mean and sigma")
    return float(np.reshape(lnp, ()))

