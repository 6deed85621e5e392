"""The conditional Gaussian mixture's inference in numpy: zuko's ``GMM`` (full covariances,
its hyper-network an MLP with ReLU) evaluated from its saved arrays, without PyTorch.

PyTorch trains the mixture (:mod:`.flow`); drawing proposals and their densities, what every
galaxy's importance step does, needs only numpy, as the emulator's forward pass does.  So
``fit-catalog --posterior`` and the demo's default fit run on an install without the
``[amortized]`` extra.  The layout follows zuko 1.x: the MLP's output is split into the
mixture's logits (K), means (K, D), log-diagonals (K, D) and strictly lower triangles
(K, D (D - 1) / 2, row-major); each component's Cholesky factor is
``diag(exp(log-diagonal) + 1e-6)`` plus that triangle.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import ConfigurationError

#: zuko's GMM ``epsilon``, added to each component's scale diagonal
EPSILON = 1e-6


class GaussianMixture:
    """A conditional Gaussian mixture ``q(y | context)`` from zuko ``GMM`` arrays.

    Parameters
    ----------
    state : mapping
        The arrays of the trained ``zuko.mixtures.GMM``'s ``state_dict``
        (``hyper.<i>.weight`` (out, in), ``hyper.<i>.bias``).
    features : int
        D, the dimension of y.
    components : int
        K.
    """

    def __init__(self, state: Mapping[str, np.ndarray], features: int, components: int):
        idx = sorted({int(k.split(".")[1]) for k in state if k.startswith("hyper.")})
        if not idx:
            raise ConfigurationError("the posterior's weights hold no Gaussian-mixture network "
                                     "(hyper.*): retrain it with train-posterior")
        self.state = {k: np.asarray(v) for k, v in state.items()}
        self.layers = [(self.state[f"hyper.{i}.weight"].astype(float).T,
                        self.state[f"hyper.{i}.bias"].astype(float)) for i in idx]
        self.d, self.k = int(features), int(components)
        d, k = self.d, self.k
        expected = k + 2 * k * d + k * d * (d - 1) // 2
        if self.layers[-1][1].shape != (expected,):
            raise ConfigurationError(f"the mixture network gives {self.layers[-1][1].shape[0]} "
                                     f"outputs, {expected} expected for {k} components in {d} "
                                     "dimensions: the posterior's metadata and weights disagree")
        self.rows, self.cols = np.tril_indices(d, -1)  # row-major, as torch.masked_scatter

    def components_of(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(log-weights (K,), means (K, D), Cholesky factors (K, D, D))`` for one context."""
        h = np.asarray(context, dtype=float).ravel()
        for j, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if j < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        d, k = self.d, self.k
        logits, h = h[:k], h[k:]
        loc, h = h[:k * d].reshape(k, d), h[k * d:]
        diag, tril = h[:k * d].reshape(k, d), h[k * d:].reshape(k, -1)
        chol = np.zeros((k, d, d))
        chol[:, np.arange(d), np.arange(d)] = np.exp(diag) + EPSILON
        chol[:, self.rows, self.cols] = tril
        logw = logits - np.logaddexp.reduce(logits)
        return logw, loc, chol

    def log_prob(self, context: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``ln q(y | context)`` for rows of ``y`` (n, D)."""
        return mixture_log_prob(*self.components_of(context), np.atleast_2d(y))

    def sample(self, context: np.ndarray, n: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws of y and their ``ln q``."""
        logw, loc, chol = self.components_of(context)
        y = draw_mixture(logw, loc, chol, int(n), rng)
        return y, mixture_log_prob(logw, loc, chol, y)


def draw_mixture(logw: np.ndarray, loc: np.ndarray, chol: np.ndarray, n: int,
                 rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of a Gaussian mixture (log-weights (K,), means (K, D), Cholesky factors
    (K, D, D))."""
    which = rng.choice(len(logw), size=int(n), p=np.exp(logw - np.logaddexp.reduce(logw)))
    z = rng.standard_normal((int(n), loc.shape[1]))
    return loc[which] + np.einsum("nij,nj->ni", chol[which], z)


def component_log_prob(logw: np.ndarray, loc: np.ndarray, chol: np.ndarray, y: np.ndarray
                       ) -> np.ndarray:
    """(K, n): ``ln w_c + ln N(y | loc_c, chol_c chol_c^T)`` of each component at rows of
    ``y``; every component's residuals whitened by its inverse Cholesky factor in one
    product of ``y`` with the K stacked factors (one batched d x d inversion first)."""
    k, d = loc.shape
    inv = np.linalg.inv(chol)  # (K, D, D), lower triangular like chol
    # u[:, c] = (y - loc[c]) inv[c]^T = y inv[c]^T - inv[c] loc[c]: (n, K, D)
    u = (y @ inv.transpose(2, 0, 1).reshape(d, k * d)).reshape(len(y), k, d)
    u -= np.einsum("cij,cj->ci", inv, loc)
    const = logw - np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1) \
        - 0.5 * d * np.log(2 * np.pi)
    return const[:, None] - 0.5 * np.einsum("ncd,ncd->cn", u, u)


def log_sum_exp(a: np.ndarray) -> np.ndarray:
    """``ln sum exp`` over the first axis (a shift by the maximum; -inf where all are)."""
    top = a.max(axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    return safe + np.log(np.exp(a - safe).sum(axis=0))


def mixture_log_prob(logw: np.ndarray, loc: np.ndarray, chol: np.ndarray, y: np.ndarray
                     ) -> np.ndarray:
    """The mixture's log density at rows of ``y``: a log-sum-exp of
    :func:`component_log_prob` over the components."""
    return log_sum_exp(component_log_prob(logw, loc, chol, y))
