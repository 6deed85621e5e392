"""The Prospector adapter: ``EmulatedSpecModel``, a drop-in ``SpecModel`` computed by an emulator.

Constructing one installs :func:`prospect_emu.patch_prospector` (importing this module does
not), which makes Prospector 1.4.1's ``SpecModel`` constructible with ``SPS_HOME`` unset
(:mod:`prospect_emu.sps_home_patch`): there ``SpecModel.__init__`` reads
``$SPS_HOME/data/emlines_info.dat`` and fails with a ``TypeError``.  With SPS_HOME unset the
line table is left empty (as Prospector itself does when the file cannot be read), so an
unmodified ``build_model`` works on a machine without FSPS; with SPS_HOME set nothing changes.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from prospect.models import SpecModel

from ..dependencies import fix_known_transforms
from ..emulator.artifact import Emulator
from ..emulator.fastpath import FoldedNetwork
from ..errors import ConfigurationError
from ..filters import filter_names
from ..options import DEFAULT_ERROR_MODE, ERROR_MODES
from ..sps_home_patch import patch_prospector
from .boxprior import BoxPrior
from .compat import check_training_model, user_stacklevel
from .dropin import check_route
from .kinds import AdapterKind, KindHooks, kind_for
from .model_spectral import _MAX_FILTER_SETS
from .plans import InputPlan, element
from .priors import FastPriors, PriorWatch


def _as_emulator(emulator: Emulator | str | Path) -> Emulator:
    return emulator if isinstance(emulator, Emulator) else Emulator.load(emulator)




class EmulatedSpecModel(KindHooks, SpecModel):
    """A ``SpecModel`` whose ``predict`` runs an emulator instead of FSPS.

    Parameters
    ----------
    configuration : list or dict
        Prospector parameter specifications, as for ``SpecModel``.
    emulator : Emulator or path
        The trained emulator.
    emulator_error : {'none', 'diag', 'cov'}
        How :func:`prospect_emu.prospector.likelihood.lnprobfn` adds emulator error to the
        photometric uncertainties; 'diag' and 'cov' need an emulator that stores
        test-set error statistics.
    **kwargs
        Passed to ``SpecModel`` (``param_order``, ``verbose``).

    Raises
    ------
    ConfigurationError
        At construction, when the model cannot be emulated faithfully: an emulator
        input the model lacks; a vector parameter (``N > 1``) read by a scalar input,
        or only some of its elements read; a vector ``mass`` (the SED then depends on
        the mass ratios) with an emulator that does not take them; a fixed parameter
        that differs from the emulator's training model (see
        :mod:`prospect_emu.prospector.compat`); a fixed input outside the training box; an
        error mode the emulator has no statistics for.  Later, from ``predict``, for
        a band whose transmission differs from the one the emulator learned.

    Notes
    -----
    ``predict(theta, obs, sps=None)`` returns ``(spec, phot, mfrac)`` as ``SpecModel``
    does: ``phot`` in maggies for ``obs["filters"]`` (any subset and order of the
    emulator's bands, matched by name and transmission), mass and distance applied
    analytically as Prospector does, ``mfrac`` the surviving mass fraction.  ``spec``
    is an empty array for a photometric emulator, which refuses observations with a
    spectrum.

    A spectral emulator (``emulator.kind == "spectrum"``) predicts the rest-frame
    spectrum; redshift, mass and distance enter exactly.  Photometry-only: the exact
    photometry of the emulated spectrum through a projection of the PCA basis on the
    observed filters, built once per (filter set, zred) and cached (a fixed zred: once
    per fit; a free zred: ~0.1 ms per filter for each new value, on top of the ~0.1 ms
    call).  With ``obs['spectrum']``: Prospector's own ``SpecModel.predict`` (or the
    original model class's, e.g. ``PolySpecModel`` through :func:`emulate`) on
    :class:`~prospect_emu.prospector.sps.EmulatedSPS`, which redshifts, smooths
    (``sigma_smooth``), calibrates and projects the filters.  Observed wavelengths
    (unmasked) or bands outside the emulated rest-frame range at the fit's redshift (a
    free zred: anywhere in its prior range) are refused with a ``ConfigurationError`` at
    first use.  Emulator error (diag/cov) uses the held-out statistics stored for the
    emulator's training bands; other bands are refused for diag/cov (use 'none').  Parameters outside the emulator's training bounds raise
    ``ValueError``, which Prospector's ``lnprobfn`` turns into ln-probability -inf: the
    emulator never extrapolates.  A free parameter whose prior reaches outside the
    training box gets the prior truncated to the box (``prior_transform`` maps the unit cube
    into it; :class:`~prospect_emu.prospector.boxprior.BoxPrior`, recorded in the result
    file), with a warning at construction unless the truncation is the training set's own.

    Emulator inputs are model parameters by name (``tage``) or, for a vector
    parameter, by element (``tage_1``, ``tage_2``: 1-based, as Prospector's theta
    labels).  The model's consistency with the emulator is checked at construction,
    on the parameter values then; ``prior_product`` and ``prior_transform`` follow
    later changes of the priors (``prior.update(...)`` or a replaced prior object).
    """

    def __init__(self, configuration, emulator: Emulator | str | Path | None = None,
                 emulator_error: str = DEFAULT_ERROR_MODE, **kwargs):
        if emulator is None:
            raise ConfigurationError("EmulatedSpecModel needs an emulator (a path or Emulator)")
        if emulator_error not in ERROR_MODES:
            raise ConfigurationError(f"emulator_error must be one of {ERROR_MODES}, got {emulator_error!r}")
        patch_prospector()  # the user's other SpecModels build without SPS_HOME too
        super().__init__(configuration, **kwargs)
        fix_known_transforms(self)  # Prospector 1.4.1's zred_to_agebins fails on an array zred
        self.emulator = _as_emulator(emulator)
        self.emulator_error = emulator_error
        self._input_source = self._map_inputs()
        self._band_cache: dict[tuple[int, ...], tuple[np.ndarray, Any]] = {}
        self._emu_cov_cache: dict[tuple[int, ...], np.ndarray] = {}
        self._band_hashes = {str(d["name"]): str(d["hash"]) for d in self.emulator.meta.get("filters", [])
                             if isinstance(d, dict) and d.get("hash")}
        self._x = np.empty(len(self._input_source))
        self._dphot_dmag = None
        self._nets: dict[Any, FoldedNetwork] = {}
        #: per (error mode, observation) likelihood plans (see prospect_emu.prospector.likelihood)
        self._fast_plans: dict[tuple, Any] = {}
        self._input_plan_cache: InputPlan | None = None
        self._check_fixed_inputs()
        #: what the training-model check could not compare (see prospect_emu.prospector.compat)
        self.model_check_notes = check_training_model(self, self.emulator,
                                                      {p for p, _ in self._input_source})
        self._prior_watch = PriorWatch(self)
        self._fast_priors = FastPriors.for_model(self)
        #: the training box as part of the prior (see prospect_emu.prospector.boxprior)
        self.box_prior = BoxPrior(self, self.emulator, self._input_source)
        msg = self.box_prior.message()
        if msg:
            warnings.warn(msg, stacklevel=user_stacklevel())
        #: what differs per emulator kind (see prospect_emu.prospector.kinds): its predict,
        #: and for the spectral kind an sps object for Prospector's own spectral predict
        self.kind: AdapterKind = kind_for(self.emulator)

    # ---- construction checks --------------------------------------------------------------
    def _map_inputs(self) -> list[tuple[str, int]]:
        """(model parameter, element index) behind each emulator input, checked."""
        source: list[tuple[str, int]] = []
        elements: dict[str, list[int]] = {}
        for name in self.emulator.input_names:
            if name in self.params:
                n = np.size(self.params[name])
                if n > 1:
                    raise ConfigurationError(
                        f"the model's {name!r} is a vector of {n} elements, but the emulator learned "
                        f"a scalar {name!r} (its input {name!r}) and would read {name}[0] only, "
                        f"ignoring the rest. Use an emulator trained on this model (inputs "
                        f"{name}_1 ... {name}_{n}), or give {name} one element (N=1)")
                param, idx = name, 0
            else:
                head, _, tail = name.rpartition("_")
                if not (tail.isdigit() and head in self.params):
                    raise ConfigurationError(
                        f"the model has no parameter {name!r}, an input of the emulator "
                        f"(inputs {self.emulator.input_names}); add it to the model, fixed or free")
                param, k, n = head, int(tail), np.size(self.params[head])
                if not 1 <= k <= n:
                    raise ConfigurationError(
                        f"the emulator input {name!r} is element {k} of {param!r} (elements count "
                        f"from 1), but the model's {param!r} has {n} element(s): the emulator was "
                        f"trained on a model with another {param}. Use a matching model or emulator")
                idx = k - 1
            source.append((param, idx))
            elements.setdefault(param, []).append(idx)
        for param, idxs in elements.items():
            n = np.size(self.params[param])
            if sorted(idxs) != list(range(n)):
                missing = [f"{param}_{i + 1}" for i in range(n) if i not in idxs]
                raise ConfigurationError(
                    f"the model's {param!r} has {n} elements, but the emulator takes "
                    f"{sorted(self.emulator.input_names[j] for j, s in enumerate(source) if s[0] == param)} "
                    f"only (missing {missing}): the other elements would be ignored. Use an "
                    "emulator trained on this model's parameters")
        mass = self.params.get("mass")
        if mass is not None and np.size(mass) > 1 and "mass" not in elements:
            raise ConfigurationError(
                f"the model's 'mass' is a vector of {np.size(mass)} elements (a non-parametric "
                "SFH): the emulator applies mass analytically as sum(mass), but the spectrum "
                "depends on the ratios of the elements, which this emulator does not take as "
                f"inputs (its inputs: {self.emulator.input_names}). Fit this model with FSPS, or "
                "use a parametric SFH with a scalar mass")
        return source

    def _check_fixed_inputs(self) -> None:
        """A fixed parameter the emulator reads must lie inside the training box."""
        x = self.emulator_inputs()
        oob = self.emulator.inputs.out_of_bounds(x)
        bad = [j for j, (p, _) in enumerate(self._input_source)
               if oob[j] and p not in self.theta_index
               and self.config_dict.get(p, {}).get("depends_on") is None]
        if bad:
            t = self.emulator.inputs
            parts = [f"{self.emulator.input_names[j]} = {x[j]:.6g} outside [{t.raw_lo[j]:.6g}, "
                     f"{t.raw_hi[j]:.6g}]" for j in bad]
            raise ConfigurationError(
                "fixed parameters outside the emulator's training box (every likelihood would be "
                "-inf): " + "; ".join(parts) + ". Fit this galaxy with FSPS or train an emulator "
                "that covers these values")

    @property
    def emulator_error(self) -> str:
        """The emulator-error mode: 'none', 'diag' or 'cov' (checked when set)."""
        return self._emulator_error

    @emulator_error.setter
    def emulator_error(self, mode: str) -> None:
        if mode not in ERROR_MODES:
            raise ConfigurationError(f"emulator_error must be one of {ERROR_MODES}, got {mode!r}")
        if mode != "none" and "covariance" not in (self.emulator.error_stats or {}):
            raise ConfigurationError(
                f"emulator error {mode!r} needs the emulator's test-set error statistics, and this "
                "emulator stores none; use --emulator-error none (emulator_error='none') or "
                "retrain it with prospect-emu train")
        self._emulator_error = mode

    # ---- priors ----------------------------------------------------------------------------
    @property
    def fast_priors(self) -> FastPriors:
        """Vectorised priors for the current priors (rebuilt when they change)."""
        if self._prior_watch.changed(self):
            self._prior_watch = PriorWatch(self)
            self._fast_priors = FastPriors.for_model(self)
            self.box_prior = BoxPrior(self, self.emulator, self._input_source)
        return self._fast_priors

    def prior_product(self, theta, nested=False, **extras):
        """Prospector's ``prior_product``, vectorised (see :mod:`prospect_emu.prospector.priors`)."""
        fast = self.fast_priors
        if fast is None or np.ndim(theta) != 1:
            return super().prior_product(theta, nested=nested, **extras)
        lpp = fast.ln_prior(theta)
        if nested and lpp > -math.inf:  # finite (not -inf, not NaN)
            return 0.0
        return lpp

    def prior_product_rows(self, thetas: np.ndarray, nested: bool = False) -> np.ndarray:
        """ln-prior per row of ``thetas`` ``(n, ndim)``; with ``nested`` 0 where finite."""
        lpp = np.atleast_1d(self.fast_priors.ln_prior(np.asarray(thetas, dtype=float)))
        if nested:
            lpp = np.where(np.isfinite(lpp), 0.0, lpp)
        return lpp

    def prior_transform(self, unit_coords):
        """Prospector's ``prior_transform``, vectorised; also for rows ``(n, ndim)``.  Where
        a prior reaches outside the training box, into the prior truncated to the box
        (:class:`~prospect_emu.prospector.boxprior.BoxPrior`)."""
        fast = self.fast_priors
        u = self.box_prior.unit(unit_coords)
        theta = super().prior_transform(u) if fast is None else fast.unit_transform(u)
        return self.box_prior.clip(theta)

    def set_parameters(self, theta):
        """Prospector's ``set_parameters`` without its per-parameter copies (one copy of
        ``theta``); warns once where Prospector's own ``lnprobfn`` calls it and would drop
        the emulator error (:func:`~prospect_emu.prospector.dropin.check_route`)."""
        if not getattr(self, "_route_warned", False):
            check_route(self)
        plan = self.input_plan
        th = np.array(theta, dtype=float)
        if th.shape != (plan.ndim,):
            return super().set_parameters(theta)  # Prospector's own assertion
        for k, sl in plan.slices:
            self.params[k] = th[sl]
        if plan.deps:
            self.propagate_parameter_dependencies()

    @property
    def input_plan(self) -> InputPlan:
        """Where the emulator inputs, mass and redshift come from (see
        :mod:`prospect_emu.prospector.plans`), for the current theta layout."""
        plan = self._input_plan_cache
        if plan is None or not plan.valid(self):
            plan = self._input_plan_cache = InputPlan(self)
        return plan

    def network_for(self, filters) -> FoldedNetwork:
        """The folded network for ``obs['filters']`` (checked by :meth:`bands_for`)."""
        key = None if filters is None else self._filters_key(filters)
        net = self._nets.get(key)
        if net is None:
            bands = np.zeros(0, dtype=int) if filters is None else self.bands_for(filters)
            if len(self._nets) >= _MAX_FILTER_SETS:
                self._nets.clear()
            net = self._nets[key] = FoldedNetwork(self.emulator, bands)
        return net

    def init_eline_info(self, eline_file: str = "emlines_info.dat") -> None:
        """No emission-line table is needed: the emulator predicts photometry directly."""
        self.emline_info = np.zeros(0, dtype=[("wave", "f8"), ("name", "<U20")])
        self._use_eline = np.zeros(0, dtype=bool)

    # ---- bands -----------------------------------------------------------------------------
    @staticmethod
    def _filters_key(filters) -> tuple[int, ...]:
        if isinstance(filters, (list, tuple)):
            return tuple(map(id, filters))
        return (id(filters),)

    def bands_for(self, filters) -> np.ndarray:
        """Emulator output indices for ``obs['filters']``.

        Bands are matched by name and by transmission (the hash the emulator stores per
        band), once per filter set: a clear error for a band the emulator lacks or one
        whose transmission differs from the one it learned.
        """
        key = self._filters_key(filters)
        hit = self._band_cache.get(key)
        if hit is None:
            idx = self._resolve_bands(filters)
            if len(self._band_cache) >= _MAX_FILTER_SETS:
                self._band_cache.clear()
                self._emu_cov_cache.clear()
                self._nets.clear()
            # keep the filter objects alive, so that their ids stay theirs
            hit = self._band_cache[key] = (idx, filters if not isinstance(filters, list) else tuple(filters))
        return hit[0]

    def _resolve_bands(self, filters) -> np.ndarray:
        idx, notes = self.emulator.resolve_bands(filters, self._band_hashes)
        for note in notes:
            warnings.warn(note, stacklevel=user_stacklevel())
        return idx

    def emulator_inputs(self) -> np.ndarray:
        """The emulator's input vector from the current parameters (free and fixed)."""
        p = self.params
        x = self._x
        for j, (name, i) in enumerate(self._input_source):
            x[j] = element(p[name], i)
        return x

    def predict(self, theta, obs=None, sps=None, sigma_spec=None, **extras):
        """``(spec, phot, mfrac)`` from the emulator; see the class notes."""
        obs = obs or {}
        self.emulator.check_observation(obs)
        return self.kind.predict(self, theta, obs, sigma_spec)

    def mfrac_rows(self, thetas: np.ndarray) -> np.ndarray:
        """The surviving mass fraction for each row of ``thetas`` in one batched pass.

        Parameters
        ----------
        thetas : ndarray (n, ndim)

        Returns
        -------
        ndarray (n,)
            ``mfrac`` as :meth:`predict` gives it; NaN for rows outside the emulator's
            training box (where :meth:`predict` raises).  The model's parameters are left
            as they were.
        """
        th = np.atleast_2d(np.asarray(thetas, dtype=float))
        plan = self.input_plan
        x, _ = plan.read_rows(self, th)
        return self.emulator.mfrac_rows(x, plan.scaled_rows)

    def band_softening(self, filters) -> np.ndarray:
        """The asinh-magnitude softening ``b`` per band of ``filters`` (flux per Msun formed
        at 10 pc); for a spectral emulator's bands outside its training bands (no error
        statistics) the median of the others, which only sets a scale."""
        return self.emulator.band_softening(self.bands_for(filters))

    def emulator_covariance(self, filters) -> np.ndarray:
        """The emulator's residual covariance (asinh mag^2) for these filters, in order.

        For a spectral emulator, the held-out statistics exist for its training bands
        only: other bands are refused (use emulator_error 'none')."""
        key = self._filters_key(filters)
        cov = self._emu_cov_cache.get(key)
        if cov is None:
            cov = self._emu_cov_cache[key] = self.emulator.error_covariance(
                self.bands_for(filters), filter_names(filters), self.emulator_error)
        return cov
