"""What every emulator kind defines: the methods through which the likelihood, the model,
validation and training reach what differs between kinds, so that none of them tests the
kind.  :class:`~prospect_emu.emulator.artifact.Emulator` inherits them; a kind
(:mod:`prospect_emu.emulator.kinds`) overrides those that raise ``NotImplementedError``
here.  The photometric kind is :mod:`prospect_emu.emulator.photometric`, the spectral kind
:mod:`prospect_emu.emulator.spectral`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError


class KindMethods:
    """The kind-specific interface of an emulator (see the module notes)."""

    #: the ``emulator.json`` kind (:mod:`prospect_emu.emulator.kinds`)
    kind = ""
    #: whether the emulator predicts a spectrum (an sps object for Prospector's own
    #: spectral ``predict``), rather than fixed bands only
    predicts_spectrum = False
    #: whether validation reads the test set's stored spectra (``generate --store-spectrum``)
    reads_test_spectra = False
    #: whether a photometry plan (and the fast network) holds for one redshift only (zred
    #: enters exactly), rather than for every zred (zred a network input)
    plan_needs_zred = False
    meta: dict[str, Any]
    filter_names: list[str]

    def _not_here(self, what: str):
        return NotImplementedError(f"{type(self).__name__} (kind {self.kind!r}) does not "
                                   f"define {what}")

    def summary(self) -> str:
        """What the emulator covers and how accurate it is (``prospect-emu info``)."""
        raise self._not_here("summary")

    def photometry_plan(self, filters, zred: float | None = None) -> Any:
        """What :meth:`photometry` needs for ``filters`` at ``zred``; cache it."""
        raise self._not_here("photometry_plan")

    def photometry(self, x: np.ndarray, plan: Any) -> tuple[np.ndarray, float]:
        """Maggies per Msun formed at 10 pc through ``plan``, and mfrac, for one vector."""
        raise self._not_here("photometry")

    def photometry_rows(self, x: np.ndarray, filters, zred: np.ndarray,
                        igm_factor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Maggies per Msun formed at 10 pc through ``filters`` for rows of raw inputs ``x``
        (n, n_inputs) at per-row redshifts ``zred`` (n,), and a mask (n,) of the rows inside
        the training box with finite photometry (the others' values are meaningless).
        ``igm_factor``: FSPS's IGM absorption, where the kind applies it (None: none)."""
        raise self._not_here("photometry_rows")

    @classmethod
    def check_train_config(cls, config: Any) -> None:
        """The kind's checks of a :class:`~prospect_emu.emulator.training.TrainConfig`
        (the checks common to all kinds are ``TrainConfig.validate``'s)."""

    def fast_network(self, filters, used: np.ndarray, bands: np.ndarray, zred: float,
                     two_soft: np.ndarray) -> Any:
        """The likelihood's fast network for the bands ``used`` (indices into ``filters``,
        an observation's filters), whose :meth:`resolve_bands` indices are ``bands`` and
        whose ``2 b`` is ``two_soft``, at ``zred``: a
        :class:`~prospect_emu.emulator.fastpath.FoldedNetwork` or
        :class:`~prospect_emu.emulator.fastpath.SpectralNetwork`, whose ``forward_one``,
        ``forward`` and ``lnlike_theta`` give ``[A_1..A_n, ln mfrac]`` and the Gaussian."""
        raise self._not_here("fast_network")

    def resolve_bands(self, filters, band_hashes: Mapping[str, str]) -> tuple[np.ndarray, list[str]]:
        """Output indices of ``filters`` (sedpy filters, a FilterSet or names) and the
        warnings to give, checked against the transmission hashes ``band_hashes``; -1
        for a band the kind predicts without held-out error statistics.

        Raises
        ------
        ConfigurationError
            For a band the kind cannot predict.
        """
        raise self._not_here("resolve_bands")

    def band_softening(self, idx: np.ndarray) -> np.ndarray:
        """The asinh-magnitude softening ``b`` (flux per Msun formed at 10 pc) per band
        of :meth:`resolve_bands` indices ``idx``."""
        raise self._not_here("band_softening")

    def check_observation(self, obs: Mapping[str, Any]) -> None:
        """Refuse (``ConfigurationError``) what the kind cannot predict in ``obs``."""

    def zred_coverage(self, filters, fixed_zred: float) -> tuple[float, float]:
        """``(lo, hi)``: the redshifts at which the kind predicts ``filters`` (sedpy filters)
        for a model whose zred, where it is no emulator input, is ``fixed_zred``; empty
        when ``lo > hi``."""
        raise self._not_here("zred_coverage")

    def mfrac_rows(self, x: np.ndarray, scaled_rows: Any = None) -> np.ndarray:
        """mfrac for rows of raw inputs ``x`` (n, n_inputs), NaN outside the training box.
        ``scaled_rows(x) -> (s, inside)``: the caller's input scaling, where the kind uses
        one (the likelihood's, so that the values are those of its fast path)."""
        raise self._not_here("mfrac_rows")

    @property
    def exact_parameters(self) -> set[str]:
        """Model parameters the kind applies exactly, outside the network."""
        return set(self.meta.get("exact_parameters", ()))

    def error_covariance(self, idx: np.ndarray, names: Sequence[str], mode: str) -> np.ndarray:
        """The held-out residual covariance (asinh mag^2) of the bands of :meth:`resolve_bands`
        indices ``idx`` (named ``names``), for emulator-error mode ``mode``.

        Raises
        ------
        ConfigurationError
            Where the emulator stores no statistics, or for a band without them (-1).
        """
        stats = self.meta.get("test_errors", {})
        if not stats:
            raise ConfigurationError("this emulator stores no test-set error statistics; use "
                                     "--emulator-error none or retrain it with prospect-emu train")
        full = np.asarray(stats["covariance"], dtype=float)
        idx = np.asarray(idx, dtype=int)
        if np.any(idx < 0):
            raise ConfigurationError(
                f"emulator error {mode!r} uses the emulator's held-out error "
                f"statistics, which exist for its training bands {self.filter_names} only; obs "
                f"bands {[names[i] for i in np.flatnonzero(idx < 0)]} are not among them (or "
                "their transmission differs). Use --emulator-error none "
                "(emulator_error='none'), or drop those bands")
        return full[np.ix_(idx, idx)]

    # validation on an independent test set (prospect_emu.analysis.validate)
    def check_test_set(self, test: Any, label: str) -> None:
        """Refuse a test set (a :class:`~prospect_emu.trainingdata.trainingset.TrainingSet`)
        that cannot validate this emulator, naming what it lacks."""
        raise self._not_here("check_test_set")

    def validation_bands(self, test: Any) -> list[str]:
        """The bands validated on ``test``."""
        raise self._not_here("validation_bands")

    def test_set_magnitudes(self, test: Any, rows: np.ndarray, x: np.ndarray
                            ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """``(bands, asinh mags (n, B), mfrac (n,), softening (B,))`` emulated for the test
        rows ``rows`` with inputs ``x`` (stored order), to compare with the FSPS truth in
        the same softening."""
        raise self._not_here("test_set_magnitudes")

    def validation_extras(self, test: Any, rows: np.ndarray, x: np.ndarray) -> dict[str, Any]:
        """The kind's own entries of a validation report (none by default)."""
        return {}
