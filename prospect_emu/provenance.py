"""Package versions and time stamps recorded in training sets and artifacts."""

from __future__ import annotations

import datetime
import platform
from importlib import metadata

_PACKAGES = ("prospect-emu", "astro-prospector", "astro-sedpy", "fsps", "numpy", "scipy",
             "h5py", "astropy", "keras", "tensorflow", "jax", "torch", "dynesty")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape an SED or a network, where installed."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def utc_now() -> str:
    """The current UTC time in ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
