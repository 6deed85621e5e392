"""The README's two install commands, run in order in one fresh venv (issue 21, item 6).

``pip install . && prospect-emu demo``, then ``pip install -e .``: numba used to write its
compiled-kernel cache (``*.nbi``, ``*.nbc``) into the installed package, pip's uninstall left
those files, and the left-over ``site-packages/prospect_emu/`` became a namespace package
that shadowed the editable install everywhere but the checkout folder.  The kernels are now
cached in a user cache folder (:mod:`prospect_emu.emulator.jitcache`).

The venv sees the system's packages (``--system-site-packages``), so nothing is downloaded:
``pip install --no-deps --no-build-isolation`` installs only this package, from a copy of the
checkout, in a few seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# the numba kernels' cache files, as numba names them
_CACHE_SUFFIXES = (".nbi", ".nbc")


def _cache_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in _CACHE_SUFFIXES)


def _run(args: list, cwd: Path, env: dict, timeout: float = 600) -> str:
    r = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, args))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def _copy_checkout(dest: Path) -> None:
    """The checkout's files (tracked and new, not ignored), as a fresh clone would have them."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: copy the tree
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
            ".git", "__pycache__", "*.egg-info", "build", "dist", "prospect_emu_demo"))
        return
    for name in out.decode().split("\0"):
        src = ROOT / name
        if name and src.is_file():  # a tracked file deleted in the work tree is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _clean_env(cache_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PROSPECT_EMU_CACHE_DIR", "NUMBA_CACHE_DIR",
                        "NUMBA_CACHE_LOCATOR_CLASSES", "PROSPECT_EMU_NO_JIT", "SPS_HOME",
                        "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    env.update(XDG_CACHE_HOME=str(cache_home), MPLBACKEND="Agg", PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _system_install_is_regular() -> bool:
    """Whether this Python has a regular (not editable) install of the package in a
    site-packages folder, which a ``--system-site-packages`` venv would import first."""
    import prospect_emu

    where = Path(prospect_emu.__file__).resolve()
    return any(part in ("site-packages", "dist-packages") for part in where.parts)


_COMPILE_ONE = textwrap.dedent("""
    import numpy as np
    from prospect_emu.emulator import kernels
    assert kernels.ENABLED
    print(kernels._lnlike._cache.cache_path)
    print(kernels._lnlike(np.zeros(3), 1.0, np.ones((4, 3)), np.zeros((3, 3)), 0.0, 0))
    """)


def _compile_one(env_extra: dict, tmp_path: Path) -> tuple[str, float]:
    """Compile one kernel in a fresh process; its cache path and value."""
    env = _clean_env(tmp_path / "xdg")
    env.update(env_extra)
    env["PYTHONPATH"] = str(ROOT)
    path, value = _run([sys.executable, "-c", _COMPILE_ONE], tmp_path, env).split("\n")[:2]
    return path, float(value)


def _package_cache_files_since(t0: float) -> list[Path]:
    return [p for p in _cache_files(ROOT / "prospect_emu") if p.stat().st_mtime >= t0]


def test_kernel_cache_goes_to_the_user_cache_folder(tmp_path):
    pytest.importorskip("numba")
    t0 = time.time() - 1
    folder = tmp_path / "user cache"
    path, value = _compile_one({"PROSPECT_EMU_CACHE_DIR": str(folder)}, tmp_path)
    # error mode 'none', 3 bands, data 1, model sinh(0) = 0, inverse variance 1: -3/2
    assert value == -1.5
    assert Path(path).resolve().is_relative_to((folder / "numba").resolve())
    names = [p.name for p in _cache_files(folder / "numba")]
    assert any(n.startswith("kernels._lnlike-") and n.endswith(".nbi") for n in names), names
    assert any(n.endswith(".nbc") for n in names), names
    assert _package_cache_files_since(t0) == [], "kernel cache files written into the package"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CACHE_HOME is Linux's")
def test_kernel_cache_default_is_the_platform_user_cache(tmp_path):
    pytest.importorskip("numba")
    path, _ = _compile_one({}, tmp_path)  # _clean_env sets XDG_CACHE_HOME to tmp_path / "xdg"
    assert Path(path).is_relative_to(tmp_path / "xdg" / "prospect-emu" / "numba")
    assert _cache_files(tmp_path / "xdg" / "prospect-emu" / "numba")


def test_unwritable_cache_folder_runs_uncached(tmp_path):
    pytest.importorskip("numba")
    t0 = time.time() - 1
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    path, value = _compile_one({"PROSPECT_EMU_CACHE_DIR": str(blocker / "cache")}, tmp_path)
    assert value == -1.5
    assert path == "None"  # numba's NullCache: no cache at all, not the package's __pycache__
    assert _package_cache_files_since(t0) == []


@pytest.mark.slow
def test_readme_install_then_editable_install_from_another_folder(tmp_path):
    pytest.importorskip("numba")
    if _system_install_is_regular():
        pytest.skip("this Python has a regular install of prospect_emu in site-packages, which a "
                    "--system-site-packages venv imports before an editable one")
    src, venv, elsewhere, cache_home = (tmp_path / n for n in ("src", "venv", "elsewhere", "cache"))
    for d in (src, elsewhere):
        d.mkdir()
    _copy_checkout(src)
    env = _clean_env(cache_home)
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv], tmp_path, env)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    py, cli = bindir / "python", bindir / "prospect-emu"
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     elsewhere, env).strip())
    pip = [py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]

    # README, first command: pip install . && prospect-emu demo
    _run([*pip, "."], src, env)
    assert (site / "prospect_emu" / "__init__.py").is_file(), "the regular install is not in the venv"
    _run([cli, "demo"], elsewhere, env)  # writes ./prospect_emu_demo in the other folder
    assert _cache_files(site) == [], "numba wrote its kernel cache into the installed package"
    if sys.platform.startswith("linux"):  # XDG_CACHE_HOME is the user cache folder there
        assert _cache_files(cache_home / "prospect-emu" / "numba"), "no kernel cache in the user folder"

    # README, second command: pip install -e ".[test]" (its dependencies are already here)
    _run([*pip, "-e", "."], src, env)
    assert not (site / "prospect_emu").exists(), (
        f"pip left {site / 'prospect_emu'} behind: {sorted(map(str, (site / 'prospect_emu').rglob('*')))}")

    # then the CLI and an import, from a folder that is not the checkout
    assert _run([cli, "--version"], elsewhere, env).strip()
    where = _run([py, "-c", textwrap.dedent("""
        import prospect_emu
        from prospect_emu import __version__
        from prospect_emu.emulator import kernels
        print(prospect_emu.__file__)
        """)], elsewhere, env).strip()
    assert Path(where).resolve().is_relative_to(src.resolve()), f"imported {where}, not the editable install"
    assert _cache_files(site) == []
