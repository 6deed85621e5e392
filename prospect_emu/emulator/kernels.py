"""Compiled kernels (numba) for the emulated likelihood's hot path.

A likelihood call does a few dozen numpy operations on arrays of ~10-130 elements, and
each costs ~0.5-1 us of overhead: that, not arithmetic, bounds a numpy call at ~40 us.
These kernels do the same arithmetic in one compiled call each:

* :func:`forward_one` / :func:`forward_rows`: :class:`~prospect_emu.emulator.fastpath.FoldedNetwork`'s
  folded hidden layers (``y = z W``, then ``y (k + tanh y)``) and its float64 output
  layer.  ``tanh`` is a rational minimax approximation (Eigen's
  ``generic_fast_tanh_float``: maximum absolute error 3e-7, the float32 network's own
  rounding level), which vectorises; numpy's float32 ``tanh`` costs ~3 ns per element
  here, as much as the matrix products.
* :func:`lnlike_one` / :func:`lnlike_rows`: the Gaussian photometric ln-likelihood of
  :class:`~prospect_emu.prospector.plans.ObsPlan` in each emulator-error mode, ``cov``
  with an unrolled Cholesky factorisation (NaN where the covariance is not positive
  definite, as the LAPACK path).
* :func:`lnlike_theta`: the input scaling of
  :class:`~prospect_emu.prospector.plans.InputPlan` (log10 inputs, the training box,
  ratio inputs; :class:`InputMap`), the network and the Gaussian in one call
  (:func:`lnlike_theta_spectral` with the spectral kind's projection, :func:`spectral_one`);
  :func:`scaled_rows` the same scaling for rows.

numba is a dependency, but the package runs without it: without it (or with
``PROSPECT_EMU_NO_JIT=1`` in the environment) :data:`ENABLED` is False and the callers
keep their numpy code, which gives the same numbers to float32 rounding.  Compiled code
is cached on disk in a user cache folder, never in the package (:mod:`.jitcache`), so only
the first process on a machine pays the few seconds of compilation (~4 s for a demo fit).
"""

from __future__ import annotations

import math
import os

import numpy as np

from prospect_emu.emulator import gaussian, jitcache
from prospect_emu.emulator.gaussian import lnlike_asinh, lnlike_asinh_rows
from prospect_emu.options import ERROR_MODES

#: error modes, as the kernels take them: the code is the place in ERROR_MODES (none 0,
#: diag 1, cov 2)
MODES = {mode: code for code, mode in enumerate(ERROR_MODES)}

try:
    if os.environ.get("PROSPECT_EMU_NO_JIT", "0") not in ("", "0"):
        raise ImportError("switched off by PROSPECT_EMU_NO_JIT")
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; the fallback is tested by flag
    numba = None

#: whether the compiled kernels are used (tests switch it off to check the numpy path)
ENABLED = numba is not None


#: numba's fast-math flags for the kernels: no 'nnan'/'ninf', since NaN and inf must survive
#: (a NaN likelihood names bad data)
_FASTMATH = {"contract", "reassoc", "nsz", "arcp"}


def _jit(fn):
    return jitcache.cached(numba.njit(nogil=True, error_model="numpy", fastmath=_FASTMATH)(fn))


if numba is not None:
    from numba.extending import register_jitable

    # the Gaussian (prospect_emu.emulator.gaussian) compiled where the kernels call it; a
    # change to that file recompiles the cached kernels
    for _fn in gaussian.JITABLE:
        register_jitable(error_model="numpy", fastmath=_FASTMATH)(_fn)
    jitcache.add_source(gaussian.__file__)


class Packed:
    """A folded network's hidden layers in one float32 buffer, for the kernels.

    Parameters
    ----------
    hidden : list
        ``(W, k, fn)`` per layer, as :func:`prospect_emu.emulator.fastpath._augment`
        returns them; every layer folded (``fn`` None).
    W_out : ndarray
        The float64 output layer.
    """

    def __init__(self, hidden: list, W_out: np.ndarray):
        parts, rows, off = [], [], 0
        for W, k, _ in hidden:
            n_prev, n = W.shape
            parts += [np.ravel(W).astype(np.float32), np.asarray(k, np.float32)]
            rows.append((off, n_prev, n, off + n_prev * n))
            off += n_prev * n + n
        self.wbuf = np.ascontiguousarray(np.concatenate(parts))
        self.layout = np.array(rows, dtype=np.int64)
        self.W_out = np.ascontiguousarray(W_out, dtype=np.float64)


