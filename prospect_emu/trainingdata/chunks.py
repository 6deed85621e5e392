"""The pending chunks of a training set file, computed and written one by one.

:class:`Chunks` runs the chunks that :func:`prospect_emu.trainingdata.generate.generate`
planned: in this process, on a local process pool, a Dask cluster or any
``concurrent.futures.Executor``; only this process writes the file.  When the first
:data:`EARLY_STOP_ROWS` rows of a run (whole chunks) all failed, it stops with a
:class:`~prospect_emu.errors.ConfigurationError` quoting the first row's error and
parameter values, rather than computing every remaining row of a broken model.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..engines import in_process, open_executor
from ..errors import ConfigurationError
from . import trainingset as ts
from .sampling import ParameterSpace
from .seds import build_from_source, compute_rows, run_chunk

#: generation stops (ConfigurationError) when this many first rows (whole chunks) all failed
EARLY_STOP_ROWS = 50


def run_chunk_checked(*args: Any) -> dict[str, Any]:
    """Worker entry point: :func:`~prospect_emu.trainingdata.seds.run_chunk` after checking the
    worker's SPS_HOME, so that a Dask worker started without it (workers inherit the
    environment of the shell that started them) fails with a message naming the host and
    the fix, not with FSPS's own error."""
    from ..sps_environment import check_sps_home

    try:
        check_sps_home()
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"worker process {os.getpid()} on {socket.gethostname()}: {exc}. Workers inherit "
            "the environment of the shell that starts them: export SPS_HOME=/path/to/fsps "
            "in that shell before `dask worker`") from None
    return run_chunk(*args)


@dataclass
class Chunks:
    """The pending chunks of a training set file, computed and written one by one."""

    path: Path
    space: ParameterSpace
    filter_objs: list
    store_spectrum: bool
    wave_range: list[float] | None
    chunk_size: int

    def run(self, src: Any, workers: int | None, executor: Executor | None,
            dask_scheduler: str | None, progress: bool, max_chunks: int | None) -> int:
        """Compute and write the pending chunks (at most ``max_chunks``); chunks written."""
        with ts.h5py.File(self.path, "r") as f:
            self.draws = f["params"][...]
        pending = ts.pending_chunks(self.path)
        todo = pending if max_chunks is None else pending[: int(max_chunks)]
        n = len(self.draws)
        done_rows = n - sum(len(self._rows(c)) for c in pending)
        self.bar = tqdm(total=n, initial=done_rows, unit="SED", desc="generate",
                        disable=not progress, dynamic_ncols=True, smoothing=0.1)
        self.written = 0
        self.rows_done = self.rows_ok = 0
        self.first_error: tuple[int, str] | None = None
        self.stop_after = min(EARLY_STOP_ROWS, sum(len(self._rows(c)) for c in todo))
        try:
            if in_process(workers, dask_scheduler, executor):
                self._run_here(src, todo)
            else:
                self._run_on_executor(src, todo, workers, executor, dask_scheduler)
        finally:
            self.bar.close()
        return self.written

    def _rows(self, c: int) -> np.ndarray:
        return self.draws[c * self.chunk_size:(c + 1) * self.chunk_size]

    def _write(self, c: int, res: dict[str, Any]) -> None:
        ts.write_chunk(self.path, c, res["phot"], res["mfrac"], res["status"], res["spectrum"],
                       res["errors"], wavelength=res["wavelength"])
        self.written += 1
        self.bar.update(len(res["status"]))
        self._check_early_failures(res)

    def _check_early_failures(self, res: dict[str, Any]) -> None:
        """Stop when the first rows of this run all failed (a broken model, not bad draws)."""
        self.rows_done += len(res["status"])
        self.rows_ok += int((np.asarray(res["status"]) == ts.OK).sum())
        if self.first_error is None and res["errors"]:
            self.first_error = min(res["errors"])
        if self.rows_ok or self.rows_done < self.stop_after or self.first_error is None:
            return
        row, message = self.first_error
        values = ", ".join(f"{name}={v:.6g}" for name, v in zip(self.space.names, self.draws[row]))
        raise ConfigurationError(
            f"generation stopped: the first {self.rows_done} rows all failed. Row {row} failed "
            f"with {message}\n  at {values}\nRun build_model and model.predict on these values "
            "to find the fault (a depends_on function that fails on these parameters, an FSPS "
            f"option the installed FSPS lacks); {self.path} keeps the rows written so far")

    def _run_here(self, src: Any, todo) -> None:
        if src.source is not None:
            _, model, sps = build_from_source(src.source)
        else:
            model, sps = src.model, src.sps
        for c in todo:
            self._write(c, compute_rows(model, sps, self._rows(c), self.space.names,
                                        self.space.ndim, self.filter_objs, self.store_spectrum,
                                        c * self.chunk_size, self.wave_range))

    def _run_on_executor(self, src: Any, todo, workers, executor, dask_scheduler) -> None:
        own_close = None
        if executor is None:
            executor, own_close = open_executor(workers, dask_scheduler)
        futures: dict = {}
        try:
            names = [f.name for f in self.filter_objs]
            futures = {executor.submit(run_chunk_checked, src.source, names, self._rows(c),
                                       self.space.names, self.space.ndim, self.store_spectrum,
                                       c * self.chunk_size, self.wave_range): c
                       for c in todo}
            for fut in as_completed(futures):
                self._write(futures[fut], fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        finally:
            if own_close is not None:
                own_close()
