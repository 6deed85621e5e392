"""Training-set generation with the real FSPS through $SPS_HOME (no mocks)."""

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from prospect_emu.errors import ConfigurationError
from prospect_emu.normalization import model_scaling
from prospect_emu.trainingdata import trainingset as ts
from prospect_emu.trainingdata.generate import generate
from prospect_emu.trainingdata.seds import ModelSource, build_from_source
from prospect_emu.trainingdata.trainingset import TrainingSet
from tests.conftest import DATA, FILTERS12

# A narrow metallicity range keeps FSPS's per-metallicity SSP builds (~1.4 s each) few.
RANGES = {"zred": (0.0, 3.0), "logzsol": (-0.4, 0.1)}


def test_two_workers_few_hundred_seds(sps_home, param_file, tmp_path):
    out = tmp_path / "train.h5"
    rep = generate(out, 200, param_file=param_file, ranges=RANGES, workers=2, chunk_size=50,
                   seed=11, progress=False)
    assert rep.n_ok == 200 and rep.n_failed == 0 and rep.n_pending == 0
    s = TrainingSet(out)
    assert s.names == ["mass", "logzsol", "dust2", "tage", "tau", "zred"]
    assert s.filter_names == FILTERS12
    assert np.all(np.isfinite(s.phot)) and np.all(s.phot > 0)
    assert np.all((s.mfrac > 0.3) & (s.mfrac <= 1))
    md = s.metadata
    assert md["sps_libraries"][0] == "bsti" and "mass_convention" in md and md["versions"]["numpy"]
    assert s.config["param_file_text"] == param_file.read_text()
    assert len(s.filter_hashes["sdss_r0"]) == 16
    # zred was drawn over the override range; metallicity came in blocks of 20
    z = s.column("zred")
    assert 0 <= z.min() and z.max() <= 3 and z.std() > 0.5
    assert len(np.unique(s.column("logzsol"))) == 10


def test_rows_equal_prospector_predict(sps_home, param_file, tmp_path):
    """Stored photometry * mass * distance factor is exactly what SpecModel.predict gives."""
    out = tmp_path / "t.h5"
    generate(out, 12, param_file=param_file, ranges=RANGES, workers=1, share_spectrum=3,
             chunk_size=6, progress=False)
    s = TrainingSet(out)
    _, model, sps = build_from_source(ModelSource(str(param_file), {}))
    from sedpy.observate import load_filters

    obs = {"filters": load_filters(s.filter_names), "wavelength": None, "spectrum": None}
    for i in range(12):
        row = s.params[i]
        model.params["zred"] = np.array([row[-1]])
        _, phot, mfrac = model.predict(row[:5], obs=obs, sps=sps)
        np.testing.assert_allclose(s.phot[i] * model_scaling(model.params), phot, rtol=1e-10)
        assert s.mfrac[i] == pytest.approx(mfrac, rel=1e-12)


