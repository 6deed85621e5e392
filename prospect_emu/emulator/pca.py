"""A PCA basis of standardised log10 spectra, accumulated in chunks (speculator-style).

The log10 spectrum ``l`` (one value per rest-frame wavelength, W of them) is
standardised per wavelength, ``u = (l - mean) / scale``; the basis is the leading
eigenvectors of the W x W covariance of ``u`` over the training spectra, accumulated
chunk by chunk (W ~ 1000: an 8 MB matrix whatever the number of spectra), then
``numpy.linalg.eigh``.  Coefficients are ``c = u @ basis.T``; the reconstruction is
``l = mean + scale * (c @ basis)``.

The number of components is the smallest whose reconstruction of the validation
spectra meets a tolerance on the median fractional error ``|10**(l_rec - l) - 1|`` over
all validation spectra and wavelengths (default 0.5%); the 95th percentile is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigurationError


def log_spectra(spectra: np.ndarray, *, inplace: bool = False, chunk: int = 16384) -> np.ndarray:
    """log10 of spectra (Lsun/Hz per Msun formed) as float32 (half the memory of float64;
    ~2e-6 dex of rounding); refuses non-positive values.

    With ``inplace`` a float32 array is overwritten by its logarithm (no second copy of a
    large set); rows are taken ``chunk`` at a time, so no full-size temporary is made.
    """
    s = np.asarray(spectra)
    out = s if inplace and s.dtype == np.float32 else np.empty(s.shape, dtype=np.float32)
    for i in range(0, len(s), chunk):
        block = s[i:i + chunk]
        if not np.all(block > 0):
            raise ConfigurationError("stored spectra hold zero, negative or NaN values: a "
                                     "log-spectrum PCA needs positive spectra; narrow "
                                     "--wave-range or regenerate")
        np.log10(block, out=out[i:i + chunk], dtype=np.float32)
    return out


def fractional_error(log_pred: np.ndarray, log_true: np.ndarray) -> np.ndarray:
    """``|10**(log_pred - log_true) - 1|``: the fractional error of a spectrum."""
    return np.abs(np.expm1(np.log(10.0) * (np.asarray(log_pred) - np.asarray(log_true))))


@dataclass
class PCABasis:
    """Mean and scale per wavelength, orthonormal basis (K, W), coefficient statistics."""

    mean: np.ndarray
    scale: np.ndarray
    basis: np.ndarray
    eigenvalues: np.ndarray          # all W, descending: variance per component
    coeff_mean: np.ndarray = None    # per kept component, over the training spectra
    coeff_std: np.ndarray = None

    @property
    def n_components(self) -> int:
        return int(self.basis.shape[0])

    def coefficients(self, log_spec: np.ndarray) -> np.ndarray:
        return ((np.asarray(log_spec) - self.mean) / self.scale) @ self.basis.T

    def reconstruct(self, coeffs: np.ndarray) -> np.ndarray:
        """log10 spectra from coefficients."""
        return self.mean + self.scale * (np.asarray(coeffs) @ self.basis)

    def truncated(self, k: int) -> PCABasis:
        return PCABasis(self.mean, self.scale, self.basis[:k], self.eigenvalues)

    def with_coefficient_stats(self, log_spec_chunks: Iterable[np.ndarray]) -> PCABasis:
        """Mean and std of each kept coefficient over the given (training) spectra."""
        n, s1, s2 = 0, 0.0, 0.0
        for chunk in log_spec_chunks:
            c = self.coefficients(np.asarray(chunk, dtype=float))
            n += len(c)
            s1 = s1 + c.sum(axis=0)
            s2 = s2 + (c * c).sum(axis=0)
        mean = s1 / n
        std = np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0))
        return PCABasis(self.mean, self.scale, self.basis, self.eigenvalues, mean,
                        np.where(std > 0, std, 1.0))


def fit_pca(log_spec_chunks, n_max: int | None = None) -> PCABasis:
    """The full eigenbasis of standardised log spectra, in two passes over the chunks.

    Parameters
    ----------
    log_spec_chunks : callable returning an iterable of (n_i, W) arrays
        Called twice (mean and scale, then covariance), so that a large set can be read
        from disk in chunks instead of held in memory.
    n_max : int, optional
        Keep at most this many components (default: all W).
    """
    n, s1, s2 = 0, 0.0, 0.0
    for chunk in log_spec_chunks():
        chunk = np.asarray(chunk, dtype=float)
        n += len(chunk)
        s1 = s1 + chunk.sum(axis=0)
        s2 = s2 + (chunk * chunk).sum(axis=0)
    if n < 2:
        raise ConfigurationError("a PCA needs at least two training spectra")
    mean = s1 / n
    var = np.maximum(s2 / n - mean ** 2, 0.0)
    scale = np.sqrt(var)
    floor = 1e-6 * max(float(scale.max()), 1e-12)
    scale = np.where(scale > floor, scale, floor)
    cov = 0.0
    for chunk in log_spec_chunks():
        u = (np.asarray(chunk, dtype=float) - mean) / scale
        cov = cov + u.T @ u
    cov = cov / (n - 1)
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    k = len(evals) if n_max is None else min(int(n_max), len(evals))
    return PCABasis(mean, scale, evecs[:, :k].T.copy(), np.maximum(evals, 0.0))


def choose_components(pca: PCABasis, log_val: np.ndarray, tolerance: float = 0.005,
                      max_components: int = 128) -> tuple[int, dict[str, float]]:
    """Fewest components whose reconstruction of ``log_val`` has median fractional error
    <= ``tolerance``.

    Returns
    -------
    k : int
    stats : dict
        ``median``, ``p95`` fractional error at ``k``, ``tolerance``, ``met`` (bool as
        float) and ``max_components``.

    Raises
    ------
    ConfigurationError
        When even ``max_components`` components miss the tolerance.
    """
    kmax = min(int(max_components), pca.n_components)
    log_val = np.asarray(log_val, dtype=float)
    c = pca.coefficients(log_val)[:, :kmax]

    def stats(k: int) -> tuple[float, float]:
        e = fractional_error(pca.mean + pca.scale * (c[:, :k] @ pca.basis[:k]), log_val)
        return float(np.median(e)), float(np.quantile(e, 0.95))

    lo, hi = 1, kmax
    if stats(hi)[0] > tolerance:
        med, p95 = stats(hi)
        raise ConfigurationError(
            f"{kmax} PCA components reconstruct the validation spectra to a median fractional "
            f"error of {med:.4f} (95th {p95:.4f}), above --pca-tolerance {tolerance}: raise "
            "--pca-tolerance or --max-components, or narrow --wave-range")
    while lo < hi:  # the error falls as components are added
        mid = (lo + hi) // 2
        if stats(mid)[0] <= tolerance:
            hi = mid
        else:
            lo = mid + 1
    med, p95 = stats(lo)
    return lo, {"median": med, "p95": p95, "tolerance": float(tolerance),
                "max_components": int(max_components), "n_spectra": int(len(log_val))}
