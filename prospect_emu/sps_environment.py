"""Check SPS_HOME and the python-fsps build before any FSPS work starts.

python-fsps stops the whole process from Fortran (sometimes with exit code 0) when
it was compiled for other isochrones than the data tree holds, so the check runs
FSPS in a child process and reads what it printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .errors import ConfigurationError

BUILD_HINT = (
    'build python-fsps for your data tree, e.g. for BaSTI isochrones: apt-get install -y '
    'gfortran cmake && FFLAGS="-DMIST=0 -DBASTI=1" python -m pip install --no-cache-dir '
    "--no-binary fsps fsps"
)

_PROBE = ("import fsps; sp = fsps.StellarPopulation(zcontinuous=1); "
          "print('LIBRARIES', *[x.decode() if isinstance(x, bytes) else x for x in sp.libraries])")


def check_sps_home() -> Path:
    """Return SPS_HOME as a Path, or raise a clear error naming the fix."""
    value = os.environ.get("SPS_HOME")
    if not value:
        raise ConfigurationError(
            "SPS_HOME is not set: FSPS needs its data tree. Set SPS_HOME to the folder "
            "holding ISOCHRONES/, SPECTRA/ and dust/ (e.g. export SPS_HOME=/path/to/fsps) "
            "and " + BUILD_HINT)
    path = Path(value)
    if not (path / "SPECTRA").is_dir() or not (path / "ISOCHRONES").is_dir():
        raise ConfigurationError(
            f"SPS_HOME={value} is not an FSPS data tree (no SPECTRA/ or ISOCHRONES/ folder): "
            "point SPS_HOME at the folder that holds them")
    return path


_checked: dict[str, tuple[str, ...]] = {}


def check_fsps_build(timeout: float = 300.0) -> tuple[str, ...]:
    """Run FSPS once in a child process; return its libraries or raise a clear error.

    Returns
    -------
    tuple of str
        ``StellarPopulation.libraries`` (isochrones, spectral library, dust emission).
    """
    home = str(check_sps_home())
    if home in _checked:
        return _checked[home]
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=timeout, env=dict(os.environ))
    except subprocess.TimeoutExpired as exc:
        raise ConfigurationError(f"FSPS did not start within {timeout:.0f} s") from exc
    text = proc.stdout + proc.stderr
    if "No module named 'fsps'" in text or "No module named fsps" in text:
        raise ConfigurationError("python-fsps is not installed: " + BUILD_HINT)
    for line in proc.stdout.splitlines():
        if line.startswith("LIBRARIES"):
            libs = tuple(line.split()[1:])
            _checked[home] = libs
            return libs
    isochrones = sorted(p.name for p in (Path(home) / "ISOCHRONES").iterdir())
    tail = "\n".join(text.strip().splitlines()[-6:])
    raise ConfigurationError(
        f"python-fsps failed to start with SPS_HOME={home} (isochrones there: "
        f"{', '.join(isochrones)}); it was probably compiled for other isochrones. "
        f"{BUILD_HINT}. FSPS said:\n{tail}")
