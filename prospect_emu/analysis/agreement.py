"""How well two posteriors agree, marginal by marginal: median offsets and JS divergence.

Used by ``benchmarks/bench_samplers.py`` to hold each fast sampler against the dynesty
reference fit: per free parameter, the offset of the medians in units of the reference
posterior's sigma (half its 16-84 percentile width) and the Jensen-Shannon divergence (in
bits, 0 for equal distributions, 1 for disjoint ones) of the two marginals, estimated on
common histogram bins.  Both accept weighted samples (nested samplers) and equal-weight
ones (MCMC), so no resampling noise is added.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigurationError
from .posterior import weighted_quantile


def _weights(x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    if w is None:
        return np.full(len(x), 1.0 / len(x))
    w = np.asarray(w, dtype=float)
    if w.shape != x.shape or np.any(w < 0) or not np.sum(w) > 0:
        raise ConfigurationError(f"weights must be non-negative, not all zero, one per sample "
                                 f"({x.shape}); got shape {w.shape}")
    return w / np.sum(w)


def common_edges(a: np.ndarray, b: np.ndarray, bins: int = 40, tail: float = 0.1,
                 wa: np.ndarray | None = None, wb: np.ndarray | None = None) -> np.ndarray:
    """``bins + 1`` equal-width bin edges from the lowest to the highest of the two
    (weighted) samples' ``tail`` and ``100 - tail`` percentiles (values beyond fall into the
    outer bins).  Weights matter: a nested sampler's low-weight early points span the prior."""
    ends = []
    for x, w in ((a, wa), (b, wb)):
        x = np.asarray(x, dtype=float)
        w = _weights(x, w)
        ok = np.isfinite(x) & (w > 0)
        if ok.any():
            ends.append(weighted_quantile(x[ok], [tail / 100, 1 - tail / 100], w[ok]))
    if not ends:
        raise ConfigurationError("no finite samples to bin")
    lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, int(bins) + 1)


def histogram_probabilities(x: np.ndarray, edges: np.ndarray,
                            weights: np.ndarray | None = None) -> np.ndarray:
    """Probability per bin of (weighted) samples ``x``; values outside ``edges`` count in
    the outer bins."""
    x = np.asarray(x, dtype=float)
    w = _weights(x, weights)
    p, _ = np.histogram(np.clip(x, edges[0], edges[-1]), bins=edges, weights=w)
    return p / p.sum()


def js_bits(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (bits) of two discrete distributions on the same bins."""
    p = np.asarray(p, dtype=float) / np.sum(p)
    q = np.asarray(q, dtype=float) / np.sum(q)
    m = 0.5 * (p + q)

    def kl(x):
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))
    return max(0.5 * kl(p) + 0.5 * kl(q), 0.0)


def js_divergence_bits(a: np.ndarray, b: np.ndarray, wa: np.ndarray | None = None,
                       wb: np.ndarray | None = None, bins: int | np.ndarray = 40) -> float:
    """Jensen-Shannon divergence (bits) of two 1-d samples, on common histogram bins.

    Parameters
    ----------
    a, b : ndarray
        Samples of the two distributions.
    wa, wb : ndarray, optional
        Their weights (equal weights when omitted).
    bins : int or ndarray
        Number of common equal-width bins (:func:`common_edges`), or the bin edges.

    Returns
    -------
    float
        In [0, 1]; a finite-sample estimate (two samples of one distribution give a small
        positive value, about ``(bins - 1) / (8 ln 2) (1/n_a + 1/n_b)`` for effective
        sizes ``n_a``, ``n_b``).
    """
    edges = (common_edges(a, b, bins, wa=wa, wb=wb) if np.ndim(bins) == 0
             else np.asarray(bins, dtype=float))
    return js_bits(histogram_probabilities(a, edges, wa), histogram_probabilities(b, edges, wb))


def marginal_agreement(ref: np.ndarray, other: np.ndarray, ref_weights: np.ndarray | None = None,
                       other_weights: np.ndarray | None = None,
                       labels: Sequence[str] | None = None, log: Sequence[str] = ("mass",),
                       bins: int = 40) -> list[dict[str, float | str]]:
    """Per column: ``offset_sigma`` (|median - reference median| / reference sigma, sigma =
    half the reference's 16-84 width) and ``js_bits``; columns named in ``log`` compared in
    log10.

    Parameters
    ----------
    ref, other : ndarray (n, ndim) and (m, ndim)
        Samples of the reference posterior and of the one held against it.
    ref_weights, other_weights : ndarray, optional
    labels : list of str, optional
        Column names (default ``p0``, ``p1``, ...).
    log : list of str
    bins : int

    Returns
    -------
    list of dict
        ``{"parameter", "offset_sigma", "js_bits", "ref_median", "median", "ref_sigma"}``.
    """
    ref, other = np.atleast_2d(ref), np.atleast_2d(other)
    if ref.shape[1] != other.shape[1]:
        raise ConfigurationError(f"the two posteriors have {ref.shape[1]} and {other.shape[1]} "
                                 "columns: compare samples of the same parameters")
    labels = list(labels) if labels is not None else [f"p{j}" for j in range(ref.shape[1])]
    rows = []
    for j, name in enumerate(labels):
        a, b = ref[:, j], other[:, j]
        if name in log:
            a, b = np.log10(a), np.log10(b)
        p16, p50, p84 = weighted_quantile(a, [0.16, 0.5, 0.84], ref_weights)
        med = weighted_quantile(b, [0.5], other_weights)[0]
        sigma = 0.5 * (p84 - p16)
        rows.append({"parameter": name, "offset_sigma": float(abs(med - p50) / sigma) if sigma > 0 else np.nan,
                     "js_bits": js_divergence_bits(a, b, ref_weights, other_weights, bins),
                     "ref_median": float(p50), "median": float(med), "ref_sigma": float(sigma)})
    return rows
