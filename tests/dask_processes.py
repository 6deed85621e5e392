"""A Dask cluster started the way a user starts one: ``dask scheduler`` and ``dask worker``
processes on the command line (each in its own session, so that stopping one stops its
nanny and worker), on a free local port.  Used by the cluster tests and by
``benchmarks/bench_dask_generate.py``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dask(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """``python -m dask ARGS`` in a session of its own, its output in ``log``."""
    return subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log.open("w"),
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process's session (a worker's nanny and its worker), then SIGKILL."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@contextmanager
def local_cluster(n_workers: int, folder: Path, env: dict[str, str] | None = None,
                  wait_s: float = 90) -> Iterator[str]:
    """A scheduler and ``n_workers`` ``dask worker --nworkers 1 --nthreads 1`` processes
    (logs and worker directories in ``folder``), their address while the block runs."""
    import distributed

    env = dict(os.environ) if env is None else env
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [start_dask(["scheduler", "--host", "127.0.0.1", "--port", str(port),
                         "--dashboard-address", ":0"], folder / "scheduler.log", env)]
    try:
        for i in range(n_workers):
            procs.append(start_dask(["worker", address, "--nworkers", "1", "--nthreads", "1",
                                     "--no-dashboard", "--local-directory", str(folder / f"w{i}")],
                                    folder / f"worker{i}.log", env))
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(n_workers, timeout=wait_s)
        yield address
    finally:
        for p in reversed(procs):
            stop(p)
