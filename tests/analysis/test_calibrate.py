"""``prospect-emu calibrate``: posterior coverage against known truths.

The CLI test makes a small FSPS test set with ``prospect-emu generate`` (FSPS through
Prospector) and checks the table, the per-mock truths against the test set's own rows, and
the refusals.  The statistics are checked against a direct computation (scipy on the
returned posterior draws) for both emulator kinds, without FSPS.
"""

import json
import shutil

import h5py
import numpy as np
import pytest
from astropy.table import Table
from scipy import stats

from prospect_emu.analysis.calibrate import run_calibration
from prospect_emu.analysis.calibrate_density import DENSITY
from prospect_emu.analysis.calibrate_mocks import DERIVED_TRUTHS, mocks_from_emulator
from prospect_emu.analysis.catalog_object import build_model, model_source
from prospect_emu.cli import main
from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS, DEMO_SPECTRAL_EMULATOR
from prospect_emu.emulator.artifact import Emulator
from prospect_emu.options import DEFAULT_ERROR_MODE

FREE = ["mass", "logzsol", "dust2", "tage", "tau"]
COLUMNS = {"quantity", "n", "coverage_68", "coverage_68_lo", "coverage_68_hi", "coverage_95",
           "coverage_95_lo", "coverage_95_hi", "beyond_3sigma", "rank_pvalue", "verdict"}
SMALL_EMCEE = ["--nwalkers", "32", "--niter", "64", "--nburn", "16", "32"]


@pytest.fixture(scope="module")
def fsps_test_set(sps_home, tmp_path_factory):
    """30 prior draws of the demo model at zred 0.2-2.5, made by FSPS (seed 7373, used by no
    emulator or validation set)."""
    path = tmp_path_factory.mktemp("calib") / "calib.h5"
    rc = main(["generate", str(DEMO_PARAMS), "--n", "30", "--sampler", "prior", "--seed", "7373",
               "--range", "zred=0.2,2.5", "--block-size", "1", "--share-spectrum", "1",
               "--workers", "1", "--quiet", "--out", str(path)])
    assert rc == 0
    return path


@pytest.mark.fsps
@pytest.mark.parametrize("emulator", [DEMO_EMULATOR, DEMO_SPECTRAL_EMULATOR], ids=["photometry", "spectrum"])
def test_calibrate_cli_writes_the_table_for_fsps_mocks(fsps_test_set, emulator, tmp_path, capsys):
    out = tmp_path / "cal"
    rc = main(["calibrate", str(emulator), str(fsps_test_set), "--out", str(out), "--n", "12",
               "--quiet", *SMALL_EMCEE])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "68% coverage" in printed and "verdict" in printed
    table = Table.read(out / "calibration.ecsv")
    assert set(table.colnames) == COLUMNS
    assert list(table["quantity"]) == FREE + list(DERIVED_TRUTHS) + [DENSITY]
    assert np.all(table["n"] == 12)
    for level in (68, 95):
        c, lo, hi = (np.asarray(table[f"coverage_{level}{s}"]) for s in ("", "_lo", "_hi"))
        assert np.all((lo <= c) & (c <= hi) & (lo >= 0) & (hi <= 1))
    assert set(table["verdict"]) <= {"calibrated", "overconfident", "underconfident"}
    assert (out / "ranks.png").stat().st_size > 1000
    # the mocks' truths are the test set's own rows (read here with h5py)
    mocks = Table.read(out / "mocks.ecsv")
    with h5py.File(fsps_test_set, "r") as f:
        names = json.loads(f["params"].attrs["names"])
        params = f["params"][...]
        mfrac = f["mfrac"][...]
    rows = np.asarray(mocks["row"])
    for name in FREE:
        np.testing.assert_allclose(mocks[f"{name}_truth"], params[rows, names.index(name)])
    np.testing.assert_allclose(mocks["z"], params[rows, names.index("zred")])
    np.testing.assert_allclose(mocks["stellar_mass_truth"],
                               params[rows, names.index("mass")] * mfrac[rows], rtol=1e-12)


def _edited_copy(src, dst, edit):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        config = json.loads(f.attrs["config"])
        edit(config)
        f.attrs["config"] = json.dumps(config)
    return dst


def _set_seed(seed):
    def edit(config):
        config["seed"] = seed
    return edit


def _other_prior(config):
    config["model"]["dust2"]["prior"] = config["model"]["dust2"]["prior"].replace("maxi=2.0", "maxi=4.0")


def _mixture(config):
    config["sampler"] = {"kind": "mixture", "components": [{"kind": "prior"}, {"kind": "uniform"}],
                         "weights": [0.8, 0.2]}


