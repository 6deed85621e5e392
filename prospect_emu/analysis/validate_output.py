"""What ``prospect-emu validate`` writes besides ``report.json``: the PNG figures, the
terminal summary, and (``--record``) each emulator's accuracy on the independent set in
its ``emulator.json``.  :mod:`prospect_emu.analysis.validate` computes the numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..emulator.artifact import Emulator
from ..errors import ConfigurationError
from ..provenance import utc_now


def independent_test_entry(report: dict[str, Any], test_set: dict[str, Any]) -> dict[str, Any]:
    """The summary of one emulator's report that ``validate --record`` stores in the
    emulator (:meth:`~prospect_emu.emulator.artifact.Emulator.record_independent_test`)."""
    keep = ("median_abs", "p95_abs", "max_abs")
    return {"test_set": {"name": Path(test_set["path"]).name, "seed": test_set.get("seed"),
                         "n_rows": test_set.get("n_rows"), "sampler": test_set.get("sampler"),
                         "share_spectrum": test_set.get("share_spectrum")},
            "date": utc_now(), "n_used": report["n_used"],
            "n_out_of_bounds": report["n_out_of_bounds"], "warnings": report["warnings"],
            "names": list(report["per_output"]),  # band order (the JSON file sorts keys)
            "per_output": {b: {k: float(v[k]) for k in keep}
                           for b, v in report["per_output"].items()},
            "all_bands": {k: float(report["all_bands"][k]) for k in keep}}


def record_independent_tests(emulators, emus, reports, test_set) -> None:
    """Store each report's summary in its emulator directory (refused for a set that is not
    independent of the emulator's training set)."""
    for src, emu, rep in zip(emulators, emus, reports):
        if isinstance(src, Emulator):
            raise ConfigurationError("--record writes into an emulator directory: pass its path")
        if rep["warnings"]:
            raise ConfigurationError(f"not recording {rep['label']}'s accuracy on this set: "
                                     + "; ".join(rep["warnings"]) + ". Record only an "
                                     "independent set (another seed, no rows shared)")
        emu.record_independent_test(src, independent_test_entry(rep, test_set))


def figures(report_dir: Path, reports, emus, comparison) -> dict[str, str]:
    """The correlation, by-parameter and (spectral kind) per-wavelength figures of each
    emulator, and the band comparison of all; their paths by name."""
    from . import plots

    figs: dict[str, str] = {}
    for rep, emu in zip(reports, emus):
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in rep["label"])
        figs[f"{rep['label']}:correlation"] = str(plots.correlation_heatmap(
            np.array(rep["correlation"])[:-1, :-1], rep["bands"],
            report_dir / f"{stem}_correlation.png", title=f"{rep['label']}: residual correlation"))
        figs[f"{rep['label']}:by_parameter"] = str(plots.error_by_parameter(
            rep["by_parameter"], [bool(v) for v in emu.inputs.log],
            report_dir / f"{stem}_by_parameter.png", title=rep["label"]))
        if "median" in rep.get("spectrum", {}):
            figs[f"{rep['label']}:spectrum"] = str(_spectral_error_figure(
                rep["spectrum"], report_dir / f"{stem}_spectrum.png", rep["label"]))
    figs["comparison"] = str(plots.band_comparison(
        comparison, report_dir / "comparison.png",
        obs={b: v["obs_sigma_mag"] for b, v in reports[0].get("obs", {}).items()}))
    return figs


def _spectral_error_figure(table: dict[str, Any], path: Path, label: str) -> Path:
    """Median, 68th and 95th percentile fractional spectral error against wavelength."""
    from .plots import _plt, _save

    fig, ax = _plt().subplots(figsize=(9, 4))
    w = np.asarray(table["wavelength"])
    for key, name in (("p95", "95th percentile"), ("p68", "68th percentile"), ("median", "median")):
        ax.plot(w, table[key], label=name, lw=1)
    lo, hi = table["report_range"]
    ax.axvspan(lo, hi, color="0.9", zorder=0, label=f"{lo:.0f}-{hi:.0f} AA")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rest-frame wavelength [AA]")
    ax.set_ylabel("|emulated / FSPS - 1|")
    ax.set_title(f"{label}: {table['n_spectra']} test spectra")
    ax.legend(frameon=False, fontsize=8)
    return _save(fig, path)


def format_summary(report: dict[str, Any]) -> str:
    """A short terminal summary of :func:`validate`'s report."""
    ts = report["test_set"]
    lines = [f"test set {ts['path']}: {ts['n_rows']} rows (seed {ts['seed']})"]
    for rep in report["emulators"]:
        lines.append(f"\n{rep['label']}: {rep['n_used']} SEDs used ({rep['n_out_of_bounds']} outside "
                     f"its training bounds, {rep['n_failed_rows']} failed rows); all bands "
                     f"median |d| {rep['all_bands']['median_abs']:.4f}, 95th percentile "
                     f"{rep['all_bands']['p95_abs']:.4f} mag")
        head = f"  {'band':12s} {'median|d|':>9s} {'p95|d|':>7s} {'max|d|':>7s} {'std':>7s} {'>0.03':>6s}"
        obs = rep.get("obs")
        if obs:
            head += f" {'obs':>6s} {'ratio':>6s}  verdict"
        lines.append(head)
        for b, s in rep["per_output"].items():
            row = (f"  {b:12s} {s['median_abs']:9.4f} {s['p95_abs']:7.4f} {s['max_abs']:7.3f} "
                   f"{s['std']:7.4f} {s['frac_above']['0.03']:6.1%}")
            if obs and b in obs:
                o = obs[b]
                row += f" {o['obs_sigma_mag']:6.3f} {o['ratio']:6.2f}  {o['verdict']}"
            lines.append(row)
        limited = [b for b, o in (obs or {}).items() if o["verdict"] == "emulator-limited"]
        if limited:
            lines.append(f"  emulator-limited bands (emulator error >= observational error): "
                         f"{', '.join(limited)}")
        w = rep["worst"][0]
        lines.append(f"  worst SED: row {w['row']}, {w['max_abs']:.3f} mag in {w['band']} at "
                     + ", ".join(f"{k}={v:.4g}" for k, v in w["params"].items()))
        sp = rep.get("spectrum")
        if sp and "note" in sp:
            lines.append(f"  spectrum: {sp['note']}")
        elif sp:
            o = sp["overall_report_range"] or sp["overall"]
            rng = sp["report_range"] if sp["overall_report_range"] else sp["wavelength_range"]
            lines.append(f"  spectrum ({sp['n_spectra']} test spectra), fractional error over "
                         f"{rng[0]:.0f}-{rng[1]:.0f} AA: median {o['median']:.4f}, 68% "
                         f"{o['p68']:.4f}, 95% {o['p95']:.4f}")
        for note in rep["warnings"]:
            lines.append(f"  warning: {note}")
    return "\n".join(lines)
