"""Opening HDF5 files for writing while other processes may be reading them.

HDF5 locks a file while any process has it open: a writer cannot open a file that a
reader (``prospect-emu info``, ``h5ls``, a notebook watching a run's progress) holds open
at that moment, and h5py raises ``BlockingIOError``.  A long run that writes in short
steps (a training-set chunk, a catalog object's samples) waits for the reader to close
instead of dying part-way.
"""

from __future__ import annotations

import time
from pathlib import Path

import h5py

from .errors import ConfigurationError

#: Seconds a writer waits for readers to close the file before it gives up.
LOCK_WAIT_S = 120.0


def open_for_writing(path: str | Path, mode: str = "r+", wait_s: float = LOCK_WAIT_S) -> h5py.File:
    """Open an HDF5 file for writing, waiting while another process holds its lock.

    Parameters
    ----------
    path : str or Path
        The file.
    mode : str
        An h5py writing mode (``"r+"`` or ``"a"``).
    wait_s : float
        How long to keep retrying while the file is locked.

    Returns
    -------
    h5py.File

    Raises
    ------
    ConfigurationError
        When the file stays locked for ``wait_s`` seconds.
    """
    deadline = time.monotonic() + wait_s
    delay = 0.02
    while True:
        try:
            return h5py.File(path, mode)
        except BlockingIOError as exc:  # another process has the file open
            if time.monotonic() >= deadline:
                raise ConfigurationError(
                    f"{path} stayed locked by another process for {wait_s:.0f} s, so this run "
                    "cannot write to it: close whatever holds it open (a notebook, h5ls, "
                    "another prospect-emu run) and rerun with --resume") from exc
            time.sleep(delay)
            delay = min(2 * delay, 0.5)
