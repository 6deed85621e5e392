"""write_head: the first rows of a training set as a set of their own (learning curves)."""

import json
import shutil

import h5py
import numpy as np
import pytest

from prospect_emu.errors import ConfigurationError
from prospect_emu.trainingdata.trainingset import TrainingSet, group_rows, write_head


def _read(path):
    with h5py.File(path, "r") as f:
        return ({k: f[k][...] for k in ("params", "phot", "mfrac", "status", "chunk_done")},
                json.loads(f.attrs["config"]), str(f.attrs["config_hash"]), int(f.attrs["n_rows"]))


def test_head_holds_the_first_rows_and_records_its_source(small_trainset, tmp_path):
    src, config, chash, total = _read(small_trainset)
    step = int(np.lcm(config["chunk_size"], group_rows(config)))
    n = 2 * step
    out = write_head(small_trainset, n, tmp_path / "head.h5")
    head, hconfig, hhash, hn = _read(out)
    assert hn == n and hconfig["n"] == n and hhash != chash
    assert hconfig["head_of"] == {"path": str(small_trainset.resolve()), "n": total, "config_hash": chash}
    for key in ("params", "phot", "mfrac", "status"):
        np.testing.assert_array_equal(head[key], src[key][:n])
    assert head["chunk_done"].all() and len(head["chunk_done"]) == n // config["chunk_size"]
    ts = TrainingSet(out)   # the package reads it as an ordinary, complete set
    assert ts.complete and ts.n_ok == int((src["status"][:n] == 1).sum())
    assert ts.filter_names == TrainingSet(small_trainset).filter_names


def test_head_refuses_cut_groups_sizes_and_incomplete_sets(small_trainset, tmp_path):
    _, config, _, total = _read(small_trainset)
    step = int(np.lcm(config["chunk_size"], group_rows(config)))
    for bad in (step + 1, 0, total + step):
        with pytest.raises(ConfigurationError, match="multiple of"):
            write_head(small_trainset, bad, tmp_path / "bad.h5")
    assert not (tmp_path / "bad.h5").exists()
    partial = tmp_path / "partial.h5"
    shutil.copy(small_trainset, partial)
    with h5py.File(partial, "r+") as f:
        f["chunk_done"][-1] = False
    with pytest.raises(ConfigurationError, match="not complete"):
        write_head(partial, step, tmp_path / "head.h5")