def pack(hidden: list, W_out: np.ndarray) -> Packed | None:
    """:class:`Packed` layers when the kernels apply (numba present and every hidden
    layer folded), else None."""
    if not ENABLED or any(fn is not None or k is None for _, k, fn in hidden):
        return None
    return Packed(hidden, W_out)


if numba is not None:
    _C = np.float32(7.90531110763549805)
    _A = [np.float32(v) for v in (4.89352455891786e-03, 6.37261928875436e-04,
                                  1.48572235717979e-05, 5.12229709037114e-08,
                                  -8.60467152213735e-11, 2.00018790482477e-13,
                                  -2.76076847742355e-16)]
    _A1, _A3, _A5, _A7, _A9, _A11, _A13 = _A
    _B0, _B2, _B4, _B6 = [np.float32(v) for v in (4.89352518554385e-03, 2.26843463243900e-03,
                                                  1.18534705686654e-04, 1.19825839466702e-06)]

    @numba.njit(inline="always", fastmath={"contract", "reassoc", "nsz", "arcp"})
    def _tanh(x):
        x = min(max(x, -_C), _C)
        x2 = x * x
        p = x2 * _A13 + _A11
        p = x2 * p + _A9
        p = x2 * p + _A7
        p = x2 * p + _A5
        p = x2 * p + _A3
        p = x2 * p + _A1
        q = x2 * _B6 + _B4
        q = x2 * q + _B2
        q = x2 * q + _B0
        return x * p / q

    @numba.njit(inline="always")
    def _scale(v, log, a, c):
        """One raw input scaled: log10 if ``log`` (-inf at 0, NaN below), then ``v a - c``."""
        if log:
            if v > 0.0:
                v = math.log10(v)
            elif v == 0.0:
                v = -math.inf
            else:
                v = math.nan
        return v * a - c

    @_jit
    def _hidden_one(s, wbuf, layout):
        z = s
        for L in range(layout.shape[0]):
            off, n_prev, n, koff = layout[L, 0], layout[L, 1], layout[L, 2], layout[L, 3]
            W = wbuf[off:off + n_prev * n].reshape((n_prev, n))
            y = np.zeros(n, np.float32)
            for i in range(n_prev):
                zi = z[i]
                for j in range(n):
                    y[j] += zi * W[i, j]
            for j in range(n):
                v = y[j]
                y[j] = v * (wbuf[koff + j] + _tanh(v))
            z = y
        return z

    @_jit
    def _forward_one(s, wbuf, layout, W_out):
        z = _hidden_one(s, wbuf, layout)
        n_prev, n = W_out.shape
        out = np.zeros(n)
        for i in range(n_prev):
            zi = np.float64(z[i])
            for j in range(n):
                out[j] += zi * W_out[i, j]
        return out

    @_jit
    def _spectral_one(s, wbuf, layout, W_out, basis1, weights2b):
        o = _forward_one(s, wbuf, layout, W_out)
        k1, n_pix = basis1.shape
        n_f = weights2b.shape[1]
        e = np.zeros(n_pix)
        for i in range(k1):
            oi = o[i]
            for p in range(n_pix):
                e[p] += oi * basis1[i, p]
        ph = np.zeros(n_f)
        for p in range(n_pix):
            ep = math.exp(e[p])
            for f in range(n_f):
                ph[f] += ep * weights2b[p, f]
        out = np.empty(n_f + 1)
        for f in range(n_f):
            out[f] = math.asinh(ph[f])
        out[n_f] = o[o.shape[0] - 1]
        return out

    @_jit
    def _scaled_input(theta, xfix, imap, fmap, lim):
        n_in = xfix.shape[0]
        n_r = imap.shape[0] - n_in
        raw = np.empty(n_in)
        s = np.empty(n_in + n_r + 1, np.float32)
        for j in range(n_in):
            t = imap[j, 0]
            raw[j] = theta[t] if t >= 0 else xfix[j]
            v = _scale(raw[j], imap[j, 1], fmap[0, j], fmap[1, j])
            if not (-lim <= v <= lim):
                return s, False
            s[j] = v
        for r in range(n_r):  # inside the box the ratios' inputs are positive
            a, b = imap[n_in + r, 0], imap[n_in + r, 1]
            cap, k = fmap[2, r], fmap[3, r]
            s[n_in + r] = min(raw[a] / raw[b], cap) * k - 1.0
        s[n_in + n_r] = 1.0
        return s, True

    @_jit
    def _scaled_rows(x, imap, fmap, lim):
        n, n_in = x.shape
        n_r = imap.shape[0] - n_in
        s = np.empty((n, n_in + n_r + 1), np.float32)
        inside = np.ones(n, np.bool_)
        for r in range(n):
            for j in range(n_in):
                v = _scale(x[r, j], imap[j, 1], fmap[0, j], fmap[1, j])
                if not (-lim <= v <= lim):
                    inside[r] = False
                s[r, j] = v
            for q in range(n_r):
                a, b = imap[n_in + q, 0], imap[n_in + q, 1]
                t = min(x[r, a] / x[r, b], fmap[2, q]) if inside[r] else 1.0
                s[r, n_in + q] = t * fmap[3, q] - 1.0
            s[r, n_in + n_r] = 1.0
        return s, inside

    @_jit
    def _lnlike_theta(theta, xfix, imap, fmap, lim, wbuf, layout, W_out, scale, obsv, SJ, const,
                      mode):
        s, inside = _scaled_input(theta, xfix, imap, fmap, lim)
        if not inside:
            return -math.inf
        return lnlike_asinh(_forward_one(s, wbuf, layout, W_out), scale, obsv, SJ, const, mode)

    @_jit
    def _lnlike_theta_spectral(theta, xfix, imap, fmap, lim, wbuf, layout, W_out, basis1,
                               weights2b, scale, obsv, SJ, const, mode):
        s, inside = _scaled_input(theta, xfix, imap, fmap, lim)
        if not inside:
            return -math.inf
        return lnlike_asinh(_spectral_one(s, wbuf, layout, W_out, basis1, weights2b), scale,
                            obsv, SJ, const, mode)

    @_jit
    def _forward_rows(S, wbuf, layout, W_out):
        Z = S
        for L in range(layout.shape[0]):
            off, n_prev, n, koff = layout[L, 0], layout[L, 1], layout[L, 2], layout[L, 3]
            W = wbuf[off:off + n_prev * n].reshape((n_prev, n))
            Y = np.dot(Z, W)
            for r in range(Y.shape[0]):
                for j in range(n):
                    v = Y[r, j]
                    Y[r, j] = v * (wbuf[koff + j] + _tanh(v))
            Z = Y
        return np.dot(Z.astype(np.float64), W_out)

    @_jit
    def _lnlike(out, scale, obsv, SJ, const, mode):
        # the Gaussian itself is prospect_emu.emulator.gaussian's, compiled
        return lnlike_asinh(out, scale, obsv, SJ, const, mode)

    @_jit
    def _lnlike_rows(out, scale, obsv, SJ, const, mode):
        return lnlike_asinh_rows(out, scale, obsv, SJ, const, mode)


