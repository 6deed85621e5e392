"""The spectral emulator kind: numpy inference of rest-frame spectra, and exact photometry.

An artifact of ``kind == "spectrum"`` (schema version 2) holds, besides the network
(``layers``, as the photometric kind), in ``weights.npz``:

    wavelength   (W,)    rest-frame wavelength grid, AA (a contiguous slice of FSPS's)
    pca_mean     (W,)    mean log10 spectrum (log10 Lsun/Hz per Msun formed)
    pca_scale    (W,)    per-wavelength scale of the log10 spectra
    pca_basis    (K, W)  orthonormal basis of the standardised log10 spectra
    coeff_mean, coeff_std  (K,)  standardisation of the network's coefficient outputs

and in ``emulator.json``: ``outputs`` (``n_components``, ``log10_mfrac_mean`` and
``_std``, ``softening`` per training band for the asinh-magnitude error statistics),
``pca`` (reconstruction tolerance and measured errors), ``spectral_errors`` (held-out
fractional error per wavelength and overall) and ``test_errors`` (the implied held-out
photometric error in the training set's bands, asinh mag, same layout as the photometric
kind's).  The network's inputs exclude zred, mass and lumdist: they enter exactly; zred is
also a network input where a derived parameter of the training model follows it (age bins
set from zred), since the rest-frame spectrum then changes with it.

Interface for callers (both kinds; ``emu = Emulator.load(path)``)::

    emu.kind                                  # "photometry" or "spectrum"
    plan = emu.photometry_plan(filters, zred) # cache per (filter set, zred, igm_factor);
                                              # for the spectral kind a PhotometryProjection,
                                              # built in ~0.1 ms per filter; refuses bands
                                              # outside the emulated rest-frame range at zred;
                                              # igm_factor=f folds in FSPS's IGM absorption
    phot, mfrac = emu.photometry(x, plan)     # x: one input vector in emu.input_names
                                              # order; phot in maggies per Msun formed at
                                              # 10 pc (MASS_CONVENTION); ValueError outside
                                              # the training bounds (Prospector: -inf)

Spectral kind only::

    wave, spec, mfrac = emu.predict_spectrum(x)   # rest frame, Lsun/Hz per Msun formed;
                                                  # x one vector or a batch (n, n_inputs)
    phot, mfrac = emu.predict_photometry(x, filters, zred)   # cached plan, any batch
    # (igm_factor=f: FSPS's IGM absorption after redshifting, prospect_emu.emulator.igm;
    # the rest frame itself has none, so one emulator serves any zred)
    sps = prospect_emu.prospector.sps.EmulatedSPS(emu)       # an sps object for Prospector's models

Observed maggies are then ``phot * mass * distance_factor(zred, lumdist)``
(:mod:`prospect_emu.normalization`), as the photometric kind.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..filters import filter_names as _filter_names
from ..filters import transmission_mismatches
from . import spectral_metrics
from .artifact import Emulator, independent_test_lines
from .fastpath import SpectralNetwork
from .numpy_layers import build_layers, check_layer_chain
from .projection import (  # noqa: F401 - re-exported: the spectral kind's projection
    JANSKY_CGS,
    LIGHTSPEED,
    LSUN,
    PC,
    TO_CGS_AT_10PC,
    PhotometryProjection,
    projection_matrix,
)
from .transforms import asinh_mag

_MAX_PLANS = 256
#: applied exactly after redshifting, never network inputs (the rest frame has no IGM)
IGM_PARAMETERS = ("add_igm_absorption", "igm_factor")
LN10 = np.log(10.0)


class SpectralEmulator(Emulator):
    """A trained rest-frame spectral emulator (``kind == "spectrum"``), a sibling of
    :class:`~prospect_emu.emulator.photometric.PhotometricEmulator`.

    Parameters
    ----------
    meta : dict
        The contents of ``emulator.json`` (``kind: "spectrum"``).
    weights : mapping of str to ndarray
        The arrays of ``weights.npz``.
    """

    kind = "spectrum"
    predicts_spectrum = True
    reads_test_spectra = True
    plan_needs_zred = True

    def __init__(self, meta: dict[str, Any], weights):  # noqa: D107 - see class docstring
        super().__init__(meta, weights)
        out = meta["outputs"]
        self.filter_names = list(out.get("filter_names", []))
        self._band_index = {n: i for i, n in enumerate(self.filter_names)}
        self.softening = np.asarray(out.get("softening", []), dtype=float)
        w64 = {k: np.asarray(weights[k], dtype=float) for k in
               ("wavelength", "pca_mean", "pca_scale", "pca_basis", "coeff_mean", "coeff_std")}
        self.wavelength = w64["wavelength"]
        k, n_w = w64["pca_basis"].shape if w64["pca_basis"].ndim == 2 else (-1, -1)
        fix = "the artifact is damaged or its files come from different trainings: train it again"
        if k != int(out["n_components"]) or n_w != len(self.wavelength) or any(
                w64[a].shape != (n_w,) for a in ("pca_mean", "pca_scale")) or any(
                w64[a].shape != (k,) for a in ("coeff_mean", "coeff_std")):
            raise ConfigurationError(
                f"the spectral emulator's PCA arrays do not match: basis {w64['pca_basis'].shape}, "
                f"wavelength {self.wavelength.shape}, n_components {out['n_components']}; {fix}")
        for name, arr in (("lo", self.inputs.lo), ("hi", self.inputs.hi), ("log10", self.inputs.log)):
            if arr.shape != (len(self.input_names),):
                raise ConfigurationError(f"inputs.{name} has shape {arr.shape}, expected "
                                         f"({len(self.input_names)},); {fix}")
        check_layer_chain(meta["layers"], self.weights, self.inputs.n_network, k + 1,
                          f"{k} PCA coefficients + log10 mfrac")
        self._mean, self._scale = w64["pca_mean"], w64["pca_scale"]
        self._basis_scaled = w64["pca_basis"] * self._scale          # (K, W)
        self._mean_ln, self._basis_ln = LN10 * self._mean, LN10 * self._basis_scaled
        self._layers = build_layers(meta, self.weights)
        self._out_mean = np.append(w64["coeff_mean"], out["log10_mfrac_mean"]).astype(np.float32)
        self._out_std = np.append(w64["coeff_std"], out["log10_mfrac_std"]).astype(np.float32)
        self._build_fast_layers()
        self._plans: OrderedDict = OrderedDict()

    @property
    def n_components(self) -> int:
        return int(self._basis_scaled.shape[0])

    # ---- inference ----------------------------------------------------------------------
    def predict(self, theta, names: Sequence[str] | None = None, strict: bool = False):
        """Not for this kind: it has no fixed bands."""
        raise ConfigurationError("a spectral emulator has no fixed bands: use "
                                 "predict_photometry(x, filters, zred), photometry_plan + "
                                 "photometry, or predict_spectrum(x)")

    def coefficients_one(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """One input vector (stored order) -> (PCA coefficients, mfrac).

        Raises ``ValueError`` outside the training bounds or for NaN (Prospector: -inf).
        """
        z, mfrac = self.predict_one(x)
        return z.astype(float), mfrac

    def coefficients(self, theta, names: Sequence[str] | None = None,
                     strict: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(coefficients (…, K), mfrac, out_of_bounds) for one vector or a batch."""
        x = self.as_vector(theta, names)
        oob = self.inputs.out_of_bounds(x) | ~np.isfinite(x)
        if strict and oob.any():
            raise ValueError(self.bounds_message(x, oob))
        z = self.forward(self.inputs(x)).astype(float) * self._out_std + self._out_mean
        return z[..., :-1], 10.0 ** z[..., -1], oob

    def log_spectrum(self, coeffs: np.ndarray) -> np.ndarray:
        """log10 rest-frame spectrum (Lsun/Hz per Msun formed) from PCA coefficients."""
        return self._mean + coeffs @ self._basis_scaled

    def predict_spectrum(self, theta, names: Sequence[str] | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray | float]:
        """Rest-frame spectrum per Msun formed for one vector or a batch.

        Parameters
        ----------
        theta : array (n_inputs,) or (n, n_inputs), or mapping name -> value(s)
            Inputs in stored order (``input_names``: no mass or lumdist, and zred only where
            the training model ties a parameter to it).
        names : sequence of str, optional
            Column names of ``theta`` when it is not in stored order.

        Returns
        -------
        wave : ndarray (W,)
            Rest-frame wavelength, AA.
        spec : ndarray (W,) or (n, W)
            L_nu in Lsun/Hz per Msun formed (FSPS units).
        mfrac : float or ndarray (n,)
            Surviving / formed stellar mass.

        Raises
        ------
        ValueError
            For inputs outside the training bounds or NaN.
        """
        x = self.as_vector(theta, names)
        if x.ndim == 1:
            c, mfrac = self.coefficients_one(x)
        else:
            c, mfrac, _ = self.coefficients(x)
        return self.wavelength, np.exp(self._mean_ln + c @ self._basis_ln), mfrac

    def photometry_plan(self, filters, zred: float | None = None,
                        igm_factor: float | None = None) -> PhotometryProjection:
        """The cached :class:`PhotometryProjection` of ``filters`` (sedpy filters or names)
        at ``zred``, with FSPS's IGM absorption scaled by ``igm_factor`` (None: no IGM;
        a model with ``add_igm_absorption`` passes its ``igm_factor``); a
        ConfigurationError names a band outside the emulated range."""
        if zred is None:
            raise ConfigurationError("the spectral emulator needs the redshift: pass zred")
        if not all(hasattr(f, "transmission") for f in filters):
            from ..filters import load_filters

            filters = load_filters([getattr(f, "name", f) for f in filters])
        from ..filters import filter_hash

        igm = None if igm_factor is None else float(igm_factor)
        key = (tuple((f.name, filter_hash(f)) for f in filters), float(zred), igm)
        plan = self._plans.get(key)
        if plan is None:
            plan = projection_matrix(self.wavelength, filters, zred, igm_factor=igm)
            keep = np.flatnonzero(np.any(plan.matrix != 0, axis=1))
            plan.pixels = plan.lo + keep
            plan.offset = self._mean_ln[plan.pixels]
            plan.basis = np.ascontiguousarray(self._basis_ln[:, plan.pixels])
            plan.weights = np.ascontiguousarray(plan.matrix[keep])
            if len(self._plans) >= _MAX_PLANS:
                self._plans.popitem(last=False)
            self._plans[key] = plan
        return plan

    def photometry(self, x: np.ndarray, plan: PhotometryProjection) -> tuple[np.ndarray, float]:
        """Maggies per Msun formed at 10 pc through ``plan`` and mfrac, for one vector.

        Costs the network, a (K, P) product, an exponential and a (P, F) product, P the
        pixels inside the filters' supports.  Raises ``ValueError`` outside the training
        bounds.
        """
        c, mfrac = self.coefficients_one(x)
        return plan.photometry(c), mfrac

    def predict_photometry(self, theta, filters, zred: float,
                           names: Sequence[str] | None = None,
                           igm_factor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Maggies per Msun formed at 10 pc and mfrac, one vector or a batch, at ``zred``
        (with FSPS's IGM absorption scaled by ``igm_factor``; None: none)."""
        plan = self.photometry_plan(filters, zred, igm_factor)
        x = self.as_vector(theta, names)
        if x.ndim == 1:
            return self.photometry(x, plan)
        c, mfrac, _ = self.coefficients(x)
        return plan.photometry(c), mfrac

    def photometry_rows(self, x: np.ndarray, filters, zred: np.ndarray,
                        igm_factor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Maggies per Msun formed at 10 pc through ``filters`` for rows ``x`` at per-row
        ``zred``, and the usable rows.  Rows at one redshift share one projection: draw
        redshifts on a grid (``np.unique(zred)`` projections are built)."""
        c, _, oob = self.coefficients(np.asarray(x, dtype=float), strict=False)
        zred = np.asarray(zred, dtype=float)
        phot = np.full((len(c), len(filters)), np.nan)
        for z in np.unique(zred):
            rows = np.flatnonzero(zred == z)
            phot[rows] = self.photometry_plan(filters, z, igm_factor).photometry(c[rows])
        return phot, ~oob.any(axis=-1) & np.all(np.isfinite(phot), axis=1)

    # ---- the kind's part of the likelihood, model, validation and training ----------------
    @classmethod
    def check_train_config(cls, config: Any) -> None:
        """``--pixel-weight-power`` in [0, 1]; none of the photometric kind's step-counted
        recipe options (this kind trains by passes over the rows)."""
        p = config.pixel_weight_power
        if p is not None and not 0.0 <= p <= 1.0:
            raise ConfigurationError(f"--pixel-weight-power {p} lies outside [0, 1]: 0 "
                                     "standardises each pixel's log flux, 1 weighs every "
                                     "pixel's fractional error the same")
        stepped = [opt for opt, used in (
            ("--steps", config.steps is not None),
            ("--patience-steps", config.patience_steps is not None),
            ("--eval-every", config.eval_every is not None),
            ("--decay cosine", config.decay != "constant"),
            ("LR:BATCH:STEPS stages in --schedule", any(len(st) > 2 for st in config.schedule)))
            if used]
        if stepped:
            raise ConfigurationError(
                f"{', '.join(stepped)}: the spectral kind trains by passes over the rows "
                "(stages LR:BATCH, --epochs, --patience, --max-minutes at an epoch end); "
                "the step-counted recipe is the photometric kind's. Drop those options")

    def fast_network(self, filters, used: np.ndarray, bands: np.ndarray, zred: float,
                     two_soft: np.ndarray, igm_factor: float | None = None) -> SpectralNetwork:
        """The spectral network through the projection of the used filters at ``zred``
        (with IGM absorption scaled by ``igm_factor``; None: none)."""
        filters = list(filters)
        plan = self.photometry_plan([filters[i] for i in used], zred, igm_factor)
        return SpectralNetwork(self, plan, two_soft)

    def resolve_bands(self, filters, band_hashes) -> tuple[np.ndarray, list[str]]:
        """Any sedpy filter is predicted exactly; the index is that of the training band of
        the same name and transmission (whose held-out error statistics apply), -1 for the
        others (whether a band lies inside the emulated range depends on zred: see
        :meth:`photometry_plan`)."""
        names = _filter_names(filters)
        idx = np.array([self._band_index.get(n, -1) for n in names], dtype=int)
        if band_hashes and not hasattr(filters, "filternames"):
            bad = set(transmission_mismatches(filters, band_hashes))
            idx[[i for i, n in enumerate(names) if n in bad]] = -1
        return idx, []

    def band_softening(self, idx: np.ndarray) -> np.ndarray:
        """The training bands' softening; for other bands (-1) the median of theirs, which
        only sets a scale."""
        soft = self.softening
        fill = self.__dict__.get("_soft_fill")  # np.median costs ~10 us: once
        if fill is None:
            fill = self._soft_fill = float(np.median(soft)) if soft.size else 1e-10
        return np.where(idx >= 0, soft[np.maximum(idx, 0)] if soft.size else fill, fill)

    def zred_coverage(self, filters, fixed_zred: float) -> tuple[float, float]:
        """Any redshift at which every band lies inside the emulated rest-frame range (the
        projection redshifts the spectrum; ``fixed_zred`` does not bind)."""
        lo, hi = 0.0, np.inf
        for f in filters:
            a, b = spectral_metrics.band_zred_range(f, self.wavelength)
            lo, hi = max(lo, a), min(hi, b)
        return float(lo), float(hi)

    def mfrac_rows(self, x: np.ndarray, scaled_rows: Any = None) -> np.ndarray:
        """mfrac per row from the network's coefficients pass (NaN outside the box)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        out = np.full(len(x), np.nan)
        inside = ~(self.inputs.out_of_bounds(x) | ~np.isfinite(x)).any(axis=1)
        if inside.any():
            out[inside] = self.coefficients(x[inside], strict=False)[1]
        return out

    @property
    def exact_parameters(self) -> set[str]:
        """zred, mass, distance (the artifact's list), ``sigma_smooth`` (Prospector
        redshifts and smooths the emulated spectrum) and the IGM switches (the rest frame
        has none: :mod:`~prospect_emu.emulator.igm` applies FSPS's after redshifting)."""
        return set(self.meta.get("exact_parameters", ())) | set(IGM_PARAMETERS) | {"sigma_smooth"}

    def check_test_set(self, test: Any, label: str) -> None:
        """Any filter, at each row's redshift: a ``zred`` column, or the test set's fixed
        zred (a fixed-zred model validated at its own redshift)."""
        spectral_metrics.test_set_zred(test)  # a fixed zred it cannot read: refused

    def _usable_bands(self, test: Any) -> tuple[list[str], dict[str, Any]]:
        """(bands projected at every row's zred, the others with their usable zred range)."""
        key = (str(test.path), len(test.status))
        cached = self.__dict__.get("_usable")
        if cached is None or cached[0] != key:
            cached = self._usable = (key, spectral_metrics.usable_bands(self.wavelength, test))
        return cached[1]

    def validation_bands(self, test: Any) -> list[str]:
        """Every band of the test set that lies inside the emulated rest-frame range at
        every row's zred; each other band is left out with a warning naming it and the zred
        range where it can be validated (a ConfigurationError when none is left)."""
        bands, left = self._usable_bands(test)
        for info in left.values():
            warnings.warn(info["message"], UserWarning, stacklevel=3)
        if not bands:
            raise ConfigurationError(
                f"no band of {test.path} lies inside the spectral emulator's rest-frame range at "
                "every row's zred: " + "; ".join(i["message"] for i in left.values()))
        return bands

    def test_set_magnitudes(self, test: Any, rows: np.ndarray, x: np.ndarray
                            ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The bands of :meth:`validation_bands`, projected at each row's redshift (with the
        IGM of the test set's model), with the softening of the training bands (elsewhere
        1e-4 of the band's median FSPS flux)."""
        bands = self._usable_bands(test)[0]
        if not bands:
            self.validation_bands(test)  # raises, naming the bands and their zred ranges
        phot, mfrac = spectral_metrics.test_set_photometry(self, test, rows, x, bands)
        known = dict(zip(self.filter_names, self.softening))
        cols = [list(test.filter_names).index(b) for b in bands]
        soft = np.array([known.get(b, 1e-4 * np.median(test.phot[rows, j]))
                         for j, b in zip(cols, bands)])
        return bands, asinh_mag(phot, soft), mfrac, soft

    def validation_extras(self, test: Any, rows: np.ndarray, x: np.ndarray) -> dict[str, Any]:
        """``spectrum``: the fractional spectral error against the test set's stored
        spectra (:func:`~prospect_emu.emulator.spectral_metrics.spectral_errors`);
        ``bands_left_out``: the test set's bands outside the emulated range at some rows'
        zred, with their usable zred range (:func:`~prospect_emu.emulator.spectral_metrics.usable_bands`)."""
        return {"spectrum": spectral_metrics.spectral_errors(self, test, rows, x),
                "bands_left_out": self._usable_bands(test)[1]}

    # ---- description --------------------------------------------------------------------
    def summary(self) -> str:
        """What the emulator covers and how accurate it is (``prospect-emu info``)."""
        m = self.meta
        lines = [f"prospect-emu spectral emulator (schema {m['schema_version']}), created "
                 f"{m.get('created', '?')}",
                 f"rest frame {self.wavelength[0]:.0f}-{self.wavelength[-1]:.0f} AA, "
                 f"{len(self.wavelength)} wavelengths, {self.n_components} PCA components",
                 f"network: {m['network']['depth']} x {m['network']['width']} "
                 f"{m['network']['activation']}",
                 "inputs (training bounds):"] + self._input_lines()
        lines.append("redshift, mass and distance: exact (" + m.get("mass_convention", "") + ")")
        if "zred" in self.input_names:
            lines.append("zred is also a network input: the training model's rest-frame spectrum "
                         "follows it through depends_on")
        pca = m.get("pca")
        if pca:
            lines.append(f"PCA reconstruction (held-out spectra): median {pca['test_median']:.4f}, "
                         f"95% {pca['test_p95']:.4f} (tolerance {pca['tolerance']} on the median)")
        se = m.get("spectral_errors")
        if se:
            o = se["overall"]
            lines.append(f"held-out spectral fractional error: median {o['median']:.4f}, "
                         f"68% {o['p68']:.4f}, 95% {o['p95']:.4f} ({se['n_spectra']} spectra)")
        te = self.error_stats
        if te:
            lines.append("implied held-out error per training band, asinh mag (at the rows' zred):")
            lines.append(f"  {'band':12s} {'median|d|':>9s} {'p95|d|':>8s} {'max|d|':>8s}")
            for b in te["names"]:
                s = te["per_output"][b]
                lines.append(f"  {b:12s} {s['median_abs']:9.4f} {s['p95_abs']:8.4f} {s['max_abs']:8.4f}")
        lines += independent_test_lines(m)
        return "\n".join(lines)
