"""Side-by-side fits: the same observations fitted with FSPS and with an emulator.

For every free parameter and the derived quantities of :mod:`prospect_emu.analysis.derived`:
posterior median and 16/84 percentiles from each fit, the offset of the emulated median
in units of the FSPS posterior's half-width ((p84 - p16) / 2), and the Jensen-Shannon
divergence (bits, 0 = identical, 1 = disjoint) between the two marginals; plus the wall
time and number of likelihood calls of each fit, an overlaid corner plot and the SED.

Many galaxies drawn from the prior, fitted both ways: :mod:`.compare_mocks`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..paramfile import load_param_file
from ..prospector.fitting import FitResult, builder, call_builder, run_fit
from .derived import DERIVED, DERIVED_UNITS, derived_quantities
from .plots import corner_overlay, sed_plot
from .posterior import weighted_quantile


def js_divergence(a: np.ndarray, b: np.ndarray, bins: int = 30) -> float:
    """Jensen-Shannon divergence (bits) between two equal-weight samples' histograms."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    both = np.concatenate([a, b])
    lo, hi = np.percentile(both, [0.5, 99.5])
    if hi <= lo:
        return 0.0
    p, _ = np.histogram(np.clip(a, lo, hi), bins=bins, range=(lo, hi))
    q, _ = np.histogram(np.clip(b, lo, hi), bins=bins, range=(lo, hi))
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(x, y):
        nz = x > 0
        return np.sum(x[nz] * np.log2(x[nz] / y[nz]))
    return float(0.5 * kl(p, m) + 0.5 * kl(q, m))


@dataclass
class FitSide:
    """One fit's posterior draws (equal weight) of parameters and derived quantities."""

    name: str
    fit: FitResult
    draws: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_fit(cls, name: str, fit: FitResult, n: int, seed: int) -> FitSide:
        s = fit.equal_weight_samples(n, seed)
        draws = {lab: s[:, j] for j, lab in enumerate(fit.model.theta_labels())}
        draws.update(derived_quantities(fit.model, s, fit.obs, fit.sps))
        return cls(name, fit, draws)


def _offset_sigma(value: float, quantiles) -> float:
    """``value - median`` in units of the half-width (p84 - p16) / 2 of ``quantiles``
    (p16, p50, p84).  A posterior of no width (a fixed quantity, or a sampler budget too
    small) gives 0 where the value equals it and NaN elsewhere, never a huge number."""
    width = 0.5 * (quantiles[2] - quantiles[0])
    if width > 0:
        return float((value - quantiles[1]) / width)
    return 0.0 if value == quantiles[1] else float("nan")


