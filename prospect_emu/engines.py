"""Where parallel work runs: local processes or a Dask cluster, behind ``concurrent.futures``.

Both ``generate`` (chunks of SEDs) and ``fit-catalog`` (galaxies) hand their work to an
executor; this module makes the one they ask for.  No scheduling of our own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor

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