#: :func:`~prospect_emu.emulator.gaussian.lnlike` and :func:`~prospect_emu.emulator.gaussian.whiten`
#: of flux residuals, compiled (the plain functions without numba); :func:`gaussian_flux`
#: picks them by :data:`ENABLED`
_LNLIKE_FLUX = _jit(gaussian.lnlike) if numba is not None else gaussian.lnlike
_WHITEN_FLUX = _jit(gaussian.whiten) if numba is not None else gaussian.whiten


def gaussian_flux():
    """``(lnlike, whiten)`` of :mod:`prospect_emu.emulator.gaussian` for flux residuals:
    compiled where :data:`ENABLED`, else the plain Python functions (the same code)."""
    if ENABLED:
        return _LNLIKE_FLUX, _WHITEN_FLUX
    return gaussian.lnlike, gaussian.whiten


_F32 = np.dtype(np.float32)


def forward_one(s: np.ndarray, packed: Packed) -> np.ndarray:
    """One scaled float32 input (trailing 1) through the packed network: float64 outputs."""
    if type(s) is not np.ndarray or s.dtype is not _F32 or not s.flags.c_contiguous:
        s = np.ascontiguousarray(s, dtype=np.float32)
    return _forward_one(s, packed.wbuf, packed.layout, packed.W_out)


def spectral_one(s: np.ndarray, packed: Packed, basis1: np.ndarray,
                 weights2b: np.ndarray) -> np.ndarray:
    """:class:`~prospect_emu.emulator.fastpath.SpectralNetwork`'s one-vector output
    ``[A_1..A_n, ln mfrac]``: the packed network's PCA coefficients (and a constant 1)
    through ``basis1`` to ln L_nu on the filters' pixels, exp, through ``weights2b``
    (filter weights / 2b), arcsinh."""
    if type(s) is not np.ndarray or s.dtype is not _F32 or not s.flags.c_contiguous:
        s = np.ascontiguousarray(s, dtype=np.float32)
    return _spectral_one(s, packed.wbuf, packed.layout, packed.W_out, basis1, weights2b)


