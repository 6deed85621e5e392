"""The emulator's training box as part of the prior of an emulated fit.

An emulator is defined only inside its training box: outside it the emulated
likelihood is -inf.  A free parameter whose prior reaches beyond the box (a Student-t
prior on the SFR ratios, trained between its 0.1% and 99.9% quantiles; a zred prior
wider than the training range) would leave part of the prior volume with zero
likelihood: nested samplers then start from points at ln-likelihood -1e300, and the
posterior is silently cut at the box edge.  :class:`BoxPrior` makes the cut explicit:

* the prior becomes the model's prior *truncated to the box and renormalised*: the
  ln-prior is -inf outside the box, and inside it Prospector's ln-prior plus
  ``-sum(ln(F(hi) - F(lo)))`` over the truncated parameters (``F`` the prior's CDF), so
  it integrates to one;
* ``prior_transform`` maps the unit cube into that truncated prior: ``u`` is rescaled to
  ``[F(lo), F(hi)]`` before the prior's own transform, so dynesty, nautilus and the
  unit-cube emcee spend no volume outside the box;
* :meth:`BoxPrior.summary` states what was truncated (stored in the result file), and
  :meth:`BoxPrior.message` gives a warning only where the box cuts more prior mass than
  the training set's own recorded truncation (``config["space"]["prior_truncation"]``):
  a fit with the prior the emulator was trained on is not warned about on every run.

The renormalisation is exact for priors that act element by element through a CDF
(Prospector's TopHat, Normal, ClippedNormal, LogUniform, Beta, LogNormal, SkewNormal,
StudentT, ...).  A joint prior (``NzSFH``, a user's class) that reaches outside the box
keeps its own transform; its out-of-box points get ln-prior -inf, and the summary says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..trainingdata.priordraws import is_elementwise, parameter_box

#: prior mass outside the box below which a parameter counts as not truncated
_NEGLIGIBLE = 1e-12


class BoxPrior:
    """Where the emulator's training box cuts a model's priors.

    Parameters
    ----------
    model : prospect.models.ProspectorParams
        The (emulated) model, with its current priors.
    emulator : prospect_emu.emulator.artifact.Emulator
    input_source : list of (parameter, element index)
        The model parameter element behind each emulator input, in input order.
    """

    def __init__(self, model, emulator, input_source: list[tuple[str, int]]):
        ndim = model.ndim
        self.labels = list(model.theta_labels())
        self.lo = np.full(ndim, -np.inf)
        self.hi = np.full(ndim, np.inf)
        t = emulator.inputs
        for j, (param, idx) in enumerate(input_source):
            if param in model.theta_index:
                k = model.theta_index[param].start + idx
                self.lo[k] = max(self.lo[k], t.raw_lo[j])
                self.hi[k] = min(self.hi[k], t.raw_hi[j])
        self.u_lo = np.zeros(ndim)
        self.u_hi = np.ones(ndim)
        self.support = np.column_stack([np.full(ndim, -np.inf), np.full(ndim, np.inf)])
        self.joint_cut: list[int] = []  # indices cut without renormalisation
        for name, inds in model.theta_index.items():
            k = np.arange(inds.start, inds.stop)
            if not np.isfinite(np.r_[self.lo[k], self.hi[k]]).any():
                continue
            prior = model.config_dict[name]["prior"]
            if is_elementwise(prior) and hasattr(prior, "inverse_unit_transform"):
                with np.errstate(all="ignore"):
                    for c, u in enumerate((0.0, 1.0)):
                        self.support[k, c] = np.broadcast_to(
                            np.asarray(prior.unit_transform(np.full(len(k), u)), float), len(k))
                    flo = _cdf(prior, self.lo[k], 0.0)
                    fhi = _cdf(prior, self.hi[k], 1.0)
                self.u_lo[k], self.u_hi[k] = flo, np.maximum(fhi, flo)
            else:
                self.joint_cut.extend(int(i) for i in k if _reaches_out(prior, len(k), i - k[0],
                                                                        self.lo[i], self.hi[i]))
        self._u_span = self.u_hi - self.u_lo
        self.mass_outside = self.u_lo + (1.0 - self.u_hi)
        #: theta indices whose prior is truncated to the box (renormalised)
        self.truncated = np.flatnonzero(self.mass_outside > _NEGLIGIBLE)
        inside = self.u_hi[self.truncated] - self.u_lo[self.truncated]
        self.empty = [self.labels[i] for i, w in zip(self.truncated, inside) if w <= 0]
        self.ln_norm = float(-np.sum(np.log(inside[inside > 0])))
        self.active = bool(self.truncated.size or self.joint_cut)
        self.quantiles, self.trained_truncated = _training_truncation(emulator)

    # ---- the prior ------------------------------------------------------------------------
    def unit(self, u: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates of the model's prior for ``u`` of the truncated one."""
        u = np.asarray(u, dtype=float)
        if not self.truncated.size:
            return u
        return self.u_lo + u * self._u_span

    def clip(self, theta: np.ndarray) -> np.ndarray:
        """``theta`` with the truncated parameters clipped into the box (rounding only), in
        place where ``theta`` is a float array."""
        if not self.truncated.size:
            return theta
        theta = np.asarray(theta, dtype=float)
        i = self.truncated
        theta[..., i] = np.clip(theta[..., i], self.lo[i], self.hi[i])
        return theta

    def inside(self, theta: np.ndarray) -> np.ndarray | bool:
        """Whether ``theta`` (one vector or rows) lies inside the box."""
        theta = np.asarray(theta, dtype=float)
        with np.errstate(invalid="ignore"):
            ok = (theta >= self.lo) & (theta <= self.hi)
        return ok.all(axis=-1)

    def ln_prior(self, lpp, theta):
        """The truncated, renormalised ln-prior from the model's ``lpp`` at ``theta``."""
        if not self.active:
            return lpp
        inside = self.inside(theta)
        out = np.where(inside, np.asarray(lpp, dtype=float) + self.ln_norm, -np.inf)
        return float(out) if np.ndim(out) == 0 else out

    # ---- what to say ------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """What the box does to the prior, for the result file (JSON)."""
        return {
            "prior": "the model's prior truncated to the emulator's training box, renormalised",
            "truncated": {self.labels[i]: {"box": [float(self.lo[i]), float(self.hi[i])],
                                           "prior_mass_outside": float(self.mass_outside[i])}
                          for i in self.truncated},
            "cut_without_renormalisation": [self.labels[i] for i in self.joint_cut],
            "ln_norm": self.ln_norm,
            "training_quantiles": self.quantiles,
        }

    def expected(self, i: int) -> bool:
        """Whether parameter ``i``'s truncation is the training set's own (same quantiles)."""
        if self.quantiles is None or self.labels[i] not in self.trained_truncated:
            return False
        allowed = self.quantiles[0] + (1.0 - self.quantiles[1])
        return bool(self.mass_outside[i] <= allowed * (1 + 1e-6) + 1e-9)

    def message(self) -> str | None:
        """A warning text where the box cuts the prior beyond the training set's own
        truncation, or None."""
        lines = [f"{self.labels[i]}: prior [{self.support[i, 0]:.4g}, {self.support[i, 1]:.4g}], "
                 f"training box [{self.lo[i]:.4g}, {self.hi[i]:.4g}]: "
                 f"{100 * self.mass_outside[i]:.3g}% of the prior lies outside"
                 for i in self.truncated if not self.expected(i)]
        lines += [f"{self.labels[i]}: a joint prior reaching outside the box "
                  f"[{self.lo[i]:.4g}, {self.hi[i]:.4g}] (cut there, not renormalised)"
                  for i in self.joint_cut]
        if not lines:
            return None
        text = ("the prior of these free parameters reaches outside the emulator's training box, "
                "where the emulator is not defined:\n  - " + "\n  - ".join(lines) +
                "\nThe fit uses the prior truncated to the box (ln-prior -inf outside, renormalised "
                "inside; unit-cube samplers draw from the truncated prior), and the result file "
                "records it. Narrow the priors to the box to fit the prior you wrote, or train an "
                "emulator on a wider range")
        if self.empty:
            text += f"\nNo prior mass at all inside the box for {self.empty}: every point is -inf"
        return text


