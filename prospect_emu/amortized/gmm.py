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
        return _log_prob(*self.components_of(context), np.atleast_2d(y))

    def sample(self, context: np.ndarray, n: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws of y and their ``ln q``."""
        logw, loc, chol = self.components_of(context)
        which = rng.choice(self.k, size=int(n), p=np.exp(logw - np.logaddexp.reduce(logw)))
        z = rng.standard_normal((int(n), self.d))
        y = loc[which] + np.einsum("nij,nj->ni", chol[which], z)
        return y, _log_prob(logw, loc, chol, y)


def _log_prob(logw: np.ndarray, loc: np.ndarray, chol: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mixture's log density at rows of ``y``: each component's residuals whitened by
    its inverse Cholesky factor (one batched d x d inversion, then products), then a
    log-sum-exp over the components."""
    k, d = loc.shape
    inv = np.linalg.inv(chol)  # (K, D, D), lower triangular like chol
    # u[c] = (y - loc[c]) inv[c]^T for every component at once: (K, n, D)
    u = np.matmul(y[None, :, :], inv.transpose(0, 2, 1)) - (inv @ loc[:, :, None])[:, None, :, 0]
    const = logw - np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1) \
        - 0.5 * d * np.log(2 * np.pi)
    out = const[:, None] - 0.5 * np.einsum("cnd,cnd->cn", u, u)  # (K, n)
    top = out.max(axis=0)
    return top + np.log(np.exp(out - top).sum(axis=0))
