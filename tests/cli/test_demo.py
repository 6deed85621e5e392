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

ROOT = Path(__file__).resolve().parents[2]


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


def _demo_rows(stdout: str, sampler: str) -> list[list[str]]:
    table = stdout.split("in 95%", 1)[1].split(f"emulated {sampler} fit")[0]
    return [line.split() for line in table.strip().splitlines()]


def test_demo_wiring_without_fsps(tmp_path):
    """Wiring of ``prospect-emu demo`` without FSPS and without PyTorch (the README's first
    command installs neither): the default emulator (the bundled spectral one) and fit (its
    bundled amortized posterior, importance-weighted), the mock's truth by the stated rule,
    the summary's structure and what it says a 95% interval means, the plots and the result
    file, which Prospector reads back.  Whether the truth is recovered is a property of many
    mocks, not of this one: test_demo_default_fit_covers_emulator_made_mocks."""
    import h5py

    from prospect_emu.demo import DEMO_SPECTRAL_EMULATOR

    code = ("import sys; sys.modules['fsps'] = None; "
            "import importlib.abc\n"
            "class NoTorch(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'zuko'):\n"
            "            raise ImportError(f'{name} is not installed')\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "from prospect_emu.cli import main\n"
            f"sys.exit(main(['demo', '--out', {str(tmp_path)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_no_fsps_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "with the bundled spectral demo emulator" in r.stdout
    route = "amortized" if "emulated amortized fit" in r.stdout else "emcee"
    assert "amortized posterior" in " ".join(r.stdout.split()), r.stdout
    rows = _demo_rows(r.stdout, route)
    names = [row[0] for row in rows]
    assert names == ["mass", "logzsol", "dust2", "tage", "tau", "stellar_mass",
                     "mass_weighted_age", "sfr_100myr"], r.stdout
    for _, p16, med, p84, _, verdict in rows:
        assert float(p16) <= float(med) <= float(p84) and verdict in ("yes", "NO")
    # the truth: the prior median of each free parameter, from the demo's priors
    # (LogUniform mass 1e8-1e12, TopHat logzsol -2..0.19, dust2 0..2, tage 0.001..13.8,
    # LogUniform tau 0.1..30)
    expect = [1e10, (-2 + 0.19) / 2, 1.0, (0.001 + 13.8) / 2, np.sqrt(0.1 * 30)]
    np.testing.assert_allclose([float(row[4]) for row in rows[:5]], expect, rtol=1e-3)
    text = " ".join(r.stdout.split())
    assert "prior median" in text and "1 quantity in 20 falls outside by design" in text
    if "NO" in [row[-1] for row in rows]:
        assert "quantities fall outside" in text
    for name in ("corner.png", "sed.png", "demo_result.h5"):
        assert (tmp_path / name).stat().st_size > 1000
    with h5py.File(tmp_path / "demo_result.h5", "r") as hf:
        run_params = json.loads(hf.attrs["run_params"])
    assert Path(run_params["emulator"]).resolve() == DEMO_SPECTRAL_EMULATOR.resolve()
    assert "amortized posterior" in run_params["sampler_choice"]
    if route == "amortized":  # Prospector's reader sees a weighted (nested-sampler-like) chain
        from prospect.io.read_results import results_from

        res, _, _ = results_from(str(tmp_path / "demo_result.h5"))
        assert res["chain"].shape[1] == 5 and abs(res["weights"].sum() - 1) < 1e-9


def test_demo_default_fit_covers_emulator_made_mocks():
    """Recovery, statistically, of the demo's default fit: the spectral demo emulator's
    bundled amortized posterior, importance-weighted by the emulated posterior (emcee from
    its draws where the ESS is low), over 60 mocks made by the emulator at prior draws
    (zred 0.2-2.5, S/N 20, diag error), so that what is measured is the proposal, the
    weights and the fallback.  Importance weights make the draws the emulated posterior's,
    so each free parameter's 95% coverage must not fall below the 0.5% binomial tail of
    0.95 and the 68% coverage must lie within the 0.1% tails of 0.68; the seeds are fixed,
    and the tolerance, not the seed, carries the verdict."""
    from prospect_emu.demo import (
        BUNDLED_POSTERIORS,
        DEFAULT_DEMO_EMULATOR,
        demo_calibration_options,
    )

    opts = demo_calibration_options(seed=5, posterior=BUNDLED_POSTERIORS[DEFAULT_DEMO_EMULATOR])
    _assert_coverage_on_emulator_mocks(2027, opts, low95=0.95, low68=0.68)


def test_demo_sampler_covers_emulator_made_mocks():
    """Recovery, statistically: the demo's sampler preset (emulator, emcee settings, diag
    error, S/N 20) over 60 mocks made by the demo emulator at prior draws (zred 0.2-2.5), so
    the emulator is exact here and what is measured is the likelihood and the sampler.  Each
    free parameter's 95% coverage must not fall below the 0.5% binomial tail of 0.88 (the
    lowest of the preset's measured coverages on 100 such mocks, 0.88-0.93: see
    benchmarks/bench_calibration.py; the nominal 0.95 is for an exact sampler, and emcee misses
    one side of the age-tau degeneracy now and then) and the 68% coverage must lie within the
    0.1% tails of 0.58 and 0.68.  Fitting with uncertainties half the mocks' noise (95%
    coverage 0.71-0.88 measured) or a wiring fault fails; the seeds are fixed, and the
    tolerance, not the seed, carries the verdict."""
    from prospect_emu.demo import demo_calibration_options

    _assert_coverage_on_emulator_mocks(2026, demo_calibration_options(seed=3), low95=0.88, low68=0.58)


def _assert_coverage_on_emulator_mocks(mock_seed: int, options: dict, low95: float, low68: float,
                                       n: int = 60) -> None:
    """Calibrate the default demo emulator on ``n`` mocks it made itself (S/N 20, zred
    0.2-2.5) with ``options``; each free parameter's 95% coverage must not fall below the
    0.5% binomial tail of ``low95`` and its 68% coverage must lie between the 0.1% tails of
    ``low68`` (below) and 0.68 (above)."""
    from scipy import stats

    from prospect_emu.analysis.calibrate import run_calibration
    from prospect_emu.analysis.calibrate_mocks import mocks_from_emulator
    from prospect_emu.analysis.catalog_object import build_model, model_source
    from prospect_emu.demo import DEFAULT_DEMO_EMULATOR
    from prospect_emu.emulator.artifact import Emulator

    emu = Emulator.load(DEFAULT_DEMO_EMULATOR)
    source = model_source(DEFAULT_DEMO_EMULATOR, list(emu.filter_names), emu=emu)
    model, _ = build_model(source)
    mocks = mocks_from_emulator(model, list(emu.filter_names), n, (0.2, 2.5),
                                np.random.default_rng(mock_seed), 20.0)
    rep = run_calibration(source, mocks, None, progress=False, meta={"noise": "S/N 20"},
                          sampler_options=options)
    assert len(rep.fitted) == n
    floor95 = stats.binom.ppf(0.005, n, low95) / n
    lo68, hi68 = stats.binom.ppf(0.001, n, low68) / n, stats.binom.isf(0.001, n, 0.68) / n
    for row in rep.table[:5]:
        assert row["coverage_95"] >= floor95, (str(rep), floor95)
        assert lo68 <= row["coverage_68"] <= hi68, (str(rep), lo68, hi68)


def test_demo_photometric_emulator_and_conflicting_options(tmp_path):
    """``demo --photometric --dynesty``: the other bundled emulator and Prospector's dynesty,
    without FSPS (structure only); conflicting options are refused."""
    import h5py

    code = ("import sys; sys.modules['fsps'] = None; from prospect_emu.cli import main; "
            f"sys.exit(main(['demo', '--photometric', '--dynesty', '--nlive', '60', "
            f"'--out', {str(tmp_path)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_no_fsps_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "with the bundled photometric demo emulator" in r.stdout
    assert len(_demo_rows(r.stdout, "dynesty")) == 8, r.stdout
    with h5py.File(tmp_path / "demo_result.h5", "r") as hf:
        run_params = json.loads(hf.attrs["run_params"])
    assert Path(run_params["emulator"]).resolve() == DEMO_EMULATOR.resolve()
    for argv, words in ((["--spectral", "--emulator", str(DEMO_EMULATOR)], "--spectral, --photometric"),
                        (["--photometric", "--spectral"], "--spectral, --photometric"),
                        (["--emcee", "--dynesty"], "--nautilus, --emcee and --dynesty")):
        both = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "demo", *argv,
                               "--out", str(tmp_path / "x")],
                              capture_output=True, text=True, env=_no_fsps_env())
        assert both.returncode == 2 and words in both.stderr, both.stderr