def test_resume_gives_the_uninterrupted_rows(sps_home, param_file, tmp_path):
    kw = dict(param_file=param_file, ranges=RANGES, workers=1, chunk_size=10, seed=3,
              progress=False, share_spectrum=2)
    full = tmp_path / "full.h5"
    generate(full, 40, **kw)
    part = tmp_path / "part.h5"
    rep = generate(part, 40, max_chunks=2, **kw)
    assert rep.n_ok == 20 and rep.n_pending == 20
    assert not TrainingSet(part).complete
    with pytest.raises(ConfigurationError, match="--resume"):
        generate(part, 40, **kw)
    rep = generate(part, 40, resume=True, **kw)
    assert rep.chunks_written == 2 and rep.n_ok == 40
    a, b = TrainingSet(full), TrainingSet(part)
    for name in ("params", "phot", "mfrac", "status"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_killed_cli_run_resumes_without_loss_or_duplicates(sps_home, param_file, tmp_path):
    out = tmp_path / "killed.h5"
    cmd = [sys.executable, "-m", "prospect_emu.cli", "generate", str(param_file), "--out", str(out),
           "--n", "60", "--chunk-size", "10", "--workers", "1", "--seed", "9", "--quiet",
           "--range", "zred=0,3", "--range", "logzsol=-0.4,0.1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    done = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            with h5py.File(out, "r") as f:
                done = int(f["chunk_done"][...].sum())
        except (OSError, KeyError):
            continue
        if done >= 1:
            break
    exited = proc.poll()
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert exited is None, f"the run ended (exit {exited}) before it was killed: {err.decode()[-2000:]}"
    assert 1 <= done < 6, "the run should have been killed part-way"
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    ref = tmp_path / "ref.h5"
    generate(ref, 60, param_file=param_file, ranges=RANGES, workers=1, chunk_size=10, seed=9,
             progress=False)
    a, b = TrainingSet(ref), TrainingSet(out)
    assert b.complete and b.n_ok == 60
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.phot, b.phot)


def test_dask_local_cluster(sps_home, param_file, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "dask.h5"
        rep = generate(out, 60, param_file=param_file, ranges=RANGES, chunk_size=15,
                       dask_scheduler=cluster.scheduler_address, progress=False, seed=4)
    assert rep.n_ok == 60
    ref = tmp_path / "ref.h5"
    generate(ref, 60, param_file=param_file, ranges=RANGES, chunk_size=15, workers=1,
             progress=False, seed=4)
    np.testing.assert_allclose(TrainingSet(out).phot, TrainingSet(ref).phot, rtol=1e-12)


def test_failed_rows_are_kept_and_reported(sps_home, tmp_path):
    out = tmp_path / "nan.h5"
    rep = generate(out, 30, param_file=DATA / "nan_model_params.py", filters=["sdss_r0", "sdss_g0"],
                   ranges={"dust2": (1.0, 2.0)}, workers=1, chunk_size=10, progress=False)
    s = TrainingSet(out)
    bad = s.column("dust2") > 1.5
    assert bad.any() and (~bad).any()
    assert rep.n_failed == bad.sum() and rep.n_ok == (~bad).sum()
    assert np.all(s.status[bad] == ts.FAILED) and np.all(np.isnan(s.phot[bad]))
    assert np.all(np.isfinite(s.params[bad]))
    assert len(s.metadata["failures"]) == bad.sum()
    assert "NaN" in s.metadata["failures"][0]["error"]


def test_store_spectrum(sps_home, param_file, tmp_path):
    out = tmp_path / "spec.h5"
    generate(out, 6, param_file=param_file, ranges=RANGES, filters=["sdss_r0"], workers=1,
             chunk_size=3, store_spectrum=True, progress=False)
    s = TrainingSet(out, with_spectrum=True)
    assert s.spectrum.shape == (6, len(s.wavelength)) and np.all(np.isfinite(s.spectrum))


# ---- bad input ------------------------------------------------------------------------

def test_param_file_without_build_model(tmp_path):
    with pytest.raises(ConfigurationError, match="build_model"):
        generate(tmp_path / "x.h5", 5, param_file=DATA / "no_build_model_params.py")


def test_unknown_filter_lists_close_matches(sps_home, param_file, tmp_path):
    with pytest.raises(ConfigurationError, match=r"sdss_q0.*did you mean.*sdss_"):
        generate(tmp_path / "x.h5", 5, param_file=param_file, filters=["sdss_q0", "sdss_r0"])


def test_sps_home_unset(param_file, tmp_path, monkeypatch):
    monkeypatch.delenv("SPS_HOME", raising=False)
    with pytest.raises(ConfigurationError, match="SPS_HOME is not set.*pip install"):
        generate(tmp_path / "x.h5", 5, param_file=param_file)


def test_wrong_fsps_build_is_named(sps_home, tmp_path, monkeypatch):
    fake = tmp_path / "fsps_tree"
    for d in ("ISOCHRONES/MIST", "SPECTRA", "dust", "data"):
        (fake / d).mkdir(parents=True)
    monkeypatch.setenv("SPS_HOME", str(fake))
    from prospect_emu.sps_environment import check_fsps_build

    with pytest.raises(ConfigurationError, match="MIST.*FFLAGS"):
        check_fsps_build()


def test_existing_output_with_other_config(sps_home, param_file, tmp_path):
    out = tmp_path / "c.h5"
    kw = dict(param_file=param_file, ranges=RANGES, filters=["sdss_r0"], workers=1, progress=False)
    generate(out, 4, max_chunks=0, **kw)
    with pytest.raises(ConfigurationError, match="another configuration.*seed"):
        generate(out, 4, seed=99, resume=True, **kw)
    rep = generate(out, 4, seed=99, overwrite=True, **kw)
    assert rep.n_ok == 4
    assert json.loads(h5py.File(out, "r").attrs["config"])["seed"] == 99


def test_cli_reports_errors_without_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "generate",
                          str(DATA / "no_build_model_params.py"), "--out", str(tmp_path / "x.h5"),
                          "--n", "3"], capture_output=True, text=True, env={**os.environ})
    assert res.returncode == 2
    assert "build_model" in res.stderr and "Traceback" not in res.stderr


def test_a_set_written_before_the_depends_on_record_resumes(sps_home, param_file, tmp_path):
    """Sets written before generate recorded spectrum_depends_on and the order of derived
    parameters resume under this version (nothing here was computed out of order)."""
    from prospect_emu.trainingdata.trainingset import config_hash

    kw = dict(param_file=param_file, ranges=RANGES, workers=1, chunk_size=10, seed=3,
              progress=False)
    part = tmp_path / "old.h5"
    generate(part, 20, max_chunks=1, **kw)
    with h5py.File(part, "r+") as f:  # as an older prospect-emu wrote it
        config = json.loads(f.attrs["config"])
        assert config.pop("spectrum_depends_on") == {}
        assert config.pop("dependency_order") == []  # nor the order (nothing derived here)
        f.attrs["config"] = json.dumps(config, sort_keys=True)
        f.attrs["config_hash"] = config_hash(config)
    rep = generate(part, 20, resume=True, **kw)
    assert rep.chunks_written == 1 and rep.n_ok == 20
