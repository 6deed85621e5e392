"""SEDs for parameter rows, worker side: build the model and sps once per process from
a parameter file, then photometry (and optionally rest-frame spectra) per unit formed mass
for a chunk of rows.  :mod:`prospect_emu.trainingdata.generate` plans the rows, hands
chunks to these functions through an executor and writes the results.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dependencies import fix_known_transforms
from ..errors import ConfigurationError
from ..filters import load_filters
from ..normalization import model_scaling
from ..paramfile import load_param_file, run_params_for_json
from . import trainingset as ts
from .sampling import same_state, spectrum_state


@dataclass(frozen=True)
class ModelSource:
    """A picklable recipe for the model and sps: a parameter file and its run_params."""

    param_file: str
    run_params: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return json.dumps([self.param_file, run_params_for_json(self.run_params)], sort_keys=True)


# Built (model, sps) per worker process, keyed by ModelSource.key().
_BUILT: dict[str, tuple[Any, Any]] = {}


def build_from_source(source: ModelSource, with_sps: bool = True) -> tuple[Any, Any, Any]:
    """Build (module, model, sps) from a parameter file; sps is cached per process."""
    module = load_param_file(source.param_file)
    key = source.key()
    if with_sps and key in _BUILT:
        return module, *_BUILT[key]
    model = module.build_model(**source.run_params)
    fix_known_transforms(model)  # Prospector's zred_to_agebins fails on an array zred
    sps = None
    if with_sps:
        if not callable(getattr(module, "build_sps", None)):
            raise ConfigurationError(f"parameter file {source.param_file} defines no "
                                     "build_sps(**run_params), needed to generate SEDs")
        sps = module.build_sps(**source.run_params)
        _BUILT[key] = (model, sps)
    return module, model, sps


def _spectrum_reusable(model) -> bool:
    """Whether photometry at another mass/redshift can reuse the rest-frame spectrum."""
    from prospect.models import SpecModel

    if not isinstance(model, SpecModel):
        return False
    p = model.params
    return not (np.any(p.get("add_igm_absorption", False)) or np.any(p.get("add_neb_emission", False)))


#: relative margin on the default rest-frame wavelength range of stored spectra
WAVE_MARGIN = 0.1
#: upper end (AA, 1000 um rest) of the default stored range of a model with dust emission
#: or an AGN torus (:func:`far_ir_emitters`): past the far-IR peak of the DL07 dust and the
#: Nenkova torus, so one spectral emulator serves far-IR bands at any redshift
FAR_IR_WAVE = 1.0e7


def far_ir_emitters(model) -> list[str]:
    """What in a Prospector model emits in the far-IR (the reasons the default stored range
    reaches :data:`FAR_IR_WAVE`): dust emission (``add_dust_emission`` set on, or left at
    FSPS's default with ``duste_*`` parameters in the model) and an AGN torus (``fagn``
    free or above 0, ``add_agn_dust`` not off).  A model that sets neither relies on FSPS
    defaults only and keeps the range its filters need (pass ``--wave-range`` to extend it)."""
    p, free = model.params, set(getattr(model, "theta_index", {}))

    def on(name: str) -> bool:
        return bool(np.any(np.asarray(p[name], dtype=float) != 0))
    out = []
    if ("add_dust_emission" in p and on("add_dust_emission")) or (
            "add_dust_emission" not in p and any(k.startswith("duste_") for k in p)):
        out.append("dust emission")
    if "fagn" in p and ("fagn" in free or on("fagn")) and \
            ("add_agn_dust" not in p or on("add_agn_dust")):
        out.append("an AGN torus")
    return out


def default_wave_range(filters, zred_range: Sequence[float]) -> tuple[float, float]:
    """The rest-frame range (AA) that covers ``filters`` over ``zred_range``, plus a margin.

    A filter's transmission spans [lo, hi] observed; at redshift z it samples the rest frame
    [lo / (1 + z), hi / (1 + z)], so the union over z in [z0, z1] is
    [lo_min / (1 + z1), hi_max / (1 + z0)]; then ``WAVE_MARGIN`` (10%) on either side.
    """
    los, his = [], []
    for f in filters:
        pos = np.flatnonzero(np.asarray(f.transmission) > 0)
        w = np.asarray(f.wavelength)[pos]
        los.append(w.min())
        his.append(w.max())
    z0, z1 = (float(z) for z in zred_range)
    return (float(min(los) / (1 + z1) * (1 - WAVE_MARGIN)),
            float(max(his) / (1 + z0) * (1 + WAVE_MARGIN)))


def wave_slice(wavelength: np.ndarray, wave_range: Sequence[float] | None) -> slice:
    """The fewest contiguous pixels of ``wavelength`` covering ``wave_range``: the first at
    or below its low end, the last at or above its high end (or the grid's ends)."""
    if wave_range is None:
        return slice(None)
    lo, hi = wave_range
    i0 = max(int(np.searchsorted(wavelength, lo, side="right")) - 1, 0)
    i1 = min(int(np.searchsorted(wavelength, hi, side="left")), len(wavelength) - 1)
    return slice(i0, i1 + 1)


def compute_rows(model, sps, rows: np.ndarray, names: Sequence[str], ndim: int, filters,
                 store_spectrum: bool = False, first_row: int = 0,
                 wave_range: Sequence[float] | None = None) -> dict[str, Any]:
    """Photometry per unit formed mass at 10 pc for each parameter row.

    A row reuses the previous row's rest-frame spectrum (SpecModel without IGM
    absorption or nebular emission) only when every model parameter that can change
    it, after the model's ``depends_on`` parameters were computed for the row, is
    unchanged (:func:`~prospect_emu.trainingdata.sampling.spectrum_state`): rows differing only in
    ``zred``, ``lumdist`` or a scalar ``mass``.

    Parameters
    ----------
    model, sps
        A Prospector model and its source object.
    rows : ndarray, (n, P)
        Parameter rows: the first ``ndim`` columns are theta, the rest are fixed
        parameters named by ``names[ndim:]``.
    filters : list of sedpy filters
    store_spectrum : bool
        Also return the rest-frame spectrum per Msun formed (SpecModel only).
    first_row : int
        Index of ``rows[0]`` in the set, for failure messages.
    wave_range : (lo, hi), optional
        Rest-frame wavelength range (AA) of the stored spectra (see :func:`wave_slice`);
        None keeps the whole FSPS grid.

    Returns
    -------
    dict
        ``phot`` (n, F), ``mfrac`` (n,), ``status`` (n,) int8, ``spectrum`` or None,
        ``wavelength`` or None, ``errors`` [(row, message)], ``seconds``.
    """
    t0 = time.perf_counter()
    extra = list(names[ndim:])
    n = len(rows)
    phot = np.full((n, len(filters)), np.nan)
    mfrac = np.full(n, np.nan)
    status = np.full(n, ts.OK, dtype=np.int8)
    spectra = None
    wavelength = None
    errors: list[tuple[int, str]] = []
    obs = {"filters": filters, "wavelength": None, "spectrum": None, "maggies": None}
    reusable = _spectrum_reusable(model)
    previous = None  # spectrum_state of the row whose spectrum the model holds
    for i, row in enumerate(rows):
        for j, name in enumerate(extra):
            model.params[name] = np.atleast_1d(row[ndim + j]).astype(float)
        theta = np.asarray(row[:ndim], dtype=float)
        try:
            state = None
            if reusable:
                model.set_parameters(theta)  # computes the depends_on parameters too
                state = spectrum_state(model.params)
            if previous is not None and same_state(state, previous):
                model._zred = model.params.get("zred", 0)
                model._norm_spec = model._spec * model.flux_norm()
                p = model.predict_phot(filters)
                mf = model._mfrac
            else:
                previous = None
                _, p, mf = model.predict(theta, obs=obs, sps=sps)
                previous = state
            q = np.atleast_1d(p) / model_scaling(model.params)
            mf = float(np.squeeze(mf))
            if not (np.all(np.isfinite(q)) and np.isfinite(mf)):
                raise FloatingPointError("FSPS returned NaN or inf photometry")
            phot[i] = q
            mfrac[i] = mf
            if store_spectrum:
                if getattr(model, "_spec", None) is None:
                    raise ConfigurationError("storing spectra needs a SpecModel (Prospector's "
                                             "legacy SedModel gives no rest-frame spectrum)")
                if spectra is None:
                    sl = wave_slice(np.asarray(model._wave, dtype=float), wave_range)
                    wavelength = np.asarray(model._wave, dtype=float)[sl]
                    spectra = np.full((n, len(wavelength)), np.nan, dtype=np.float32)
                spectra[i] = model._spec[sl]
        except ConfigurationError:
            raise
        except Exception as exc:  # a failed draw is kept and reported, never dropped
            status[i] = ts.FAILED
            errors.append((first_row + i, f"{type(exc).__name__}: {exc}"))
            previous = None
    return {"phot": phot, "mfrac": mfrac, "status": status, "spectrum": spectra,
            "wavelength": wavelength, "errors": errors, "seconds": time.perf_counter() - t0}


def run_chunk(source: ModelSource, filter_list: Sequence[str], rows: np.ndarray,
              names: Sequence[str], ndim: int, store_spectrum: bool, first_row: int,
              wave_range: Sequence[float] | None = None) -> dict[str, Any]:
    """Worker entry point: build (once per process) and compute one chunk of rows."""
    _, model, sps = build_from_source(source)
    filters = load_filters(filter_list)
    out = compute_rows(model, sps, rows, names, ndim, filters, store_spectrum, first_row,
                       wave_range)
    out["pid"] = os.getpid()
    return out
