"""``prospect-emu validate`` of a spectral emulator: per-wavelength fractional spectral error
against the spectra a test set stores (no FSPS: the tiny numpy spectral artifact, and test
spectra made from its own prediction with planted fractional offsets)."""

from __future__ import annotations

import numpy as np
import pytest
from sedpy.observate import load_filters

from prospect_emu.analysis.validate import validate
from prospect_emu.analysis.validate_output import format_summary
from prospect_emu.trainingdata import trainingset as ts
from tests.prospector.test_spectral_fits import _tiny_spectral_emulator


def _test_set(path, emu, n, rng, with_spectrum=True):
    lo, hi = emu.inputs.raw_lo, emu.inputs.raw_hi
    x = lo + rng.uniform(size=(n, 4)) * (hi - lo)
    z = rng.choice([0.2, 0.7], size=n)
    filters = load_filters(["sdss_g0", "sdss_r0"])
    phot = np.empty((n, 2))
    for zz in (0.2, 0.7):
        sel = z == zz
        phot[sel] = emu.predict_photometry(x[sel], filters, zz)[0]
    ts.create(path, params=np.column_stack([np.full(n, 1e10), x, z]),
              names=["mass", *emu.input_names, "zred"], filters=filters, chunk_size=n,
              config={"seed": 1, "sampler": {"kind": "uniform"}, "share_spectrum": 1},
              metadata={})
    frac = rng.uniform(-0.06, 0.06, size=(n, len(emu.wavelength)))
    spec = wave = None
    if with_spectrum:
        # the stored grid is wider than the emulator's (as an FSPS grid cut to a wider range)
        wave = np.concatenate([[300.0, 400.0], emu.wavelength, [7e4, 8e4]])
        pred = np.array([emu.predict_spectrum(r)[1] for r in x])
        spec = np.column_stack([np.ones((n, 2)), pred / (1 + frac), np.ones((n, 2))])
    ts.write_chunk(path, 0, phot, np.full(n, 0.6), np.full(n, ts.OK, dtype=np.int8),
                   spectrum=spec, wavelength=wave)
    return np.abs(frac)  # stored = emulated / (1 + frac): |emulated / stored - 1| = |frac|


def test_nofsps_validate_reports_per_wavelength_spectral_error(tmp_path):
    emu = _tiny_spectral_emulator()
    rng = np.random.default_rng(8)
    path = tmp_path / "spec_test.h5"
    err = _test_set(path, emu, 150, rng)  # the planted fractional errors
    out = validate([emu], path, labels=["spectral"], report_dir=tmp_path / "report")
    sp = out["emulators"][0]["spectrum"]
    assert sp["n_spectra"] == 150 and sp["n_skipped"] == 0
    np.testing.assert_allclose(sp["wavelength"], emu.wavelength)
    for key, q in (("median", 0.5), ("p68", 0.68), ("p95", 0.95)):
        np.testing.assert_allclose(sp[key], np.quantile(err, q, axis=0), atol=1e-6)
    inside = (emu.wavelength >= 1000) & (emu.wavelength <= 25000)
    o = sp["overall_report_range"]
    assert o["median"] == pytest.approx(np.median(err[:, inside]), abs=1e-6)
    assert o["p95"] == pytest.approx(np.quantile(err[:, inside], 0.95), abs=1e-6)
    png = out["figures"]["spectral:spectrum"]
    assert png.endswith("spectral_spectrum.png") and (tmp_path / "report" / png).stat().st_size > 0
    assert "fractional error over 1000-25000 AA: median" in format_summary(out)


def test_nofsps_validate_without_stored_spectra_says_how_to_get_them(tmp_path):
    emu = _tiny_spectral_emulator()
    path = tmp_path / "phot_only.h5"
    _test_set(path, emu, 60, np.random.default_rng(2), with_spectrum=False)
    out = validate([emu], path, labels=["spectral"])
    assert "--store-spectrum" in out["emulators"][0]["spectrum"]["note"]
    assert "--store-spectrum" in format_summary(out)
