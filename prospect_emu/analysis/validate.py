"""Validate emulators on an independent test set: know how good an emulator is before fitting.

``prospect-emu validate EMU_DIR [EMU_DIR ...] TEST.h5 --report DIR`` runs each emulator
over a training-set file made by ``generate`` with another seed (FSPS truth the
emulators never saw) and reports, in magnitudes (asinh magnitudes with each emulator's
softening; equal to ordinary magnitudes at the fluxes of real galaxies):

- per band: residual quantiles at -4..+4 sigma, mean, std, median / 95th percentile /
  max of |residual| (the table of Mathews et al. 2023), and the fraction of SEDs beyond
  0.01, 0.03 and 0.1 mag; the same for ``log10(mfrac)``;
- against observational uncertainty (a fractional flux error per band, or a catalog's
  uncertainties): the ratio of the emulator's std to the observational error in
  magnitudes, the factor by which the emulator error inflates the total error, and a
  verdict per band (an emulator is only safe where its error sits below the data's);
- the band x band residual correlation and the error of adjacent-band colours;
- the error against each input parameter in bins (where the weak corners are) and the
  worst 20 SEDs with their parameters.

A spectral emulator is compared in every band of the test set at each row's redshift (a
``zred`` column, or the fixed zred of the test set's model: a fixed-zred emulator is
validated at its own redshift), with FSPS's IGM absorption where the test set's model had
``add_igm_absorption`` on, and, where the test set stores spectra (``generate
--store-spectrum``), by its rest-frame fractional spectral error per wavelength (median,
68th and 95th percentiles; a PNG).  A band that leaves the emulated rest-frame range at
some rows' redshift is left out with a warning naming it and the zred range where it can
be validated (``bands_left_out`` in the report); the other bands are still validated.

Residuals are emulated minus FSPS.  ``report.json`` holds every number (its keys are
listed in :func:`validate`); PNG figures go beside it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..emulator.artifact import Emulator
from ..emulator.errorstats import residual_statistics
from ..emulator.spectral_metrics import spectral_errors as _spectral_errors
from ..emulator.transforms import asinh_mag
from ..errors import ConfigurationError
from ..trainingdata.trainingset import OK, TrainingSet, config_hash
from .validate_output import figures, record_independent_tests

THRESHOLDS = (0.01, 0.03, 0.1)
#: ratio emulator std / observational error below which a band is not emulator-limited
SAFE_RATIO = 0.3
N_WORST = 20
MAG_PER_FRAC = 2.5 / np.log(10.0)


def effective_wavelengths(path: str | Path, names: Sequence[str]) -> np.ndarray:
    """Effective wavelengths (AA, sedpy's definition) of a training set's stored filters."""
    out = []
    with h5py.File(path, "r") as f:
        for n in names:
            wave, trans = f["filters"][n][...]
            out.append(np.exp(np.trapezoid(trans * np.log(wave) / wave, wave)
                              / np.trapezoid(trans / wave, wave)))
    return np.array(out)


def check_independent(emu: Emulator, test: TrainingSet) -> list[str]:
    """Refuse a test set that *is* the emulator's training set; warn where rows may be shared.

    Returns the warnings issued.
    """
    trained = emu.meta.get("training_set", {}).get("config")
    if not trained:
        return []
    if config_hash(trained) == config_hash(test.config):
        raise ConfigurationError(
            f"{test.path} is the training set of this emulator (same configuration): its rows "
            "are not a test set. Make an independent one with prospect-emu generate ... "
            "--seed N (another seed) --share-spectrum 1")
    notes = []
    same = ("seed", "sampler", "space", "param_file_text")
    if all(trained.get(k) == test.config.get(k) for k in same):
        notes.append(f"{test.path} was drawn with the emulator's training seed and sampler: its "
                     "first rows repeat training rows. Regenerate it with another --seed")
    if int(test.config.get("share_spectrum", 1)) > 1:
        notes.append(f"{test.path} shares spectra across rows (--share-spectrum "
                     f"{test.config['share_spectrum']}): fewer independent SEDs than rows")
    for n in notes:
        warnings.warn(n, stacklevel=3)
    return notes


def _check_compatible(emu: Emulator, test: TrainingSet, label: str) -> None:
    """Refuse a test set that cannot validate ``emu``: inputs it does not vary, and what the
    emulator's kind needs (:meth:`~prospect_emu.emulator.artifact.Emulator.check_test_set`)."""
    missing = [n for n in emu.input_names if n not in test.names]
    if missing:
        raise ConfigurationError(f"{label} takes inputs {missing} that the test set {test.path} "
                                 f"does not vary (its columns: {test.names}): generate it from the "
                                 "emulator's model, with --range for fixed inputs such as zred")
    emu.check_test_set(test, label)


def emulator_residuals(emu: Emulator, test: TrainingSet) -> dict[str, Any]:
    """Emulated minus FSPS asinh magnitudes (and log10 mfrac) on the usable test rows.

    Rows that failed, are incomplete, or lie outside the emulator's training bounds are
    left out and counted.  The bands and magnitudes are the kind's
    (:meth:`~prospect_emu.emulator.artifact.Emulator.test_set_magnitudes`): a photometric
    emulator is compared in its own bands; a spectral one in every band of the test set,
    projected at each row's redshift, with the asinh softening of its training bands
    (elsewhere 1e-4 of the band's median flux).
    """
    good = (test.status == OK) & np.all(np.isfinite(test.phot), axis=1) & np.isfinite(test.mfrac) \
        & (test.mfrac > 0) & np.all(np.isfinite(test.params), axis=1)
    rows = np.flatnonzero(good)
    x = emu.as_vector(test.params[rows], names=test.names)
    inside = ~emu.inputs.out_of_bounds(x).any(axis=1)
    rows, x = rows[inside], x[inside]
    bands, mags, mfrac, soft = emu.test_set_magnitudes(test, rows, x)
    band_idx = [test.filter_names.index(b) for b in bands]
    d_mag = mags - asinh_mag(test.phot[np.ix_(rows, band_idx)], soft)
    d_mfrac = np.log10(mfrac) - np.log10(test.mfrac[rows])
    return {"rows": rows, "bands": bands, "d_mag": d_mag, "d_mfrac": d_mfrac, "inputs": x,
            "n_failed": int((~good).sum()), "n_out_of_bounds": int((~inside).sum())}


def spectral_errors(emu, test: TrainingSet, rows: np.ndarray, x: np.ndarray,
                    block: int = 1000) -> dict[str, Any]:
    """A spectral emulator's fractional spectral error per wavelength and overall against
    the spectra a test set stores: :func:`prospect_emu.emulator.spectral_metrics.spectral_errors`
    (the ``spectrum`` entry of a spectral emulator's report)."""
    return _spectral_errors(emu, test, rows, x, block)


def obs_sigma_mag(bands: Sequence[str], obs_unc: float | None = None,
                  obs_catalog: str | Path | None = None) -> np.ndarray | None:
    """Observational error per band in magnitudes, from a fractional flux error or a catalog.

    The catalog (any table astropy reads) holds, per band, a flux column named as the band
    and an uncertainty column ``<band>_unc`` (or ``<band>_err``); the median of
    ``1.0857 unc / flux`` over rows with positive flux is used.
    """
    if obs_unc is not None and obs_catalog is not None:
        raise ConfigurationError("give --obs-unc or --obs, not both")
    if obs_unc is not None:
        if not (np.isfinite(obs_unc) and obs_unc > 0):
            raise ConfigurationError(f"--obs-unc must be a positive fractional flux error "
                                     f"(0.05 for 5%), got {obs_unc}")
        return np.full(len(bands), MAG_PER_FRAC * float(obs_unc))
    if obs_catalog is None:
        return None
    from astropy.table import Table

    try:
        cat = Table.read(obs_catalog)
    except Exception as exc:
        raise ConfigurationError(f"cannot read the catalog {obs_catalog} ({exc}): give a FITS, "
                                 "ECSV/CSV or HDF5 table") from exc
    out = []
    for b in bands:
        unc_col = next((c for c in (f"{b}_unc", f"{b}_err") if c in cat.colnames), None)
        if b not in cat.colnames or unc_col is None:
            raise ConfigurationError(f"catalog {obs_catalog} has no columns {b!r} and "
                                     f"'{b}_unc' (or '{b}_err'); its columns: {cat.colnames}")
        f = np.asarray(cat[b], dtype=float)
        u = np.asarray(cat[unc_col], dtype=float)
        ok = np.isfinite(f) & np.isfinite(u) & (f > 0) & (u > 0)
        out.append(MAG_PER_FRAC * np.median(u[ok] / f[ok]) if ok.any() else np.nan)
    return np.array(out)


def _band_table(d: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    stats = residual_statistics(d, names)
    for j, n in enumerate(names):
        a = np.abs(d[:, j])
        stats["per_output"][n]["frac_above"] = {f"{t:g}": float(np.mean(a > t)) for t in THRESHOLDS}
    return stats


def _binned(x: np.ndarray, y: np.ndarray, log: bool, nbins: int = 10) -> dict[str, list[float]]:
    xs = np.log10(x) if log else x
    edges = np.linspace(xs.min(), xs.max(), nbins + 1)
    which = np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, nbins - 1)
    med, p95, count = [], [], []
    for k in range(nbins):
        v = y[which == k]
        count.append(int(v.size))
        med.append(float(np.median(v)) if v.size else float("nan"))
        p95.append(float(np.quantile(v, 0.95)) if v.size else float("nan"))
    edges = 10 ** edges if log else edges
    return {"edges": edges.tolist(), "median": med, "p95": p95, "count": count}


def _verdicts(std: np.ndarray, sigma: np.ndarray, bands: Sequence[str]) -> dict[str, Any]:
    out = {}
    for b, s, o in zip(bands, std, sigma):
        r = float(s / o) if np.isfinite(o) and o > 0 else float("nan")
        if not np.isfinite(r):
            verdict = "no observational error"
        elif r >= 1:
            verdict = "emulator-limited"
        elif r >= SAFE_RATIO:
            verdict = "marginal"
        else:
            verdict = "ok"
        out[b] = {"obs_sigma_mag": float(o), "emulator_std_mag": float(s), "ratio": r,
                  "inflation": float(np.sqrt(1 + r * r)) if np.isfinite(r) else float("nan"),
                  "verdict": verdict}
    return out


def validate_one(emu: Emulator, test: TrainingSet, label: str,
                 sigma: np.ndarray | None) -> dict[str, Any]:
    """The report of one emulator on the test set (see :func:`validate`)."""
    _check_compatible(emu, test, label)
    notes = check_independent(emu, test)
    res = emulator_residuals(emu, test)
    eff_wave = effective_wavelengths(test.path, res["bands"])
    d = res["d_mag"]
    if len(d) < 2:
        raise ConfigurationError(f"{test.path} has {len(d)} usable rows inside the training bounds "
                                 f"of {label}: generate more, or over the emulator's ranges")
    bands = res["bands"]
    stats = _band_table(np.column_stack([d, res["d_mfrac"]]), bands + ["log10_mfrac"])
    absd = np.abs(d)
    worst_abs = absd.max(axis=1)
    order = np.argsort(eff_wave)
    colours = {}
    for i, j in zip(order[:-1], order[1:]):
        c = np.abs(d[:, i] - d[:, j])
        colours[f"{bands[i]}-{bands[j]}"] = {
            "median_abs": float(np.median(c)), "p95_abs": float(np.quantile(c, 0.95)),
            "std": float(np.std(d[:, i] - d[:, j], ddof=1))}
    log_in = emu.inputs.log
    by_param = {n: _binned(res["inputs"][:, k], worst_abs, bool(log_in[k]))
                for k, n in enumerate(emu.input_names)}
    worst = []
    for r in np.argsort(worst_abs)[::-1][:N_WORST]:
        worst.append({"row": int(res["rows"][r]), "max_abs": float(worst_abs[r]),
                      "band": bands[int(np.argmax(absd[r]))],
                      "params": {n: float(v) for n, v in zip(emu.input_names, res["inputs"][r])}})
    report = {
        "label": label, "kind": emu.kind, "bands": bands,
        "n_used": int(len(d)), "n_failed_rows": res["n_failed"],
        "n_out_of_bounds": res["n_out_of_bounds"], "warnings": notes,
        "network": emu.meta.get("network", {}),
        "per_output": stats["per_output"], "table_columns": stats["table_columns"],
        "all_bands": {"median_abs": float(np.median(absd)), "p95_abs": float(np.quantile(absd, 0.95)),
                      "max_abs": float(absd.max())},
        "correlation": stats["correlation"], "colours": colours,
        "by_parameter": by_param, "worst": worst,
    }
    if sigma is not None:
        std = np.array([stats["per_output"][b]["std"] for b in bands])
        report["obs"] = _verdicts(std, sigma, bands)
    report.update(emu.validation_extras(test, res["rows"], res["inputs"]))
    return report


def validate(emulators: Sequence[str | Path | Emulator], test_path: str | Path, *,
             report_dir: str | Path | None = None, obs_unc: float | None = None,
             obs_catalog: str | Path | None = None, labels: Sequence[str] | None = None,
             plots: bool = True, record: bool = False) -> dict[str, Any]:
    """Validate one or more emulators on an independent FSPS test set.

    Parameters
    ----------
    emulators : sequence of paths or Emulator
        Emulators to validate on the same test set.
    test_path : str or Path
        A training-set file from ``prospect-emu generate`` with another seed.
    report_dir : str or Path, optional
        Where to write ``report.json`` and the PNG figures.
    obs_unc : float, optional
        Fractional observational flux error, the same for every band (0.05 for 5%).
    obs_catalog : str or Path, optional
        A catalog of fluxes and uncertainties (see :func:`obs_sigma_mag`).
    labels : sequence of str, optional
        Names of the emulators in tables and figures (default: directory names).
    plots : bool
        Write the PNG figures (needs ``report_dir``).
    record : bool
        Store each emulator's per-band summary in its ``emulator.json``
        (``independent_tests``), so that ``prospect-emu info`` reports accuracy on this
        independent set; refused for a test set that shares rows with the training set or
        has its seed.

    Returns
    -------
    dict
        ``test_set`` (path, rows, seed, sampler, share_spectrum), ``emulators`` (one report
        per emulator: ``per_output[band]`` with ``quantiles`` at -4..+4 sigma, ``mean``,
        ``std``, ``median_abs``, ``p95_abs``, ``max_abs``, ``frac_above`` {0.01, 0.03, 0.1};
        ``all_bands``; ``correlation``; ``colours`` of adjacent bands; ``by_parameter``
        (bin ``edges``, ``median`` and ``p95`` of the worst band's |residual|, ``count``);
        ``worst`` SEDs; with an observational error, ``obs[band]`` with ``obs_sigma_mag``,
        ``emulator_std_mag``, ``ratio``, ``inflation`` and ``verdict``; for a spectral
        emulator ``spectrum``, see :func:`spectral_errors`, and ``bands_left_out``: per
        band outside the emulated range at some rows, ``usable_zred``, ``n_rows_outside``
        and ``message``), ``comparison``
        (per band 95th percentiles side by side) and ``figures``.
    """
    if not emulators:
        raise ConfigurationError("give at least one emulator directory to validate")
    emus = [e if isinstance(e, Emulator) else Emulator.load(e) for e in emulators]
    test = TrainingSet(test_path, with_spectrum=any(e.reads_test_spectra for e in emus))
    labels = list(labels) if labels else [
        Path(e).name if not isinstance(e, Emulator) else f"emulator {k + 1}" for k, e in enumerate(emulators)]
    if len(labels) != len(emus) or len(set(labels)) != len(labels):
        raise ConfigurationError(f"need one distinct label per emulator, got {labels}")
    reports = []
    for emu, label in zip(emus, labels):
        bands = emu.validation_bands(test)
        reports.append(validate_one(emu, test, label, obs_sigma_mag(bands, obs_unc, obs_catalog)))
    all_bands = sorted({b for r in reports for b in r["bands"]}, key=test.filter_names.index)
    comparison = {b: {r["label"]: r["per_output"].get(b, {}).get("p95_abs") for r in reports}
                  for b in all_bands}
    out = {"test_set": {"path": str(Path(test_path).resolve()), "n_rows": int(len(test.status)),
                        "seed": test.config.get("seed"), "sampler": test.config.get("sampler"),
                        "share_spectrum": test.config.get("share_spectrum")},
           "emulators": reports, "comparison": comparison, "figures": {}}
    if record:
        record_independent_tests(emulators, emus, reports, out["test_set"])
    if report_dir is not None:
        report_dir = Path(report_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        if plots:
            out["figures"] = figures(report_dir, reports, emus, comparison)
        path = report_dir / "report.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(out, indent=1, allow_nan=True))
        tmp.replace(path)
    return out
