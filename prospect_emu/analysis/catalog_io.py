"""Catalog input and output for ``prospect-emu fit-catalog``.

Reading: any table :meth:`astropy.table.Table.read` reads (FITS, CSV/ECSV, HDF5), flux
and uncertainty columns mapped to sedpy filter names, a redshift and an id column,
per-object band masks (NaN or a sentinel value, or a per-band flag column) and an
optional object flag.

Writing, in an output folder::

    progress.jsonl   the journal: a header line (the run's configuration), then one JSON
                     line per finished object (its summary row); an object is done
                     exactly when its line is here
    samples.h5       /samples/<id>: equal-weight posterior draws, float32, one row per
                     draw, columns in attrs["columns"] (free parameters, then derived
                     quantities); attrs id (JSON), row
    summary.ecsv     the summary table, rebuilt from the journal at the end of each run
                     (FITS, CSV or HDF5 by the extension given)

Each object's samples, then its journal line, are written in one step with SIGINT and
SIGTERM held back (:func:`prospect_emu.trainingdata.trainingset.deferred_interrupts`), so an
interrupted run loses only the objects in flight and a rerun fits each missing object
once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from ..errors import ConfigurationError

#: Flux units and how many of each make one maggie (3631 Jy).
FLUX_UNITS = {"maggies": 1.0, "nJy": 3631e9, "uJy": 3631e6, "mJy": 3631e3, "Jy": 3631.0}
Z_COLUMNS = ("z", "zred", "redshift")
ID_COLUMNS = ("id", "ID", "objid", "object_id", "source_id")
JOURNAL_FORMAT = "prospect-emu-catalog-journal"
SAMPLES_FORMAT = "prospect-emu-catalog-samples"
#: Status of a summary row.
OK, BAD_INPUT, FLAGGED, FAILED = "ok", "bad_input", "flagged", "failed"


@dataclass(frozen=True)
class BandColumns:
    """The catalog columns of one band: flux, uncertainty and an optional flag (nonzero
    flag: band masked for that object)."""

    band: str
    flux: str
    unc: str
    flag: str | None = None


def parse_column_map(items: Sequence[str] | None) -> dict[str, BandColumns]:
    """``["sdss_r0=r_flux:r_err[:r_flag]", ...]`` as :class:`BandColumns` by band."""
    out = {}
    for item in items or []:
        band, eq, rest = item.partition("=")
        parts = rest.split(":")
        if not eq or len(parts) not in (2, 3) or not all(p.strip() for p in parts) or not band.strip():
            raise ConfigurationError(f"--map {item!r}: use BAND=FLUX_COLUMN:ERR_COLUMN[:FLAG_COLUMN], "
                                     "e.g. --map sdss_r0=r_flux:r_err")
        cols = [p.strip() for p in parts]
        out[band.strip()] = BandColumns(band.strip(), cols[0], cols[1], cols[2] if len(cols) == 3 else None)
    return out


def read_table(path: str | Path):
    """The catalog as an astropy Table; a ConfigurationError when it cannot be read."""
    from astropy.table import Table

    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"catalog {path} does not exist: give a FITS, ECSV/CSV or HDF5 table")
    try:
        return Table.read(path)
    except Exception as exc:
        raise ConfigurationError(f"cannot read the catalog {path} ({type(exc).__name__}: {exc}): give "
                                 "a FITS (.fits), ECSV/CSV (.ecsv, .csv) or HDF5 (.h5, .hdf5) table") from exc


def _find(colnames: Sequence[str], candidates: Sequence[str]) -> str | None:
    for c in candidates:
        if c in colnames:
            return c
    lower = {c.lower(): c for c in colnames}
    for c in candidates:
        if c.lower() in lower:
            return lower[c.lower()]
    return None


def resolve_bands(colnames: Sequence[str], emulator_bands: Sequence[str],
                  column_map: Mapping[str, BandColumns] | None = None) -> list[BandColumns]:
    """The bands to fit and their columns, in the emulator's band order.

    Explicit mappings first; every other emulator band whose flux column is found under
    a default name (``<band>``, ``flux_<band>``, ``<band>_flux``) is used too, with its
    uncertainty from ``<band>_unc``, ``<band>_err``, ``fluxerr_<band>`` or
    ``<band>_fluxerr``.
    """
    column_map = dict(column_map or {})
    unknown = [b for b in column_map if b not in emulator_bands]
    if unknown:
        raise ConfigurationError(f"--map names bands {unknown} the emulator does not predict; its "
                                 f"bands: {list(emulator_bands)}")
    out = []
    for band in emulator_bands:
        if band in column_map:
            bc = column_map[band]
            missing = [c for c in (bc.flux, bc.unc, bc.flag) if c is not None and c not in colnames]
            if missing:
                raise ConfigurationError(f"--map {band}: the catalog has no columns {missing}; its "
                                         f"columns: {list(colnames)}")
            out.append(bc)
            continue
        flux = _find(colnames, (band, f"flux_{band}", f"{band}_flux"))
        if flux is None:
            continue
        unc = _find(colnames, (f"{band}_unc", f"{band}_err", f"fluxerr_{band}", f"{band}_fluxerr",
                               f"{flux}_unc", f"{flux}_err"))
        if unc is None:
            raise ConfigurationError(f"catalog column {flux!r} (band {band}) has no uncertainty "
                                     f"column ({band}_unc, {band}_err or fluxerr_{band}): add one "
                                     f"or map it with --map {band}=FLUX:ERR")
        out.append(BandColumns(band, flux, unc))
    if not out:
        raise ConfigurationError(
            f"no flux columns for the emulator's bands in the catalog (columns {list(colnames)}): "
            f"name them <band> and <band>_unc (bands {list(emulator_bands)}), flux_<band> and "
            "fluxerr_<band>, or map them with --map BAND=FLUX:ERR")
    return out


def _float_column(table, name: str) -> np.ndarray:
    col = table[name]
    try:
        data = np.ma.asarray(col).astype(float)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"catalog column {name!r} is not numeric ({col.dtype})") from exc
    return np.ma.filled(data, np.nan).reshape(len(table))


def _python_id(v) -> int | str:
    if isinstance(v, bytes):
        return v.decode().strip()
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    return str(v).strip()


@dataclass
class CatalogData:
    """The catalog as arrays: per row id, z, fluxes and uncertainties in maggies, masks."""

    ids: list
    z: np.ndarray
    maggies: np.ndarray      # (N, B), NaN where masked
    unc: np.ndarray          # (N, B)
    band_ok: np.ndarray      # (N, B) bool: finite, unflagged flux and uncertainty
    flagged: np.ndarray      # (N,) bool: the object flag is set
    bands: list[BandColumns]
    id_column: str | None
    z_column: str


def load_catalog(path: str | Path, emulator_bands: Sequence[str], *,
                 column_map: Mapping[str, BandColumns] | None = None, flux_unit: str = "maggies",
                 z_column: str | None = None, id_column: str | None = None,
                 flag_column: str | None = None, flag_value: str | None = None,
                 missing_value: float | None = None) -> CatalogData:
    """Read a catalog and convert it to maggies; see :func:`resolve_bands` for the columns.

    Parameters
    ----------
    path : str or Path
    emulator_bands : sequence of str
        The emulator's sedpy filter names.
    column_map : mapping, optional
        From :func:`parse_column_map`.
    flux_unit : {'maggies', 'nJy', 'uJy', 'mJy', 'Jy'}
        Unit of the flux and uncertainty columns.
    z_column, id_column : str, optional
        Default: the first of ``z``/``zred``/``redshift``, ``id``/``ID``/``objid``/...;
        without an id column the row number is the id.
    flag_column : str, optional
        Objects whose flag equals ``flag_value`` (default: any nonzero / True flag) are
        reported as flagged and not fitted.
    missing_value : float, optional
        A sentinel (e.g. -99) meaning "no measurement" in flux or uncertainty columns.
    """
    if flux_unit not in FLUX_UNITS:
        raise ConfigurationError(f"--flux-unit {flux_unit!r}: use one of {list(FLUX_UNITS)}")
    table = read_table(path)
    names = table.colnames
    bands = resolve_bands(names, emulator_bands, column_map)
    zc = z_column or _find(names, Z_COLUMNS)
    if zc is None or zc not in names:
        want = repr(z_column) if z_column else " or ".join(Z_COLUMNS)
        raise ConfigurationError(f"catalog {path} has no redshift column {want}; its "
                                 f"columns: {names}. Name it with --z-column")
    if id_column is not None and id_column not in names:
        raise ConfigurationError(f"catalog {path} has no id column {id_column!r}; its columns: {names}")
    idc = id_column or _find(names, ID_COLUMNS)
    n = len(table)
    ids = [_python_id(v) for v in table[idc]] if idc else list(range(n))
    if len(set(ids)) != n:
        dup = sorted({str(i) for i in ids if ids.count(i) > 1})[:5]
        raise ConfigurationError(f"catalog ids in column {idc!r} are not unique (e.g. {dup}): results "
                                 "are stored by id; give a unique --id-column")
    scale = FLUX_UNITS[flux_unit]
    flux = np.column_stack([_float_column(table, b.flux) for b in bands])
    unc = np.column_stack([_float_column(table, b.unc) for b in bands])
    if missing_value is not None:  # in the catalog's own units, before conversion
        flux[flux == float(missing_value)] = np.nan
        unc[unc == float(missing_value)] = np.nan
    flux, unc = flux / scale, unc / scale
    band_ok = np.isfinite(flux) & np.isfinite(unc)
    for j, b in enumerate(bands):
        if b.flag is not None:
            band_ok[:, j] &= ~(_float_column(table, b.flag) != 0)
    flagged = np.zeros(n, dtype=bool)
    if flag_column is not None:
        if flag_column not in names:
            raise ConfigurationError(f"catalog {path} has no flag column {flag_column!r}; its "
                                     f"columns: {names}")
        col = table[flag_column]
        if flag_value is None:
            flagged = np.ma.filled(np.ma.asarray(col).astype(float), 0.0) != 0
        else:
            flagged = np.array([str(_python_id(v)) == str(flag_value) for v in col])
    return CatalogData(ids=ids, z=_float_column(table, zc), maggies=flux, unc=unc, band_ok=band_ok,
                       flagged=flagged, bands=bands, id_column=idc, z_column=zc)


def row_problem(data: CatalogData, i: int, zrange: tuple[float, float]) -> tuple[str, str] | None:
    """``(status, message)`` when row ``i`` cannot be fitted, else None."""
    if data.flagged[i]:
        return FLAGGED, "object flag set: not fitted"
    z = data.z[i]
    if not np.isfinite(z):
        return BAD_INPUT, f"redshift missing ({data.z_column} is NaN or masked)"
    lo, hi = zrange
    if not lo <= z <= hi:
        return BAD_INPUT, (f"redshift {data.z_column}={z:.4g} outside the emulator's zred training "
                           f"range [{lo:g}, {hi:g}]")
    ok = data.band_ok[i]
    bad_unc = ok & ~(data.unc[i] > 0)
    if bad_unc.any():
        names = [data.bands[j].band for j in np.flatnonzero(bad_unc)]
        return BAD_INPUT, f"negative or zero flux uncertainty in bands {names}"
    if not ok.any():
        return BAD_INPUT, "all fluxes missing (NaN, masked or flagged)"
    return None


# ---------------------------------------------------------------- writing


def _dataset_name(obj_id) -> str:
    return quote(str(obj_id), safe="") or "%00"


class Journal:
    """The append-only record of finished objects (``progress.jsonl``)."""

    def __init__(self, path: Path, config: dict[str, Any], config_hash: str, overwrite: bool = False):
        self.path = path
        self.rows: dict[Any, dict[str, Any]] = {}
        if path.exists() and not overwrite:
            self._load(config, config_hash)
        else:
            with open(path, "w") as fh:
                fh.write(json.dumps({"format": JOURNAL_FORMAT, "config_hash": config_hash,
                                     "config": config}) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def _load(self, config: dict[str, Any], config_hash: str) -> None:
        raw = self.path.read_bytes()
        good = 0
        lines = raw.split(b"\n")
        for k, line in enumerate(lines):
            if k == len(lines) - 1:  # after the last newline: empty, or a torn write
                break
            try:
                rec = json.loads(line)
            except ValueError:
                break
            if k == 0:
                if not isinstance(rec, dict) or rec.get("format") != JOURNAL_FORMAT:
                    raise ConfigurationError(f"{self.path} is not a prospect-emu fit-catalog journal: "
                                             "use another --out folder")
                if rec.get("config_hash") != config_hash:
                    old = rec.get("config", {})
                    diff = sorted(k2 for k2 in set(old) | set(config) if old.get(k2) != config.get(k2))
                    raise ConfigurationError(
                        f"{self.path.parent} holds a catalog fit with other settings (differing: "
                        f"{diff}), so it cannot be resumed: use a new --out folder, or --overwrite "
                        "to start again")
            else:
                self.rows[rec["id"]] = rec
            good += len(line) + 1
        if good == 0:
            raise ConfigurationError(f"{self.path} is empty or damaged: use --overwrite")
        if good < len(raw):  # drop a torn last line before appending
            with open(self.path, "r+b") as fh:
                fh.truncate(good)

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append summary rows, flushed to disk."""
        with open(self.path, "a") as fh:
            for row in rows:
                fh.write(json.dumps(row, allow_nan=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        for row in rows:
            self.rows[row["id"]] = row


def write_samples(path: Path, columns: Sequence[str], items: Sequence[tuple[Any, int, np.ndarray]]) -> None:
    """Store ``(id, row, draws)`` items in ``samples.h5`` (replacing leftovers of a run
    that stopped between the samples and the journal)."""
    from ..hdf5_files import open_for_writing

    with open_for_writing(path, "a") as hf:
        if "format" not in hf.attrs:
            hf.attrs["format"] = SAMPLES_FORMAT
            hf.attrs["columns"] = json.dumps(list(columns))
        grp = hf.require_group("samples")
        for obj_id, row, draws in items:
            name = _dataset_name(obj_id)
            if name in grp:
                del grp[name]
            ds = grp.create_dataset(name, data=np.asarray(draws, dtype=np.float32),
                                    compression="gzip", shuffle=True)
            ds.attrs["id"] = json.dumps(obj_id)
            ds.attrs["row"] = int(row)


def read_samples(path: str | Path, obj_id) -> tuple[list[str], np.ndarray]:
    """``(columns, draws)`` of one object from a fit-catalog ``samples.h5``."""
    import h5py

    with h5py.File(path, "r") as hf:
        name = _dataset_name(obj_id)
        if name not in hf.get("samples", {}):
            raise ConfigurationError(f"{path} holds no samples for object {obj_id!r}")
        return json.loads(hf.attrs["columns"]), hf["samples"][name][...]


def summary_table(rows: Sequence[dict[str, Any]], value_columns: Sequence[str]):
    """An astropy Table of summary rows (missing values NaN), in the given row order."""
    from astropy.table import Table

    fixed = ["id", "row", "z", "status", "message", "route", "ess", "ncall", "seconds", "nbands"]
    cols: dict[str, list] = {c: [] for c in fixed}
    stats = [f"{c}_{q}" for c in value_columns for q in ("p16", "p50", "p84")]
    for c in stats:
        cols[c] = []
    for r in rows:
        for c in fixed:
            cols[c].append(r.get(c))
        for c in stats:
            v = r.get(c)
            cols[c].append(np.nan if v is None else v)
    t = Table()
    for c in fixed:
        vals = cols[c]
        if c in ("ncall", "nbands"):
            t[c] = np.array([-1 if v is None else v for v in vals], dtype=np.int64)
        elif c in ("z", "seconds", "ess"):
            t[c] = np.array([np.nan if v is None else v for v in vals], dtype=float)
        elif c == "row":
            t[c] = np.array(vals, dtype=np.int64)
        elif c == "id" and vals and all(isinstance(v, int) for v in vals):
            t[c] = np.array(vals, dtype=np.int64)
        else:
            t[c] = np.array(["" if v is None else str(v) for v in vals], dtype=str)
    for c in stats:
        t[c] = np.array(cols[c], dtype=float)
    return t


def write_summary(path: Path, table) -> None:
    """Write the summary table; the format follows the extension (ECSV when unknown)."""
    ext = path.suffix.lower()
    tmp = path.with_name(path.name + ".tmp")
    if ext in (".fits", ".fit", ".fz"):
        table.write(tmp, format="fits", overwrite=True)
    elif ext in (".h5", ".hdf5"):
        table.write(tmp, format="hdf5", path="summary", overwrite=True, serialize_meta=True)
    elif ext == ".csv":
        table.write(tmp, format="ascii.csv", overwrite=True)
    else:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    tmp.replace(path)