def compare_sides(fsps: FitSide, emu: FitSide, truth: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Per-quantity comparison rows (parameters, then derived quantities)."""
    rows = []
    for q in list(fsps.fit.model.theta_labels()) + list(DERIVED):
        a, b = fsps.draws.get(q), emu.draws.get(q)
        if a is None or b is None or not np.isfinite(a).any() or not np.isfinite(b).any():
            continue
        fa = weighted_quantile(a[np.isfinite(a)], [0.16, 0.5, 0.84])
        fb = weighted_quantile(b[np.isfinite(b)], [0.16, 0.5, 0.84])
        row = {"quantity": q, "units": DERIVED_UNITS.get(q, ""),
               "fsps": fa.tolist(), "emulator": fb.tolist(),
               "fsps_95": weighted_quantile(a[np.isfinite(a)], [0.025, 0.975]).tolist(),
               "emulator_95": weighted_quantile(b[np.isfinite(b)], [0.025, 0.975]).tolist(),
               "offset_sigma": _offset_sigma(fb[1], fa),
               "js_divergence": js_divergence(a, b)}
        if truth is not None and q in truth:
            row["truth"] = float(truth[q])
        rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]], fsps: FitSide, emu: FitSide) -> str:
    """The comparison as a text table."""
    lines = [f"{'quantity':20s} {'FSPS median [p16, p84]':>36s} {'emulator median [p16, p84]':>36s} "
             f"{'offset/sig':>10s} {'JS (bits)':>9s}"]
    for r in rows:
        f, e = r["fsps"], r["emulator"]
        lines.append(f"{r['quantity']:20s} {f[1]:11.4g} [{f[0]:10.4g}, {f[2]:10.4g}] "
                     f"{e[1]:11.4g} [{e[0]:10.4g}, {e[2]:10.4g}] {r['offset_sigma']:10.2f} "
                     f"{r['js_divergence']:9.3f}")
    unconverged = []
    for side in (fsps, emu):
        calls = f", {side.fit.ncall} likelihood calls" if side.fit.ncall else ""
        conv = side.fit.convergence()
        state = ""
        if conv is not None:
            state = "; converged" if conv.get("converged") else "; NOT CONVERGED"
            if not conv.get("converged"):
                unconverged.append(side.name)
        lines.append(f"{side.name}: {side.fit.seconds:.1f} s{calls}{state}")
    if unconverged:
        lines.append(f"{' and '.join(unconverged)} did not converge: the offsets and JS above mix "
                     "sampling noise with emulator error; rerun with a longer chain or nautilus "
                     "before reading them as the emulator's")
    return "\n".join(lines)


def _best_phot(fit: FitResult) -> np.ndarray:
    return fit.model.predict(fit.best_theta(), obs=fit.obs, sps=fit.sps)[1]


def _best_spec(fit: FitResult) -> np.ndarray:
    return np.asarray(fit.model.predict(fit.best_theta(), obs=fit.obs, sps=fit.sps)[0], dtype=float)


def spectrum_plot(obs: dict, models: dict[str, np.ndarray], path: str | Path,
                  title: str = "") -> Path:
    """Observed spectrum (``obs['wavelength']``, ``obs['spectrum']``, ``obs['unc']``, unmasked
    pixels) and model spectra side by side, with residuals in units of the uncertainty.

    Parameters
    ----------
    obs : dict
        Prospector observations with a spectrum (maggies).
    models : mapping name -> model spectrum at ``obs['wavelength']`` (maggies)
    path : output PNG
    """
    from .plots import COLORS, _plt, _save

    plt = _plt()
    wave = np.asarray(obs["wavelength"], dtype=float)
    mask = obs.get("mask", None)
    m = np.ones(len(wave), bool) if mask is None else np.asarray(mask, dtype=bool)
    y = np.asarray(obs["spectrum"], dtype=float) * 3631e6  # uJy
    e = np.asarray(obs["unc"], dtype=float) * 3631e6
    fig, (ax, rx) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1]})
    ax.plot(wave[m], y[m], color="k", lw=0.8, label="observed")
    ax.fill_between(wave[m], (y - e)[m], (y + e)[m], color="0.8", lw=0)
    for k, (name, spec) in enumerate(models.items()):
        c = COLORS[k % len(COLORS)]
        ms = np.asarray(spec, dtype=float) * 3631e6
        ax.plot(wave[m], ms[m], color=c, lw=1, alpha=0.85, label=name)
        rx.plot(wave[m], ((y - ms) / e)[m], color=c, lw=0.7, alpha=0.8)
    rx.axhline(0, color="k", lw=0.8)
    ax.set_ylabel(r"$F_\nu$ [$\mu$Jy]")
    rx.set_ylabel(r"$\chi$")
    rx.set_xlabel(r"observed wavelength [$\AA$]")
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def compare(param_file: str | Path, emulator: str | Path, out: str | Path, argv: list[str] | None = None,
            seed: int = 1, n_draws: int = 600, obs: dict | None = None, sps=None,
            truth: dict[str, float] | None = None, plots: bool = True, *,
            sampler: str | None = None, preset: str | None = None,
            sampler_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit one galaxy with FSPS and with the emulator, same sampler settings and seed.

    The sampler: ``argv``'s flags (``--dynesty``, ``--emcee``, ``--nautilus``, ``--preset``),
    or ``sampler`` / ``preset`` / ``sampler_options`` as for
    :func:`prospect_emu.prospector.fitting.run_fit` (the registry's,
    :func:`prospect_emu.prospector.samplers.get_sampler`), the same for both sides.

    Returns a dict with ``rows`` (see :func:`compare_sides`), ``table`` (text), the two
    :class:`FitSide` objects, and the paths written under ``out``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    argv = list(argv or [])
    module = load_param_file(param_file)
    if sps is None:
        from ..sps_environment import check_sps_home

        why = "for the FSPS side of the comparison"
        builder(module, "build_sps", why)  # a missing function before a missing SPS_HOME
        check_sps_home()
        from ..prospector.fitting import build_run_params

        sps = call_builder(module, "build_sps", build_run_params(argv), why)
    how = {"sampler": sampler, "preset": preset, "sampler_options": sampler_options, "seed": seed}
    fsps_fit = run_fit(param_file, argv + ["--outfile", str(out / "fsps")], obs=obs, sps=sps, **how)
    emu_fit = run_fit(param_file, argv + ["--outfile", str(out / "emulator")], emulator=emulator,
                      obs=obs if obs is not None else fsps_fit.obs, **how)
    fsps = FitSide.from_fit("FSPS", fsps_fit, n_draws, seed)
    emu = FitSide.from_fit("emulator", emu_fit, n_draws, seed)
    rows = compare_sides(fsps, emu, truth)
    table = format_table(rows, fsps, emu)
    paths = {"table": out / "comparison.txt", "json": out / "comparison.json"}
    paths["table"].write_text(table + "\n")
    summary = {"rows": rows, "fsps": {"seconds": fsps_fit.seconds, "ncall": fsps_fit.ncall,
                                      "convergence": fsps_fit.convergence()},
               "emulator": {"seconds": emu_fit.seconds, "ncall": emu_fit.ncall,
                            "emulator_error": emu_fit.run_params.get("emulator_error"),
                            "convergence": emu_fit.convergence()}}
    partial = paths["json"].with_suffix(".json.partial")  # whole or absent: run_mocks resumes on it
    partial.write_text(json.dumps(summary, indent=1))
    partial.replace(paths["json"])
    if plots:
        labels = fsps_fit.model.theta_labels()
        logc = [j for j, lab in enumerate(labels) if lab == "mass"]
        tr = None if truth is None else [truth.get(lab, np.nan) for lab in labels]
        paths["corner"] = corner_overlay({"FSPS": fsps_fit.samples(), "emulator": emu_fit.samples()},
                                         labels, out / "corner.png", truths=tr, log_columns=logc)
        if fsps_fit.obs.get("maggies", None) is not None:
            paths["sed"] = sed_plot(fsps_fit.obs, {"FSPS best fit": _best_phot(fsps_fit),
                                                   "emulator best fit": _best_phot(emu_fit)},
                                    out / "sed.png", title="observed vs best-fit SEDs")
        if fsps_fit.obs.get("spectrum", None) is not None:
            paths["spectrum"] = spectrum_plot(
                fsps_fit.obs, {"FSPS best fit": _best_spec(fsps_fit),
                               "emulator best fit": _best_spec(emu_fit)},
                out / "spectrum.png", title="observed vs best-fit spectra")
    return {"rows": rows, "table": table, "fsps": fsps, "emulator": emu, "paths": paths}
