"""Vectorised twins of Prospector's common priors, for fast emulated likelihoods.

Prospector 1.4.1 evaluates each prior through scipy.stats objects: ~0.4 ms for
``prior_product`` and ~0.7 ms for ``prior_transform`` with the ``parametric_sfh``
template, ten times the cost of a small network.  :class:`FastPriors` computes the
same numbers (``TopHat``/``Uniform``, ``LogUniform`` and ``Normal`` priors) with a few
numpy operations; for a model with any other prior it is not used.

A :class:`FastPriors` is a snapshot of the priors.  :class:`PriorWatch` tells cheaply
whether a model's priors changed since a snapshot: a prior
object replaced, a prior's ``update(...)`` (which stores new values in ``prior.params``),
the ``config_dict`` or the theta layout replaced, so that the snapshot is rebuilt and
the fast path always agrees with Prospector's own ``prior_product``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

_UNIFORM, _LOGUNIFORM, _NORMAL = 0, 1, 2
_KINDS = {"TopHat": _UNIFORM, "Uniform": _UNIFORM, "LogUniform": _LOGUNIFORM, "Normal": _NORMAL}


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
            prior = cd[name].get("prior")
            params = getattr(prior, "params", None)
            values = tuple(params.values()) if isinstance(params, dict) else None
            self._items.append((name, prior, values))

    def changed(self, model) -> bool:
        """Whether the model's priors may differ from the fingerprinted ones."""
        cd = self._config_dict
        if model.config_dict is not cd or model.theta_index is not self._theta_index:
            return True
        try:
            for name, prior, values in self._items:
                p = cd[name]["prior"]
                if p is not prior or (values is not None and tuple(p.params.values()) != values):
                    return True
        except Exception:  # e.g. arrays of several elements compared: call it a change
            return True
        return False


class FastPriors:
    """ln-prior and unit-cube transform for a model's free parameters, in theta order.

    Built from the priors as they are when constructed.
    """

    def __init__(self, kind: np.ndarray, a: np.ndarray, b: np.ndarray):
        self.kind = kind
        self.a, self.b = a, b          # uniform: lo, hi; normal: mean, sigma
        self.uni = kind != _NORMAL
        self.log = kind == _LOGUNIFORM
        self.norm = kind == _NORMAL
        lo, hi = a[self.uni], b[self.uni]
        self.lo, self.hi = lo, hi
        flat = ~self.log & self.uni
        self.const = (-np.sum(np.log(b[flat] - a[flat]))
                      - np.sum(np.log(np.log(b[self.log] / a[self.log])))
                      - np.sum(np.log(b[self.norm] * np.sqrt(2 * np.pi))))
        self.log_a = np.log(a[self.log])
        self.log_ratio = np.log(b[self.log] / a[self.log])

    @classmethod
    def for_model(cls, model) -> FastPriors | None:
        """A FastPriors for ``model``, or None if it has a prior of another kind."""
        n = len(model.theta)
        kind = np.empty(n, dtype=int)
        a = np.empty(n)
        b = np.empty(n)
        for name, sl in model.theta_index.items():
            prior = model.config_dict[name].get("prior")
            k = _KINDS.get(type(prior).__name__)
            if k is None:
                return None
            kind[sl] = k
            if k == _NORMAL:
                a[sl], b[sl] = prior.params["mean"], prior.params["sigma"]
            else:
                a[sl], b[sl] = prior.params["mini"], prior.params["maxi"]
        return cls(kind, a, b)

    def ln_prior(self, theta: np.ndarray) -> float:
        """Sum of the ln-prior densities (``-inf`` outside uniform bounds)."""
        x = theta[self.uni]
        if np.any(x < self.lo) or np.any(x > self.hi):
            return -np.inf
        lnp = self.const - np.sum(np.log(theta[self.log]))
        if self.norm.any():
            z = (theta[self.norm] - self.a[self.norm]) / self.b[self.norm]
            lnp -= 0.5 * np.dot(z, z)
        return float(lnp)

    def unit_transform(self, u: np.ndarray) -> np.ndarray:
        """Map a point of the unit cube to theta (``prior_transform``)."""
        u = np.asarray(u, dtype=float)
        theta = self.a + u * (self.b - self.a)
        if self.log.any():
            theta[self.log] = np.exp(self.log_a + u[self.log] * self.log_ratio)
        if self.norm.any():
            theta[self.norm] = self.a[self.norm] + self.b[self.norm] * ndtri(u[self.norm])
        return theta
