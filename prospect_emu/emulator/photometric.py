"""The photometric emulator kind (``kind == "photometry"``): the training set's bands, zred
an input, a network predicting asinh magnitudes and log10 mfrac (see
:mod:`prospect_emu.emulator.artifact` for the artifact and the interface of every kind)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..filters import filter_names as _filter_names
from ..filters import transmission_mismatches
from .artifact import Emulator, Prediction, independent_test_lines
from .fastpath import FoldedNetwork
from .numpy_layers import build_layers, check_layer_chain
from .transforms import OutputTransform, asinh_flux


class PhotometricEmulator(Emulator):
    """A trained photometric SED emulator (``kind == "photometry"``): load, predict, save.

    ``Emulator.load`` and ``Emulator(meta, weights)`` return one for an artifact of this
    kind (schema version 1 is always this kind).

    Parameters
    ----------
    meta : dict
        The contents of ``emulator.json``.
    weights : mapping of str to ndarray
        The arrays of ``weights.npz``.
    """

    kind = "photometry"

    def __init__(self, meta: dict[str, Any], weights: Mapping[str, np.ndarray]):
        super().__init__(meta, weights)
        self.outputs = OutputTransform.from_json(meta["outputs"])
        self.filter_names: list[str] = list(self.outputs.filter_names)
        self._band_index = {n: i for i, n in enumerate(self.filter_names)}
        self._check_shapes()
        self._layers = build_layers(meta, self.weights)
        self._out_mean = self.outputs.mean.astype(np.float32)
        self._out_std = self.outputs.std.astype(np.float32)
        self._soft = self.outputs.softening
        self._build_fast_layers()

    def _check_shapes(self) -> None:
        """Validate the layer chain against the metadata, so that a damaged or mismatched
        artifact fails at load with the layer and shapes named, not inside every likelihood
        call (where Prospector would turn the ``ValueError`` into ln-probability -inf)."""
        n_in, n_bands = len(self.input_names), len(self.filter_names)
        where = "the emulator's weights.npz does not match its emulator.json"
        fix = "the artifact is damaged or its files come from different trainings: export or train it again"
        for name, arr, size in (("softening", self.outputs.softening, n_bands),
                                ("mean", self.outputs.mean, n_bands + 1),
                                ("std", self.outputs.std, n_bands + 1)):
            if arr.shape != (size,):
                raise ConfigurationError(f"{where}: outputs.{name} has shape {arr.shape}, expected "
                                         f"({size},) for {n_bands} bands (+ log10 mfrac); {fix}")
        for name, arr in (("lo", self.inputs.lo), ("hi", self.inputs.hi), ("log10", self.inputs.log)):
            if arr.shape != (n_in,):
                raise ConfigurationError(f"{where}: inputs.{name} has shape {arr.shape}, expected "
                                         f"({n_in},) for inputs {self.input_names}; {fix}")
        check_layer_chain(self.meta["layers"], self.weights, self.inputs.n_network, n_bands + 1,
                          f"{n_bands} bands + log10 mfrac")

    # ---- inference ----------------------------------------------------------------------
    def predict(self, theta, names: Sequence[str] | None = None, strict: bool = False) -> Prediction:
        """Photometry per unit formed mass and mfrac for one vector or a batch.

        Parameters
        ----------
        theta : array (n_inputs,) or (n, n_inputs), or mapping name -> value(s)
            Inputs in stored order (``input_names``), or in the order ``names`` gives.
        names : sequence of str, optional
            Column names of ``theta`` when it is not in stored order.
        strict : bool
            Raise ``ValueError`` for inputs outside the training bounds or not finite
            (NaN), instead of flagging them in ``out_of_bounds``.
        """
        x = self.as_vector(theta, names)
        oob = self.inputs.out_of_bounds(x) | ~np.isfinite(x)
        if strict and oob.any():
            raise ValueError(self.bounds_message(x, oob))
        z = self.forward(self.inputs(x)).astype(float)
        mags, logmf = self.outputs.decode_mags(z)
        return Prediction(phot=asinh_flux(mags, self._soft), mags=mags, mfrac=10.0 ** logmf,
                          out_of_bounds=oob)

    def photometry_plan(self, filters, zred: float | None = None) -> np.ndarray:
        """The output indices of ``filters`` (sedpy filters or names); ``zred`` is an input
        of this kind, so it plays no part.  Cache it per filter set, as for the spectral kind."""
        return self.band_indices([getattr(f, "name", f) for f in filters])

    def photometry(self, x: np.ndarray, plan: np.ndarray) -> tuple[np.ndarray, float]:
        """Maggies per Msun formed at 10 pc (``MASS_CONVENTION``) in the bands of ``plan``
        (from :meth:`photometry_plan`), and mfrac, for one input vector in stored order.

        Raises ``ValueError`` outside the training bounds, as :meth:`predict_one`.
        """
        mags, mfrac = self.predict_one(x)
        return asinh_flux(mags[plan].astype(float), self.outputs.softening[plan]), mfrac

    def photometry_rows(self, x: np.ndarray, filters, zred: np.ndarray,
                        igm_factor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Maggies per Msun formed at 10 pc through ``filters`` for rows ``x`` at per-row
        ``zred`` (written into the zred input where the emulator learned one; otherwise
        the caller keeps zred at the emulator's fixed value), and the usable rows.  The
        IGM, where the model has it, was learned by the network: ``igm_factor`` is unused."""
        x = np.array(x, dtype=float)
        if "zred" in self.input_names:
            x[:, self.input_names.index("zred")] = zred
        pred = self.predict(x)
        phot = pred.phot[:, self.photometry_plan(filters)]
        return phot, ~pred.out_of_bounds.any(axis=1) & np.all(np.isfinite(phot), axis=1)

    # ---- the kind's part of the likelihood, model, validation and training ----------------
    @classmethod
    def check_train_config(cls, config: Any) -> None:
        """``--pixel-weight-power`` is the spectral kind's: refused here."""
        if config.pixel_weight_power is not None:
            raise ConfigurationError("--pixel-weight-power weighs the rest-frame pixels of the "
                                     "spectral kind (--kind spectrum); the photometric kind's "
                                     "bands take --band-weight-power")

    def fast_network(self, filters, used: np.ndarray, bands: np.ndarray, zred: float,
                     two_soft: np.ndarray) -> FoldedNetwork:
        """The folded network for the output indices ``bands`` (zred is an input: unused)."""
        return FoldedNetwork(self, bands)

    def resolve_bands(self, filters, band_hashes: Mapping[str, str]) -> tuple[np.ndarray, list[str]]:
        """Output indices of ``filters``, matched by name and by transmission hash.

        Raises
        ------
        ConfigurationError
            For a band the emulator lacks, or one whose transmission differs from the one
            it learned under that name.
        """
        idx = self.band_indices(_filter_names(filters))
        if not band_hashes:
            return idx, ["the emulator stores no filter transmission hashes: bands are matched "
                         "by name only"]
        if hasattr(filters, "filternames"):
            return idx, ["obs['filters'] is a sedpy FilterSet, whose filters are regridded: their "
                         "transmissions cannot be matched to the emulator's, so bands are matched "
                         "by name only. Pass a list of sedpy Filters to have them checked"]
        bad = transmission_mismatches(filters, band_hashes)
        if bad:
            raise ConfigurationError(
                f"obs['filters'] {bad}: the transmission curve differs from the one the "
                "emulator was trained with under the same name (a redefined, edited or "
                "regridded filter). Use the filters the emulator was trained on (sedpy's "
                "load_filters with the same sedpy), or train an emulator for these curves")
        return idx, []

    def band_softening(self, idx: np.ndarray) -> np.ndarray:
        """The softening of the output bands ``idx``."""
        return self.outputs.softening[idx]

    def check_observation(self, obs: Mapping[str, Any]) -> None:
        """Refuse an observed spectrum: this kind predicts its bands only."""
        if obs.get("spectrum", None) is not None:
            raise ConfigurationError(
                "this emulator is photometric: it cannot predict obs['spectrum']. Fit the "
                "photometry only (set obs['spectrum'] = None) or fit the spectrum with FSPS")

    def zred_coverage(self, filters, fixed_zred: float) -> tuple[float, float]:
        """The zred training bounds where zred is an input, else only ``fixed_zred``: the
        bands were learned at those redshifts alone."""
        if "zred" in self.input_names:
            j = self.input_names.index("zred")
            return float(self.inputs.raw_lo[j]), float(self.inputs.raw_hi[j])
        return float(fixed_zred), float(fixed_zred)

    def mfrac_rows(self, x: np.ndarray, scaled_rows: Any = None) -> np.ndarray:
        """mfrac per row through the folded network's ``ln mfrac`` output (NaN outside the
        box); ``scaled_rows`` as the likelihood's, else the emulator's own scaling."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        out = np.full(len(x), np.nan)
        if scaled_rows is None:
            s = np.ones((len(x), self.inputs.n_network + 1), dtype=np.float32)
            inside = ~(self.inputs.out_of_bounds(x) | ~np.isfinite(x)).any(axis=1)
            if inside.any():
                s[inside, :-1] = self.inputs(x[inside])
        else:
            s, inside = scaled_rows(x)
        if inside.any():
            net = self.__dict__.get("_mfrac_net")
            if net is None:
                net = self._mfrac_net = FoldedNetwork(self, np.zeros(0, dtype=int))
            out[inside] = np.exp(net.forward(s[inside])[:, -1])
        return out

    def check_test_set(self, test: Any, label: str) -> None:
        """The test set must hold this emulator's bands, with the same transmissions."""
        missing = [b for b in self.filter_names if b not in test.filter_names]
        if missing:
            raise ConfigurationError(f"{label} predicts bands {missing} that the test set "
                                     f"{test.path} lacks (it has {test.filter_names}): generate "
                                     "the test set with the emulator's filters (--filters)")
        stored = {f["name"]: f.get("hash") for f in self.meta.get("filters", [])}
        differ = [b for b in self.filter_names
                  if stored.get(b) and stored[b] != test.filter_hashes[b]]
        if differ:
            raise ConfigurationError(f"bands {differ} of {label} have other transmission curves "
                                     "than the test set's bands of the same name: not the same "
                                     "filters")

    def validation_bands(self, test: Any) -> list[str]:
        """The emulator's own bands."""
        return list(self.filter_names)

    def test_set_magnitudes(self, test: Any, rows: np.ndarray, x: np.ndarray
                            ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The emulator's bands through :meth:`predict`, in its own softening."""
        pred = self.predict(x)
        return list(self.filter_names), pred.mags, pred.mfrac, self.outputs.softening

    # ---- description --------------------------------------------------------------------
    def summary(self) -> str:
        """What the emulator covers and how accurate it is (``prospect-emu info``)."""
        m = self.meta
        lines = [f"prospect-emu emulator (schema {m['schema_version']}), created {m.get('created', '?')}",
                 f"network: {m['network']['depth']} x {m['network']['width']} "
                 f"{m['network']['activation']}, {sum(v.size for v in self.weights.values())} weights",
                 f"training set: {m.get('training', {}).get('n_train', '?')} train / "
                 f"{m.get('training', {}).get('n_val', '?')} val / {m.get('training', {}).get('n_test', '?')} test rows",
                 "inputs (training bounds):"] + self._input_lines()
        lines.append("mass: analytic (" + m.get("mass_convention", "") + ")")
        te = self.error_stats
        if te:
            lines.append("held-out error per band, asinh mag (predicted - FSPS):")
            lines.append(f"  {'band':12s} {'median|d|':>9s} {'p95|d|':>8s} {'max|d|':>8s} {'mean':>8s} {'std':>8s}")
            for b in self.filter_names + ["log10_mfrac"]:
                s = te["per_output"][b]
                lines.append(f"  {b:12s} {s['median_abs']:9.4f} {s['p95_abs']:8.4f} {s['max_abs']:8.4f} "
                             f"{s['mean']:8.4f} {s['std']:8.4f}")
        lines += independent_test_lines(m)
        prov = m.get("provenance")
        if prov:
            lines.append("provenance: " + prov)
        return "\n".join(lines)
