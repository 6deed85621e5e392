"""The emulator on disk and its numpy forward pass.  No Keras, no pickles.

An emulator is a directory::

    emulator.json   metadata (schema_version, inputs and their transforms, filters and
                    their transmission hashes, output transform, mass convention, layer
                    list, training configuration and history, package versions, the
                    training set's metadata, test-set error statistics)
    weights.npz     float32 arrays named in emulator.json's "layers"
    model.keras     optional, for continued training only; never read here

Inference is a plain numpy forward pass over float32 weights: tens of microseconds for
one vector, against ~50 ms for ``keras.Model.predict``.

Schema versions: 1 (always photometric) and 2 load as before; 3 adds ``inputs.ratios``,
the ratio inputs of :class:`~prospect_emu.emulator.transforms.InputTransform`.

Kinds (``emulator.json`` ``kind``, from schema version 2; listed once, in
:mod:`prospect_emu.emulator.kinds`): ``"photometry"``
(:class:`~prospect_emu.emulator.photometric.PhotometricEmulator`: the training set's bands,
zred an input) and ``"spectrum"`` (:class:`~prospect_emu.emulator.spectral.SpectralEmulator`:
a rest-frame spectrum from a PCA basis; zred, mass and distance exact; any sedpy filter).
This module holds the format and :class:`Emulator`, the base of every kind:
:meth:`Emulator.load` (and ``Emulator(meta, weights)``) returns the class of the artifact's
kind.  Kind-agnostic interface for callers such as ``EmulatedSpecModel`` (details in
:mod:`prospect_emu.emulator.spectral`)::

    emu.kind                                   # "photometry" | "spectrum"
    plan = emu.photometry_plan(filters, zred)  # once per (filter set, zred); cache it
    phot, mfrac = emu.photometry(x, plan)      # maggies per Msun formed at 10 pc
    # spectral kind only: wave, spec, mfrac = emu.predict_spectrum(x)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from . import kinds
from .kind_interface import KindMethods
from .transforms import InputTransform

#: written by this version; 1 (photometric emulators before the spectral kind) still loads
SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
#: the kinds of emulator behind the format (meta["kind"]; version 1 is always photometric);
#: the registry :mod:`prospect_emu.emulator.kinds` is where they are listed
KINDS = kinds.names()
META_FILE = "emulator.json"
WEIGHTS_FILE = "weights.npz"


@dataclass
class Prediction:
    """Emulator output for one vector (1-D arrays) or a batch (2-D arrays).

    Attributes
    ----------
    phot : ndarray
        Maggies per Msun formed, seen from 10 pc (see ``MASS_CONVENTION``), per band.
    mags : ndarray
        The asinh magnitudes the network predicts (``phot`` in magnitudes).
    mfrac : float or ndarray
        Surviving / formed stellar mass.
    out_of_bounds : ndarray of bool
        Per input (1-D) or per row and input (2-D): outside the training bounds.
    """

    phot: np.ndarray
    mags: np.ndarray
    mfrac: np.ndarray
    out_of_bounds: np.ndarray


class Emulator(KindMethods):
    """A trained SED emulator of any kind: load, predict, save; the base of every kind.

    ``Emulator.load(path)`` and ``Emulator(meta, weights)`` return the class of the
    artifact's kind (``meta["kind"]``, ``"photometry"`` when absent), found in
    :mod:`prospect_emu.emulator.kinds`: a
    :class:`~prospect_emu.emulator.photometric.PhotometricEmulator` or a
    :class:`~prospect_emu.emulator.spectral.SpectralEmulator`.  Every kind answers
    :meth:`photometry_plan` and :meth:`photometry` alike (see
    :mod:`prospect_emu.emulator.spectral` for the interface), and owns what differs between
    kinds as methods: its fast network (:meth:`fast_network`, ``plan_needs_zred``), the
    bands it can predict (:meth:`resolve_bands`, :meth:`band_softening`), its validation
    on an independent test set (:meth:`check_test_set`, :meth:`test_set_magnitudes`,
    :meth:`validation_extras`) and its training-configuration checks
    (:meth:`check_train_config`), so that callers delegate instead of testing the kind
    (:class:`~prospect_emu.emulator.kind_interface.KindMethods` lists them).

    Parameters
    ----------
    meta : dict
        The contents of ``emulator.json``.
    weights : mapping of str to ndarray
        The arrays of ``weights.npz``.
    """

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls is Emulator:  # the kind of the artifact
            meta = args[0] if args else kwargs.get("meta", {})
            cls = kinds.get(meta.get("kind", kinds.DEFAULT_KIND)).emulator_class()
        return super().__new__(cls)

    def __init__(self, meta: dict[str, Any], weights: Mapping[str, np.ndarray]):
        self.meta = meta
        self.weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.inputs = InputTransform.from_json(meta["inputs"])
        self.input_names: list[str] = list(self.inputs.names)

    # ---- loading and saving -------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Emulator:
        """Load an emulator directory with numpy and json only, as the class of its kind.

        Raises
        ------
        ConfigurationError
            For a missing, truncated or incompatible artifact, or (called on a kind's class)
            an artifact of another kind.
        """
        path = Path(path)
        meta_file, weights_file = path / META_FILE, path / WEIGHTS_FILE
        if not path.is_dir():
            raise ConfigurationError(f"emulator {path} does not exist (expected a directory holding "
                                     f"{META_FILE} and {WEIGHTS_FILE}, as written by prospect-emu train)")
        for f in (meta_file, weights_file):
            if not f.is_file():
                raise ConfigurationError(f"emulator {path} is missing {f.name}: copy the whole "
                                         "directory, or train it again")
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{meta_file} is not valid JSON ({exc}); the file is truncated "
                                     "or corrupted: copy or train the emulator again") from exc
        version = meta.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ConfigurationError(f"{meta_file} has schema_version {version!r}; this prospect-emu "
                                     f"reads versions {list(READABLE_VERSIONS)}: retrain it, or "
                                     "install the prospect-emu version that wrote it")
        kind = meta.get("kind", kinds.DEFAULT_KIND)
        if kind not in kinds.names():
            raise ConfigurationError(f"{meta_file} holds an emulator of kind {kind!r}; this "
                                     f"prospect-emu knows {list(kinds.names())}: install the "
                                     "version that wrote it")
        kind_cls = kinds.get(kind).emulator_class()
        if not issubclass(kind_cls, cls):
            raise ConfigurationError(f"{meta_file} holds an emulator of kind {kind!r}, not a "
                                     f"{cls.__name__}: load it with Emulator.load")
        try:
            with np.load(weights_file, allow_pickle=False) as npz:
                weights = {k: npz[k] for k in npz.files}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ConfigurationError(f"{weights_file} cannot be read ({exc}); the file is truncated "
                                     "or corrupted: copy or train the emulator again") from exc
        try:
            return kind_cls(meta, weights)
        except KeyError as exc:
            raise ConfigurationError(f"{meta_file} lacks the entry {exc}: it was not written by "
                                     "prospect-emu train, or is damaged") from exc

    def save(self, path: str | Path, extra_files: Mapping[str, str | Path] | None = None) -> Path:
        """Write the emulator directory (atomically: a complete directory or none)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; an emulator is meant to be shared
        try:
            (tmp / META_FILE).write_text(json.dumps(self.meta, indent=1, sort_keys=True))
            np.savez(tmp / WEIGHTS_FILE, **self.weights)
            for name, src in (extra_files or {}).items():
                shutil.copy2(src, tmp / name)
            if path.exists():
                old = path.with_name(path.name + ".old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    def record_independent_test(self, path: str | Path, entry: dict[str, Any]) -> Path:
        """Add (or replace) an independent test's summary in ``path``'s ``emulator.json``.

        ``entry`` is what :func:`prospect_emu.analysis.validate.independent_test_entry`
        builds: the test set (file name, rows used, seed, sampler), the date, and per output
        the median, 95th percentile and maximum |residual|.  An entry for the same test set
        (file name and seed) is replaced.  The file is rewritten atomically; weights and
        everything else in the directory are untouched, so the artifact keeps loading in
        older versions (an unknown key is ignored).
        """
        meta_file = Path(path) / META_FILE
        meta = json.loads(meta_file.read_text())
        if meta.get("created") != self.meta.get("created"):
            raise ConfigurationError(f"{meta_file} is not the emulator that was validated (it "
                                     "was rewritten since): validate it again")
        key = (entry["test_set"]["name"], entry["test_set"].get("seed"))
        tests = [t for t in meta.get("independent_tests", [])
                 if (t["test_set"]["name"], t["test_set"].get("seed")) != key]
        meta["independent_tests"] = tests + [entry]
        tmp = meta_file.with_name(meta_file.name + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
        os.replace(tmp, meta_file)
        self.meta["independent_tests"] = meta["independent_tests"]
        return meta_file

    # ---- inference ----------------------------------------------------------------------
    # ---- inference ----------------------------------------------------------------------
    def forward(self, x_scaled: np.ndarray, block: int = 512) -> np.ndarray:
        """The network on scaled inputs (float32), standardised outputs.

        Batches run in blocks of ``block`` rows, so that the activations work on
        arrays that stay in the CPU cache.
        """
        x = np.asarray(x_scaled, dtype=np.float32)
        if x.ndim == 2 and len(x) > block:
            out = np.empty((len(x), len(self._out_mean)), dtype=np.float32)
            for i in range(0, len(x), block):
                out[i:i + block] = self._forward_block(x[i:i + block])
            return out
        return self._forward_block(x)

    def _forward_block(self, x: np.ndarray) -> np.ndarray:
        for kind, a, b in self._layers:
            if kind == "dense":
                x = x @ a
                x += b
            else:
                x = a(x)
        return x

    def as_vector(self, theta: np.ndarray | Mapping[str, Any], names: Sequence[str] | None = None) -> np.ndarray:
        """Inputs in stored order from an array (stored order, or ``names``) or a mapping.

        A mapping holds one value per input: all scalars (one vector), or 1-D arrays of
        one common length (a batch), where scalars are repeated for every row.  Arrays of
        different lengths, or of more than one dimension, raise ``ConfigurationError``.
        """
        if isinstance(theta, Mapping):
            missing = [n for n in self.input_names if n not in theta]
            if missing:
                raise ConfigurationError(f"no value for emulator input(s) {missing}; inputs are "
                                         f"{self.input_names}")
            cols = [np.asarray(theta[n], dtype=float) for n in self.input_names]
            if all(c.ndim == 0 for c in cols):
                return np.array(cols)
            bad = {n: c.shape for n, c in zip(self.input_names, cols) if c.ndim > 1}
            lengths = {len(c) for c in cols if c.ndim == 1}
            if bad or len(lengths) > 1:
                shapes = {n: c.shape for n, c in zip(self.input_names, cols)}
                raise ConfigurationError(f"emulator inputs given as a mapping must be scalars or 1-D "
                                         f"arrays of one common length (scalars are repeated); got "
                                         f"shapes {shapes}")
            n_rows = lengths.pop()
            return np.column_stack([np.broadcast_to(c, (n_rows,)) for c in cols])
        x = np.asarray(theta, dtype=float)
        if names is not None:
            names = list(names)
            missing = [n for n in self.input_names if n not in names]
            if missing:
                raise ConfigurationError(f"no column for emulator input(s) {missing} in {names}")
            x = x[..., [names.index(n) for n in self.input_names]]
        if x.shape[-1] != len(self.input_names):
            raise ConfigurationError(f"expected {len(self.input_names)} inputs {self.input_names}, "
                                     f"got shape {x.shape}")
        return x

    def predict_one(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """Hot path for a likelihood: one vector in stored order -> (asinh mags, mfrac).

        The magnitudes are float32, as the network computes them.

        Raises ``ValueError`` (which Prospector's ``lnprobfn`` turns into -inf) when an
        input is outside the training bounds or not finite.
        """
        t = self.inputs
        s = np.array(x, dtype=float)
        if t.log_idx.size:
            s[t.log_idx] = np.log10(s[t.log_idx])
        s -= t.center
        s *= t.inv_half
        if not np.abs(s).max() <= 1.0 + 1e-9:  # also catches NaN
            raise ValueError(self.bounds_message(np.asarray(x, dtype=float), ~(np.abs(s) <= 1.0 + 1e-9)))
        if t.ratios:
            s = np.concatenate([s, t.ratio_features(np.asarray(x, dtype=float))])
        z = s.astype(np.float32)
        for w, b, act in self._fast_layers:
            z = np.dot(z, w)
            z += b
            if act is not None:
                z = act(z)
        return z[:-1], 10.0 ** float(z[-1])

    def _build_fast_layers(self) -> None:
        """(W, b, activation) per dense layer for :meth:`predict_one`, with the output
        de-standardisation folded into the last (linear) layer."""
        fast = []
        layers = list(self._layers)
        i = 0
        while i < len(layers):
            _, w, b = layers[i]
            act = layers[i + 1][1] if i + 1 < len(layers) and layers[i + 1][0] == "act" else None
            fast.append((w, b, act))
            i += 2 if act is not None else 1
        w, b, act = fast[-1]
        if act is not None:  # pragma: no cover - networks always end in a linear layer
            raise ConfigurationError("the emulator's last layer must be linear")
        fast[-1] = ((w * self._out_std).astype(np.float32),
                    (b * self._out_std + self._out_mean).astype(np.float32), None)
        self._fast_layers = fast

    def bounds_message(self, x: np.ndarray, oob: np.ndarray) -> str:
        x2, o2 = np.atleast_2d(x), np.atleast_2d(oob)
        cols = np.flatnonzero(o2.any(axis=0))
        parts = [f"{self.input_names[j]} (e.g. {x2[o2[:, j], j][0]:.4g} outside "
                 f"[{self.inputs.raw_lo[j]:.4g}, {self.inputs.raw_hi[j]:.4g}])" for j in cols]
        return ("parameters outside the emulator's training bounds: " + "; ".join(parts) +
                ". The emulator does not extrapolate: narrow the priors or train on a wider set.")

    def band_indices(self, names: Sequence[str]) -> np.ndarray:
        """Output indices of filter names; a clear error for a band the emulator lacks."""
        missing = [n for n in names if n not in self._band_index]
        if missing:
            raise ConfigurationError(f"the emulator has no band {missing}; it predicts "
                                     f"{self.filter_names}. Drop those bands from obs or train an "
                                     "emulator that includes them")
        return np.array([self._band_index[n] for n in names], dtype=int)

    # ---- description --------------------------------------------------------------------
    @property
    def error_stats(self) -> dict[str, Any]:
        return self.meta.get("test_errors", {})

    def _input_lines(self) -> list[str]:
        """One ``info`` line per input: its training bounds, and whether it is log-scaled."""
        lines = []
        for j, n in enumerate(self.input_names):
            log = " (log10-scaled)" if self.inputs.log[j] else ""
            lines.append(f"  {n:12s} [{self.inputs.raw_lo[j]:.4g}, {self.inputs.raw_hi[j]:.4g}]{log}")
        for name, (_, _, cap) in zip(self.inputs.ratio_names, self.inputs.ratios):
            lines.append(f"  {name:12s} min(ratio, {cap:g}), a network input computed from the two")
        return lines


def independent_test_lines(meta: Mapping[str, Any]) -> list[str]:
    """``prospect-emu info`` lines for the independent tests recorded in ``meta``
    (:meth:`Emulator.record_independent_test`), newest last."""
    lines = []
    for t in meta.get("independent_tests", []):
        ts_ = t["test_set"]
        lines.append(f"independent test set {ts_['name']} (seed {ts_.get('seed')}, "
                     f"{ts_.get('sampler', {}).get('kind', '?')} draws, {t['n_used']} SEDs the "
                     f"emulator never saw, against FSPS; validated {t.get('date', '?')}), "
                     "|delta| asinh mag:")
        lines.append(f"  {'band':12s} {'median|d|':>9s} {'p95|d|':>8s} {'max|d|':>8s}")
        for b in t.get("names", list(t["per_output"])):
            st = t["per_output"][b]
            lines.append(f"  {b:12s} {st['median_abs']:9.4f} {st['p95_abs']:8.4f} "
                         f"{st['max_abs']:8.4f}")
        a = t.get("all_bands")
        if a:
            lines.append(f"  {'all bands':12s} {a['median_abs']:9.4f} {a['p95_abs']:8.4f} "
                         f"{a['max_abs']:8.4f}")
    return lines
