"""The emulated likelihood's hot path, Prospector side: what is computed once per model
and observation, and what is left per call.

Once per model (rebuilt when its theta layout changes), :class:`InputPlan` knows where
each emulator input, the mass and the redshift come from.  Once per model, error mode
and observation (content-keyed: filters, mask, maggies, uncertainties),
:class:`ObsPlan` holds the masked data, the softening terms and the emulator
(co)variance folded with them.  :meth:`ObsPlan.lnlike` is one call,
:meth:`ObsPlan.lnlike_batch` the same for rows of parameter vectors; the network itself
is :mod:`prospect_emu.emulator.fastpath`'s.  With numba (:mod:`prospect_emu.emulator.kernels`),
:meth:`ObsPlan.lnprob` scales the inputs, runs the network and the Gaussian in one compiled
call, and the rows' scaling, network and Gaussian are compiled too; the numpy code below is
the path without it.
"""

from __future__ import annotations

import math

import numpy as np

from .. import cosmology
from ..emulator import gaussian, kernels
from ..emulator.transforms import LN10_25

_LN2PI = math.log(2.0 * math.pi)
#: inputs are in bounds when |scaled input| <= this (as Emulator.predict_one)
_LIM = 1.0 + 1e-9


def element(value, i: int) -> float:
    """Element ``i`` of a parameter's value as a float: Prospector keeps arrays in
    ``model.params``, but a user may set a plain number (``model.params["zred"] = 2.0``),
    which Prospector accepts as a one-element vector."""
    if type(value) is np.ndarray and value.ndim == 1:
        return float(value[i])
    return float(np.ravel(value)[i])


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
        # a free (or tied) igm_factor changes the spectral kind's projection per call
        self.igm_free = "igm_factor" in ti or \
            cd.get("igm_factor", {}).get("depends_on") is not None
        self.has_lumdist = "lumdist" in model.params
        self._last = (None, None, None)
        # per input: (theta index or -1, parameter, element, log10?, 1/half-width, centre/half)
        self.src = [(ti[p].start + i if (p in ti and self.direct) else -1, p, i,
                     j in self.log_idx, float(self.inv_half[j]), float(self.c[j]))
                    for j, (p, i) in enumerate(source)]
        # ratio inputs (transforms.InputTransform), from raw values: (numerator, denominator,
        # cap, 2/cap) as input indices, and as (theta index or -1, parameter, element) sources
        self.ratios = [(a, b, cap, 2.0 / cap) for a, b, cap in t.ratios]
        self.ratio_src = [(self.src[a][:3], self.src[b][:3], cap, k) for a, b, cap, k in self.ratios]
        # the same scaling for the compiled kernels: theta indices (used by fast_theta, for
        # direct plans only), and the inputs read from params, refreshed per call into
        # kmap.xfix; scaled_rows uses its scaling alone
        self.kmap = None
        if kernels.ENABLED:
            self.kmap = kernels.InputMap([sr[0] for sr in self.src], [sr[3] for sr in self.src],
                                         [sr[4] for sr in self.src], [sr[5] for sr in self.src],
                                         self.ratios, _LIM)
            self.kfixed = [(j, p, i) for j, (t_, p, i, *_) in enumerate(self.src) if t_ < 0]

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
                    x[j] = element(params[p], i)
            for j, p, i in self.fixed:
                x[j] = element(params[p], i)
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
            v = th[t] if t >= 0 else element(params[p], i)
            if lg:
                v = math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan)
            v = v * a - c
            if not -_LIM <= v <= _LIM:
                inside = False
            s.append(v)
        if inside:
            for (ta, pa, ia), (tb, pb, ib), cap, k in self.ratio_src:  # inside the box: > 0
                va = th[ta] if ta >= 0 else element(params[pa], ia)
                vb = th[tb] if tb >= 0 else element(params[pb], ib)
                s.append(min(va / vb, cap) * k - 1.0)
        s.append(1.0)
        scale = self._scale(params, th)
        if not inside:
            return None, scale
        return np.array(s, dtype=np.float32), scale

    def fast_theta(self, model, theta) -> tuple[np.ndarray, float] | None:
        """Set the parameters and return ``(theta as float64, scale)`` for
        :func:`prospect_emu.emulator.kernels.lnlike_theta` (``kmap.xfix`` refreshed); None
        where that path does not apply (no ``kmap``, or not a plain theta vector)."""
        if self.kmap is None or not self.direct or type(theta) is not np.ndarray \
                or theta.shape != (self.ndim,):
            return None
        tc = theta.astype(float)  # a private copy, as set_parameters makes
        params = model.params
        for k, sl in self.slices:
            params[k] = tc[sl]
        if self.kfixed:
            xfix = self.kmap.xfix
            try:
                for j, p, i in self.kfixed:
                    xfix[j] = params[p][i]
            except (TypeError, IndexError):  # a plain number (params["zred"] = 2.0)
                for j, p, i in self.kfixed:
                    xfix[j] = element(params[p], i)
        return tc, self._scale(params, tc)

    def _scale(self, params, th) -> float:
        """``mass * distance_factor`` with the parameters just set (``th``: theta)."""
        if self.mass_t is not None:
            mass = float(th[self.mass_t])
        else:
            mass = float(np.sum(params.get("mass", 1.0)))
        if self.zred_t is not None:
            zred = float(th[self.zred_t])
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
        return mass * f

    def distance_factor(self, zred: float, lumdist: float | None) -> float:
        z0, l0, f0 = self._last
        if zred == z0 and lumdist == l0:
            return f0
        if self.zred_free:
            f = cosmology.distance_factor(float(zred), lumdist)
        else:
            from ..normalization import distance_factor

            f = distance_factor(zred, lumdist)
        self._last = (zred, lumdist, f)
        return f

    def scaled(self, x: np.ndarray) -> np.ndarray | None:
        """Scaled float32 network input (with the trailing 1 :class:`FoldedNetwork` wants),
        or None when outside the training box."""
        ratio_raw = [(float(x[a]), float(x[b]), cap, k) for a, b, cap, k in self.ratios]
        for j in self.log_idx:
            v = x[j]
            x[j] = math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan)
        s = x * self.inv_half
        s -= self.c
        if not np.abs(s).max() <= _LIM:
            return None
        # inside the box the ratios' inputs are positive (InputTransform checks their bounds)
        extra = [min(va / vb, cap) * k - 1.0 for va, vb, cap, k in ratio_raw]
        return np.append(s, extra + [1.0]).astype(np.float32)

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
            x[:, j] = element(params[p], i)
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
        if self.kmap is not None:
            return kernels.scaled_rows(x, self.kmap)
        n_in = x.shape[1]
        s = np.ones((len(x), n_in + len(self.ratios) + 1), dtype=np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            for r, (a, b, cap, k) in enumerate(self.ratios):
                s[:, n_in + r] = np.minimum(x[:, a] / x[:, b], cap) * k - 1.0
            if self.log_idx:
                x[:, self.log_idx] = np.log10(x[:, self.log_idx])
        t = x * self.inv_half
        t -= self.c
        inside = np.abs(t).max(axis=1) <= _LIM
        s[:, :n_in] = t
        return s, inside


class ObsPlan:
    """One model's likelihood for one observation and error mode, precomputed.

    Parameters
    ----------
    model : EmulatedSpecModel
    obs : dict
    terms : prospect_emu.prospector.likelihood._PhotTerms
        The checked used bands and emulator (co)variance (``None`` for mode 'none').
    mode : {'none', 'diag', 'cov'}
    """

    def __init__(self, model, obs, used: np.ndarray, emu: np.ndarray | None, mode: str):
        self.mode = mode
        self.used = used
        # the kind's fast network (a kind whose plan needs zred: at the fit's fixed zred, see
        # prospect_emu.prospector.likelihood.fast_plan)
        soft = model.band_softening(obs["filters"])[used]
        zred = float(np.squeeze(model.params.get("zred", 0.0)))
        # and the kind's own options (the spectral kind folds the model's IGM absorption,
        # a fixed igm_factor, into it)
        options = model.kind.fast_network_options(model)
        self.net = model.emulator.fast_network(obs["filters"], used,
                                               model.bands_for(obs["filters"])[used], zred,
                                               2.0 * soft, **options)
        maggies = np.asarray(obs["maggies"], dtype=float)[used]
        unc = np.asarray(obs["maggies_unc"], dtype=float)[used]
        unc2 = unc * unc
        two_soft = 2.0 * soft
        self.two_soft = two_soft
        n = len(used)
        # the Gaussian's terms (prospect_emu.emulator.gaussian, in the kernels' layout): rows
        # maggies, 2b, 1/unc^2 ('none') or K ('diag'), unc^2; the folded covariance ('cov')
        if mode == "none":
            third = 1.0 / unc2
            self._const = -0.5 * float(np.sum(np.log(2 * np.pi * unc2)))
        else:
            # (d phot / d mu)^2 emu = K (scale cosh A)^2
            third = LN10_25 ** 2 * emu * two_soft ** 2 if mode == "diag" else np.zeros(n)
            self._const = -0.5 * n * _LN2PI
        self._obsv = np.ascontiguousarray(np.vstack([maggies, two_soft, third, unc2]),
                                          dtype=np.float64)
        self._SJ = (np.ascontiguousarray(LN10_25 ** 2 * emu * np.outer(two_soft, two_soft))
                    if mode == "cov" else np.zeros((1, 1)))
        self._mode = kernels.MODES[mode]
        # one Gaussian, compiled (numba) or run as plain Python (the numpy path)
        self._jit = kernels.ENABLED
        self._gauss = kernels.lnlike_one if self._jit else gaussian.lnlike_asinh
        # inputs, network and likelihood in one compiled call (the network's lnlike_theta)
        self._fused = getattr(self.net, "_packed", None)

    def lnprob(self, model, theta, nested: bool) -> float:
        """ln-prior + ln-likelihood of one vector, as Prospector's ``lnprobfn`` (``-inf``
        outside the priors or the training box; NaN where the data are not finite)."""
        lnp_prior = model.prior_product(theta, nested=nested)
        if not lnp_prior > -math.inf:  # -inf or NaN
            return -math.inf
        ip = model.input_plan
        if self._fused is not None:
            got = ip.fast_theta(model, theta)
            if got is not None:
                return lnp_prior + self.net.lnlike_theta(got[0], ip.kmap, got[1], self._obsv,
                                                         self._SJ, self._const, self._mode)
        s, scale = ip.fast(model, theta)
        if s is None:
            return -math.inf
        return lnp_prior + self.lnlike(self.net.forward_one(s), scale)

    def lnlike(self, out: np.ndarray, scale: float) -> float:
        """ln-likelihood from the folded network's output for one vector."""
        return self._gauss(out, scale, self._obsv, self._SJ, self._const, self._mode)

    def lnlike_batch(self, out: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """ln-likelihood per row from the folded network's rows."""
        out = np.ascontiguousarray(out, dtype=np.float64)
        if self._jit:
            return kernels.lnlike_rows(out, scale, self._obsv, self._SJ, self._const, self._mode)
        return gaussian.lnlike_asinh_rows(out, np.asarray(scale, dtype=float), self._obsv,
                                          self._SJ, self._const, self._mode)
