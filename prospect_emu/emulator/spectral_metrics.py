"""The spectral kind's accuracy measures, shared by its trainer
(:mod:`prospect_emu.emulator.spectral_training`, the held-out statistics stored in the
artifact) and its validation on an independent test set
(:meth:`~prospect_emu.emulator.spectral.SpectralEmulator.validation_extras`): fractional
spectral error tables, and photometry of the emulated spectra at each test row's redshift.
numpy only."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError

#: rest-frame range of the reported overall spectral error, AA
REPORT_RANGE = (1000.0, 25000.0)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def fixed_zred(data: Any) -> float:
    """The fixed zred of a training set whose rows do not vary it (its model record holds
    the ``repr`` of the init value, e.g. ``0.5`` or ``array([0.5])``)."""
    init = str(data.config.get("model", {}).get("zred", {}).get("init", "0.0"))
    m = re.search(_NUMBER, init)
    if m is None:
        raise ConfigurationError(f"cannot read the training set's fixed zred ({init!r})")
    return float(m.group(0))


def model_switch(model: dict[str, Any], name: str, default: bool) -> bool:
    """Whether a boolean FSPS switch of the training set's model record is on: free, or a
    fixed ``init`` whose repr (``True``, ``1``, ``array([ True])``...) holds a true value;
    ``default`` when the model has no such parameter."""
    info = model.get(name)
    if info is None:
        return default
    if info.get("isfree", False):
        return True
    init = str(info.get("init", ""))
    if re.search(r"\bTrue_?\b", init):
        return True
    return any(float(v) != 0 for v in re.findall(_NUMBER, init))


def test_set_zred(test: Any) -> np.ndarray:
    """Each row's zred: the ``zred`` column, or the set's fixed value (its model record;
    a ConfigurationError where it has neither)."""
    if "zred" in test.names:
        return np.asarray(test.column("zred"), dtype=float)
    if not (test.config or {}).get("model"):
        raise ConfigurationError(
            f"{test.path} does not vary zred and records no model, so its fixed zred is unknown: "
            "a spectral emulator is validated at each row's redshift; make the test set with "
            "prospect-emu generate (it records the model's fixed zred), or vary zred with "
            "--range zred=LO,HI")
    return np.full(len(test.status), fixed_zred(test))


def test_set_igm_factor(test: Any) -> np.ndarray | None:
    """Each row's FSPS ``igm_factor`` where the set's model had ``add_igm_absorption`` on
    (its FSPS photometry holds the IGM), else None."""
    model = (test.config or {}).get("model") or {}
    if not model_switch(model, "add_igm_absorption", False):
        return None
    if "igm_factor" in test.names:
        return np.asarray(test.column("igm_factor"), dtype=float)
    m = re.search(_NUMBER, str(model.get("igm_factor", {}).get("init", "1.0")))
    return np.full(len(test.status), float(m.group(0)) if m else 1.0)


def band_zred_range(filt, wave: np.ndarray) -> tuple[float, float]:
    """The redshifts at which a sedpy filter's support (the samples around its non-zero
    transmission) lies inside the rest-frame grid ``wave``: ``(lo, hi)``, empty when
    ``lo > hi``.  The projection (:func:`~prospect_emu.emulator.projection.projection_matrix`)
    accepts the band there."""
    fw, ft = np.asarray(filt.wavelength, dtype=float), np.asarray(filt.transmission)
    pos = np.flatnonzero(ft > 0)
    s_lo = fw[max(pos[0] - 1, 0)] if pos.size else fw[0]
    s_hi = fw[min(pos[-1] + 1, len(fw) - 1)] if pos.size else fw[-1]
    margin = 1e-9
    return s_hi / wave[-1] - 1.0 + margin, s_lo / wave[0] - 1.0 - margin


def usable_bands(wave: np.ndarray, test: Any) -> tuple[list[str], dict[str, Any]]:
    """The test set's bands that a spectral emulator with rest grid ``wave`` projects at
    every row's zred, and for the others ``{band: {"usable_zred": [lo, hi] or None,
    "n_rows_outside": n, "message": ...}}`` (a band outside at some rows is left out of
    the validation, naming the zred range where it can be validated)."""
    from ..filters import load_filters

    zred = test_set_zred(test)
    zred = zred[np.isfinite(zred)]
    zmin, zmax = (float(zred.min()), float(zred.max())) if zred.size else (0.0, 0.0)
    names = list(test.filter_names)
    keep, left = [], {}
    for name, f in zip(names, load_filters(names)):
        lo, hi = band_zred_range(f, wave)
        outside = int(np.sum((zred < lo) | (zred > hi)))
        if outside == 0:
            keep.append(name)
            continue
        where = (f"usable at zred {max(lo, 0.0):.3g}-{hi:.3g}" if lo <= hi else
                 "usable at no zred")
        left[name] = {"usable_zred": [max(lo, 0.0), hi] if lo <= hi else None,
                      "n_rows_outside": outside,
                      "message": (
                          f"band {name} leaves the spectral emulator's rest-frame range "
                          f"{wave[0]:.0f}-{wave[-1]:.0f} AA at {outside} of {zred.size} test rows "
                          f"(test set zred {zmin:.3g}-{zmax:.3g}; the band is {where}): left out "
                          "of the validation. Validate it on a test set within that zred range, "
                          "or train on spectra with a wider --wave-range")}
    return keep, left


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
    zred (a column, or the set's fixed value), in ``bands`` (names; sedpy loads them), with
    FSPS's IGM absorption where the set's model had it on (:func:`test_set_igm_factor`)."""
    from ..filters import load_filters

    filters = load_filters(bands)
    zred = test_set_zred(test)[rows]
    igm = test_set_igm_factor(test)
    igm = np.full(len(rows), -1.0) if igm is None else igm[rows]  # -1: no IGM
    phot = np.empty((len(rows), len(bands)))
    mfrac = np.empty(len(rows))
    for z, g in np.unique(np.column_stack([zred, igm]), axis=0):
        sel = (zred == z) & (igm == g)
        phot[sel], mfrac[sel] = emu.predict_photometry(
            x[sel], filters, float(z), igm_factor=None if g < 0 else float(g))
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
