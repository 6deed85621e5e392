"""The emulated likelihood for many parameter vectors at once.

:func:`lnprob_batch` takes rows ``(n, ndim)`` and returns ``n`` ln-probabilities, equal
(to float32-network rounding) to :func:`prospect_emu.prospector.likelihood.lnprobfn` row by row,
``-inf`` included: outside the priors, outside the emulator's training box.  Priors,
inputs, the network (numpy, in blocks of rows) and the Gaussian (``none``, ``diag``, or
``cov`` with one batched Cholesky) are all vectorised; a model with ``depends_on``
parameters reads its inputs row by row (Prospector's ``set_parameters``).  The model's
parameters are left as they were.

:class:`BatchLikelihood` wraps it for samplers that propose in batches (nautilus with
``vectorized=True``, emcee with ``vectorize=True``) and counts the calls.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigurationError
from .likelihood import fast_plan, lnprobfn


def lnprob_batch(thetas: np.ndarray, model, obs: dict, nested: bool = False,
                 in_support: bool = False) -> np.ndarray:
    """ln-probability (ln-likelihood with ``nested``) of each row of ``thetas``.

    Parameters
    ----------
    thetas : ndarray (n, ndim)
        Free parameters, one vector per row (a single vector is taken as one row).
    model : EmulatedSpecModel
    obs : dict
        Photometric observations, as for ``lnprobfn``.
    nested : bool
        Leave out the ln-prior (0 where it is finite), as ``lnprobfn(nested=True)``.
    in_support : bool
        The rows are ``model.prior_transform`` of points inside the open unit cube (what
        nested samplers and the unit-cube emcee evaluate), so they lie inside the priors'
        support: with ``nested``, and where every prior is of a class whose transform
        :class:`~prospect_emu.prospector.priors.FastPriors` knows, the priors are not
        evaluated (they would give 0 for every row).

    Returns
    -------
    ndarray (n,)

    Raises
    ------
    ConfigurationError
        For a model or observation the vectorised path does not cover (not an emulated
        model, an observed spectrum, no photometry, ``f_outlier_phot``), and for the
        errors ``lnprobfn`` raises (non-finite data in a used band, ...).
    """
    plan = fast_plan(model, obs)
    if plan is None:
        raise ConfigurationError(
            "the batched likelihood needs an emulated model (prospect_emu.prospector.twin.emulate) and "
            "photometry without a spectrum or f_outlier_phot; call lnprobfn per vector instead")
    th = np.atleast_2d(np.asarray(thetas, dtype=float))
    if th.ndim != 2 or th.shape[1] != model.ndim:
        raise ConfigurationError(f"thetas must have shape (n, {model.ndim}) for the model's "
                                 f"{model.ndim} free parameters; got {np.shape(thetas)}")
    n = len(th)
    res = np.full(n, -np.inf)
    if nested and in_support and getattr(model.fast_priors, "transform_in_support", False):
        lp = np.zeros(n)
        ok = np.arange(n)
    else:
        lp = model.prior_product_rows(th, nested=nested)
        ok = np.flatnonzero(np.isfinite(lp))
    if not ok.size:
        return res
    ip = model.input_plan
    x, scale = ip.read_rows(model, th[ok])
    s, inside = ip.scaled_rows(x)
    ok = ok[inside]
    if not ok.size:
        return res
    lnl = plan.lnlike_batch(plan.net.forward(s[inside]), scale[inside])
    bad = np.flatnonzero(~(lnl == lnl))
    if bad.size:
        # the scalar path raises the error that names the cause (or gives the same NaN)
        lnprobfn(th[ok[bad[0]]], model=model, obs=obs, nested=nested)
    res[ok] = lp[ok] + lnl
    return res


class BatchLikelihood:
    """A callable ``f(thetas (n, ndim)) -> (n,)`` over :func:`lnprob_batch`, counting calls.

    Parameters
    ----------
    model, obs, nested, in_support
        As for :func:`lnprob_batch`: ``in_support`` where every row will be the prior
        transform of a point inside the unit cube (a nested sampler's or the unit-cube
        emcee's likelihood).
    """

    def __init__(self, model, obs: dict, nested: bool = False, in_support: bool = False):
        self.model, self.obs, self.nested, self.in_support = model, obs, nested, in_support
        self.ncall = 0
        lnprob_batch(model.theta[None, :], model, obs, nested)  # checks, and builds the plans

    def __call__(self, thetas: np.ndarray) -> np.ndarray:
        th = np.atleast_2d(thetas)
        self.ncall += len(th)
        return lnprob_batch(th, self.model, self.obs, self.nested, self.in_support)