def forward_rows(s: np.ndarray, packed: Packed) -> np.ndarray:
    """Rows of scaled float32 inputs through the packed network: float64 output rows."""
    return _forward_rows(np.ascontiguousarray(s, dtype=np.float32), packed.wbuf, packed.layout,
                         packed.W_out)


def lnlike_one(out: np.ndarray, scale: float, obsv: np.ndarray, SJ: np.ndarray, const: float,
               mode: int) -> float:
    """Gaussian ln-likelihood of one network output row ``[A_1..A_n, ...]`` (see
    :class:`~prospect_emu.prospector.plans.ObsPlan`); ``obsv`` rows: maggies, ``2 b``,
    ``1 / unc^2`` ('none') or ``K`` ('diag'), ``unc^2``; ``SJ`` the 'cov' mode's folded
    emulator covariance."""
    return _lnlike(out, scale, obsv, SJ, const, mode)


class InputMap:
    """How :func:`lnlike_theta` makes the scaled network input from theta.

    Parameters
    ----------
    theta_index : sequence of int
        Per raw input, its index in theta, or -1 for a value taken from ``xfix``.
    log : sequence of bool
        Per raw input, whether it enters as log10.
    inv_half, centre_over_half : sequence of float
        The scaling ``x / half - centre / half``.
    ratios : sequence of (int, int, float, float)
        Extra inputs ``min(x_a / x_b, cap) k - 1`` from raw inputs ``a``, ``b``.
    lim : float
        Inputs outside ``[-lim, lim]`` are outside the training box: ``-inf``.
    """

    def __init__(self, theta_index, log, inv_half, centre_over_half, ratios, lim: float):
        n_in = len(theta_index)
        rows = [(int(t), int(bool(g))) for t, g in zip(theta_index, log)]
        rows += [(int(a), int(b)) for a, b, _, _ in ratios]
        self.imap = np.array(rows, dtype=np.int64).reshape(-1, 2)
        fmap = np.zeros((4, max(n_in, len(ratios), 1)))
        fmap[0, :n_in], fmap[1, :n_in] = inv_half, centre_over_half
        for r, (_, _, cap, k) in enumerate(ratios):
            fmap[2, r], fmap[3, r] = cap, k
        self.fmap = fmap
        self.lim = float(lim)
        #: raw values of the inputs not read from theta (the caller keeps them current)
        self.xfix = np.zeros(n_in)


def scaled_rows(x: np.ndarray, imap: InputMap) -> tuple[np.ndarray, np.ndarray]:
    """Scaled float32 rows (ratio inputs and the trailing 1 appended) of raw inputs ``x``
    ``(n, n_in)``, and a mask of the rows inside the training box (``imap``'s theta
    indices are not used)."""
    return _scaled_rows(np.ascontiguousarray(x, dtype=np.float64), imap.imap, imap.fmap,
                        imap.lim)


def lnlike_theta(theta: np.ndarray, imap: InputMap, packed: Packed, scale: float,
                 obsv: np.ndarray, SJ: np.ndarray, const: float, mode: int) -> float:
    """The scaled input from ``theta`` (``-inf`` outside the training box), then
    :func:`forward_one` and :func:`lnlike_one`, in one compiled call."""
    return _lnlike_theta(theta, imap.xfix, imap.imap, imap.fmap, imap.lim, packed.wbuf,
                         packed.layout, packed.W_out, scale, obsv, SJ, const, mode)


def lnlike_theta_spectral(theta: np.ndarray, imap: InputMap, packed: Packed,
                          basis1: np.ndarray, weights2b: np.ndarray, scale: float,
                          obsv: np.ndarray, SJ: np.ndarray, const: float, mode: int) -> float:
    """:func:`lnlike_theta` for the spectral kind's photometry fast path
    (:func:`spectral_one` as the network)."""
    return _lnlike_theta_spectral(theta, imap.xfix, imap.imap, imap.fmap, imap.lim, packed.wbuf,
                                  packed.layout, packed.W_out, basis1, weights2b, scale, obsv,
                                  SJ, const, mode)


def lnlike_rows(out: np.ndarray, scale: np.ndarray, obsv: np.ndarray, SJ: np.ndarray,
                const: float, mode: int) -> np.ndarray:
    """:func:`lnlike_one` per row."""
    return _lnlike_rows(out, np.ascontiguousarray(scale, dtype=np.float64), obsv, SJ, const, mode)
