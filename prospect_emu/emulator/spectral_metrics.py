"""The spectral kind's accuracy measures, shared by its trainer
(:mod:`prospect_emu.emulator.spectral_training`, the held-out statistics stored in the
artifact) and its validation on an independent test set
(:meth:`~prospect_emu.emulator.spectral.SpectralEmulator.validation_extras`): fractional
spectral error tables, and photometry of the emulated spectra at each test row's redshift.
numpy only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: rest-frame range of the reported overall spectral error, AA
REPORT_RANGE = (1000.0, 25000.0)


def unique_rows(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``idx`` without rows whose inputs repeat an earlier one (shared spectra)."""
    _, first = np.unique(x[idx], axis=0, return_index=True)
    return idx[np.sort(first)]


def error_table(err: np.ndarray, wave: np.ndarray) -> dict[str, Any]:
    """Fractional-error statistics: per wavelength and overall (and over REPORT_RANGE)."""
    inside = (wave >= REPORT_RANGE[0]) & (wave <= REPORT_RANGE[1])

    def overall(e):
        return {"median": float(np.median(e)), "p68": float(np.quantile(e, 0.68)),
                "p95": float(np.quantile(e, 0.95)), "max": float(e.max())}
    return {"wavelength_range": [float(wave[0]), float(wave[-1])],
            "median": np.median(err, axis=0).tolist(), "p68": np.quantile(err, 0.68, axis=0).tolist(),
            "p95": np.quantile(err, 0.95, axis=0).tolist(), "overall": overall(err),
            "report_range": list(REPORT_RANGE),
            "overall_report_range": overall(err[:, inside]) if inside.any() else None,
            "n_spectra": int(len(err)), "units": "|emulated / FSPS - 1| of L_nu"}


def test_set_photometry(emu, test, rows: np.ndarray, x: np.ndarray,
                        bands: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """A spectral emulator's photometry per Msun at 10 pc for each test row, at the row's
    zred, in ``bands`` (names; sedpy loads them)."""
    from ..filters import load_filters

    filters = load_filters(bands)
    zred = test.column("zred")[rows]
    phot = np.empty((len(rows), len(bands)))
    mfrac = np.empty(len(rows))
    for z in np.unique(zred):
        sel = zred == z
        phot[sel], mfrac[sel] = emu.predict_photometry(x[sel], filters, float(z))
    return phot, mfrac


def spectral_errors(emu, test, rows: np.ndarray, x: np.ndarray,
                    block: int = 1000) -> dict[str, Any]:
    """A spectral emulator's fractional error ``|emulated / FSPS - 1|`` of the rest-frame
    spectrum per wavelength (median, 68th and 95th percentiles) and overall, against the
    spectra a test set stores (``generate --store-spectrum``), on the wavelengths both
    grids share; rows that share a spectrum are counted once.

    Returns
    -------
    dict
        :func:`~prospect_emu.emulator.spectral_training.train_spectrum`'s ``spectral_errors`` layout
        (``wavelength_range``, per-wavelength ``median``/``p68``/``p95`` lists,
        ``overall``, ``overall_report_range``, ``n_spectra``), plus ``wavelength`` (the
        shared grid) and ``n_skipped`` (rows whose FSPS spectrum is not positive there);
        or ``{"note": ...}`` where the test set stores no spectra or no shared wavelengths.
    """
    if test.spectrum is None or test.wavelength is None:
        return {"note": f"{test.path} stores no spectra: generate the test set with "
                        "--store-spectrum for the per-wavelength spectral error"}
    tw, ew = np.asarray(test.wavelength, dtype=float), emu.wavelength
    i = np.minimum(np.searchsorted(tw, ew * (1 - 1e-7)), len(tw) - 1)
    shared = np.isclose(tw[i], ew, rtol=1e-6, atol=0.0)
    if not shared.any():
        return {"note": f"the test set's stored wavelengths ({tw[0]:.0f}-{tw[-1]:.0f} AA, "
                        f"{len(tw)}) share none with the emulator's grid: generate it with the "
                        "same FSPS libraries"}
    keep = unique_rows(x, np.arange(len(x)))
    truth = test.spectrum[rows[keep]][:, i[shared]].astype(float)
    ok = np.all(np.isfinite(truth) & (truth > 0), axis=1)
    truth, xs = truth[ok], x[keep][ok]
    if len(truth) < 2:
        return {"note": "fewer than two usable stored spectra inside the training bounds"}
    err = np.empty_like(truth)
    for a in range(0, len(truth), block):
        _, pred, _ = emu.predict_spectrum(xs[a:a + block])
        err[a:a + block] = np.abs(pred[:, shared] / truth[a:a + block] - 1.0)
    table = error_table(err, ew[shared])
    table.update(wavelength=ew[shared].tolist(), n_skipped=int((~ok).sum()))
    return table