@pytest.mark.fsps
@pytest.mark.parametrize("emulator, edit, words", [
    (DEMO_EMULATOR, _set_seed(2024), "training seed"),
    (DEMO_SPECTRAL_EMULATOR, _set_seed(131), "training seed"),
    (DEMO_EMULATOR, _other_prior, "another model"),
    (DEMO_SPECTRAL_EMULATOR, _other_prior, "another model"),
    (DEMO_EMULATOR, _mixture, "not drawn from the prior"),
])
def test_calibrate_refuses_unfit_test_sets(fsps_test_set, emulator, edit, words, tmp_path, capsys):
    bad = _edited_copy(fsps_test_set, tmp_path / "bad.h5", edit)
    rc = main(["calibrate", str(emulator), str(bad), "--out", str(tmp_path / "o"), "--n", "3",
               "--quiet", *SMALL_EMCEE])
    err = capsys.readouterr().err
    assert rc == 2 and words in err, err
    assert "prospect-emu generate" in err and "--sampler prior" in err  # how to make a proper one
    assert not (tmp_path / "o" / "calibration.ecsv").exists()


@pytest.mark.fsps
def test_calibrate_refuses_a_test_set_of_other_bands(fsps_test_set, tmp_path, capsys):
    """A photometric emulator needs its own bands in the test set."""
    bad = tmp_path / "bands.h5"
    shutil.copy(fsps_test_set, bad)
    with h5py.File(bad, "r+") as f:
        names = json.loads(f["filters"].attrs["names"])
        f["filters"].attrs["names"] = json.dumps(names[1:])
    rc = main(["calibrate", str(DEMO_EMULATOR), str(bad), "--out", str(tmp_path / "o"), "--n", "3",
               "--quiet", *SMALL_EMCEE])
    err = capsys.readouterr().err
    assert rc == 2 and "galex_FUV" in err and "prospect-emu generate" in err, err


def _short_calibration(emulator, n, mock_seed, fit_seed, out, error=DEFAULT_ERROR_MODE):
    """``n`` emulator-made mocks fitted with short emcee chains: (source, model, filters,
    mocks, report)."""
    emu = Emulator.load(emulator)
    source = model_source(emulator, list(emu.filter_names), emulator_error=error, emu=emu)
    model, filters = build_model(source)
    mocks = mocks_from_emulator(model, list(emu.filter_names), n, (0.2, 2.5),
                                np.random.default_rng(mock_seed), 20.0)
    rep = run_calibration(source, mocks, out, progress=False, meta={"noise": "S/N 20"},
                          sampler_options={"nwalkers": 32, "niter": 64, "nburn": [16, 32],
                                           "seed": fit_seed})
    return source, model, filters, mocks, rep


@pytest.mark.parametrize("emulator", [DEMO_EMULATOR, DEMO_SPECTRAL_EMULATOR], ids=["photometry", "spectrum"])
def test_coverage_matches_a_direct_computation_on_the_draws(emulator, tmp_path):
    """The table's coverages, binomial intervals, 3-sigma fractions and ranks, recomputed here
    from the returned draws with scipy (percentile of the truth among the draws, Clopper-Pearson
    intervals from the beta distribution)."""
    source, _, _, mocks, rep = _short_calibration(emulator, 16, 11, 5, tmp_path)
    table = rep.table
    labels, truths, draws = rep.quantities()
    n = len(truths)
    assert rep.draws.shape == (n, 1000, len(mocks.labels)) and n == 16
    assert labels == mocks.labels + [DENSITY] and draws.shape == (n, 1000, len(labels))
    per_mock = Table.read(tmp_path / "mocks.ecsv")
    for j, name in enumerate(labels):
        q = np.array([stats.percentileofscore(draws[i, :, j], truths[i, j], kind="strict") / 100
                      for i in range(n)])
        np.testing.assert_allclose(per_mock[f"{name}_rank"], q, atol=1e-12)
        row = table[list(table["quantity"]).index(name)]
        for level in (0.68, 0.95):
            a = (1 - level) / 2
            k = int(np.sum((q >= a) & (q <= 1 - a)))
            key = f"coverage_{round(100 * level)}"
            # the interpolated percentiles and the rank may disagree by one draw at a bound
            assert abs(row[key] * n - k) <= 1, (name, level, row[key], k)
            kk = round(row[key] * n)
            lo = stats.beta.ppf(0.025, kk, n - kk + 1) if kk > 0 else 0.0
            hi = stats.beta.ppf(0.975, kk + 1, n - kk) if kk < n else 1.0
            assert row[key + "_lo"] == pytest.approx(lo, abs=1e-9)
            assert row[key + "_hi"] == pytest.approx(hi, abs=1e-9)
        assert row["beyond_3sigma"] == pytest.approx(np.mean((q < 0.00135) | (q > 0.99865)))
    # a truth always outside (shifted far beyond every draw) is caught as overconfident
    shifted = truths.copy()
    shifted[:, 0] *= 100.0
    from prospect_emu.analysis.calibrate import coverage_table

    bad = coverage_table(labels, shifted, draws, {})
    assert bad["coverage_95"][0] == 0 and bad["verdict"][0] == "overconfident"
    assert bad["beyond_3sigma"][0] == 1.0


