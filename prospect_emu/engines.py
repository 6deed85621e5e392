"""Where parallel work runs: local processes or a Dask cluster, behind ``concurrent.futures``.

Both ``generate`` (chunks of SEDs) and ``fit-catalog`` (galaxies) hand their work to an
executor; this module makes the one they ask for.  No scheduling of our own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from .errors import ConfigurationError


def open_executor(workers: int | None = None,
                  dask_scheduler: str | None = None) -> tuple[Executor, Callable[[], None]]:
    """``(executor, close)``: a Dask cluster's executor when ``dask_scheduler`` is an address,
    else a pool of ``workers`` local processes (default: all cores, spawned, since FSPS and
    Keras do not survive a fork).  Call ``close()`` when done."""
    if dask_scheduler is not None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ConfigurationError("--dask-scheduler needs Dask: pip install "
                                     "'prospect-emu[dask]'") from exc
        client = Client(dask_scheduler)
        return client.get_executor(), client.close
    import multiprocessing as mp

    pool = ProcessPoolExecutor(max_workers=workers or os.cpu_count(), mp_context=mp.get_context("spawn"))
    return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)


def in_process(workers: int | None, dask_scheduler: str | None = None,
               executor: Executor | None = None) -> bool:
    """Whether work runs in the calling process: one worker (``None``: all cores) and no
    executor or Dask scheduler named."""
    return executor is None and dask_scheduler is None and (workers or os.cpu_count() or 1) == 1


def map_tasks(fn: Callable[..., Any], tasks: Sequence[tuple], *, workers: int | None = 1,
              dask_scheduler: str | None = None, executor: Executor | None = None,
              progress: bool = True, desc: str = "", unit: str = "task") -> Iterator[tuple[int, Any]]:
    """``(i, fn(*tasks[i]))`` for every task, as each finishes, with a progress bar.

    In this process, in order, when ``workers`` is 1 and neither ``executor`` nor
    ``dask_scheduler`` is given (``workers=None`` means all cores); else on ``executor`` or on
    :func:`open_executor`'s, which is closed at the end.  ``fn`` must be importable by name
    where it runs (a module-level function).  A task's exception propagates.
    """
    from concurrent.futures import as_completed

    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc=desc, unit=unit, disable=not progress)
    try:
        if in_process(workers, dask_scheduler, executor):
            for i, args in enumerate(tasks):
                yield i, fn(*args)
                bar.update(1)
            return
        close = None
        if executor is None:
            executor, close = open_executor(workers, dask_scheduler)
        try:
            futures = {executor.submit(fn, *args): i for i, args in enumerate(tasks)}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
                bar.update(1)
        finally:
            if close is not None:
                close()
    finally:
        bar.close()