def test_demo_alpha_model_without_fsps(tmp_path):
    """``demo --model alpha`` without FSPS: the bundled Prospector-alpha-class emulator fits the
    FSPS-made mock of its parameter file; the table holds every free parameter and the derived
    quantities, the truth is the one stored beside the mock (written by
    demos/make_alpha_galaxy.py), and the result file records the bundled emulator.  Structure
    only: recovery is a property of many mocks.  Run with the batched emcee preset (seconds)
    instead of the model's own nautilus (a minute); the model's sampler is checked below and
    the choice by dimension in tests/prospector/test_default_sampler.py."""
    import h5py

    from prospect_emu.demo import ALPHA_EMULATOR, ALPHA_GALAXY_TRUTH, demo_model

    assert (demo_model("alpha").sampler, demo_model("alpha").preset) == ("nautilus", "wide")
    code = ("import sys; sys.modules['fsps'] = None; from prospect_emu.cli import main; "
            f"sys.exit(main(['demo', '--model', 'alpha', '--emcee', '--out', {str(tmp_path)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_no_fsps_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "with the bundled Prospector-alpha-class emulator" in r.stdout
    assert "made with FSPS" in r.stdout
    truth = json.loads(ALPHA_GALAXY_TRUTH.read_text())["theta"]
    rows = _demo_rows(r.stdout, "emcee")
    assert [row[0] for row in rows] == [*truth, "stellar_mass", "mass_weighted_age",
                                        "sfr_100myr"], r.stdout
    np.testing.assert_allclose([float(row[4]) for row in rows[:len(truth)]],
                               list(truth.values()), rtol=1e-3, atol=1e-6)
    with h5py.File(tmp_path / "demo_result.h5", "r") as hf:
        run_params = json.loads(hf.attrs["run_params"])
    assert Path(run_params["emulator"]).resolve() == ALPHA_EMULATOR.resolve()
    bad = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "demo", "--model", "alpha",
                          "--photometric", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, env=_no_fsps_env())
    assert bad.returncode == 2 and "--model alpha has one" in bad.stderr, bad.stderr


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


