"""prospect-emu fit-catalog on the bundled demo emulator (no FSPS needed).

The catalog is made here: photometry the demo emulator predicts at known parameters and
redshifts, with Gaussian noise at S/N 20, written as ECSV (nJy) and FITS (uJy, other
column names), plus rows that cannot be fitted.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy.table import Table

from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS

ROOT = Path(__file__).resolve().parents[2]
NJY_PER_MAGGIE = 3631e9
#: small, fast sampler settings for the tests
FAST = {"nlive": 40, "dlogz": 0.5, "nsamples": 300, "seed": 3}
FAST_ARGS = ["--nlive", "40", "--dlogz", "0.5", "--nsamples", "300", "--seed", "3"]
TRUTHS = [  # mass, logzsol, dust2, tage, tau at z
    (0.3, {"mass": 3e10, "logzsol": -0.3, "dust2": 0.3, "tage": 3.0, "tau": 1.0}),
    (1.1, {"mass": 8e10, "logzsol": -0.6, "dust2": 0.6, "tage": 2.0, "tau": 0.5}),
    (0.7, {"mass": 1e10, "logzsol": -0.1, "dust2": 0.2, "tage": 4.0, "tau": 2.0}),
]


def _mock_rows():
    """(z, truth theta, maggies, unc) per object, from the demo emulator at the truth."""
    from sedpy.observate import load_filters

    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.twin import emulate

    twin = emulate(load_param_file(DEMO_PARAMS).build_model(), DEMO_EMULATOR)
    bands = twin.emulator.filter_names
    obs = {"filters": load_filters(bands)}
    rng = np.random.default_rng(7)
    rows = []
    for z, truth in TRUTHS:
        twin.params["zred"] = np.array([z])
        theta = np.array([truth[k] for k in twin.theta_labels()])
        _, phot, _ = twin.predict(theta, obs=obs)
        unc = phot / 20.0
        rows.append((z, theta, phot + unc * rng.normal(size=phot.size), unc))
    return bands, list(twin.theta_labels()), rows


@pytest.fixture(scope="module")
def mock():
    return _mock_rows()


def _ecsv_catalog(path: Path, mock, bad_rows: bool = True, repeat: int = 1) -> Path:
    """ECSV in nJy, columns <band> and <band>_err; object 2 lacks two bands (NaN); then
    rows that cannot be fitted (ids 100-104); with ``repeat`` the good rows again (ids
    10-12, 20-22, ...)."""
    bands, _, rows = mock
    t = Table()
    ids, zs, flux, unc, flag = [], [], [], [], []
    for k, (i, (z, _, f, u)) in enumerate(enumerate(rows * repeat)):
        f = f.copy()
        if i % len(rows) == 2:
            f[[0, 1]] = np.nan  # no GALEX: masked, still fitted
        ids.append(k % len(rows) + 10 * (k // len(rows)))
        zs.append(z)
        flux.append(f)
        unc.append(u)
        flag.append(0)
    if bad_rows:
        f0, u0 = rows[0][2], rows[0][3]
        for obj_id, z, f, u, fl in [
                (100, 0.5, np.full_like(f0, np.nan), u0, 0),  # all fluxes missing
                (101, 0.5, f0, np.where(np.arange(f0.size) == 4, -u0, u0), 0),  # negative unc
                (102, 3.5, f0, u0, 0),  # outside the emulator's zred range [0, 3]
                (103, np.nan, f0, u0, 0),  # redshift missing
                (104, 0.5, f0, u0, 1)]:  # flagged
            ids.append(obj_id)
            zs.append(z)
            flux.append(f)
            unc.append(u)
            flag.append(fl)
    t["id"] = ids
    t["z"] = zs
    t["flag"] = flag
    flux, unc = np.array(flux), np.array(unc)
    for j, b in enumerate(bands):
        t[b] = flux[:, j] * NJY_PER_MAGGIE
        t[f"{b}_err"] = unc[:, j] * NJY_PER_MAGGIE
    t.write(path, format="ascii.ecsv", overwrite=True)
    return path


@pytest.fixture(scope="module")
def sequential(mock, tmp_path_factory):
    """One in-process run over the ECSV catalog: its report and folder."""
    from prospect_emu.analysis.catalog import fit_catalog

    tmp = tmp_path_factory.mktemp("catalog")
    cat = _ecsv_catalog(tmp / "cat.ecsv", mock)
    report = fit_catalog(cat, DEMO_EMULATOR, tmp / "out", flux_unit="nJy", flag_column="flag",
                         sampler_options=FAST, workers=1, progress=False)
    return report, cat


def test_fits_recover_the_truth_and_store_samples(sequential, mock):
    from prospect_emu.analysis.catalog_io import read_samples
    from prospect_emu.analysis.derived import DERIVED

    report, _ = sequential
    _, labels, rows = mock
    t = Table.read(report.summary)
    assert report.complete and report.counts == {"ok": 3, "bad_input": 4, "flagged": 1}
    assert sorted(t["id"]) == [0, 1, 2, 100, 101, 102, 103, 104]
    ok = t[t["status"] == "ok"]
    assert list(ok["nbands"]) == [15, 15, 13]
    for r, (z, theta, _, _) in zip(ok, rows):
        assert r["z"] == pytest.approx(z)
        assert r["ncall"] > 100 and r["seconds"] > 0
        for name, truth in zip(labels, theta):
            lo, med, hi = r[f"{name}_p16"], r[f"{name}_p50"], r[f"{name}_p84"]
            assert lo <= med <= hi
            if name == "mass":  # generous: 0.3 dex or 4 sigma
                assert abs(np.log10(med / truth)) < max(0.3, 2 * np.log10(hi / lo)), (name, r)
            else:
                assert abs(med - truth) < max(4 * (hi - lo) / 2, 0.15 * abs(truth)), (name, r)
        # surviving mass below the formed mass; every derived quantity summarised
        assert r["stellar_mass_p50"] < r["mass_p50"]
        assert all(np.isfinite(r[f"{d}_p50"]) for d in DERIVED)
        columns, draws = read_samples(report.samples, int(r["id"]))
        assert columns == labels + list(DERIVED)
        assert draws.dtype == np.float32 and draws.shape == (FAST["nsamples"], len(columns))
        j = columns.index("dust2")
        assert np.percentile(draws[:, j], 50) == pytest.approx(r["dust2_p50"], rel=1e-5)
    with h5py.File(report.samples, "r") as hf:
        assert len(hf["samples"]) == 3  # bad rows have no samples


def test_bad_rows_are_reported_and_skipped(sequential):
    report, _ = sequential
    t = Table.read(report.summary)
    msg = {int(r["id"]): (r["status"], r["message"]) for r in t}
    assert msg[100] == ("bad_input", "all fluxes missing (NaN, masked or flagged)")
    assert msg[101][0] == "bad_input" and "negative or zero flux uncertainty" in msg[101][1] \
        and "sdss_r0" in msg[101][1]
    assert msg[102][0] == "bad_input" and "outside the emulator's zred training range [0, 3]" in msg[102][1]
    assert msg[103][0] == "bad_input" and "redshift missing" in msg[103][1]
    assert msg[104][0] == "flagged"
    bad = t[t["status"] != "ok"]
    assert np.all(bad["ncall"] == -1) and np.all(np.isnan(bad["mass_p50"]))


def test_fits_table_with_mapped_columns_and_units(mock, tmp_path):
    """FITS, uJy, columns mapped with --map and a per-band flag: converted to maggies."""
    from prospect_emu.analysis.catalog_io import load_catalog, parse_column_map

    bands, _, rows = mock
    t = Table()
    t["objname"] = ["a", "b", "c"]
    t["redshift"] = [r[0] for r in rows]
    t["R_FLUX"] = [r[2][4] * 3631e6 for r in rows]
    t["R_ERR"] = [r[3][4] * 3631e6 for r in rows]
    t["R_BAD"] = [0, 1, 0]
    t["g"] = [r[2][3] * 3631e6 for r in rows]
    t["g_e"] = [r[3][3] * 3631e6 for r in rows]
    t.write(tmp_path / "cat.fits")
    cmap = parse_column_map(["sdss_r0=R_FLUX:R_ERR:R_BAD", "sdss_g0=g:g_e"])
    data = load_catalog(tmp_path / "cat.fits", bands, column_map=cmap, flux_unit="uJy",
                        id_column="objname")
    assert data.ids == ["a", "b", "c"] and data.z_column == "redshift"
    assert [b.band for b in data.bands] == ["sdss_g0", "sdss_r0"]  # emulator order
    np.testing.assert_allclose(data.maggies[:, 1], [r[2][4] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(data.unc[:, 0], [r[3][3] for r in rows], rtol=1e-12)
    assert data.band_ok.tolist() == [[True, True], [True, False], [True, True]]
    t["g"][2] = -99.0  # a "not measured" sentinel masks that band only
    t.write(tmp_path / "cat2.fits")
    data = load_catalog(tmp_path / "cat2.fits", bands, column_map=cmap, flux_unit="uJy",
                        id_column="objname", missing_value=-99)
    assert data.band_ok.tolist() == [[True, True], [True, False], [False, True]]
    np.testing.assert_allclose(data.maggies[:2, 0], [r[2][3] for r in rows[:2]], rtol=1e-12)


def _journal_ids(out: Path) -> list:
    lines = (out / "progress.jsonl").read_text().splitlines()[1:]
    return [json.loads(line)["id"] for line in lines]


def _sigint_default() -> None:
    """In the child: SIGINT back to its default, so Python turns it into KeyboardInterrupt
    even where this test runs in a background job (which inherits SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SPS_HOME", None)
    return subprocess.Popen([sys.executable, "-m", "prospect_emu.cli", "fit-catalog", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_sigint_default, **kw)


def _run_until(args, out: Path, n_ok: int, sig: int):
    """Start the CLI, wait until ``n_ok`` objects are fitted, send ``sig``; (rc, stderr)."""
    proc = _cli(args)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (out / "progress.jsonl").exists() and \
                sum(i < 100 for i in _journal_ids(out)) >= n_ok:
            break
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_killed_and_interrupted_runs_resume_without_duplicates(mock, tmp_path):
    """SIGKILL after the first object, SIGINT after the next: the third run fits the
    rest; every id exactly once, nothing fitted twice."""
    # four copies of the good rows (about 0.7 s a fit): each signal lands with several
    # objects left even when a loaded machine is slow to see the journal grow
    repeat = 4
    cat = _ecsv_catalog(tmp_path / "cat.ecsv", mock, repeat=repeat)
    good = [10 * k + j for k in range(repeat) for j in range(3)]
    out = tmp_path / "out"
    args = [cat, "--emulator", DEMO_EMULATOR, "--out", out, "--flux-unit", "nJy", "--workers", "1",
            "--flag-column", "flag", "--quiet", *FAST_ARGS]
    rc, err = _run_until(args, out, 1, signal.SIGKILL)
    assert rc == -signal.SIGKILL, err[-2000:]
    first = _journal_ids(out)
    assert 0 in first and len(set(first)) == len(first)
    n1 = sum(i < 100 for i in first)
    assert n1 <= len(good) - 3, f"the SIGKILL came after {n1} of {len(good)} objects: too late to test"
    rc, err = _run_until(args, out, n1 + 1, signal.SIGINT)
    assert rc == 130, err[-2000:]
    assert "interrupted; finished objects are kept" in err
    second = _journal_ids(out)
    assert second[:len(first)] == first and len(set(second)) == len(second)
    assert sum(i < 100 for i in second) < len(good)
    assert Table.read(out / "summary.ecsv")["id"].tolist() == [i for i in good + [100, 101, 102, 103, 104]
                                                               if i in second]
    proc = _cli(args)
    stdout, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    ids = _journal_ids(out)
    assert sorted(ids) == sorted(good + [100, 101, 102, 103, 104])  # each exactly once
    assert ids[:len(second)] == second  # nothing refitted
    n = len(good) + 5
    assert f"{n}/{n} objects done" in stdout and "objects/hour" in stdout
    assert sorted(Table.read(out / "summary.ecsv")["id"]) == sorted(ids)
    with h5py.File(out / "samples.h5", "r") as hf:
        assert sorted(hf["samples"]) == sorted(str(i) for i in good)


def test_max_objects_then_resume_and_changed_settings(mock, sequential, tmp_path):
    """One object, refusals of changed settings or data, then the rest on 2 local
    processes: the same posteriors as the sequential run (per-object seeds)."""
    from prospect_emu.analysis.catalog import fit_catalog
    from prospect_emu.analysis.catalog_io import read_samples
    from prospect_emu.errors import ConfigurationError

    cat = _ecsv_catalog(tmp_path / "cat.ecsv", mock, bad_rows=False)
    kw = dict(flux_unit="nJy", sampler_options=FAST, workers=1, progress=False)
    r1 = fit_catalog(cat, DEMO_EMULATOR, tmp_path / "out", max_objects=1, **kw)
    assert (r1.n_done, r1.fitted_now, r1.complete) == (1, 1, False)
    assert "2 objects left: rerun the same command to continue" in str(r1)
    with pytest.raises(ConfigurationError, match="other settings.*sampler"):
        fit_catalog(cat, DEMO_EMULATOR, tmp_path / "out",
                    **dict(kw, sampler_options=dict(FAST, nlive=50)))
    with open(tmp_path / "out" / "progress.jsonl", "a") as fh:  # a write torn by a kill
        fh.write('{"id": 1, "row": 1, "z": 1.1, "sta')
    edited = Table.read(cat)
    edited["z"][0] = 0.31
    edited.write(tmp_path / "edited.ecsv")
    with pytest.raises(ConfigurationError, match=r"other settings \(differing: \['catalog'\]\)"):
        fit_catalog(tmp_path / "edited.ecsv", DEMO_EMULATOR, tmp_path / "out", **kw)
    r2 = fit_catalog(cat, DEMO_EMULATOR, tmp_path / "out", **dict(kw, workers=2))
    assert (r2.n_done, r2.fitted_now, r2.complete) == (3, 2, True)
    assert sorted(_journal_ids(tmp_path / "out")) == [0, 1, 2]
    for obj_id in (0, 1, 2):
        np.testing.assert_array_equal(read_samples(r2.samples, obj_id)[1],
                                      read_samples(sequential[0].samples, obj_id)[1])


def test_dask_local_cluster_matches_the_sequential_run(sequential, tmp_path):
    """The catalog as FITS, the same per-object seeds on a Dask LocalCluster (2 threads):
    the same posteriors as the sequential run."""
    distributed = pytest.importorskip("distributed")
    from prospect_emu.analysis.catalog import fit_catalog
    from prospect_emu.analysis.catalog_io import read_samples

    report, ecsv = sequential
    cat = tmp_path / "cat.fits"
    Table.read(ecsv).write(cat)  # the same catalog as FITS
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        dreport = fit_catalog(cat, DEMO_EMULATOR, tmp_path / "out", flux_unit="nJy",
                              flag_column="flag", sampler_options=FAST,
                              dask_scheduler=cluster.scheduler_address, progress=False)
    assert dreport.counts == report.counts
    for obj_id in (0, 1, 2):
        np.testing.assert_array_equal(read_samples(dreport.samples, obj_id)[1],
                                      read_samples(report.samples, obj_id)[1])


def test_full_results_are_prospector_files_at_the_object_redshift(mock, tmp_path):
    from prospect.io.read_results import results_from

    from prospect_emu.analysis.catalog import fit_catalog

    cat = _ecsv_catalog(tmp_path / "cat.ecsv", mock, bad_rows=False)
    fit_catalog(cat, DEMO_EMULATOR, tmp_path / "out", flux_unit="nJy", sampler_options=FAST, workers=1,
                max_objects=1, full_results=True, progress=False, param_file=DEMO_PARAMS)
    res, obs, model = results_from(str(tmp_path / "out" / "full" / "0_result.h5"))
    assert float(model.params["zred"][0]) == pytest.approx(TRUTHS[0][0])
    assert res["run_params"]["catalog_id"] == 0 and len(res["chain"]) > 100
    np.testing.assert_allclose(obs["maggies"], mock[2][0][2], rtol=1e-12)


def prior_importance_sampler(model, obs, options):
    """A pluggable sampler (prior draws weighted by the likelihood), for the plug-in test."""
    from prospect_emu.prospector.likelihood import lnprobfn

    rng = np.random.default_rng(options.get("seed"))
    theta = np.array([model.prior_transform(u) for u in rng.random((3000, model.ndim))])
    lnl = np.array([lnprobfn(t, model=model, obs=obs, nested=True) for t in theta])
    w = np.exp(lnl - lnl.max())
    return {"samples": theta, "weights": w / w.sum(), "ncall": len(theta)}


def failing_sampler(model, obs, options):
    """A plug-in sampler that breaks on one object."""
    if float(np.squeeze(model.params["zred"])) > 1.0:
        raise RuntimeError("sampler diverged")
    return prior_importance_sampler(model, obs, options)


def test_cli_pluggable_sampler_exit_codes_and_messages(mock, tmp_path, capsys):
    from prospect_emu.cli import main

    cat = _ecsv_catalog(tmp_path / "cat.ecsv", mock, bad_rows=False)
    base = [str(cat), "--emulator", str(DEMO_EMULATOR), "--flux-unit", "nJy", "--workers", "1", "--quiet"]
    # a plugged-in sampler that fails on one object: reported, the run goes on, exit 3
    rc = main(["fit-catalog", *base, "--out", str(tmp_path / "a"), "--sampler",
               "tests.analysis.test_catalog:failing_sampler", "--summary", "summary.fits"])
    out = capsys.readouterr().out
    assert rc == 3
    t = Table.read(tmp_path / "a" / "summary.fits")
    assert t["status"].tolist() == ["ok", "failed", "ok"]
    assert t["message"][1] == "RuntimeError: sampler diverged"
    assert "3/3 objects done (1 failed, 2 ok)" in out and "objects/hour" in out
    # configuration errors: exit 2 and a message naming the problem
    cases = [
        ([str(tmp_path / "nope.ecsv"), "--emulator", str(DEMO_EMULATOR), "--out", str(tmp_path / "b")],
         "catalog", "does not exist"),
        ([*base, "--out", str(tmp_path / "c"), "--z-column", "zphot"], "no redshift column 'zphot'",
         "--z-column"),
        ([*base, "--out", str(tmp_path / "d"), "--map", "sdss_r0=rflux:rerr"],
         "no columns ['rflux', 'rerr']", "sdss_r0"),
        ([*base, "--out", str(tmp_path / "e"), "--map", "johnson_v=a:b"], "johnson_v", "does not predict"),
        ([*base, "--out", str(tmp_path / "e"), "--map", "sdss_r0=a"], "BAND=FLUX_COLUMN:ERR_COLUMN"),
        ([*base, "--out", str(tmp_path / "f"), "--param-file", str(tmp_path / "no.py")],
         "--param-file", "no.py does not exist"),
        ([*base, "--out", str(tmp_path / "f"), "--sampler", "nosuchmodule:fit"], "nosuchmodule:fit",
         "cannot be imported"),
        ([*base, "--out", str(tmp_path / "a"), "--sampler", "tests.analysis.test_catalog:prior_importance_sampler"],
         "other settings", "--overwrite"),
    ]
    for args, *needles in cases:
        rc = main(["fit-catalog", *args])
        err = capsys.readouterr().err
        assert rc == 2, (args, err)
        assert err.startswith("prospect-emu fit-catalog: error:"), err
        for needle in needles:
            assert needle in err, (needle, err)


def test_nautilus_sampler_fits_one_object():
    """The batched sampler behind ``fit-catalog --sampler nautilus``: equal-weight draws whose
    central 98% covers the demo galaxy's truth (FSPS-made, S/N 20), and its call count."""
    pytest.importorskip("nautilus")
    from prospect_emu.analysis.catalog_object import fit_object
    from prospect_emu.demo import DEMO_TRUTH, DEMO_ZRED
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.twin import emulate

    pf = load_param_file(DEMO_PARAMS)
    model = emulate(pf.build_model(zred=DEMO_ZRED), DEMO_EMULATOR, error="diag")
    res = fit_object(model, pf.build_obs(), {"sampler": "nautilus", "nlive": 150, "seed": 3,
                                             "nsamples": 500})
    assert res["samples"].shape == (500, model.ndim) and res["ncall"] > 1000
    lo, hi = np.percentile(res["samples"], [1, 99], axis=0)
    for name, sl in model.theta_index.items():
        assert lo[sl][0] <= DEMO_TRUTH[name] <= hi[sl][0], name


def test_emcee_sampler_resumes_with_the_summary_columns_of_the_others(mock, sequential, tmp_path, capsys):
    """fit-catalog --sampler emcee: one object, then the rest on resume, each once; the
    summary has the dynesty run's columns and statuses, the posteriors recover the truth as
    the dynesty run's do, and changed emcee settings are refused."""
    pytest.importorskip("emcee")
    from prospect_emu.analysis.catalog_io import read_samples
    from prospect_emu.cli import main

    _, labels, rows = mock
    cat = _ecsv_catalog(tmp_path / "cat.ecsv", mock)
    args = ["fit-catalog", str(cat), "--emulator", str(DEMO_EMULATOR), "--out", str(tmp_path / "o"),
            "--flux-unit", "nJy", "--flag-column", "flag", "--workers", "1", "--quiet",
            "--sampler", "emcee", "--nwalkers", "64", "--niter", "200", "--nburn", "16", "32", "64",
            "--nsamples", "300", "--seed", "3"]
    assert main(args + ["--max-objects", "1"]) == 0
    capsys.readouterr()
    assert len([i for i in _journal_ids(tmp_path / "o") if i < 100]) == 1
    assert main(args) == 0
    assert "8/8 objects done" in capsys.readouterr().out
    assert sorted(_journal_ids(tmp_path / "o")) == [0, 1, 2, 100, 101, 102, 103, 104]
    t, ref = Table.read(tmp_path / "o" / "summary.ecsv"), Table.read(sequential[0].summary)
    assert t.colnames == ref.colnames
    assert dict(zip(t["id"], t["status"])) == dict(zip(ref["id"], ref["status"]))
    for r, (_, theta, _, _) in zip(t[t["status"] == "ok"], rows):
        assert r["ncall"] >= 64 * 200
        columns, draws = read_samples(tmp_path / "o" / "samples.h5", int(r["id"]))
        assert draws.shape == (300, len(columns))
        for name, truth in zip(labels, theta):  # the criterion of the dynesty run's test
            lo, med, hi = r[f"{name}_p16"], r[f"{name}_p50"], r[f"{name}_p84"]
            assert lo <= med <= hi
            if name == "mass":
                assert abs(np.log10(med / truth)) < max(0.3, 2 * np.log10(hi / lo)), (name, r)
            else:
                assert abs(med - truth) < max(4 * (hi - lo) / 2, 0.15 * abs(truth)), (name, r)
    rc = main([a if a != "200" else "300" for a in args])
    assert rc == 2 and "other settings" in capsys.readouterr().err


def test_spectral_emulator_fits_catalog_rows_at_their_own_redshifts(mock, tmp_path):
    # the spectral kind redshifts its rest-frame spectrum, so rows at any z whose bands stay
    # inside its rest-frame range are fitted (the demo model's own zred is 0.8)
    from prospect_emu.analysis.catalog import fit_catalog
    from prospect_emu.demo import DEMO_SPECTRAL_EMULATOR

    cat = _ecsv_catalog(tmp_path / "cat.ecsv", mock, bad_rows=False)
    report = fit_catalog(cat, DEMO_SPECTRAL_EMULATOR, tmp_path / "out", flux_unit="nJy",
                         sampler_options=FAST, workers=1, progress=False, max_objects=2)
    t = Table.read(report.summary)
    ok = t[t["status"] == "ok"]
    assert len(ok) == 2, list(zip(t["status"], t["message"]))
    assert sorted(np.round(ok["z"], 3)) == sorted(round(z, 3) for z, *_ in mock[2][:2])


def test_zred_coverage_of_each_kind():
    from sedpy.observate import load_filters

    from prospect_emu.demo import DEMO_SPECTRAL_EMULATOR
    from prospect_emu.emulator.artifact import Emulator

    phot, spec = Emulator.load(DEMO_EMULATOR), Emulator.load(DEMO_SPECTRAL_EMULATOR)
    filters = load_filters(phot.filter_names)
    assert phot.zred_coverage(filters, 0.8) == (0.0, 3.0)  # zred is an input there
    lo, hi = spec.zred_coverage(filters, 0.8)
    wave = np.asarray(spec.wavelength)
    # independently: each band's transmitting range must sit inside the redshifted grid
    for f in filters:
        inside = f.wavelength[f.transmission > 0]
        for z in (lo + 1e-6, hi - 1e-6):
            assert wave[0] * (1 + z) <= inside.min() and inside.max() <= wave[-1] * (1 + z)
    assert lo <= 0.3 and hi >= 1.1
    # just above the range the bluest band falls off the redshifted grid's blue end
    assert any(f.wavelength[f.transmission > 0].min() < wave[0] * (1 + hi + 0.05) for f in filters)
    if lo > 0:  # and just below it the reddest band off its red end
        assert any(f.wavelength[f.transmission > 0].max() > wave[-1] * (1 + lo - 0.05)
                   for f in filters)
