"""Where the compiled kernels' on-disk cache lives: a user cache folder, never the package.

numba's ``cache=True`` writes ``*.nbi`` / ``*.nbc`` files next to the source, into the
installed package's ``__pycache__``.  Files pip did not install outlive ``pip uninstall``:
after ``pip install .``, a run, then ``pip install -e .``, the left-over
``site-packages/prospect_emu/`` is imported as a namespace package that shadows the
editable install.  So the kernels are cached here instead, for these functions only
(numba's global configuration, and other packages' caches, are left alone):

1. ``$PROSPECT_EMU_CACHE_DIR/numba`` when ``PROSPECT_EMU_CACHE_DIR`` is set;
2. else the platform's user cache folder: ``$XDG_CACHE_HOME/prospect-emu/numba`` (by default
   ``~/.cache/prospect-emu/numba``) on Linux, ``~/Library/Caches/prospect-emu/numba`` on
   macOS, ``%LOCALAPPDATA%\\prospect-emu\\Cache\\numba`` on Windows.

Each source folder gets its own sub-folder (numba's naming: folder name and a hash of its
path), so two installs never share entries.  Where the folder cannot be created or written,
the kernels run uncached (compiled again in each process); nothing fails.
"""

from __future__ import annotations

import os
from pathlib import Path

#: environment variable naming the package's cache folder
ENV = "PROSPECT_EMU_CACHE_DIR"


def cache_root() -> Path:
    """The package's user cache folder (``$PROSPECT_EMU_CACHE_DIR``, else the platform's).

    Returns
    -------
    Path
        The folder; it need not exist.
    """
    env = os.environ.get(ENV, "")
    if env:
        return Path(env).expanduser()
    try:
        from numba.misc.appdirs import AppDirs

        return Path(AppDirs("prospect-emu", appauthor=False).user_cache_dir)
    except ImportError:  # pragma: no cover - only without numba, where nothing is cached
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "prospect-emu"


#: source files of functions the cached kernels compile in (``register_jitable``): a change
#: to one of them makes every cached kernel stale, as a change to the kernel's own file does
_EXTRA_SOURCES: list[str] = []


def add_source(path: str) -> None:
    """Count ``path`` (a Python source file whose functions the kernels call) in every
    cached kernel's source stamp, so that editing it recompiles them."""
    if path not in _EXTRA_SOURCES:
        _EXTRA_SOURCES.append(str(path))


def kernel_cache_dir() -> Path:
    """The folder of the compiled kernels' cache: ``cache_root() / "numba"``."""
    return cache_root() / "numba"


try:
    from numba.core import caching as _nc

    class _KernelCacheLocator(_nc._SourceFileBackedLocatorMixin, _nc._CacheLocator):
        """numba cache locator that points into :func:`kernel_cache_dir`."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            sub = self.get_suitable_cache_subpath(py_file)
            self._cache_path = str(kernel_cache_dir() / sub)

        def get_cache_path(self):
            return self._cache_path

        def get_source_stamp(self):
            # the kernel's own file and the files of the functions it compiles in
            return (super().get_source_stamp(),) + tuple(
                _nc._hash_source_file(p, os.stat(p).st_mtime, os.stat(p).st_size)
                for p in _EXTRA_SOURCES)

    class _KernelCacheImpl(_nc.CompileResultCacheImpl):
        _locator_classes = [_KernelCacheLocator]

    class _KernelCache(_nc.FunctionCache):
        _impl_class = _KernelCacheImpl

        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except OSError:  # unreadable: compile instead
                return None

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except OSError:  # the folder went away, filled up or turned read-only: uncached
                pass

except (ImportError, AttributeError):  # pragma: no cover - no numba, or its internals moved
    _KernelCache = None


def cached(dispatcher):
    """Give a numba dispatcher (compiled without ``cache=True``) an on-disk cache in
    :func:`kernel_cache_dir`.

    Parameters
    ----------
    dispatcher : numba.core.registry.CPUDispatcher
        What ``numba.njit(...)(fn)`` returned.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The same dispatcher; uncached where the folder cannot be written (or numba's
        caching internals are not what this module knows), never cached elsewhere.
    """
    if _KernelCache is None:  # pragma: no cover
        return dispatcher
    try:
        cache = _KernelCache(dispatcher.py_func)
    except (RuntimeError, OSError):  # no writable folder: numba's "no locator available"
        return dispatcher
    dispatcher._cache = cache
    return dispatcher
