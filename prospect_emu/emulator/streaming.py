"""Training on sets larger than memory: the photometric kind's rows streamed from the file.

:func:`prepare_streamed` does what :func:`~prospect_emu.emulator.training_base.prepare` does
without loading the set:

- one pass over the file in blocks of rows finds the usable rows, which are split by whole
  groups exactly as in memory (:func:`~prospect_emu.emulator.training_base.split_by_group`,
  the same seed gives the same split);
- the output transform is fitted on a seeded random subsample of the training rows, at most
  :data:`FIT_ROWS`, read as whole blocks of the file (all training rows when there are
  fewer).  A subsample rather than a streamed pass because the transform's softening is a
  fraction of each band's *median* flux, which one pass cannot give exactly; the mean and
  spread of the magnitudes from 100,000 rows are within ~0.3% of the whole set's, and they
  only set the scale of the network's outputs (the artifact stores them, so inference is
  exact whatever they are);
- the validation rows (at most :data:`VAL_ROWS`, whole groups in the split's random order:
  a fixed held-out subset for every check) and the test rows (at most :data:`TEST_ROWS`)
  are read into memory;
- the training rows are read by :class:`StreamedRows` while training: contiguous blocks of
  :data:`READ_ROWS` file rows, in a shuffled block order each pass, shuffled together
  within a buffer of :data:`BUFFER_READS` blocks.  Rows of a generated file are independent
  draws apart from groups of at most ``lcm(share_spectrum, block_size)`` rows, so a buffer of
  many blocks is as well mixed as a global shuffle for stochastic gradients.

Memory is then bounded by the buffer (~131,000 rows of float32 network inputs and targets),
the validation and test rows, the subsample, and one byte per file row (the masks).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import ConfigurationError
from ..trainingdata.trainingset import check_format
from .training_base import (
    PreparedData,
    TrainConfig,
    check_representable,
    input_transform,
    split_checked,
    usable_rows,
)
from .transforms import InputTransform, OutputTransform

#: file rows per contiguous read
READ_ROWS = 16384
#: reads shuffled together in the training buffer
BUFFER_READS = 8
#: at most this many training rows fit the output transform
FIT_ROWS = 100_000
#: at most this many validation rows (whole groups, in the split's random order)
VAL_ROWS = 100_000
#: at most this many test rows for the stored test statistics
TEST_ROWS = 200_000


def in_memory_bytes(n_rows: int, n_params: int, n_bands: int) -> int:
    """Bytes the in-memory trainer holds for a set of ``n_rows`` rows: the set as read
    (float64 parameters, photometry and mfrac, int8 status), the usable rows' float64
    copies (inputs, photometry, mfrac, standardised outputs) and the network's float32
    inputs and targets."""
    per_row = (8 * (n_params + n_bands + 1) + 1 + 8 * (n_params + 2 * n_bands + 2)
               + 4 * (n_params + n_bands + 2))
    return int(n_rows) * per_row


class SetFile:
    """A training-set file's header (what :class:`~prospect_emu.trainingdata.trainingset.
    TrainingSet` holds, but no arrays) and reads of row blocks."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigurationError(f"training set {self.path} does not exist")
        with h5py.File(self.path, "r") as f:
            check_format(f, self.path)
            self.config = json.loads(f.attrs["config"])
            self.metadata = json.loads(f.attrs["metadata"])
            self.names = json.loads(f["params"].attrs["names"])
            self.filter_names = json.loads(f["filters"].attrs["names"])
            self.filter_hashes = {k: str(f["filters"][k].attrs["hash"]) for k in self.filter_names}
            self.n_rows = int(f["params"].shape[0])

    def open(self) -> h5py.File:
        return h5py.File(self.path, "r")

    def blocks(self, size: int | None = None) -> list[tuple[int, int]]:
        """``(lo, hi)`` of each block of ``size`` rows (default :data:`READ_ROWS`)."""
        size = READ_ROWS if size is None else int(size)
        return [(lo, min(lo + size, self.n_rows)) for lo in range(0, self.n_rows, size)]

    @staticmethod
    def read(f: h5py.File, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        """Rows ``[lo, hi)``: params, phot, mfrac, status."""
        return f["params"][lo:hi], f["phot"][lo:hi], f["mfrac"][lo:hi], f["status"][lo:hi]

    def in_memory_bytes(self) -> int:
        return in_memory_bytes(self.n_rows, len(self.names), len(self.filter_names))


def wants_stream(path: str | Path, config: TrainConfig) -> bool:
    """Whether ``config`` streams this set: ``stream="on"``; ``"auto"`` when the in-memory
    trainer would hold more than ``memory_budget_gb`` (:func:`in_memory_bytes`) and the
    kind streams (the photometric kind only, for now)."""
    if config.stream == "off":
        return False
    if config.stream == "on":
        return True
    return config.kind == "photometry" and SetFile(path).in_memory_bytes() > config.memory_budget_gb * 1e9


def _rows_of(sf: SetFile, f: h5py.File, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """params, phot, mfrac of the sorted file ``rows``, read block by block."""
    out: list[list[np.ndarray]] = [[], [], []]
    for lo, hi in sf.blocks():
        sel = rows[np.searchsorted(rows, lo):np.searchsorted(rows, hi)] - lo
        if len(sel):
            for part, arr in zip(out, sf.read(f, lo, hi)[:3]):
                part.append(arr[sel])
    return tuple(np.concatenate(p) for p in out)


def _fit_outputs(sf: SetFile, f: h5py.File, train: np.ndarray, config: TrainConfig,
                 fit_rows: int) -> tuple[OutputTransform, int]:
    """The output transform from at most ``fit_rows`` training rows (whole blocks in a seeded
    random order), and how many rows it saw."""
    phot, mfrac, n = [], [], 0
    rng = np.random.default_rng(config.seed)
    blocks = sf.blocks()
    for b in rng.permutation(len(blocks)):
        lo, hi = blocks[b]
        m = train[lo:hi]
        if m.any():
            _, p, mf, _ = sf.read(f, lo, hi)
            phot.append(p[m])
            mfrac.append(mf[m])
            n += int(m.sum())
        if n >= fit_rows:
            break
    p, mf = np.concatenate(phot)[:fit_rows], np.concatenate(mfrac)[:fit_rows]
    return OutputTransform.fit(sf.filter_names, p, mf, config.softening_fraction,
                               config.band_weight_power, config.softening_reference), len(p)


def prepare_streamed(path: str | Path, config: TrainConfig
                     ) -> tuple[SetFile, PreparedData, StreamedRows]:
    """The streamed counterpart of :func:`~prospect_emu.emulator.training_base.prepare`.

    Returns
    -------
    SetFile
        The set's header.
    PreparedData
        Holding only the validation and test rows (``split["train"]`` is empty;
        ``split_info["streamed"]`` says how many rows each part used).
    StreamedRows
        The training rows, for :func:`prospect_emu.network.recipe.run_stages`.
    """
    fit_rows, val_rows, test_rows = FIT_ROWS, VAL_ROWS, TEST_ROWS
    sf = SetFile(path)
    check_representable(sf)
    cols, inputs = input_transform(sf.names, sf.config, config)
    with sf.open() as f:
        good = np.concatenate([usable_rows(*sf.read(f, lo, hi)) for lo, hi in sf.blocks()])
        split, split_info = split_checked(good, sf.config, sf.path, config)
        ok = np.flatnonzero(good)
        train = np.zeros(sf.n_rows, dtype=bool)
        train[ok[split["train"]]] = True
        outputs, n_fit = _fit_outputs(sf, f, train, config, fit_rows)
        held = {"val": np.sort(ok[split["val"][:val_rows]]), "test": np.sort(ok[split["test"][:test_rows]])}
        read = {k: _rows_of(sf, f, v) for k, v in held.items()}
    params, phot, mfrac = (np.concatenate([read["val"][i], read["test"][i]]) for i in range(3))
    nv, nt = len(held["val"]), len(held["test"])
    split_info = {**split_info, "streamed": {
        "fit_rows": n_fit, "val_rows": nv, "test_rows": nt, "read_rows": READ_ROWS,
        "buffer_reads": BUFFER_READS, "in_memory_bytes": sf.in_memory_bytes()}}
    prep = PreparedData(inputs, outputs, params[:, cols], outputs.encode(phot, mfrac), phot, mfrac,
                        {"train": np.zeros(0, dtype=int), "val": np.arange(nv),
                         "test": nv + np.arange(nt)},
                        int((~good).sum()), np.concatenate([held["val"], held["test"]]), split_info)
    return sf, prep, StreamedRows(sf, train, cols, inputs, outputs, config.seed)


class StreamedRows:
    """Training rows read from the file while training (see the module notes): network
    inputs and targets (float32) in blocks of whole batches, for
    :func:`prospect_emu.network.recipe.run_stages`.  Keeps the file open until
    :meth:`close`."""

    def __init__(self, sf: SetFile, train: np.ndarray, cols: list[int], inputs: InputTransform,
                 outputs: OutputTransform, seed: int = 0, read_rows: int | None = None,
                 buffer_reads: int | None = None):
        read_rows = READ_ROWS if read_rows is None else int(read_rows)
        buffer_reads = BUFFER_READS if buffer_reads is None else int(buffer_reads)
        self.sf, self.train, self.cols = sf, train, cols
        self.inputs, self.outputs = inputs, outputs
        self.rng = np.random.default_rng(seed)
        self.blocks = [b for b in sf.blocks(read_rows) if train[b[0]:b[1]].any()]
        self.buffer_reads = int(buffer_reads)
        self.max_rows = int(read_rows) * self.buffer_reads
        self.n = int(train.sum())
        self.queue: list[int] = []
        self.bx = self.by = None
        self.pos = 0
        self.rows_read = 0
        self.f = sf.open()

    def __len__(self) -> int:
        return self.n

    def close(self) -> None:
        self.f.close()

    def _refill(self) -> None:
        """The next ``buffer_reads`` blocks (a new shuffled pass when one ends), shuffled."""
        xs, ys = [], []
        for _ in range(self.buffer_reads):
            if not self.queue:
                self.queue = list(self.rng.permutation(len(self.blocks)))
            lo, hi = self.blocks[self.queue.pop()]
            params, phot, mfrac, _ = self.sf.read(self.f, lo, hi)
            m = self.train[lo:hi]
            xs.append(self.inputs(params[m][:, self.cols]).astype(np.float32))
            ys.append(self.outputs.encode(phot[m], mfrac[m]).astype(np.float32))
            self.rows_read += hi - lo
            if len(self.queue) == 0:
                break   # a pass ends with its own buffer
        order = self.rng.permutation(sum(len(x) for x in xs))
        self.bx, self.by = np.concatenate(xs)[order], np.concatenate(ys)[order]
        self.pos = 0

    def take(self, n_rows: int, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The next ``n_rows`` rows in blocks of at most ``buffer_reads * read_rows`` rows
        (whole batches of ``batch_size``)."""
        block = max(batch_size, self.max_rows // batch_size * batch_size)
        need = int(n_rows)
        while need > 0:
            k, xs, ys = min(need, block), [], []
            while k > 0:
                if self.bx is None or self.pos >= len(self.bx):
                    self._refill()
                j = min(k, len(self.bx) - self.pos)
                xs.append(self.bx[self.pos:self.pos + j])
                ys.append(self.by[self.pos:self.pos + j])
                self.pos, k, need = self.pos + j, k - j, need - j
            yield (xs[0], ys[0]) if len(xs) == 1 else (np.concatenate(xs), np.concatenate(ys))


def stream_info(source: StreamedRows, prep: PreparedData) -> dict[str, Any]:
    """What the artifact records about a streamed run."""
    return {**prep.split_info.get("streamed", {}), "n_train": len(source),
            "file_rows_read_in_training": int(source.rows_read)}
