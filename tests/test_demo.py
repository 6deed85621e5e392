"""The main job (prospect-emu demo), the comparison tools and the tutorial scripts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prospect_emu.analysis.compare import js_divergence
from prospect_emu.analysis.derived import sfh_age_and_sfr
from prospect_emu.demo import DEMO_EMULATOR

ROOT = Path(__file__).resolve().parents[1]


def _no_fsps_env():
    return {k: v for k, v in os.environ.items() if k != "SPS_HOME"}


def test_bundled_demo_emulator_is_small_and_documented():
    from prospect_emu.emulator.artifact import Emulator

    size = sum(f.stat().st_size for f in DEMO_EMULATOR.iterdir())
    assert size < 5e6
    emu = Emulator.load(DEMO_EMULATOR)
    assert "BaSTI" in emu.meta["provenance"] and "not for science" in emu.meta["provenance"]
    assert len(emu.filter_names) == 15 and emu.input_names[-1] == "zred"
    assert emu.inputs.raw_hi[-1] == 3.0
    for band in ("sdss_r0", "twomass_Ks"):
        assert emu.error_stats["per_output"][band]["median_abs"] < 0.05


def test_demo_wiring_recovers_emulator_made_mock(tmp_path):
    """Wiring test of ``prospect-emu demo`` without FSPS: mock, fit, summary, plots, result file.

    The mock is made by the same demo emulator that fits it, so the emulator's own error
    (emulator vs FSPS) cannot show here; a truth recovered here says the pieces are
    connected (parameters, distance, likelihood, sampler, read-back), not that the
    emulator is accurate.  Emulator-vs-FSPS-data fits: tests/test_fit.py (FSPS-made
    photometry) and the FSPS comparison tests."""
    code = ("import sys; sys.modules['fsps'] = None; from prospect_emu.cli import main; "
            f"sys.exit(main(['demo', '--out', {str(tmp_path)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_no_fsps_env())
    assert r.returncode == 0, r.stderr[-3000:]
    table = r.stdout.split("in 95%")[1].split("emulated dynesty fit")[0]
    rows = [line.split() for line in table.strip().splitlines()]
    verdicts = [row[-1] for row in rows]
    # Every parameter and derived quantity: the truth within 3 posterior half-widths
    # ((p84 - p16) / 2) of the median, and in the central 95% interval for most of them.
    # One noisy mock of a degenerate model (mass-tage): with the retrained demo emulator
    # (smaller stored errors, so a narrower posterior) this mock's mass and stellar mass sit
    # just outside their 95% intervals (mass: truth 3e10, p16 3.5e10, median 4.1e10), while a wiring
    # fault (distance, units, parameter order) moves them by many widths.
    assert len(rows) == 8, r.stdout
    for name, p16, med, p84, truth, _ in rows:
        half = (float(p84) - float(p16)) / 2
        assert abs(float(med) - float(truth)) < 3 * half, (name, r.stdout)
    assert verdicts.count("yes") >= 6, r.stdout
    for name in ("corner.png", "sed.png", "demo_result.h5"):
        assert (tmp_path / name).stat().st_size > 1000


def test_demo_spectral_fits_with_the_bundled_spectral_emulator_without_fsps(tmp_path):
    """``demo --spectral``: the same mock-and-fit wiring through the bundled spectral demo
    emulator, with no FSPS; the result records that emulator, and the posterior holds
    the truth as in the photometric demo."""
    import h5py

    from prospect_emu.demo import DEMO_SPECTRAL_EMULATOR

    code = ("import sys; sys.modules['fsps'] = None; from prospect_emu.cli import main; "
            f"sys.exit(main(['demo', '--spectral', '--emcee', '--out', {str(tmp_path)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_no_fsps_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "with the bundled spectral demo emulator" in r.stdout
    table = r.stdout.split("in 95%")[1].split("emulated emcee fit")[0]
    rows = [line.split() for line in table.strip().splitlines()]
    assert len(rows) == 8, r.stdout
    for name, p16, med, p84, truth, _ in rows:
        assert abs(float(med) - float(truth)) < 3 * (float(p84) - float(p16)) / 2, (name, r.stdout)
    with h5py.File(tmp_path / "demo_result.h5", "r") as hf:
        run_params = json.loads(hf.attrs["run_params"])
    assert Path(run_params["emulator"]).resolve() == DEMO_SPECTRAL_EMULATOR.resolve()

    both = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "demo", "--spectral",
                           "--emulator", str(DEMO_EMULATOR), "--out", str(tmp_path / "x")],
                          capture_output=True, text=True, env=_no_fsps_env())
    assert both.returncode != 0 and "--spectral and --emulator both given" in both.stderr


def test_derived_quantities_for_parametric_histories():
    # constant SFR (tau very long, sfh=1): age = tage / 2, SFR100 = mass / tage
    age, sfr = sfh_age_and_sfr({"sfh": 1, "tage": 10.0, "tau": 1e6, "mass": 1e10})
    assert age == pytest.approx(5.0, rel=1e-3) and sfr == pytest.approx(1.0, rel=1e-3)
    # tau model: analytic mass-weighted age
    tage, tau = 5.0, 1.0
    age, _ = sfh_age_and_sfr({"sfh": 1, "tage": tage, "tau": tau, "mass": 1.0})
    expect = tage - (tau - tage * np.exp(-tage / tau) / (1 - np.exp(-tage / tau)))
    assert age == pytest.approx(expect, rel=1e-4)
    # nonparametric bins: 1e9 Msun in each of [0, 0.1] and [0.1, 1] Gyr
    params = {"sfh": 3, "mass": np.array([1e9, 1e9]), "agebins": np.log10([[1.0, 1e8], [1e8, 1e9]])}
    age, sfr = sfh_age_and_sfr(params)
    assert sfr == pytest.approx(10.0, rel=1e-6) and age == pytest.approx((0.05 + 0.55) / 2, rel=1e-3)


def test_js_divergence_bounds():
    rng = np.random.default_rng(0)
    a = rng.normal(size=4000)
    assert js_divergence(a, rng.normal(size=4000)) < 0.02
    assert js_divergence(a, a + 100) == pytest.approx(1.0, abs=0.05)


def test_tutorial_01_build_emulator(sps_home, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "demos" / "01_build_emulator.py"), "--quick", "--out",
                        str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "accuracy.png").stat().st_size > 1000 and "held-out error" in r.stdout


def test_tutorial_02_one_flag_switch(sps_home, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "demos" / "02_one_flag_switch.py"), "--quick", "--out",
                        str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "emulator_result.h5").exists() and (tmp_path / "FSPS_result.h5").exists()
    assert (tmp_path / "switch_sed.png").stat().st_size > 1000


def test_tutorial_03_compare_and_mocks(sps_home, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "demos" / "03_side_by_side.py"), "--quick", "--out",
                        str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    galaxy = json.loads((tmp_path / "galaxy" / "comparison.json").read_text())
    quantities = [row["quantity"] for row in galaxy["rows"]]
    assert quantities[:4] == ["mass", "dust2", "tage", "tau"]
    assert {"stellar_mass", "mass_weighted_age", "sfr_100myr"} <= set(quantities)
    for row in galaxy["rows"]:
        assert np.all(np.isfinite(row["fsps"] + row["emulator"])) and np.isfinite(row["offset_sigma"])
        assert 0 <= row["js_divergence"] <= 1
    assert galaxy["fsps"]["ncall"] > 0 and galaxy["emulator"]["seconds"] > 0
    for png in ("corner.png", "sed.png"):
        assert (tmp_path / "galaxy" / png).stat().st_size > 1000
    mocks = json.loads((tmp_path / "mocks" / "mocks.json").read_text())
    s = mocks["summary"]
    assert s["n_mocks"] == 2 and len(mocks["mocks"]) == 2
    mass = s["quantities"]["mass"]
    assert 0 <= mass["emu_coverage_68"] <= 1 and np.isfinite(mass["emu_vs_fsps"]["median_abs"])
    assert (tmp_path / "mocks" / "mocks.txt").read_text().startswith("2 mocks")
