"""Ln-probability with emulator error: none, diagonal, or the full band x band covariance.

With ``emulator_error='none'`` this *is* Prospector's ``lnprobfn``.  Otherwise the
photometric covariance at the model point is::

    C = diag(maggies_unc**2) + J S J,     J = diag(d phot / d mag)

where ``S`` is the emulator's held-out residual covariance in (asinh) magnitudes
(``diag``: only its diagonal, the per-band variance the anchor code adds in
quadrature; ``cov``: the whole matrix, so correlated residuals, which bias colours,
enter the fit), and ``J`` converts magnitudes to maggies at the predicted fluxes.
The ln-likelihood is the Gaussian ``-0.5 (r^T C^-1 r + ln det(2 pi C))`` over the bands
``obs["phot_mask"]`` selects (a masked band's values, NaN included, are never read).

Residuals (``residuals=True``, what Prospector's Levenberg-Marquardt optimizer
minimises as ``0.5 * sum(r**2)``): the whitened residuals ``L^-1 r`` (``C = L L^T``)
followed by one more element, ``sqrt(ln det C - ln det C_obs)`` with
``C_obs = diag(maggies_unc**2)``.  It is real: ``J S J`` is positive semi-definite, so
``det C >= det C_obs``.  Then ``0.5 * sum(residuals**2) = -ln L + const``, the constant
``-0.5 ln det(2 pi C_obs)`` independent of the parameters: the optimizer minimises the
same likelihood the samplers use.  Without the extra element it would drop the
``ln det C`` term, which grows with the model flux (the emulator error is in
magnitudes), and favour brighter models.  The vector has one element more than the
used bands (``obs["ndof"] + 1`` for an obs from ``fix_obs``); the out-of-prior vector
has the same length, as ``scipy.optimize.least_squares`` requires.

Checks, once per model, error mode, filter set and mask (cached, not per call):
the emulator's covariance of the used bands must be finite, with a non-negative
diagonal (``diag``) or positive semi-definite (``cov``); otherwise
:class:`~prospect_emu.errors.ConfigurationError` names the bands.  Eigenvalues that are
negative only at rounding level (|lambda| < 1e-10 lambda_max, a singular covariance)
are set to zero, with a warning; ``C`` stays positive definite.  A NaN likelihood
(non-finite data in a used band) is also a ``ConfigurationError`` naming the bands:
every error mode refuses, at the first call, a fitted band (``phot_mask``) with non-finite
``maggies`` or a zero, negative or non-finite ``maggies_unc``
(:func:`~prospect_emu.prospector.obs_checks.check_phot_data`);
mask such bands, or build ``obs`` with ``fix_obs``, which does.

Spectral emulators (``emulator.kind == "spectrum"``): photometry with a fixed zred takes
the fast path (the projection of the PCA basis through the observed filters is built
once per observation); a free zred takes the generic path (a projection per new zred,
~0.1 ms per filter).  ``S`` is the spectral emulator's held-out statistics of its
training bands: diag/cov with another band is refused (a ``ConfigurationError`` at the
first call, suggesting ``--emulator-error none``).  With an observed spectrum the
ln-likelihood adds Prospector's own ``lnlike_spec`` of the spectrum that
``SpecModel.predict`` makes on the emulated sps (no emulator error on the spectrum).
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass

import numpy as np
from prospect.fitting import lnprobfn as prospector_lnprobfn
from prospect.likelihood import lnlike_spec

from ..emulator import kernels
from ..errors import ConfigurationError
from ..filters import filter_names
from .obs_checks import check_phot_data
from .obs_checks import used_bands as _used_bands
from .plans import ObsPlan

#: Relative size of negative eigenvalues treated as rounding in a singular covariance.
PSD_RTOL = 1e-10


@dataclass
class _PhotTerms:
    """What the likelihood needs of one (error mode, filter set, mask): computed once."""

    used: np.ndarray       # indices of the used bands in obs order
    names: list[str]       # their filter names
    emu: np.ndarray        # emulator variance (diag mode, 1-D) or covariance (cov mode, 2-D)


_TERMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _checked_covariance(cov: np.ndarray, names: list[str]) -> np.ndarray:
    """``cov`` if positive definite; rounding-level negative eigenvalues clipped (with a
    warning); a ConfigurationError naming the bands when it is really indefinite."""
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=0.0):
        raise ConfigurationError(f"the emulator's residual covariance for bands {names} is not "
                                 "symmetric: its test_errors statistics are damaged. Use "
                                 "--emulator-error diag, or retrain the emulator")
    try:
        np.linalg.cholesky(cov)
        return cov
    except np.linalg.LinAlgError:
        pass
    lam, vec = np.linalg.eigh(0.5 * (cov + cov.T))
    if lam[0] < -PSD_RTOL * np.abs(lam).max():
        v = np.abs(vec[:, 0])
        worst = [names[i] for i in np.argsort(v)[::-1][:3] if v[i] > 0.1]
        raise ConfigurationError(
            f"the emulator's residual covariance for bands {names} is not positive "
            f"semi-definite (smallest eigenvalue {lam[0]:.3g}, largest {lam[-1]:.3g}; the "
            f"negative direction is mostly {worst}), so --emulator-error cov would fail "
            "(Cholesky) in the middle of a fit. Its test_errors statistics are damaged: use "
            "--emulator-error diag, drop those bands, or retrain the emulator")
    warnings.warn(f"the emulator's residual covariance for bands {names} is singular (smallest "
                  f"eigenvalue {lam[0]:.3g} of {lam[-1]:.3g}): its rounding-level negative "
                  "eigenvalues are set to 0", stacklevel=4)
    return (vec * np.clip(lam, 0.0, None)) @ vec.T


def _phot_terms(model, obs) -> _PhotTerms:
    """The cached used bands and checked emulator (co)variance for this model and obs."""
    mode = model.emulator_error
    names = tuple(filter_names(obs["filters"]))
    mask = obs.get("phot_mask", None)
    mkey = None if mask is None else (np.asarray(mask).dtype.str, np.asarray(mask).tobytes())
    key = (mode, names, mkey)
    per_model = _TERMS.get(model)
    if per_model is None:
        per_model = _TERMS.setdefault(model, {})
    terms = per_model.get(key)
    if terms is not None:
        return terms
    used = _used_bands(obs, len(names))
    used_names = [names[i] for i in used]
    full = np.asarray(model.emulator_covariance(obs["filters"]), dtype=float)
    sub = full[np.ix_(used, used)]
    if not np.all(np.isfinite(sub)):
        bad = [used_names[i] for i in np.flatnonzero(~np.isfinite(sub).all(axis=0))]
        raise ConfigurationError(f"the emulator's residual covariance is not finite for bands "
                                 f"{bad}: its test_errors statistics are damaged. Use "
                                 "--emulator-error none, drop those bands, or retrain the emulator")
    var = np.diag(sub).copy()
    if np.any(var < 0):
        bad = [used_names[i] for i in np.flatnonzero(var < 0)]
        raise ConfigurationError(f"the emulator's residual variance is negative for bands {bad}: "
                                 "its test_errors statistics are damaged. Use --emulator-error "
                                 "none, drop those bands, or retrain the emulator")
    emu = var if mode == "diag" else _checked_covariance(sub, used_names)
    terms = _PhotTerms(used, used_names, emu)
    per_model[key] = terms
    return terms


def photometric_covariance(model, obs) -> np.ndarray | None:
    """Observed + emulator covariance of the used (``phot_mask``) bands at the last
    ``model.predict`` point; None for error mode 'none'."""
    mode = getattr(model, "emulator_error", "none")
    if mode == "none" or model._dphot_dmag is None:
        return None
    terms = _phot_terms(model, obs)
    unc = np.asarray(obs["maggies_unc"], dtype=float)[terms.used]
    j = model._dphot_dmag[terms.used]
    if mode == "diag":
        return np.diag(unc ** 2 + j * j * terms.emu)
    cov = terms.emu * np.outer(j, j)
    cov.flat[::len(j) + 1] += unc * unc
    return cov


def _not_finite(obs, terms: _PhotTerms, mode: str) -> ConfigurationError:
    check_phot_data(obs)  # raises, naming the bands, for bad data
    if mode == "cov":
        return ConfigurationError(
            f"the photometric covariance of bands {terms.names} is not positive definite at "
            "this point (maggies_unc far below the emulator error?): use --emulator-error diag")
    return ConfigurationError(f"the ln-likelihood of bands {terms.names} is NaN with finite data "
                              "and positive maggies_unc: check the emulator's error statistics")


def _gaussian_terms(phot, obs, model, terms: _PhotTerms) -> tuple:
    """The arguments of :func:`prospect_emu.emulator.gaussian.lnlike` (and ``whiten``) for the
    used bands: flux residuals, gain (``d phot / d mag``), third row, ``unc^2``, covariance."""
    used = terms.used
    delta = np.asarray(obs["maggies"], dtype=float)[used] - phot[used]
    unc = np.asarray(obs["maggies_unc"], dtype=float)[used]
    g = np.ascontiguousarray(model._dphot_dmag[used], dtype=float)
    mode = model.emulator_error
    third = terms.emu if mode == "diag" else np.zeros(len(used))
    cov = np.ascontiguousarray(terms.emu) if mode == "cov" else np.zeros((1, 1))
    return delta, g, np.ascontiguousarray(third, dtype=float), unc * unc, cov


def lnlike_phot(phot: np.ndarray, obs: dict, model) -> float:
    """Gaussian photometric ln-likelihood including the model's emulator-error mode
    (:func:`prospect_emu.emulator.gaussian.lnlike`)."""
    if obs.get("maggies", None) is None:
        return 0.0
    lnlike, _ = kernels.gaussian_flux()
    mode = getattr(model, "emulator_error", "none")
    if mode == "none" or model._dphot_dmag is None:
        mask = obs.get("phot_mask", slice(None))
        delta = np.ascontiguousarray((np.asarray(obs["maggies"], dtype=float) - phot)[mask])
        var = np.asarray(obs["maggies_unc"], dtype=float)[mask] ** 2
        return float(lnlike(delta, delta, 1.0 / var, var, np.zeros((1, 1)),
                            float(-0.5 * np.sum(np.log(2 * np.pi * var))), kernels.MODES["none"]))
    terms = _phot_terms(model, obs)
    delta, g, third, unc2, cov = _gaussian_terms(phot, obs, model, terms)
    lnl = float(lnlike(delta, g, third, unc2, cov, -0.5 * len(delta) * np.log(2 * np.pi),
                       kernels.MODES[mode]))
    if lnl != lnl:
        raise _not_finite(obs, terms, mode)
    return lnl


def _residuals(phot, obs, model, terms: _PhotTerms) -> np.ndarray:
    """Whitened residuals plus ``sqrt(ln det C - ln det C_obs)``; see the module notes."""
    _, whiten = kernels.gaussian_flux()
    mode = model.emulator_error
    delta, g, third, unc2, cov = _gaussian_terms(phot, obs, model, terms)
    out = np.empty(len(delta) + 1)
    logdet_excess = float(whiten(delta, g, third, unc2, cov, kernels.MODES[mode], out[:-1]))
    out[-1] = np.sqrt(max(logdet_excess, 0.0))
    if not np.all(np.isfinite(out)) or logdet_excess != logdet_excess:
        raise _not_finite(obs, terms, mode)
    return out


def _mask_key(mask):
    if mask is None:
        return None
    m = np.asarray(mask)
    return m.dtype.str, m.shape, m.tobytes()


def fast_plan(model, obs) -> ObsPlan | None:
    """The cached :class:`~prospect_emu.prospector.plans.ObsPlan` of ``model`` (an emulated
    model) for ``obs``, or None where the fast path does not apply: an observed
    spectrum, no photometry or filters, ``f_outlier_phot`` set.  Keyed by the error
    mode and the content of the filters (identities), mask, maggies and uncertainties,
    so a changed observation gets a new plan."""
    plans = getattr(model, "_fast_plans", None)
    if plans is None or obs is None:
        return None
    maggies = obs.get("maggies", None)
    filters = obs.get("filters", None)
    if maggies is None or filters is None or obs.get("spectrum", None) is not None:
        return None
    fo = model.params.get("f_outlier_phot", None)
    if fo is not None and np.any(fo != 0):
        return None
    unc = obs.get("maggies_unc", None)
    mask = obs.get("phot_mask", None)
    mode = model._emulator_error
    zkey = None
    if model.emulator.plan_needs_zred:
        # the projection is built once for a fixed zred; a free zred (or one set by
        # depends_on) takes the generic path, which projects per call
        if model.input_plan.zred_free or model.input_plan.igm_free:
            return None
        zkey = (float(np.squeeze(model.params.get("zred", 0.0))), model.igm_factor())
    last = model.__dict__.get("_fast_last")
    if last is not None and last[0] is maggies and last[1] is unc and last[2] is mask \
            and last[3] == (mode, zkey) and last[4] == _content(maggies, unc, mask, filters):
        return last[5]  # the same arrays, unchanged, as the last call's
    key = (mode, zkey, model._filters_key(filters),
           maggies.tobytes() if type(maggies) is np.ndarray else np.asarray(maggies, float).tobytes(),
           unc.tobytes() if type(unc) is np.ndarray else np.asarray(unc, float).tobytes(),
           _mask_key(mask))
    plan = plans.get(key)
    if plan is None:
        model.bands_for(filters)  # a missing or redefined band: its error first, as predict
        check_phot_data(obs)
        if zkey is not None:
            model.check_spectral_coverage(obs)
        if mode == "none":
            used = _used_bands(obs, len(filter_names(filters)))
            emu = None
        else:
            terms = _phot_terms(model, obs)
            used, emu = terms.used, terms.emu
        if len(plans) >= 64:
            plans.clear()
        plan = plans[key] = ObsPlan(model, obs, used, emu, mode)
    content = _content(maggies, unc, mask, filters)
    model._fast_last = (maggies, unc, mask, (mode, zkey), content, plan) if content else None
    return plan


def _content(maggies, unc, mask, filters) -> tuple | None:
    """What :func:`fast_plan`'s one-entry memo compares between calls on the same arrays
    (their bytes, the filters' identities): cheaper than its content key; None where an
    entry is not an array."""
    if type(maggies) is not np.ndarray or type(unc) is not np.ndarray or \
            not (mask is None or type(mask) is np.ndarray):
        return None
    return (maggies.tobytes(), unc.tobytes(), None if mask is None else mask.tobytes(),
            tuple(map(id, filters)) if isinstance(filters, (list, tuple)) else id(filters))


def lnprobfn(theta, model=None, obs=None, sps=None, noise=(None, None), residuals=False,
             nested=False, negative=False, verbose=False):
    """Prospector's ``lnprobfn`` signature, with the model's emulator-error mode.

    Pass it to ``prospect.fitting.fit_model(..., lnprobfn=lnprobfn)``.  For models
    without emulator error (``emulator_error == 'none'``, or not an emulated model)
    it calls Prospector's own ``lnprobfn`` unchanged.

    Parameters
    ----------
    theta : ndarray
        Free parameters.
    model, obs, sps, noise, nested, negative, verbose
        As for ``prospect.fitting.lnprobfn``.
    residuals : bool
        Return the residual vector for least squares instead: whitened residuals of
        the used bands plus one element ``sqrt(ln det C - ln det C_obs)``, so that
        ``0.5 * sum(residuals**2)`` is ``-ln L`` up to a constant (no prior, as in
        Prospector).  Outside the prior or the emulator's bounds: a vector of -1e18 of
        the same length.

    Returns
    -------
    float or ndarray

    Notes
    -----
    For an emulated model fitting photometry without noise models, residuals or
    ``verbose``, the call runs :mod:`prospect_emu.prospector.plans`: the same number, computed
    with what does not change between calls (bands, masks, data, emulator error terms,
    the network's last layer) prepared once per observation.
    """
    if not residuals and not verbose and (noise is None or (noise[0] is None and noise[1] is None)):
        plan = fast_plan(model, obs)
        if plan is not None:
            lnp = plan.lnprob(model, theta, nested)
            if lnp == lnp:
                return -lnp if negative else lnp
            # NaN: the general path below gives the same result, or the error naming the cause
    if obs is not None:
        check_phot_data(obs, positive_unc=noise is None or noise[1] is None)
    mode = getattr(model, "emulator_error", "none")
    if mode == "none":
        return prospector_lnprobfn(theta, model=model, obs=obs, sps=sps, noise=noise,
                                   residuals=residuals, nested=nested, negative=negative,
                                   verbose=verbose)
    if noise is not None and any(n is not None for n in noise):
        raise ConfigurationError("emulator error (diag/cov) cannot be combined with Prospector noise "
                                 "models; use --emulator-error none or drop build_noise's models")
    if np.any(model.params.get("f_outlier_phot", 0.0) != 0):
        raise ConfigurationError("emulator error (diag/cov) does not support f_outlier_phot; use "
                                 "--emulator-error none")
    has_spec = obs.get("spectrum", None) is not None
    if residuals and has_spec:
        raise ConfigurationError("least-squares residuals with an observed spectrum and emulator "
                                 "error diag/cov are not supported; use --emulator-error none")
    if residuals:
        terms = _phot_terms(model, obs)
        lnnull = np.zeros(len(terms.used) + 1) - 1e18
    else:
        lnnull = -np.inf
    lnp_prior = model.prior_product(theta, nested=nested)
    if not np.isfinite(lnp_prior):
        return lnnull
    try:
        spec, phot, _ = model.predict(theta, obs, sps=sps)
    except ValueError:
        return lnnull
    if residuals:
        return _residuals(phot, obs, model, terms)
    lnp = lnp_prior + lnlike_phot(phot, obs, model)
    if has_spec:
        # the spectral emulator's spectrum through Prospector's own Gaussian (as its lnprobfn)
        lnp += lnlike_spec(spec, obs=obs) + getattr(model, "_ln_eline_penalty", 0.0)
    return -lnp if negative else lnp
