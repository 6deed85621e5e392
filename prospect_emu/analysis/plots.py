"""Figures (matplotlib PNGs): overlaid corner plots and observed vs model SEDs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _levels(h: np.ndarray, fractions=(0.68, 0.95)) -> list[float]:
    flat = np.sort(h.ravel())[::-1]
    cum = np.cumsum(flat) / flat.sum()
    return sorted({float(flat[min(np.searchsorted(cum, f), len(flat) - 1)]) for f in fractions})


def corner_overlay(posteriors: Mapping[str, tuple[np.ndarray, np.ndarray]], labels: Sequence[str],
                   path: str | Path, truths: Sequence[float] | None = None,
                   log_columns: Sequence[int] = (), bins: int = 30) -> Path:
    """A corner plot with several weighted posteriors overlaid.

    Parameters
    ----------
    posteriors : mapping name -> (samples (n, d), weights (n,))
    labels : parameter names, one per column
    path : output PNG
    truths : optional true values, drawn as lines
    log_columns : columns shown as log10
    """
    from scipy.ndimage import gaussian_filter

    plt = _plt()
    d = len(labels)
    prepared = {}
    for name, (s, w) in posteriors.items():
        s = np.array(s, dtype=float)
        for j in log_columns:
            s[:, j] = np.log10(s[:, j])
        prepared[name] = (s, np.asarray(w, float) / np.sum(w))
    tr = None if truths is None else np.array(truths, dtype=float)
    if tr is not None:
        for j in log_columns:
            tr[j] = np.log10(tr[j])
    from .posterior import weighted_quantile

    # plot ranges from the weighted posteriors (dynesty's early samples carry ~no weight)
    qs = np.array([[weighted_quantile(s[:, j], [0.002, 0.998], w) for j in range(d)]
                   for s, w in prepared.values()])
    lo, hi = qs[:, :, 0].min(axis=0), qs[:, :, 1].max(axis=0)
    if tr is not None:
        lo, hi = np.minimum(lo, tr), np.maximum(hi, tr)
    pad = 0.05 * (hi - lo) + 1e-12
    lo, hi = lo - pad, hi + pad
    fig, axes = plt.subplots(d, d, figsize=(2.2 * d, 2.2 * d), squeeze=False)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            for k, (name, (s, w)) in enumerate(prepared.items()):
                c = COLORS[k % len(COLORS)]
                if i == j:
                    ax.hist(s[:, i], bins=bins, range=(lo[i], hi[i]), weights=w, histtype="step",
                            color=c, density=True, label=name)
                else:
                    h, xe, ye = np.histogram2d(s[:, j], s[:, i], bins=bins, weights=w,
                                               range=[[lo[j], hi[j]], [lo[i], hi[i]]])
                    h = gaussian_filter(h, 1.0)  # smooth the sampling noise out of the contours
                    if h.sum() > 0:
                        xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
                        lv = _levels(h)
                        if len(lv) > 1 and lv[0] < lv[-1]:
                            ax.contour(xc, yc, h.T, levels=lv, colors=[c], linewidths=1)
            if tr is not None:
                ax.axvline(tr[j], color="k", lw=0.8, ls="--")
                if i != j:
                    ax.axhline(tr[i], color="k", lw=0.8, ls="--")
            ax.set_xlim(lo[j], hi[j])
            if i != j:
                ax.set_ylim(lo[i], hi[i])
            else:
                ax.set_yticks([])
            name_j = f"log {labels[j]}" if j in log_columns else labels[j]
            name_i = f"log {labels[i]}" if i in log_columns else labels[i]
            if i == d - 1:
                ax.set_xlabel(name_j)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(name_i)
            elif j > 0:
                ax.set_yticklabels([])
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, names, loc="upper right", frameon=False, fontsize=12)
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def sed_plot(obs: Mapping, models: Mapping[str, np.ndarray], path: str | Path,
             title: str = "") -> Path:
    """Observed photometry (with errors) and model photometry per band, plus residuals."""
    plt = _plt()
    wave = np.array([f.wave_effective for f in obs["filters"]]) / 1e4
    order = np.argsort(wave)
    fig, (ax, rx) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1]})
    y, e = np.asarray(obs["maggies"]) * 3631e6, np.asarray(obs["maggies_unc"]) * 3631e6  # uJy
    ax.errorbar(wave[order], y[order], e[order], fmt="o", color="k", label="observed", zorder=3)
    for k, (name, phot) in enumerate(models.items()):
        c = COLORS[k % len(COLORS)]
        m = np.asarray(phot) * 3631e6
        ax.plot(wave[order], m[order], "s-", ms=5, color=c, lw=1, alpha=0.85, label=name)
        rx.plot(wave[order], ((y - m) / e)[order], "s", color=c, ms=5)
    rx.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel(r"$F_\nu$ [$\mu$Jy]")
    rx.set_ylabel(r"$\chi$")
    rx.set_xlabel(r"observed wavelength [$\mu$m]")
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10, 20) if wave.min() / 1.5 <= t <= wave.max() * 1.5]
    rx.xaxis.set_major_locator(FixedLocator(ticks))
    rx.xaxis.set_major_formatter(ScalarFormatter())
    rx.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def accuracy_plot(emulator, path: str | Path) -> Path:
    """An emulator's held-out accuracy per band and its residual correlations between bands."""
    plt = _plt()
    te = emulator.error_stats
    bands = emulator.filter_names
    x = np.arange(len(bands))
    fig, (ax, cx) = plt.subplots(1, 2, figsize=(12, 4.5))
    ax.bar(x - 0.2, [te["per_output"][b]["median_abs"] for b in bands], 0.4, label="median |dmag|")
    ax.bar(x + 0.2, [te["per_output"][b]["p95_abs"] for b in bands], 0.4, label="95th percentile |dmag|")
    ax.set_xticks(x, bands, rotation=60, ha="right")
    ax.set_ylabel("held-out |emulated - FSPS| [mag]")
    ax.legend(frameon=False)
    net = emulator.meta["network"]
    ax.set_title(f"{net['depth']} x {net['width']} {net['activation']}, "
                 f"{emulator.meta['training']['n_test']} held-out SEDs")
    _heatmap(fig, cx, np.array(te["correlation"])[: len(bands), : len(bands)], bands,
             "correlation of emulator residuals between bands")
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    _plt().close(fig)
    return path