def _prior_sampler(model, obs, options):
    """A "sampler" that never looks at the data: 300 draws from the prior."""
    rng = np.random.default_rng(options.get("seed"))
    u = rng.uniform(0.02, 0.98, size=(300, model.ndim))
    return {"samples": np.array([model.prior_transform(x) for x in u]), "weights": None, "ncall": 0}


@pytest.mark.parametrize("emulator", [DEMO_EMULATOR, DEMO_SPECTRAL_EMULATOR], ids=["photometry", "spectrum"])
def test_the_posterior_density_is_prospectors_and_flags_a_sampler_that_missed_the_mode(emulator):
    """ln_posterior is Prospector's own ``lnprobfn`` on the emulated model at the truth and at
    the draws; a sampler whose draws miss the data's mode leaves every truth denser than every
    draw (rank 1, beyond 3 sigma, overconfident)."""
    from prospect.fitting import lnprobfn as prospector_lnprobfn

    from prospect_emu.analysis.catalog_object import make_obs

    source, model, filters, mocks, fit = _short_calibration(emulator, 6, 3, 2, None, "none")
    ndim = model.ndim
    for k, i in enumerate(fit.fitted):
        model.params["zred"] = np.atleast_1d(mocks.z[i])
        obs = make_obs(filters, mocks.maggies[i], mocks.unc[i], np.ones(len(filters), bool))
        ref = [prospector_lnprobfn(t, model=model, obs=obs)
               for t in [mocks.truths[i, :ndim], *fit.draws[k, :3, :ndim]]]
        np.testing.assert_allclose([fit.lnp_truth[k], *fit.lnp_draws[k, :3]], ref, rtol=1e-6)
    # (short chains like these do miss modes: how often depends on the CPU, so not asserted)

    blind = run_calibration(source, mocks, None, progress=False, meta={"noise": "S/N 20"},
                            sampler_options={"sampler": _prior_sampler, "seed": 2})
    row = blind.table[list(blind.table["quantity"]).index(DENSITY)]
    assert blind.table.meta["missed_modes"] == 6 and row["beyond_3sigma"] == 1.0
    assert row["verdict"] == "overconfident" and "missed a mode): 6 of 6" in str(blind)


def test_calibrate_defaults_to_the_demo_sampler():
    from prospect_emu.analysis.calibrate import DEFAULT_SAMPLER
    from prospect_emu.demo import demo_calibration_options

    demo = demo_calibration_options()
    assert {k: DEFAULT_SAMPLER[k] for k in demo if k != "seed"} == \
        {k: v for k, v in demo.items() if k != "seed"}
    # and the command's help states those defaults
    from prospect_emu.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    helps = {a.dest: a.help for a in sub.choices["calibrate"]._actions}
    assert f"default {demo['nwalkers']})" in helps["nwalkers"]
    assert f"default {demo['niter']})" in helps["niter"]
    assert f"default {' '.join(map(str, demo['nburn']))})" in helps["nburn"]


def test_noise_from_a_catalog_is_its_median_fractional_uncertainty(tmp_path):
    from prospect_emu.analysis.calibrate_mocks import catalog_fractional_uncertainty

    bands = ["sdss_g0", "sdss_r0"]
    flux = np.array([[1e-9, 2e-9], [4e-9, 1e-9], [2e-9, np.nan]])
    unc = np.array([[1e-10, 1e-10], [8e-10, 3e-10], [1e-10, 1e-10]])
    Table({"z": [0.5, 1.0, 1.5], "sdss_g0": flux[:, 0], "sdss_g0_unc": unc[:, 0],
           "sdss_r0": flux[:, 1], "sdss_r0_unc": unc[:, 1]}).write(tmp_path / "cat.ecsv")
    frac = catalog_fractional_uncertainty(tmp_path / "cat.ecsv", bands)
    np.testing.assert_allclose(frac, [np.median([0.1, 0.2, 0.05]), np.median([0.05, 0.3])])


@pytest.mark.fsps
def test_calibrate_with_an_amortized_posterior(fsps_test_set, tmp_path, capsys):
    """calibrate --posterior fits through the amortized route (the bundled demo posterior):
    the same table, and the mocks' routes are amortized or the named fallback."""
    pytest.importorskip("zuko")
    from prospect_emu.demo import DEMO_POSTERIOR

    out = tmp_path / "cal"
    rc = main(["calibrate", str(DEMO_EMULATOR), str(fsps_test_set), "--out", str(out), "--n", "10",
               "--quiet", "--posterior", str(DEMO_POSTERIOR), "--proposals", "1000", *SMALL_EMCEE])
    assert rc == 0, capsys.readouterr().err
    table = Table.read(out / "calibration.ecsv")
    assert set(table.colnames) == COLUMNS and np.all(table["n"] == 10)
    routes = list(Table.read(out / "mocks.ecsv")["route"])
    assert len(routes) == 10 and set(routes) <= {"amortized", "fallback:emcee"}
    assert table.meta["amortized_fraction"] == routes.count("amortized") / 10
    assert "amortized" in routes
