"""The Gaussian photometric ln-likelihood with emulator error: written once, here.

Every path of the emulated likelihood computes its Gaussian with these functions: the
compiled kernels (:mod:`prospect_emu.emulator.kernels` compiles these very function objects
with numba), the numpy path without numba (``PROSPECT_EMU_NO_JIT=1``, which calls them as
plain Python), one vector or rows (:class:`~prospect_emu.prospector.plans.ObsPlan`,
:func:`~prospect_emu.prospector.batched.lnprob_batch`), and the general path of
:func:`~prospect_emu.prospector.likelihood.lnprobfn` (residuals, verbose calls, an observed
spectrum).  They are written in the subset of Python that numba compiles (loops, ``math``,
``np.empty``/``np.zeros``), and this module imports nothing of the package.

The model: over the ``n`` used bands, flux residuals ``delta`` (observed minus model
maggies), the observational variance ``unc2`` and the emulator's residual (co)variance
``S`` in asinh magnitudes, carried to maggies by the Jacobian ``J_b = g_b`` ("the emulator
error's gain"; the sign is irrelevant)::

    C = diag(unc2) + diag(g) S diag(g)
    ln L = -0.5 delta^T C^-1 delta - 0.5 ln det C - 0.5 n ln(2 pi)

Error modes (:data:`NONE`, :data:`DIAG`, :data:`COV`, the codes of
:data:`prospect_emu.options.ERROR_MODES`): ``none`` drops ``S``, ``diag`` keeps its
diagonal, ``cov`` all of it (a Cholesky factorisation; NaN where ``C`` is not positive
definite, as NaN data give NaN).  The per-band terms come in the kernels' layout: ``third``
is ``1 / unc2`` for ``none`` and the diagonal ``K_b`` of ``S`` (already multiplied by
whatever constant factor of ``g`` the caller folded in) for ``diag``; ``SJ`` is ``S`` (with
the same folding) for ``cov``.  ``const`` is added as is: ``-0.5 sum ln(2 pi unc2)`` for
``none`` (where ``C`` does not change), ``-0.5 n ln(2 pi)`` otherwise.

For a network's asinh outputs ``A`` (:func:`lnlike_asinh`): the model flux is
``2 b s sinh A`` and the gain ``s cosh A`` (``s`` the mass and distance scale, ``2 b`` in
``obsv[1]``), so that ``K = (ln 10 / 2.5)^2 S_bb (2 b)^2`` and
``SJ = (ln 10 / 2.5)^2 S (2 b)(2 b)^T``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["COV", "DIAG", "JITABLE", "NONE", "lnlike", "lnlike_asinh", "lnlike_asinh_rows",
           "whiten"]

#: error-mode codes (the position of the mode in ``prospect_emu.options.ERROR_MODES``)
NONE, DIAG, COV = 0, 1, 2


def _cholesky_whiten(delta, g, unc2, SJ, w):
    """Factor ``C = diag(unc2) + SJ * g g^T`` (lower Cholesky), solve ``L w = delta`` into
    ``w``; return ``sum ln diag L`` (``0.5 ln det C``), NaN where ``C`` is not positive
    definite (``w`` is then not meaningful)."""
    n = delta.shape[0]
    L = np.zeros((n, n))
    half_logdet = 0.0
    for j in range(n):
        s = SJ[j, j] * g[j] * g[j] + unc2[j]
        for m in range(j):
            s -= L[j, m] * L[j, m]
        if not s > 0.0:
            return math.nan
        d = math.sqrt(s)
        L[j, j] = d
        half_logdet += math.log(d)
        for i in range(j + 1, n):
            t = SJ[i, j] * g[i] * g[j]
            for m in range(j):
                t -= L[i, m] * L[j, m]
            L[i, j] = t / d
    for i in range(n):  # forward substitution, L w = delta
        t = delta[i]
        for m in range(i):
            t -= L[i, m] * w[m]
        w[i] = t / L[i, i]
    return half_logdet


def lnlike(delta, g, third, unc2, SJ, const, mode):
    """The Gaussian ln-likelihood of flux residuals ``delta`` (see the module notes).

    Parameters
    ----------
    delta, g : ndarray (n,)
        Observed minus model maggies; the emulator error's gain per band.
    third : ndarray (n,)
        ``1 / unc2`` (mode none) or ``K`` (mode diag); not read for mode cov.
    unc2 : ndarray (n,)
        Observational variance (maggies^2).
    SJ : ndarray (n, n)
        The emulator covariance (mode cov; not read otherwise).
    const : float
        Added to the result.
    mode : int
        :data:`NONE`, :data:`DIAG` or :data:`COV`.

    Returns
    -------
    float
        NaN for non-finite data or, in mode cov, a covariance that is not positive definite.
    """
    n = delta.shape[0]
    if mode == NONE:
        chi = 0.0
        for b in range(n):
            chi += delta[b] * delta[b] * third[b]
        return -0.5 * chi + const
    if mode == DIAG:
        chi = 0.0
        logdet = 0.0
        for b in range(n):
            v = third[b] * g[b] * g[b] + unc2[b]
            chi += delta[b] * delta[b] / v
            logdet += math.log(v)
        return -0.5 * chi - 0.5 * logdet + const
    w = np.empty(n)
    half_logdet = _cholesky_whiten(delta, g, unc2, SJ, w)
    chi = 0.0
    for i in range(n):
        chi += w[i] * w[i]
    return -0.5 * chi - half_logdet + const


def whiten(delta, g, third, unc2, SJ, mode, r):
    """Whitened residuals ``L^-1 delta`` (``C = L L^T``) into ``r``; returns
    ``ln det C - ln det diag(unc2)`` (>= 0: the emulator's share of ``ln det C``), NaN where
    ``C`` is not positive definite.  Mode none: ``delta / sqrt(unc2)`` and 0.  ``third``,
    ``SJ`` as for :func:`lnlike`."""
    n = delta.shape[0]
    if mode == NONE:
        for b in range(n):
            r[b] = delta[b] / math.sqrt(unc2[b])
        return 0.0
    if mode == DIAG:
        excess = 0.0
        for b in range(n):
            ratio = third[b] * g[b] * g[b] / unc2[b]
            r[b] = delta[b] / math.sqrt(unc2[b] * (1.0 + ratio))
            excess += math.log1p(ratio)
        return excess
    excess = 2.0 * _cholesky_whiten(delta, g, unc2, SJ, r)
    for b in range(n):
        excess -= math.log(unc2[b])
    return excess


def lnlike_asinh(out, scale, obsv, SJ, const, mode):
    """:func:`lnlike` of one network output row ``[A_1..A_n, ...]`` at mass and distance
    scale ``scale``.

    ``obsv`` rows: maggies, ``2 b``, ``third`` (``1 / unc2`` or ``K``), ``unc2``; the model
    flux is ``2 b scale sinh A``, the gain ``scale cosh A`` (see the module notes).
    """
    n = obsv.shape[1]
    delta = np.empty(n)
    g = np.empty(n)
    for b in range(n):
        a = out[b]
        delta[b] = obsv[0, b] - math.sinh(a) * obsv[1, b] * scale
        g[b] = math.cosh(a) * scale
    return lnlike(delta, g, obsv[2], obsv[3], SJ, const, mode)


def lnlike_asinh_rows(out, scale, obsv, SJ, const, mode):
    """:func:`lnlike_asinh` per row of ``out`` (``scale`` per row)."""
    res = np.empty(out.shape[0])
    for r in range(out.shape[0]):
        res[r] = lnlike_asinh(out[r], scale[r], obsv, SJ, const, mode)
    return res


#: the functions that call one another here: :mod:`prospect_emu.emulator.kernels` registers
#: them with numba, so that compiled code calls the compiled versions
JITABLE = (_cholesky_whiten, lnlike, whiten, lnlike_asinh, lnlike_asinh_rows)
