"""The importance step's refinement proposal: a Gaussian mixture fitted to weighted draws.

After q's own draws are weighted, each refinement round draws from a Gaussian mixture fitted
to the weighted draws so far by weighted expectation-maximisation (the adaptive mixture of
population Monte Carlo: Cappé, Douc, Guillin, Marin & Robert 2008, Statistics and Computing
18, 447).  A handful of full-covariance components follows a curved or skewed posterior in
the flow's coordinates far more closely than one Gaussian, and is smooth where a kernel
density of a few hundred effective draws is lumpy (what it replaced, and the ESS per
likelihood call both gave: docs/amortized.rst).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gmm import component_log_prob, draw_mixture, mixture_log_prob

#: Draws whose weight is below this fraction of the largest are left out of the fit: they
#: are most of q's draws when q is wide, and leaving them out cost no ESS on the demo model's
#: mocks (1e-4, 1e-3, 1e-2 alike) while it cut the fit's time.  For a Gaussian posterior in
#: 5 dimensions, 1e-3 drops the 1.7% of its mass beyond 3.7 sigma (1e-2: 10%), so the fit's
#: covariance is hardly truncated.
TRIM = 1e-3

#: EM stops once an iteration raises the draws' weighted mean log density by less than this
#: (nats), or after ``iterations``.
TOLERANCE = 1e-3


@dataclass
class MixtureProposal:
    """A Gaussian mixture (log-weights (K,), means (K, D), Cholesky factors (K, D, D)) in
    the flow's coordinates, fitted to weighted draws with :meth:`fit`."""

    logw: np.ndarray
    loc: np.ndarray
    chol: np.ndarray

    @classmethod
    def fit(cls, y: np.ndarray, w: np.ndarray, rng: np.random.Generator,
            components: int = 8, iterations: int = 8) -> MixtureProposal:
        """Weighted EM from ``components`` means picked by weight (fewer where the weights'
        ESS cannot support them: at least ``4 (D + 2)`` effective draws each), for up to
        ``iterations`` iterations or until one gains less than :data:`TOLERANCE`.  A
        component whose share of the ESS falls below ``D + 2`` draws is dropped.  Each
        covariance gets a ridge of 1e-6 of the draws' variances (and 1e-12: the flow's
        coordinates are of order one), so none is singular."""
        ok = np.all(np.isfinite(y), axis=1) & (w > TRIM * np.max(w))
        y, w = y[ok], w[ok] / w[ok].sum()
        n, d = y.shape
        ess = 1.0 / np.sum(w * w)
        k = int(min(components, n, max(1, ess // (4 * (d + 2)))))
        mean = w @ y
        cov = ((y - mean) * w[:, None]).T @ (y - mean)
        ridge = np.diag(1e-6 * np.diag(cov) + 1e-12)
        loc = y[rng.choice(n, size=k, replace=False, p=w)] if k > 1 else mean[None]
        covs = np.repeat((cov / k ** (2.0 / d) + ridge)[None], k, axis=0)
        logw = np.full(k, -np.log(k))
        if k > 1:
            outer = (y[:, :, None] * y[:, None, :]).reshape(n, d * d)  # each draw's y y^T
            last = -np.inf
            for _ in range(iterations):
                logw, loc, covs, ll = _em_step(y, outer, w, logw, loc, np.linalg.cholesky(covs),
                                               ess, ridge)
                if ll - last < TOLERANCE:
                    break
                last = ll
        return cls(logw, loc, np.linalg.cholesky(covs))

    def sample(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` draws."""
        return draw_mixture(self.logw, self.loc, self.chol, k, rng)

    def log_pdf(self, y: np.ndarray) -> np.ndarray:
        """The mixture's log density at rows of ``y``."""
        return mixture_log_prob(self.logw, self.loc, self.chol, np.atleast_2d(y))


def _em_step(y: np.ndarray, outer: np.ndarray, w: np.ndarray, logw: np.ndarray,
             loc: np.ndarray, chol: np.ndarray, ess: float, ridge: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One weighted EM update: responsibilities times weights, then each kept component's
    share, mean and covariance (second moments from the draws' ``outer`` products, minus the
    mean's, plus ``ridge``); and the weighted mean log density of the draws under the
    mixture it started from."""
    lp = component_log_prob(logw, loc, chol, y)
    top = lp.max(axis=0)
    e = np.exp(lp - top)
    norm = e.sum(axis=0)
    r = e * (w / norm)  # (K, n): responsibility times weight
    nk = r.sum(axis=1)
    keep = nk * ess >= y.shape[1] + 2
    if not keep.any():
        keep = nk == nk.max()
    r, nk = r[keep], nk[keep]
    d = y.shape[1]
    loc = (r @ y) / nk[:, None]
    second = (r @ outer).reshape(-1, d, d) / nk[:, None, None]
    covs = second - loc[:, :, None] * loc[:, None, :] + ridge
    covs = 0.5 * (covs + covs.transpose(0, 2, 1))  # exactly symmetric for the Cholesky
    return np.log(nk / nk.sum()), loc, covs, float(w @ (top + np.log(norm)))
