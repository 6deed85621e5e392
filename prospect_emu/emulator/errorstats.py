"""Emulator residual statistics: the per-band quantile table and band x band covariance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

SIGMAS = tuple(range(-4, 5))


def residual_statistics(residuals: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """Statistics of ``residuals`` (n_rows, n_outputs) = emulated - true.

    Returns
    -------
    dict
        ``per_output[name]``: quantiles at -4..+4 sigma (the normal CDF at those points),
        mean, std (the 11-column table of Mathews et al. 2023), and median, 95th
        percentile and max of |residual|; ``table_columns``; ``covariance`` and
        ``correlation`` (outputs x outputs).
    """
    r = np.asarray(residuals, dtype=float)
    probs = norm.cdf(SIGMAS)
    per = {}
    for j, name in enumerate(names):
        x = r[:, j]
        q = np.quantile(x, probs)
        a = np.abs(x)
        per[name] = {"quantiles": q.tolist(), "mean": float(x.mean()), "std": float(x.std(ddof=1)),
                     "median_abs": float(np.median(a)), "p95_abs": float(np.quantile(a, 0.95)),
                     "max_abs": float(a.max())}
    cov = np.cov(r, rowvar=False) if r.shape[1] > 1 else np.atleast_2d(r.var(ddof=1))
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    return {"per_output": per, "names": list(names), "n_rows": int(r.shape[0]),
            "table_columns": [f"q{s:+d}sigma" for s in SIGMAS] + ["mean", "std"],
            "covariance": cov.tolist(), "correlation": corr.tolist()}


def quantile_table(stats: dict[str, Any]) -> np.ndarray:
    """The (n_outputs, 11) table: quantiles at -4..+4 sigma, mean, std."""
    rows = []
    for name in stats["names"]:
        s = stats["per_output"][name]
        rows.append(list(s["quantiles"]) + [s["mean"], s["std"]])
    return np.array(rows)
