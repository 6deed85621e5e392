"""The train/validation/test split keeps rows that share a spectrum or a metallicity block
together, so held-out rows never have a sibling in training."""

import shutil

import h5py
import numpy as np
import pytest
from prospect.models import ProspectorParams
from prospect.models.templates import TemplateLibrary

from prospect_emu.emulator.training import TrainConfig, prepare
from prospect_emu.errors import ConfigurationError
from prospect_emu.trainingdata.sampling import (
    ParameterSpace,
    PriorSampler,
    apply_blocks,
    share_spectra,
)
from prospect_emu.trainingdata.trainingset import OK, TrainingSet


def _linked_classes(params: np.ndarray, spectrum_cols: list[int], block_col: int | None) -> np.ndarray:
    """Connected components of rows linked by an identical rest-frame spectrum (equal
    values in every non-mass/zred column) or an identical block-parameter value,
    computed from the stored values alone (union-find)."""
    n = len(params)
    parent = np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys = [params[:, spectrum_cols]] + ([params[:, [block_col]]] if block_col is not None else [])
    for key in keys:
        _, inverse = np.unique(key, axis=0, return_inverse=True)
        first = {}
        for i, k in enumerate(inverse.ravel()):
            if k in first:
                parent[find(i)] = find(first[k])
            else:
                first[k] = i
    return np.array([find(i) for i in range(n)])


def _split_of_rows(n: int, file_rows: np.ndarray, split: dict) -> np.ndarray:
    where = np.full(n, -1)
    for code, name in enumerate(("train", "val", "test")):
        where[file_rows[split[name]]] = code
    return where


def _assert_no_class_straddles(classes: np.ndarray, where: np.ndarray) -> int:
    used = where >= 0
    straddling = [c for c in np.unique(classes[used]) if len(np.unique(where[used & (classes == c)])) > 1]
    assert not straddling, f"{len(straddling)} linked row classes are split across train/val/test"
    return len(np.unique(classes[used]))


def test_shared_spectra_and_blocks_never_straddle_splits(small_trainset, tmp_path):
    path = tmp_path / "holes.h5"
    shutil.copy(small_trainset, path)
    with h5py.File(path, "r+") as f:  # some failed rows: groups are counted before dropping them
        st = f["status"][...]
        st[[3, 41, 42, 1000, 2999]] = 2
        f["status"][...] = st
    data = TrainingSet(path)
    assert data.config["share_spectrum"] == 4 and data.config["block_param"] == "logzsol"
    cfg = TrainConfig(val_frac=0.1, test_frac=0.1, seed=0)
    prep = prepare(data, cfg)
    good = (data.status == OK) & np.all(np.isfinite(data.phot), axis=1)
    file_rows = np.flatnonzero(good)
    spectrum_cols = [j for j, n in enumerate(data.names) if n not in ("mass", "zred")]
    classes = _linked_classes(data.params, spectrum_cols, data.names.index("logzsol"))
    where = _split_of_rows(len(data.status), file_rows, prep.split)
    assert np.all(where[good] >= 0) and np.all(where[~good] == -1)
    n_classes = _assert_no_class_straddles(classes, where)
    assert n_classes == 150  # 3000 rows, metallicity blocks of 20 holding 5 spectra of 4 rows
    n = good.sum()
    for name, frac in (("test", 0.1), ("val", 0.1)):
        assert abs(len(prep.split[name]) - frac * n) <= 20, name
    info = prep.split_info
    assert info["unit"] == "group" and info["group_rows"] == 20
    assert sum(info["n_groups"].values()) == 150 and info["n_groups"]["test"] >= 14


@pytest.mark.parametrize("share,block_param,block", [(3, "logzsol", 20), (4, None, 20), (1, "logzsol", 6),
                                                     (5, "logzsol", 1), (6, "dust2", 4)])
def test_group_structure_of_the_drawn_rows(share, block_param, block):
    """Rows drawn as generate draws them (prior draws, blocks, then shared spectra)."""
    from prospect_emu.emulator.training import split_by_group
    from prospect_emu.trainingdata.trainingset import group_rows

    model = ProspectorParams(TemplateLibrary["parametric_sfh"])
    space = ParameterSpace(model, {"zred": (0, 3)})
    n = 2400
    draws = PriorSampler().draw(space, model, n, np.random.default_rng(share * block))
    draws = share_spectra(apply_blocks(draws, space, block_param, block), space, share)
    config = {"share_spectrum": share, "block_param": block_param, "block_size": block}
    good = np.random.default_rng(1).uniform(size=n) > 0.05
    split, n_groups = split_by_group(good, group_rows(config), val_frac=0.15, test_frac=0.1, seed=3)
    spectrum_cols = [j for j, nm in enumerate(space.names) if nm not in ("mass", "zred")]
    classes = _linked_classes(draws, spectrum_cols,
                              space.names.index(block_param) if block_param else None)
    where = _split_of_rows(n, np.flatnonzero(good), split)
    _assert_no_class_straddles(classes, where)
    assert sorted(np.concatenate(list(split.values()))) == list(range(good.sum()))
    k = group_rows(config)
    assert abs(len(split["test"]) - 0.1 * good.sum()) <= k
    assert abs(len(split["val"]) - 0.15 * good.sum()) <= k


def test_one_row_groups_keep_the_row_permutation_split():
    from prospect_emu.emulator.training import split_by_group

    good = np.ones(1000, dtype=bool)
    split, n_groups = split_by_group(good, 1, val_frac=0.1, test_frac=0.1, seed=4)
    perm = np.random.default_rng(4).permutation(1000)
    np.testing.assert_array_equal(split["test"], perm[:100])
    np.testing.assert_array_equal(split["val"], perm[100:200])
    np.testing.assert_array_equal(split["train"], perm[200:])
    assert n_groups == {"test": 100, "val": 100, "train": 800}


def test_too_few_groups_to_split_is_an_error(small_trainset, tmp_path):
    path = tmp_path / "few_groups.h5"
    shutil.copy(small_trainset, path)
    with h5py.File(path, "r+") as f:  # 400 usable rows, but only 20 groups of 20
        st = f["status"][...]
        st[400:] = 2
        f["status"][...] = st
    with pytest.raises(ConfigurationError,
                       match=r"groups of 20.*too few to split.*3 groups.*--share-spectrum"):
        prepare(TrainingSet(path), TrainConfig(val_frac=0.1, test_frac=0.1))
