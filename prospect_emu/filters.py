"""sedpy filters: resolve names with helpful errors, hash transmission curves."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigurationError

#: A default set of common bands: GALEX, SDSS, 2MASS and WISE.
DEFAULT_FILTERS = ("galex_FUV", "galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0",
                   "sdss_z0", "twomass_J", "twomass_H", "twomass_Ks", "wise_w1", "wise_w2")


def available_filters() -> list[str]:
    """Names of the filters sedpy ships."""
    from sedpy.observate import list_available_filters

    return list(list_available_filters())


def load_filters(names: Sequence[str]) -> list:
    """Load sedpy filters by name, naming close matches for any sedpy lacks.

    Raises
    ------
    ConfigurationError
        For an unknown or duplicated name.
    """
    from sedpy import observate

    names = [str(n).strip() for n in names]
    if not names:
        raise ConfigurationError("no filters given: pass sedpy filter names, e.g. "
                                 "--filters sdss_g0,sdss_r0 or a --filters-file")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigurationError(f"filter names repeated: {', '.join(dup)}; give each once")
    known = set(available_filters())
    bad = [n for n in names if n not in known]
    if bad:
        lines = []
        for n in bad:
            close = difflib.get_close_matches(n, sorted(known), n=4, cutoff=0.5)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            lines.append(f"{n!r}{hint}")
        raise ConfigurationError("sedpy knows no filter " + "; ".join(lines) +
                                 ". `python -c \"import sedpy.observate as o; "
                                 "print(o.list_available_filters())\"` lists them all")
    return observate.load_filters(names)


def read_filters_file(path: str | Path) -> list[str]:
    """Filter names from a text file: one per line (or comma separated); '#' comments."""
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"filters file {path} does not exist")
    names: list[str] = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0]
        names.extend(t.strip() for t in line.replace(",", " ").split() if t.strip())
    return names


def filter_names(filters: Iterable) -> list[str]:
    """Names of sedpy filters (a FilterSet or a list of Filter objects)."""
    if hasattr(filters, "filternames"):
        return list(filters.filternames)
    return [f.name for f in filters]


def filter_hash(filt) -> str:
    """SHA-256 (first 16 hex digits) of a sedpy filter's wavelength and transmission."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(filt.wavelength, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(filt.transmission, dtype="<f8").tobytes())
    return h.hexdigest()[:16]


def transmission_mismatches(filters: Iterable, expected: dict[str, str]) -> list[str]:
    """Names of filters whose transmission differs from the one hashed in ``expected``.

    Parameters
    ----------
    filters : list of sedpy Filter
        E.g. ``obs["filters"]``.
    expected : dict of str to str
        :func:`filter_hash` per filter name (an emulator's ``meta["filters"]``); names
        not in it are not checked.

    Raises
    ------
    ConfigurationError
        For an object that is not a sedpy ``Filter`` (no wavelength or transmission).
    """
    bad = []
    for f in filters:
        name = getattr(f, "name", None)
        if name not in expected:
            continue
        try:
            h = filter_hash(f)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"obs['filters'] holds {f!r}, which is not a sedpy Filter "
                                     f"with a wavelength and transmission ({exc}); load the "
                                     "filters with sedpy.observate.load_filters") from exc
        if h != expected[name]:
            bad.append(name)
    return bad


def obs_filters(obs: dict) -> Any:
    """``obs['filters']``; a clear error where photometry is given without its filters."""
    filters = obs.get("filters", None)
    if filters is None and obs.get("maggies", None) is not None:
        raise ConfigurationError(
            "obs['maggies'] is given but obs['filters'] is None: the model cannot know "
            "which bands the photometry is in. Set obs['filters'] to the sedpy filters "
            "of the photometry (sedpy.observate.load_filters([...]))")
    return filters
