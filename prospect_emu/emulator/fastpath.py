"""The emulated likelihood's hot path, network side: the network rewritten once per
emulator and band set so that a call does fewer numpy operations, with the same function.

:class:`FoldedNetwork` (photometric kind):

* each Alsing activation ``a(x) = x (c0 + c1 tanh(h x))`` becomes
  ``a'(y) = y (k + tanh y)`` on ``y = h x`` (``h`` folded into the dense layer before it,
  ``k = c0 / c1``, and ``c1 / h`` into the rows of the dense layer after it), where
  ``|h|`` and ``|c1|`` are not tiny (otherwise that layer is kept as it is);
* the last layer is restricted to the observed bands (plus ``log10 mfrac``), and the
  output de-standardisation and the asinh-magnitude -> flux constants are folded into
  it: it returns ``A = -(ln 10 / 2.5) mu - ln b`` per band (so that flux per unit mass is
  ``2 b sinh A``, and d flux / d mu ``= -(ln 10 / 2.5) 2 b cosh A``), then ``ln mfrac``.
  It runs in float64 on the float32 hidden activations.

:class:`SpectralNetwork` gives the same outputs for the spectral kind at a fixed redshift.
Where numba is available, both run their hidden and output layers in
:mod:`prospect_emu.emulator.kernels` (``_packed``).
What is computed once per model and observation (inputs, masked data, emulator
covariance) is in :mod:`prospect_emu.prospector.plans`.
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels
from .artifact import Emulator
from .numpy_layers import np_activation
from .transforms import LN10_25

_LN10 = math.log(10.0)
#: an Alsing layer is folded when min |alpha/2| and min |(1 - beta)/2| exceed this
_FOLD_MIN = 1e-3
_BLOCK = 512


def fold_hidden(emulator) -> tuple[list, np.ndarray, np.ndarray]:
    """The hidden layers of ``emulator``'s network with the Alsing activations folded (see
    the module notes), and its last dense layer ``(W, b)`` in float64 with the folded
    activation's scale carried into ``W``'s rows: ``(hidden, W, b)``, ``hidden`` a list of
    ``(W, b, k or None, activation or None)`` for :func:`_augment`."""
    specs = emulator.meta["layers"]
    w = emulator.weights
    hidden: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, object]] = []
    carry = None
    i = 0
    while i < len(specs) - 1:
        sp = specs[i]
        W = w[sp["W"]].astype(np.float64)
        b = w[sp["b"]].astype(np.float64)
        if carry is not None:
            W = carry[:, None] * W
        act = specs[i + 1]
        carry = None
        k = None
        fn = None
        if act["type"] == "alsing":
            n = W.shape[1]
            h = np.broadcast_to(w[act["alpha"]].astype(np.float64) / 2, (n,))
            beta = np.broadcast_to(w[act["beta"]].astype(np.float64), (n,))
            c0, c1 = (1 + beta) / 2, (1 - beta) / 2
            if np.abs(h).min() > _FOLD_MIN and np.abs(c1).min() > _FOLD_MIN:
                W, b = W * h, b * h
                k = (c0 / c1).astype(np.float32)
                carry = c1 / h
            else:
                # the extra constant unit (see _augment): alpha 2, beta 0
                fn = np_activation(act, {act["alpha"]: np.append(2 * h, 2.0),
                                          act["beta"]: np.append(beta, 0.0)})
        else:
            fn = np_activation(act, w)
        hidden.append((W.astype(np.float32), b.astype(np.float32), k, fn))
        i += 2
    sp = specs[-1]
    W = w[sp["W"]].astype(np.float64)
    b = w[sp["b"]].astype(np.float64)
    if carry is not None:
        W = carry[:, None] * W
    return hidden, W, b


class FoldedNetwork:
    """The emulator's network for a subset of its bands, rewritten for speed.

    Parameters
    ----------
    emulator : Emulator
    bands : array of int
        Output indices (emulator band order) of the bands wanted, in the order wanted.

    Notes
    -----
    :meth:`forward` returns, per row, ``A_1 ... A_n`` (see the module notes) and
    ``ln mfrac``, float64.
    """

    def __init__(self, emulator: Emulator, bands: np.ndarray):
        hidden, W, b = fold_hidden(emulator)
        n_out = W.shape[1]
        cols = np.concatenate([np.asarray(bands, dtype=int), [n_out - 1]])
        std = emulator.outputs.std[cols]
        mean = emulator.outputs.mean[cols]
        soft = np.concatenate([emulator.outputs.softening[cols[:-1]], [1.0]])
        colscale = np.concatenate([np.full(len(cols) - 1, -LN10_25), [_LN10]])
        offset = -np.log(soft)
        self.hidden, self.W_out = _augment(hidden, W[:, cols] * (std * colscale),
                                           (b[cols] * std + mean) * colscale + offset)
        self.n_out = len(cols)
        self.bands = np.asarray(bands, dtype=int)
        self._packed = kernels.pack(self.hidden, self.W_out)

    def forward_one(self, s: np.ndarray) -> np.ndarray:
        """One scaled input vector (float32, with a trailing 1) -> ``[A_1..A_n, ln mfrac]``
        (float64)."""
        if self._packed is not None:
            return kernels.forward_one(s, self._packed)
        return np.dot(_hidden(s, self.hidden), self.W_out)

    def forward(self, s: np.ndarray) -> np.ndarray:
        """Rows of scaled inputs (float32, trailing 1s) -> rows of ``[A_1..A_n, ln mfrac]``,
        in blocks of rows."""
        s = np.ascontiguousarray(s, dtype=np.float32)
        out = np.empty((len(s), self.n_out))
        for i in range(0, len(s), _BLOCK):
            out[i:i + _BLOCK] = _output_rows(s[i:i + _BLOCK], self.hidden, self.W_out,
                                             self._packed)
        return out

    def lnlike_theta(self, theta: np.ndarray, imap, scale: float, obsv: np.ndarray,
                     SJ: np.ndarray, const: float, mode: int) -> float:
        """The Gaussian ln-likelihood of ``theta`` in one compiled call
        (:func:`prospect_emu.emulator.kernels.lnlike_theta`); needs the compiled kernels
        (``self._packed`` not None)."""
        return kernels.lnlike_theta(theta, imap, self._packed, scale, obsv, SJ, const, mode)


def _output_rows(s: np.ndarray, hidden: list, W_out: np.ndarray, packed) -> np.ndarray:
    """A block of rows through the hidden layers and the float64 output layer: compiled
    where :func:`prospect_emu.emulator.kernels.pack` gave ``packed``, numpy otherwise."""
    if packed is not None:
        return kernels.forward_rows(s, packed)
    return _hidden(s, hidden) @ W_out


def _hidden(z: np.ndarray, hidden: list) -> np.ndarray:
    """The folded hidden layers on one input vector or a block of rows (float32): each
    ``y = z W`` then ``y (k + tanh y)`` (a folded Alsing layer) or the layer's own
    activation; the last hidden activation, for the output layer."""
    for W, k, fn in hidden:
        y = np.dot(z, W)
        if k is None:
            z = fn(y)
        else:
            z = np.tanh(y)
            z += k
            z *= y
    return z


def _augment(hidden, W_out, b_out):
    """Fold the biases into the weights: every layer gets a constant unit, driven by a
    trailing 1 in the input, whose output (computed here as the forward pass computes
    it) carries the next layer's bias: one numpy operation less per layer."""
    out = []
    a_c = np.float32(1.0)
    for W, b, k, fn in hidden:
        n_prev, n = W.shape
        Wa = np.zeros((n_prev + 1, n + 1), np.float32)
        Wa[:n_prev, :n] = W
        Wa[n_prev, :n] = (b.astype(np.float64) / np.float64(a_c)).astype(np.float32)
        Wa[n_prev, n] = np.float32(1.0 / np.float64(a_c))
        ka = None if k is None else np.append(k, np.float32(0.0)).astype(np.float32)
        zc = np.zeros(n_prev + 1, np.float32)
        zc[-1] = a_c
        zz = _hidden(zc, [(Wa, ka, fn)])  # exactly as the forward pass computes it
        a_c = np.float32(zz[-1])
        if not (np.isfinite(a_c) and a_c != 0):  # pragma: no cover - no such activation
            raise ValueError("an activation maps 1 to 0: cannot fold the biases")
        out.append((Wa, ka, fn))
    Wo = np.vstack([W_out, b_out[None, :] / np.float64(a_c)])
    return out, Wo