def _cdf(prior, x: np.ndarray, default: float) -> np.ndarray:
    """The prior's CDF at ``x`` per element (``default`` where ``x`` is infinite)."""
    finite = np.isfinite(x)
    out = np.full(len(x), default, dtype=float)
    if finite.any():
        vals = np.broadcast_to(np.asarray(prior.inverse_unit_transform(np.where(finite, x, 0.0)),
                                          dtype=float), (len(x),))
        out[finite] = np.clip(vals[finite], 0.0, 1.0)
    return out


def _reaches_out(prior, n: int, i: int, lo: float, hi: float) -> bool:
    """Whether element ``i`` of a joint prior reaches outside ``[lo, hi]`` (its bounds;
    unknown bounds count as reaching out)."""
    try:
        pb, _ = parameter_box(prior, n, (1e-300, 1 - 1e-16))
    except Exception:
        return True
    tol = 1e-9 * max(abs(hi - lo), 1.0) if np.isfinite(hi - lo) else 0.0
    return bool(pb[i, 0] < lo - tol or pb[i, 1] > hi + tol)


def _training_truncation(emulator) -> tuple[list[float] | None, set[str]]:
    """The quantiles and columns the emulator's training set truncated its priors at."""
    config = ((emulator.meta.get("training_set") or {}).get("config") or {})
    trunc = (config.get("space") or {}).get("prior_truncation") or {}
    q = trunc.get("quantiles")
    return (list(map(float, q)) if q else None), set(trunc.get("columns") or ())
