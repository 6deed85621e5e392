"""Writers wait for a reader that holds an HDF5 file open, instead of dying part-way.

HDF5 locks a file while any process has it open; a training-set chunk or a catalog
object's samples written while, say, a notebook reads the file used to raise
``BlockingIOError`` and kill the run.  The readers here are separate processes, as in
use (one process may open a file twice).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from prospect_emu.analysis import catalog_io as cio
from prospect_emu.errors import ConfigurationError
from prospect_emu.hdf5_files import open_for_writing
from prospect_emu.trainingdata import trainingset as ts

LOCKING = os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() != "FALSE"


def hold_open(path, seconds):
    """A separate process that opens ``path`` read-only, says so, and holds it."""
    code = ("import sys, time, h5py\n"
            "f = h5py.File(sys.argv[1], 'r')\n"
            "print('open', flush=True)\n"
            "time.sleep(float(sys.argv[2]))\n"
            "f.close()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open", proc.stderr.read()
    return proc


def small_set(path):
    ts.create(path, params=np.arange(8.0).reshape(4, 2), names=["a", "b"], filters=[],
              chunk_size=2, config={"test": 1}, metadata={})


def test_a_chunk_written_while_a_reader_holds_the_file_waits_and_lands(tmp_path):
    path = tmp_path / "set.h5"
    small_set(path)
    reader = hold_open(path, 1.0)
    ts.write_chunk(path, 0, phot=np.zeros((2, 0)), mfrac=np.array([0.6, 0.7]),
                   status=np.array([ts.OK, ts.OK], dtype=np.int8))
    assert reader.wait(timeout=30) == 0
    assert ts.pending_chunks(path) == [1]
    np.testing.assert_array_equal(ts.TrainingSet(path).mfrac[:2], [0.6, 0.7])


def test_catalog_samples_written_while_a_reader_holds_the_file_land(tmp_path):
    path = tmp_path / "samples.h5"
    cio.write_samples(path, ["x"], [("a", 0, np.ones((3, 1)))])
    reader = hold_open(path, 1.0)
    cio.write_samples(path, ["x"], [("b", 1, np.full((3, 1), 2.0))])
    assert reader.wait(timeout=30) == 0
    for obj_id, value in (("a", 1.0), ("b", 2.0)):
        columns, draws = cio.read_samples(path, obj_id)
        assert columns == ["x"]
        np.testing.assert_array_equal(draws, np.full((3, 1), value))


@pytest.mark.skipif(not LOCKING, reason="HDF5 file locking is switched off here")
def test_a_file_locked_too_long_is_a_clear_error(tmp_path):
    path = tmp_path / "set.h5"
    small_set(path)
    reader = hold_open(path, 5.0)
    try:
        with pytest.raises(ConfigurationError, match="locked by another process.*--resume"):
            open_for_writing(path, wait_s=0.3)
    finally:
        reader.kill()
        reader.wait()