class SpectralNetwork:
    """:class:`FoldedNetwork`'s interface for a spectral emulator at one fixed redshift.

    Returns, per row, ``A = asinh(phot / (2 b))`` per band (``phot`` the exact
    photometry per Msun formed at 10 pc of the emulated spectrum through the cached
    projection, ``b`` the band's softening) and ``ln mfrac``, so that :class:`ObsPlan`'s
    Gaussian (flux ``2 b s sinh A``, d flux / d mu ``= -(ln 10 / 2.5) 2 b s cosh A``)
    applies unchanged.

    Precomputed: the hidden layers folded as :class:`FoldedNetwork`'s (once per emulator),
    the last layer returning the de-standardised coefficients, and per plan the basis and
    mean on the rest-frame pixels inside the filters' supports only (P of them), with
    ``1 / 2b`` in the filter weights.  A call is the hidden layers, a (K + 1, P) product,
    P exponentials, a (P, F) product and F arcsinh.

    Parameters
    ----------
    emulator : SpectralEmulator
    projection : PhotometryProjection
        ``emulator.photometry_plan(filters, zred)`` for the used bands.
    two_soft : ndarray
        ``2 b`` per used band.
    """

    def __init__(self, emulator, projection, two_soft: np.ndarray):
        self.emulator = emulator
        self.proj = projection
        self.two_soft = np.asarray(two_soft, dtype=float)
        folded = getattr(emulator, "_folded_network", None)
        if folded is None:
            # the hidden layers folded as FoldedNetwork's; the last layer returns the PCA
            # coefficients, a constant 1 and ln mfrac (float64)
            hidden, W, b = fold_hidden(emulator)
            k = W.shape[1] - 1
            std, mean = emulator._out_std.astype(float), emulator._out_mean.astype(float)
            colscale = np.append(np.ones(k), _LN10)
            W = np.insert(W * (std * colscale), k, 0.0, axis=1)
            b = np.insert((b * std + mean) * colscale, k, 1.0)
            folded = emulator._folded_network = _augment(hidden, W, b)
        self.hidden, self.W_out = folded
        self._packed = kernels.pack(self.hidden, self.W_out)
        # per plan: [coefficients, 1] @ [basis; offset] is ln L_nu on the filters' pixels;
        # exp of it @ weights / 2b is phot / 2b
        p = projection
        self.basis1 = np.ascontiguousarray(np.vstack([p.basis, p.offset[None, :]]))
        self.weights2b = np.ascontiguousarray(p.weights / self.two_soft)
        self.n_out = len(self.two_soft) + 1

    def forward_one(self, s: np.ndarray) -> np.ndarray:
        """One scaled input vector (float32, with a trailing 1) -> ``[A_1..A_n, ln mfrac]``."""
        if self._packed is not None:
            return kernels.spectral_one(s, self._packed, self.basis1, self.weights2b)
        o = np.dot(_hidden(s, self.hidden), self.W_out)
        e = np.dot(o[:-1], self.basis1)
        np.exp(e, out=e)
        out = np.empty(self.n_out)
        np.arcsinh(np.dot(e, self.weights2b), out=out[:-1])
        out[-1] = o[-1]
        return out

    def forward(self, s: np.ndarray) -> np.ndarray:
        """Rows of scaled inputs (float32, trailing 1s) -> rows of ``[A_1..A_n, ln mfrac]``,
        in blocks of rows."""
        s = np.ascontiguousarray(s, dtype=np.float32)
        out = np.empty((len(s), self.n_out))
        for i in range(0, len(s), _BLOCK):
            o = _output_rows(s[i:i + _BLOCK], self.hidden, self.W_out, self._packed)
            e = o[:, :-1] @ self.basis1
            np.exp(e, out=e)
            out[i:i + _BLOCK, :-1] = np.arcsinh(e @ self.weights2b)
            out[i:i + _BLOCK, -1] = o[:, -1]
        return out

    def lnlike_theta(self, theta: np.ndarray, imap, scale: float, obsv: np.ndarray,
                     SJ: np.ndarray, const: float, mode: int) -> float:
        """:meth:`FoldedNetwork.lnlike_theta` through the projection
        (:func:`prospect_emu.emulator.kernels.lnlike_theta_spectral`)."""
        return kernels.lnlike_theta_spectral(theta, imap, self._packed, self.basis1,
                                             self.weights2b, scale, obsv, SJ, const, mode)
