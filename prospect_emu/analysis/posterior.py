"""Weighted posterior summaries: quantiles, and the text table the CLI prints."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def weighted_quantile(x: np.ndarray, q: Sequence[float], weights: np.ndarray | None = None) -> np.ndarray:
    """Quantiles ``q`` (in [0, 1]) of samples ``x`` with optional weights."""
    x = np.asarray(x, dtype=float)
    if weights is None:
        return np.quantile(x, q)
    order = np.argsort(x)
    cw = np.cumsum(np.asarray(weights, dtype=float)[order])
    cw /= cw[-1]
    return np.interp(q, cw - 0.5 * np.asarray(weights)[order] / np.sum(weights), x[order])


def summarize(model, samples: np.ndarray, weights: np.ndarray, truth: np.ndarray | None = None) -> str:
    """One line per free parameter: median and 16/84 percentiles (and the truth)."""
    head = f"{'parameter':12s} {'p16':>11s} {'median':>11s} {'p84':>11s}" + ("  truth" if truth is not None else "")
    lines = [head]
    for j, name in enumerate(model.theta_labels()):
        lo, med, hi = weighted_quantile(samples[:, j], [0.16, 0.5, 0.84], weights)
        line = f"{name:12s} {lo:11.4g} {med:11.4g} {hi:11.4g}"
        if truth is not None:
            line += f"  {truth[j]:.4g}"
        lines.append(line)
    return "\n".join(lines)
