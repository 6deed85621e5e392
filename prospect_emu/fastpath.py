"""The emulated likelihood's hot path: what is computed once, and what is left per call.

Once per emulator and band set, :class:`FoldedNetwork` rewrites the network so that a
call does fewer numpy operations, with the same function:

* each Alsing activation ``a(x) = x (c0 + c1 tanh(h x))`` becomes
  ``a'(y) = y (k + tanh y)`` on ``y = h x`` (``h`` folded into the dense layer before it,
  ``k = c0 / c1``, and ``c1 / h`` into the rows of the dense layer after it), where
  ``|h|`` and ``|c1|`` are not tiny (otherwise that layer is kept as it is);
* the last layer is restricted to the observed bands (plus ``log10 mfrac``), and the
  output de-standardisation and the asinh-magnitude -> flux constants are folded into
  it: it returns ``A = -(ln 10 / 2.5) mu - ln b`` per band (so that flux per unit mass is
  ``2 b sinh A``, and d flux / d mu ``= -(ln 10 / 2.5) 2 b cosh A``), then ``ln mfrac``.
  It runs in float64 on the float32 hidden activations.

Once per model (rebuilt when its theta layout changes), :class:`InputPlan` knows where
each emulator input, the mass and the redshift come from.  Once per model, error mode
and observation (content-keyed: filters, mask, maggies, uncertainties),
:class:`ObsPlan` holds the masked data, the softening terms and the emulator
(co)variance folded with them.  :meth:`ObsPlan.lnlike` is one call,
:meth:`ObsPlan.lnlike_batch` the same for rows of parameter vectors.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.lapack import dpotrf, dtrtrs

from . import cosmology
from .artifact import Emulator, _np_activation
from .transforms import LN10_25

_LN10 = math.log(10.0)
_LN2PI = math.log(2.0 * math.pi)
#: inputs are in bounds when |scaled input| <= this (as Emulator.predict_one)
_LIM = 1.0 + 1e-9
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
                fn = _np_activation(act, {act["alpha"]: np.append(2 * h, 2.0),
                                          act["beta"]: np.append(beta, 0.0)})
        else:
            fn = _np_activation(act, w)
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

    def forward_one(self, s: np.ndarray) -> np.ndarray:
        """One scaled input vector (float32, with a trailing 1) -> ``[A_1..A_n, ln mfrac]``
        (float64)."""
        z = s
        for W, k, fn in self.hidden:
            y = np.dot(z, W)
            if k is None:
                z = fn(y)
            else:
                z = np.tanh(y)
                z += k
                z *= y
        return np.dot(z, self.W_out)

    def forward(self, s: np.ndarray) -> np.ndarray:
        """Rows of scaled inputs (float32, trailing 1s) -> rows of ``[A_1..A_n, ln mfrac]``,
        in blocks of rows."""
        s = np.asarray(s, dtype=np.float32)
        out = np.empty((len(s), self.n_out))
        for i in range(0, len(s), _BLOCK):
            z = s[i:i + _BLOCK]
            for W, k, fn in self.hidden:
                y = z @ W
                if k is None:
                    z = fn(y)
                else:
                    z = np.tanh(y)
                    z += k
                    z *= y
            out[i:i + _BLOCK] = z @ self.W_out
        return out


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
        y = np.dot(zc, Wa)
        if ka is None:
            zz = fn(y)
        else:
            zz = np.tanh(y)
            zz += ka
            zz *= y
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
        # per plan: [coefficients, 1] @ [basis; offset] is ln L_nu on the filters' pixels;
        # exp of it @ weights / 2b is phot / 2b
        p = projection
        self.basis1 = np.ascontiguousarray(np.vstack([p.basis, p.offset[None, :]]))
        self.weights2b = np.ascontiguousarray(p.weights / self.two_soft)
        self.n_out = len(self.two_soft) + 1

    def forward_one(self, s: np.ndarray) -> np.ndarray:
        """One scaled input vector (float32, with a trailing 1) -> ``[A_1..A_n, ln mfrac]``."""
        z = s
        for W, k, fn in self.hidden:
            y = np.dot(z, W)
            if k is None:
                z = fn(y)
            else:
                z = np.tanh(y)
                z += k
                z *= y
        o = np.dot(z, self.W_out)
        e = np.dot(o[:-1], self.basis1)
        np.exp(e, out=e)
        out = np.empty(self.n_out)
        np.arcsinh(np.dot(e, self.weights2b), out=out[:-1])
        out[-1] = o[-1]
        return out

    def forward(self, s: np.ndarray) -> np.ndarray:
        """Rows of scaled inputs (float32, trailing 1s) -> rows of ``[A_1..A_n, ln mfrac]``,
        in blocks of rows."""
        s = np.asarray(s, dtype=np.float32)
        out = np.empty((len(s), self.n_out))
        for i in range(0, len(s), _BLOCK):
            z = s[i:i + _BLOCK]
            for W, k, fn in self.hidden:
                y = z @ W
                if k is None:
                    z = fn(y)
                else:
                    z = np.tanh(y)
                    z += k
                    z *= y
            o = z @ self.W_out
            e = o[:, :-1] @ self.basis1
            np.exp(e, out=e)
            out[i:i + _BLOCK, :-1] = np.arcsinh(e @ self.weights2b)
            out[i:i + _BLOCK, -1] = o[:, -1]
        return out


class InputPlan:
    """Where a model's emulator inputs, mass and redshift come from, per call.

    Built for the model's theta layout; :meth:`valid` tells whether it still holds.
    """

    def __init__(self, model):
        self.theta_index = model.theta_index
        self.config_dict = model.config_dict
        self.ndim = model.ndim
        self.slices = [(k, sl) for k, sl in model.theta_index.items()]
        self.deps = bool(getattr(model, "_has_parameter_dependencies", False))
        t = model.emulator.inputs
        self.inv_half = t.inv_half.copy()
        self.c = t.center * t.inv_half
        self.log_idx = t.log_idx.tolist()
        source = model._input_source
        ti = model.theta_index
        cd = model.config_dict
        free = [(j, ti[p].start + i) for j, (p, i) in enumerate(source) if p in ti]
        self.fixed = [(j, p, i) for j, (p, i) in enumerate(source) if p not in ti]
        # inputs read straight from theta: no depends_on anywhere (else set_parameters)
        self.direct = not self.deps
        self.free_j = np.array([j for j, _ in free], dtype=int)
        self.free_t = np.array([t_ for _, t_ in free], dtype=int)
        self.n_in = len(source)
        # mass: a scalar free parameter, or read from params
        m = ti.get("mass")
        self.mass_t = m.start if (m is not None and m.stop - m.start == 1 and self.direct) else None
        z = ti.get("zred")
        self.zred_t = z.start if (z is not None and self.direct) else None
        self.zred_free = z is not None or cd.get("zred", {}).get("depends_on") is not None
        self.has_lumdist = "lumdist" in model.params
        self._last = (None, None, None)
        # per input: (theta index or -1, parameter, element, log10?, 1/half-width, centre/half)
        self.src = [(ti[p].start + i if (p in ti and self.direct) else -1, p, i,
                     j in self.log_idx, float(self.inv_half[j]), float(self.c[j]))
                    for j, (p, i) in enumerate(source)]

    def valid(self, model) -> bool:
        return model.theta_index is self.theta_index and model.config_dict is self.config_dict

    # -- one vector ----------------------------------------------------------------------
    def set_and_read(self, model, theta) -> tuple[np.ndarray, float]:
        """Set the model's parameters to ``theta`` (as ``set_parameters``) and return
        the raw emulator inputs and ``mass * distance_factor``."""
        th = np.array(theta, dtype=float)
        params = model.params
        if th.shape != (self.ndim,):
            model.set_parameters(th)  # Prospector's own assertion
        for k, sl in self.slices:
            params[k] = th[sl]
        if self.deps:
            model.propagate_parameter_dependencies()
        if self.direct and not self.fixed:
            x = th[self.free_t]
        else:
            x = np.empty(self.n_in)
            if self.direct:
                x[self.free_j] = th[self.free_t]
            else:
                for j, (p, i) in enumerate(model._input_source):
                    x[j] = params[p][i]
            for j, p, i in self.fixed:
                x[j] = params[p][i]
        if self.mass_t is not None:
            mass = th[self.mass_t]
        else:
            m = params.get("mass", 1.0)
            mass = float(np.sum(m))
        zred = th[self.zred_t] if self.zred_t is not None else params.get("zred", 0.0)
        if type(zred) is not float and type(zred) is not np.float64:
            zred = float(np.squeeze(zred))
        lumdist = None
        if self.has_lumdist:
            lumdist = params.get("lumdist", None)
            if lumdist is not None:
                lumdist = float(np.squeeze(lumdist))
        return x, mass * self.distance_factor(zred, lumdist)

    def fast(self, model, theta) -> tuple[np.ndarray | None, float]:
        """Set the parameters and return ``(scaled float32 input or None, scale)``.

        The one-vector hot path: Python floats for the few inputs, numpy only to hold
        the parameters and the network input.
        """
        if not self.direct or type(theta) is not np.ndarray or theta.shape != (self.ndim,):
            x, scale = self.set_and_read(model, theta)
            return self.scaled(x), scale
        tc = theta.astype(float)  # a private copy, as set_parameters makes
        params = model.params
        for k, sl in self.slices:
            params[k] = tc[sl]
        th = tc.tolist()
        s = []
        inside = True
        for t, p, i, lg, a, c in self.src:
            v = th[t] if t >= 0 else float(params[p][i])
            if lg:
                v = math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan)
            v = v * a - c
            if not -_LIM <= v <= _LIM:
                inside = False
            s.append(v)
        s.append(1.0)
        if self.mass_t is not None:
            mass = th[self.mass_t]
        else:
            mass = float(np.sum(params.get("mass", 1.0)))
        if self.zred_t is not None:
            zred = th[self.zred_t]
        else:
            zred = params.get("zred", 0.0)
            zred = float(zred[0]) if type(zred) is np.ndarray and zred.size == 1 else \
                float(np.squeeze(zred))
        lumdist = None
        if self.has_lumdist:
            lumdist = params.get("lumdist", None)
            if lumdist is not None:
                lumdist = float(np.squeeze(lumdist))
        z0, l0, f0 = self._last
        f = f0 if (zred == z0 and lumdist == l0) else self.distance_factor(zred, lumdist)
        if not inside:
            return None, mass * f
        return np.array(s, dtype=np.float32), mass * f

    def distance_factor(self, zred: float, lumdist: float | None) -> float:
        z0, l0, f0 = self._last
        if zred == z0 and lumdist == l0:
            return f0
        if self.zred_free:
            f = cosmology.distance_factor(float(zred), lumdist)
        else:
            from .normalization import distance_factor

            f = distance_factor(zred, lumdist)
        self._last = (zred, lumdist, f)
        return f

    def scaled(self, x: np.ndarray) -> np.ndarray | None:
        """Scaled float32 network input (with the trailing 1 :class:`FoldedNetwork` wants),
        or None when outside the training box."""
        for j in self.log_idx:
            v = x[j]
            x[j] = math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan)
        s = x * self.inv_half
        s -= self.c
        if not np.abs(s).max() <= _LIM:
            return None
        return np.append(s, 1.0).astype(np.float32)

    # -- rows ---------------------------------------------------------------------------
    def read_rows(self, model, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw inputs ``(n, n_in)`` and scales ``(n,)`` for rows of theta (the model's
        parameters are left as they were)."""
        n = len(thetas)
        params = model.params
        if not self.direct:
            saved = {k: np.copy(v) for k, v in params.items()}
            x = np.empty((n, self.n_in))
            scale = np.empty(n)
            try:
                for r in range(n):
                    x[r], scale[r] = self.set_and_read(model, thetas[r])
            finally:
                params.update(saved)
            return x, scale
        x = np.empty((n, self.n_in))
        x[:, self.free_j] = thetas[:, self.free_t]
        for j, p, i in self.fixed:
            x[:, j] = params[p][i]
        if self.mass_t is not None:
            mass = thetas[:, self.mass_t]
        else:
            mass = np.full(n, float(np.sum(params.get("mass", 1.0))))
        lumdist = params.get("lumdist", None) if self.has_lumdist else None
        if lumdist is not None:
            lumdist = float(np.squeeze(lumdist))
        if self.zred_t is not None:
            df = cosmology.distance_factor_array(thetas[:, self.zred_t], lumdist)
        else:
            df = np.full(n, self.distance_factor(float(np.squeeze(params.get("zred", 0.0))),
                                                 lumdist))
        return x, mass * df

    def scaled_rows(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scaled float32 rows and a mask of the rows inside the training box."""
        if self.log_idx:
            with np.errstate(divide="ignore", invalid="ignore"):
                x[:, self.log_idx] = np.log10(x[:, self.log_idx])
        s = np.ones((len(x), x.shape[1] + 1), dtype=np.float32)
        t = x * self.inv_half
        t -= self.c
        inside = np.abs(t).max(axis=1) <= _LIM
        s[:, :-1] = t
        return s, inside


class ObsPlan:
    """One model's likelihood for one observation and error mode, precomputed.

    Parameters
    ----------
    model : EmulatedSpecModel
    obs : dict
    terms : prospect_emu.likelihood._PhotTerms
        The checked used bands and emulator (co)variance (``None`` for mode 'none').
    mode : {'none', 'diag', 'cov'}
    """

    def __init__(self, model, obs, used: np.ndarray, emu: np.ndarray | None, mode: str):
        self.mode = mode
        self.used = used
        if getattr(model, "spectral", False):
            # the spectral kind at the fit's fixed zred (see prospect_emu.likelihood.fast_plan)
            filters = list(obs["filters"])
            soft = model.band_softening(filters)[used]
            zred = float(np.squeeze(model.params.get("zred", 0.0)))
            proj = model.emulator.photometry_plan([filters[i] for i in used], zred)
            self.net = SpectralNetwork(model.emulator, proj, 2.0 * soft)
        else:
            bands = model.bands_for(obs["filters"])[used]
            self.net = FoldedNetwork(model.emulator, bands)
            soft = model.emulator.outputs.softening[bands]
        self.maggies = np.asarray(obs["maggies"], dtype=float)[used].copy()
        unc = np.asarray(obs["maggies_unc"], dtype=float)[used]
        self.unc2 = unc * unc
        self.two_soft = 2.0 * soft
        self.n = len(used)
        self.const = -0.5 * self.n * _LN2PI
        if mode == "none":
            self.inv_var = 1.0 / self.unc2
            self.const_none = -0.5 * float(np.sum(np.log(2 * np.pi * self.unc2)))
        elif mode == "diag":
            # (d phot / d mu)^2 emu = K scale^2 cosh(A)^2
            self.K = LN10_25 ** 2 * emu * self.two_soft ** 2
        else:
            self.SJ = LN10_25 ** 2 * emu * np.outer(self.two_soft, self.two_soft)
            self.diag_idx = np.arange(self.n) * (self.n + 1)

    def lnprob(self, model, theta, nested: bool) -> float:
        """ln-prior + ln-likelihood of one vector, as Prospector's ``lnprobfn`` (``-inf``
        outside the priors or the training box; NaN where the data are not finite)."""
        lnp_prior = model.prior_product(theta, nested=nested)
        if not lnp_prior > -math.inf:  # -inf or NaN
            return -math.inf
        s, scale = model.input_plan.fast(model, theta)
        if s is None:
            return -math.inf
        return lnp_prior + self.lnlike(self.net.forward_one(s), scale)

    def lnlike(self, out: np.ndarray, scale: float) -> float:
        """ln-likelihood from the folded network's output for one vector."""
        a = out[:-1]
        mode = self.mode
        sh = np.sinh(a)
        sh *= self.two_soft
        sh *= scale
        delta = self.maggies - sh
        if mode == "none":
            return float(-0.5 * np.dot(delta * self.inv_var, delta) + self.const_none)
        if mode == "diag":
            c = np.cosh(a)
            c *= c
            c *= self.K
            c *= scale * scale
            c += self.unc2
            return float(-0.5 * np.dot(delta / c, delta) - 0.5 * np.log(c).sum() + self.const)
        g = np.cosh(a)
        g *= scale
        cov = self.SJ * np.multiply.outer(g, g)
        cov.flat[self.diag_idx] += self.unc2
        # symmetric: the transpose is the same matrix, in the Fortran order LAPACK wants
        chol, info = dpotrf(cov.T, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            return math.nan
        w, info = dtrtrs(chol, delta, lower=1)
        return float(-0.5 * np.dot(w, w) - np.log(chol.diagonal()).sum() + self.const)

    def lnlike_batch(self, out: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """ln-likelihood per row from the folded network's rows."""
        a = out[:, :-1]
        sc = scale[:, None]
        delta = self.maggies - np.sinh(a) * self.two_soft * sc
        if self.mode == "none":
            return -0.5 * np.einsum("ij,ij->i", delta * self.inv_var, delta) + self.const_none
        if self.mode == "diag":
            c = np.cosh(a) ** 2 * self.K * sc ** 2 + self.unc2
            return (-0.5 * np.einsum("ij,ij->i", delta / c, delta) - 0.5 * np.log(c).sum(axis=1)
                    + self.const)
        g = np.cosh(a) * sc
        cov = self.SJ * (g[:, :, None] * g[:, None, :])
        cov[:, np.arange(self.n), np.arange(self.n)] += self.unc2
        lnl = np.full(len(out), np.nan)
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            ok = np.array([np.all(np.linalg.eigvalsh(c) > 0) for c in cov])
            if ok.any():
                lnl[ok] = self.lnlike_batch(out[ok], scale[ok])
            return lnl
        w = np.linalg.solve(chol, delta[:, :, None])[:, :, 0]
        return (-0.5 * np.einsum("ij,ij->i", w, w)
                - np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1) + self.const)
