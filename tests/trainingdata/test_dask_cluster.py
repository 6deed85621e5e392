"""Generation on a real Dask cluster, started the way a user starts one: ``dask scheduler``
and ``dask worker`` processes on the command line, then ``prospect-emu generate
--dask-scheduler ADDRESS``.  A run killed part-way resumes with ``--resume``, and every
row equals (bit for bit) the rows of a local ``--workers 1`` run with the same seed.

Real FSPS on the workers (they inherit SPS_HOME from the shell that started them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from prospect_emu.paramfile import prospector_run_params
from prospect_emu.trainingdata.generate import generate
from prospect_emu.trainingdata.trainingset import OK, TrainingSet
from tests.dask_processes import local_cluster

distributed = pytest.importorskip("distributed")

DEMO_PARAMS = Path(__file__).resolve().parents[2] / "prospect_emu" / "data" / "demo_params.py"
N, CHUNK, SEED = 240, 20, 21
# the demo prior, zred sampled; logzsol narrowed to a few isochrone metallicities, so that
# each worker builds few SSP sets (~1.4 s each) and the test stays well under a minute
RANGES = ["--range", "zred=0,3", "--range", "logzsol=-1.0,0.19"]


@pytest.fixture
def cluster(sps_home, tmp_path):
    """``dask scheduler`` and two ``dask worker --nworkers 1 --nthreads 1`` processes on a
    free port; the address, and the workers' environment (SPS_HOME inherited)."""
    with local_cluster(2, tmp_path) as address:
        with distributed.Client(address, timeout=60) as client:
            homes = client.run(lambda: os.environ.get("SPS_HOME"))
        yield address, homes


def _chunks_done(path: Path) -> int:
    try:
        with h5py.File(path, "r") as f:
            return int(f["chunk_done"][...].sum())
    except (OSError, KeyError):   # not created yet, or being written
        return 0


def test_killed_cluster_run_resumes_to_the_local_rows(cluster, tmp_path):
    address, homes = cluster
    assert len(homes) == 2 and set(homes.values()) == {os.environ["SPS_HOME"]}
    out = tmp_path / "dask.h5"
    cmd = [sys.executable, "-m", "prospect_emu.cli", "generate", str(DEMO_PARAMS), "--out", str(out),
           "--n", str(N), "--chunk-size", str(CHUNK), "--seed", str(SEED), "--quiet",
           "--dask-scheduler", address, *RANGES]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None and done < 2:
        time.sleep(0.05)
        done = _chunks_done(out)
    exited = proc.poll()
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert exited is None, f"the run ended (exit {exited}) before it was killed: {err.decode()[-2000:]}"
    done = _chunks_done(out)
    assert 2 <= done < N // CHUNK, f"{done} chunks written: the run should be killed part-way"

    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"{N} ok, 0 failed, 0 pending" in res.stdout
    assert f"{N // CHUNK - done} chunks written" in res.stdout   # only what was missing

    ref = tmp_path / "local.h5"
    generate(ref, N, param_file=DEMO_PARAMS, ranges={"zred": (0, 3), "logzsol": (-1.0, 0.19)},
             chunk_size=CHUNK, seed=SEED, workers=1, progress=False,
             run_params=prospector_run_params([]))   # what the command line passes
    a, b = TrainingSet(ref), TrainingSet(out)
    assert b.complete and np.all(b.status == OK)
    assert a.config == b.config
    for name in ("params", "phot", "mfrac", "status"):
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
    assert len(np.unique(b.column("logzsol"))) == N // 20   # blocks of 20 (the default)


def test_a_worker_without_sps_home_is_named(sps_home, tmp_path):
    """A worker started from a shell without SPS_HOME: a ConfigurationError naming the
    worker and the fix, and the file keeps its pending rows for --resume."""
    env = {k: v for k, v in os.environ.items() if k != "SPS_HOME"}
    with local_cluster(1, tmp_path, env) as address:
        out = tmp_path / "nohome.h5"
        res = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "generate", str(DEMO_PARAMS),
                              "--out", str(out), "--n", "40", "--chunk-size", "20", "--quiet",
                              "--dask-scheduler", address, *RANGES],
                             capture_output=True, text=True, timeout=180)
    assert res.returncode != 0
    assert "SPS_HOME is not set" in res.stderr and "before `dask worker`" in res.stderr, res.stderr[-2000:]
    assert _chunks_done(out) == 0