def _heatmap(fig, ax, corr: np.ndarray, names: Sequence[str], title: str) -> None:
    x = np.arange(len(names))
    im = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(x, names, rotation=60, ha="right")
    ax.set_yticks(x, names)
    ax.set_title(title)
    fig.colorbar(im, ax=ax)


def correlation_heatmap(corr: np.ndarray, names: Sequence[str], path: str | Path,
                        title: str = "residual correlation") -> Path:
    """A band x band correlation matrix as a heatmap."""
    fig, ax = _plt().subplots(figsize=(7, 6))
    _heatmap(fig, ax, corr, names, title)
    return _save(fig, path)


def error_by_parameter(by_param: Mapping[str, Mapping], log: Sequence[bool], path: str | Path,
                       title: str = "") -> Path:
    """Binned median and 95th percentile of the worst band's |residual| against each input."""
    plt = _plt()
    n = len(by_param)
    ncol = min(n, 3)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    for ax, (name, b), lg in zip(axes.ravel(), by_param.items(), log):
        e = np.asarray(b["edges"])
        c = np.sqrt(e[1:] * e[:-1]) if lg else 0.5 * (e[1:] + e[:-1])
        ax.plot(c, b["median"], "o-", label="median")
        ax.plot(c, b["p95"], "s-", label="95th percentile")
        if lg:
            ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("worst band |d mag|")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0, 0].legend(frameon=False, fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def band_comparison(p95: Mapping[str, Mapping[str, float | None]], path: str | Path,
                    obs: Mapping[str, float] | None = None) -> Path:
    """95th-percentile |residual| per band for several emulators, beside the data's error."""
    plt = _plt()
    bands = list(p95)
    labels = list(next(iter(p95.values())))
    x = np.arange(len(bands))
    w = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(7, 0.6 * len(bands)), 4.5))
    for k, lab in enumerate(labels):
        v = [np.nan if p95[b].get(lab) is None else p95[b][lab] for b in bands]
        ax.bar(x + (k - (len(labels) - 1) / 2) * w, v, w, label=lab, color=COLORS[k % len(COLORS)])
    if obs:
        ax.plot(x, [obs.get(b, np.nan) for b in bands], "k_", ms=20, mew=2,
                label="observational error")
    ax.set_xticks(x, bands, rotation=60, ha="right")
    ax.set_ylabel("95th percentile |emulated - FSPS| [mag]")
    ax.legend(frameon=False)
    return _save(fig, path)
