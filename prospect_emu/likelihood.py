"""Ln-probability with emulator error: none, diagonal, or the full band x band covariance.

With ``emulator_error='none'`` this *is* Prospector's ``lnprobfn``.  Otherwise the
photometric covariance at the model point is::

    C = diag(maggies_unc**2) + J S J,     J = diag(d phot / d mag)

where ``S`` is the emulator's held-out residual covariance in (asinh) magnitudes
(``diag``: only its diagonal, the per-band variance the anchor code adds in
quadrature; ``cov``: the whole matrix, so correlated residuals, which bias colours,
enter the fit), and ``J`` converts magnitudes to maggies at the predicted fluxes.
The ln-likelihood is the Gaussian ``-0.5 (r^T C^-1 r + ln det(2 pi C))``.
"""

from __future__ import annotations

import numpy as np
from prospect.fitting import lnprobfn as prospector_lnprobfn

from .errors import ConfigurationError


def photometric_covariance(model, obs) -> np.ndarray | None:
    """Observed + emulator covariance of the masked photometry (None for mode 'none')."""
    mode = getattr(model, "emulator_error", "none")
    if mode == "none" or model._dphot_dmag is None:
        return None
    mask = obs.get("phot_mask", slice(None))
    unc = np.asarray(obs["maggies_unc"], dtype=float)
    emu = model.emulator_covariance(obs["filters"])
    j = model._dphot_dmag
    if mode == "diag":
        return np.diag((unc ** 2 + j * j * np.diag(emu))[mask])
    cov = emu * np.outer(j, j)
    cov[np.diag_indices_from(cov)] += unc ** 2
    return cov[np.ix_(np.arange(len(j))[mask], np.arange(len(j))[mask])]


def lnlike_phot(phot: np.ndarray, obs: dict, model) -> float:
    """Gaussian photometric ln-likelihood including the model's emulator-error mode."""
    if obs.get("maggies", None) is None:
        return 0.0
    mask = obs.get("phot_mask", slice(None))
    delta = (np.asarray(obs["maggies"], dtype=float) - phot)[mask]
    mode = getattr(model, "emulator_error", "none")
    if mode == "diag":
        unc = np.asarray(obs["maggies_unc"], dtype=float)
        emu_var = np.diag(model.emulator_covariance(obs["filters"]))
        var = (unc ** 2 + model._dphot_dmag ** 2 * emu_var)[mask]
        return float(-0.5 * np.sum(delta * delta / var) - 0.5 * np.sum(np.log(2 * np.pi * var)))
    cov = photometric_covariance(model, obs)
    if cov is None:
        var = np.asarray(obs["maggies_unc"], dtype=float)[mask] ** 2
        return float(-0.5 * np.sum(delta * delta / var) - 0.5 * np.sum(np.log(2 * np.pi * var)))
    chol = np.linalg.cholesky(cov)
    w = np.linalg.solve(chol, delta)
    return float(-0.5 * w @ w - np.sum(np.log(np.diag(chol))) - 0.5 * len(delta) * np.log(2 * np.pi))


def _whitened_residuals(phot, obs, model) -> np.ndarray:
    mask = obs.get("phot_mask", slice(None))
    delta = (np.asarray(obs["maggies"], dtype=float) - phot)[mask]
    cov = photometric_covariance(model, obs)
    if cov is None:
        return delta / np.asarray(obs["maggies_unc"], dtype=float)[mask]
    return np.linalg.solve(np.linalg.cholesky(cov), delta)


def lnprobfn(theta, model=None, obs=None, sps=None, noise=(None, None), residuals=False,
             nested=False, negative=False, verbose=False):
    """Prospector's ``lnprobfn`` signature, with the model's emulator-error mode.

    Pass it to ``prospect.fitting.fit_model(..., lnprobfn=lnprobfn)``.  For models
    without emulator error (``emulator_error == 'none'``, or not an emulated model)
    it calls Prospector's own ``lnprobfn`` unchanged.
    """
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
    lnnull = np.zeros(obs["ndof"]) - 1e18 if residuals else -np.inf
    lnp_prior = model.prior_product(theta, nested=nested)
    if not np.isfinite(lnp_prior):
        return lnnull
    try:
        spec, phot, _ = model.predict(theta, obs, sps=sps)
    except ValueError:
        return lnnull
    if residuals:
        return _whitened_residuals(phot, obs, model)
    lnp = lnp_prior + lnlike_phot(phot, obs, model)
    return -lnp if negative else lnp