def test_tutorial_07_amortized_catalog(sps_home, tmp_path):
    pytest.importorskip("zuko")
    r = subprocess.run([sys.executable, str(ROOT / "demos" / "07_amortized_catalog.py"), "--quick",
                        "--out", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    from astropy.table import Table

    t = Table.read(tmp_path / "amortized" / "summary.ecsv")
    assert len(t) == 20 and set(t["status"]) == {"ok"}
    route = dict(zip(t["id"], t["route"]))
    # galaxy 0 lies beyond the posterior's redshifts, galaxy 1 beyond any prior draw
    assert route[0] == route[1] == "fallback:emcee"
    assert "outside the posterior's training range" in t["message"][0]
    assert "took the amortized route" in r.stdout


def test_demo_summary_says_when_the_sampler_did_not_converge():
    # the note follows the sampler's own verdict, stored in its result
    from prospect_emu.demo import CONVERGENCE_NOTE, format_summary

    row = {"quantity": "mass", "p16": 1.0, "median": 2.0, "p84": 3.0, "truth": 2.0,
           "within_95": True}
    base = {"rows": [row], "seconds": 0.5, "ncall": 10, "sampler": "emcee"}
    first_words = CONVERGENCE_NOTE.split()[:6]
    said = format_summary(dict(base, convergence={"converged": False})).split()
    assert said[said.index("Convergence:"):][:6] == first_words
    assert "Convergence:" not in format_summary(dict(base, convergence={"converged": True}))
    assert "Convergence:" not in format_summary(base)  # samplers without a report (dynesty)
