"""An amortized posterior: a conditional flow q(theta | photometry, uncertainties, zred) trained
on the emulator's simulations, made exact to the emulated posterior by importance weights.

On disk (a folder beside the emulator, or anywhere): ``posterior.json`` (versioned metadata:
the flow's construction, the theta space, the features' standardisation, the noise model,
the redshift range, the emulator's hash, the model's free parameters and priors, training
history) and ``flow.npz`` (the flow's arrays).  No pickles.

:meth:`AmortizedPosterior.importance` fits one galaxy: ``K`` draws from q, weighted by the
emulated posterior (prior x emulated likelihood, :func:`~prospect_emu.prospector.batched.lnprob_batch`,
the same likelihood a sampler would use) over q; the effective sample size says whether the
weights can be trusted (:mod:`prospect_emu.amortized.route` decides what happens otherwise).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from . import flow as flowlib
from .proposals import MixtureProposal
from .space import Features, ThetaSpace

SCHEMA = 1
META_FILE, WEIGHTS_FILE = "posterior.json", "flow.npz"


def emulator_hash(path: str | Path) -> str:
    """sha256 of an emulator's metadata and weights files (what its predictions depend on)."""
    h = hashlib.sha256()
    for name in ("emulator.json", "weights.npz"):
        f = Path(path) / name
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()


def prior_description(model) -> list[list[str]]:
    """Each free parameter's name and prior (``repr``), in theta order."""
    return [[name, repr(model.config_dict[name].get("prior"))] for name in model.free_params]


@dataclass
class Importance:
    """One galaxy's importance-sampled posterior."""

    samples: np.ndarray
    weights: np.ndarray
    ess: float
    ncall: int
    #: ln of the mean importance weight ``posterior / q``: the evidence estimate, in the
    #: normalisation of Prospector's ``lnprobfn``
    logz: float = float("nan")


class AmortizedPosterior:
    """A trained amortized posterior (load with :meth:`load`)."""

    def __init__(self, meta: dict[str, Any], flow):
        self.meta = meta
        self.flow = flow
        self.family = flowlib.FlowSpec.from_json(meta["flow"]).family
        self.space = ThetaSpace.from_json(meta["theta_space"])
        self.features = Features.from_json(meta["features"])
        self.bands = list(self.features.bands)
        self.zred_range = tuple(meta["zred_range"])
        self.never_missing = {b for b, p in zip(self.bands, meta.get("band_missing_fraction", []))
                              if p <= 0}

    @classmethod
    def load(cls, path: str | Path) -> AmortizedPosterior:
        path = Path(path)
        meta_file = path / META_FILE
        if not meta_file.is_file():
            raise ConfigurationError(f"{path} is not an amortized posterior (no {META_FILE}): "
                                     "make one with prospect-emu train-posterior")
        meta = json.loads(meta_file.read_text())
        if int(meta.get("schema", 0)) > SCHEMA:
            raise ConfigurationError(f"{path} was written by a newer prospect-emu (schema "
                                     f"{meta['schema']}); upgrade prospect-emu")
        flow = flowlib.load_flow(flowlib.FlowSpec.from_json(meta["flow"]), path / WEIGHTS_FILE)
        return cls(meta, flow)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        flowlib.save_weights(self.flow, path / WEIGHTS_FILE)
        tmp = path / (META_FILE + ".partial")
        tmp.write_text(json.dumps(self.meta, indent=1))
        tmp.replace(path / META_FILE)  # written last: a folder without it is no posterior
        return path

    # -- checks ---------------------------------------------------------------------------
    def check_model(self, model, emulator: str | Path) -> None:
        """Refuse a model or emulator other than the ones the posterior was trained for."""
        if list(model.theta_labels()) != self.space.labels:
            raise ConfigurationError(
                f"the posterior was trained for free parameters {self.space.labels}, the model "
                f"has {list(model.theta_labels())}: train a posterior for this model")
        if prior_description(model) != self.meta["priors"]:
            raise ConfigurationError("the model's priors differ from those the posterior was "
                                     "trained on: train a posterior for this model")
        if emulator_hash(emulator) != self.meta["emulator_sha256"]:
            raise ConfigurationError(f"the posterior was trained with another emulator than "
                                     f"{emulator} (its hash differs): train it on this emulator")

    def unseen(self, zred: float, measured: dict[str, bool]) -> str | None:
        """Why a galaxy lies outside what the posterior learned, or None."""
        lo, hi = self.zred_range
        if not lo <= zred <= hi:
            return f"zred {zred:g} outside the posterior's training range [{lo:g}, {hi:g}]"
        gone = [b for b in self.never_missing if not measured.get(b, False)]
        if gone:
            return f"band(s) {', '.join(sorted(gone))} missing, never missing in training"
        extra = [b for b, ok in measured.items() if ok and b not in self.bands]
        if extra:
            return f"band(s) {', '.join(extra)} not among the posterior's bands"
        return None

    # -- fitting --------------------------------------------------------------------------
    def context(self, obs: dict[str, Any], zred: float) -> np.ndarray:
        """The flow's conditioning vector for an observation (bands by name)."""
        names = [f.name for f in obs["filters"]]
        idx = {b: j for j, b in enumerate(names)}
        nb = len(self.bands)
        maggies, unc, ok = np.zeros(nb), np.ones(nb), np.zeros(nb, dtype=bool)
        mask = obs.get("phot_mask")
        for j, b in enumerate(self.bands):
            i = idx.get(b)
            if i is None or (mask is not None and not mask[i]):
                continue
            maggies[j], unc[j] = obs["maggies"][i], obs["maggies_unc"][i]
            ok[j] = np.isfinite(maggies[j]) and np.isfinite(unc[j]) and unc[j] > 0
        return self.features(maggies[None], unc[None], ok[None], np.array([zred]))[0]

    def measured(self, obs: dict[str, Any]) -> dict[str, bool]:
        mask = obs.get("phot_mask")
        mag, unc = np.asarray(obs["maggies"], float), np.asarray(obs["maggies_unc"], float)
        return {f.name: bool((mask is None or mask[i]) and np.isfinite(mag[i])
                             and np.isfinite(unc[i]) and unc[i] > 0)
                for i, f in enumerate(obs["filters"])}

    def propose(self, obs: dict[str, Any], zred: float, k: int, seed: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """``k`` draws of theta from q and ``ln q(theta)`` (the flow's density times the Jacobian)."""
        y, logq_y = flowlib.sample(self.flow, self.family, self.context(obs, zred), k, seed)
        theta = self.space.from_flow(y)
        _, logjac = self.space.to_flow(theta)
        return theta, logq_y + logjac

    def importance(self, model, obs: dict[str, Any], zred: float, k: int,
                   seed: int | None = None, refine: int = 0) -> Importance:
        """Draws from q weighted by the emulated posterior over their proposal, and their ESS.

        With ``refine``, up to that many further rounds of ``k`` draws come from a Gaussian
        mixture fitted to the weighted draws so far
        (:class:`~prospect_emu.amortized.proposals.MixtureProposal`, in the flow's
        coordinates), mixed with q itself (a share :data:`DEFENSIVE` of the draws), while the
        ESS is below :data:`ENOUGH` times ``k``.  Every draw of every round is weighted
        against the mixture of all the proposals used (:func:`mixture`, adaptive multiple
        importance sampling), so each new fit uses the best weights there are; ``ncall``
        counts every draw.
        """
        ctx = self.context(obs, zred)
        y, log_flow = flowlib.sample(self.flow, self.family, ctx, k, seed)
        rounds = _Rounds(y, self._log_target(model, obs, y), log_flow)
        imp = rounds.weigh(self.space)
        rng = np.random.default_rng(seed)
        for r in range(refine):
            if imp.ess >= ENOUGH * k or imp.ess < 2:
                break
            fitted = MixtureProposal.fit(rounds.y, imp.weights, rng)
            y = fitted.sample(k, rng)
            mixed = rng.uniform(size=k) < DEFENSIVE
            if mixed.any():
                sub_seed = None if seed is None else seed + 1 + r
                y[mixed] = flowlib.sample(self.flow, self.family, ctx, int(mixed.sum()), sub_seed)[0]
            rounds.add(y, self._log_target(model, obs, y), flowlib.log_prob(self.flow, ctx, y),
                       fitted)
            imp = rounds.weigh(self.space)
        return imp

    def _log_target(self, model, obs: dict[str, Any], y: np.ndarray) -> np.ndarray:
        """The emulated posterior's log density (Prospector's ``lnprobfn``, batched) at draws
        ``y``, in the flow's coordinates (``ln p(theta) - ln|dy/dtheta|``); -inf where theta
        is not finite or the posterior is zero."""
        from ..prospector.batched import lnprob_batch

        theta = self.space.from_flow(y)
        _, logjac = self.space.to_flow(theta)
        keep = np.all(np.isfinite(theta), axis=1) & np.isfinite(logjac)
        out = np.full(len(y), -np.inf)
        if keep.any():
            out[keep] = lnprob_batch(theta[keep], model, obs) - logjac[keep]
        return np.where(np.isfinite(out), out, -np.inf)


class _Rounds:
    """The draws of an importance step's rounds (flow coordinates), their target log density,
    and every proposal's log density at every draw, kept up to date as rounds are added."""

    def __init__(self, y: np.ndarray, log_target: np.ndarray, log_flow: np.ndarray):
        self.y, self.log_target, self.log_flow = y, log_target, log_flow
        self.fitted: list[MixtureProposal] = []
        self.log_fitted: list[np.ndarray] = []  # each fitted proposal's density at every draw
        self.counts = [len(y)]

    def add(self, y: np.ndarray, log_target: np.ndarray, log_flow: np.ndarray,
            fitted: MixtureProposal) -> None:
        self.log_fitted = [np.concatenate([lf, f.log_pdf(y)])
                           for f, lf in zip(self.fitted, self.log_fitted)]
        self.y = np.concatenate([self.y, y])
        self.log_target = np.concatenate([self.log_target, log_target])
        self.log_flow = np.concatenate([self.log_flow, log_flow])
        self.fitted.append(fitted)
        self.log_fitted.append(fitted.log_pdf(self.y))
        self.counts.append(len(y))

    def weigh(self, space) -> Importance:
        """Every draw weighted against the mixture of the rounds' proposals: q for the first,
        each fitted mixture mixed with q (:data:`DEFENSIVE`) for the others."""
        log_q = [self.log_flow] + [np.logaddexp(np.log1p(-DEFENSIVE) + lf,
                                                np.log(DEFENSIVE) + self.log_flow)
                                   for lf in self.log_fitted]
        return mixture(space.from_flow(self.y), self.log_target, np.array(log_q), self.counts)


def mixture(samples: np.ndarray, log_target: np.ndarray, log_q: np.ndarray,
            counts: list[int] | np.ndarray) -> Importance:
    """Importance weights of draws made by several proposals, each draw weighted against
    their mixture (the deterministic-mixture or balance-heuristic estimator; Veach & Guibas
    1995, Owen & Zhou 2000; adaptive multiple importance sampling, Cornuet et al. 2012).

    Parameters
    ----------
    samples : ndarray (n, d)
        The draws (kept as they are in the result).
    log_target : ndarray (n,)
        The unnormalised target's log density at each draw (-inf: zero).
    log_q : ndarray (r, n)
        Each proposal's log density at every draw, whichever proposal made it.
    counts : sequence of r ints
        How many of the draws each proposal made (its share of the mixture).

    Returns
    -------
    Importance
        Self-normalised weights ``target / sum_r (counts_r / n) q_r``, their ESS, ``ncall``
        = n and the evidence estimate ``ln mean(weight)``.  Where one proposal missed part
        of the target that another covers, its draws there are weighted by the mixture, not
        by the proposal that missed: on the same draws the ESS is usually well above that of
        pooling the rounds' own weights (:func:`pool`).
    """
    counts = np.asarray(counts, dtype=float)
    share = np.log(counts / counts.sum())[:, None]
    lq = np.logaddexp.reduce(np.asarray(log_q, dtype=float) + share, axis=0)
    with np.errstate(invalid="ignore"):
        logw = np.where(np.isfinite(log_target) & np.isfinite(lq), log_target - lq, -np.inf)
    return _from_log_weights(samples, logw, len(samples))


def _from_log_weights(samples: np.ndarray, logw: np.ndarray, ncall: int) -> Importance:
    """Self-normalised weights, ESS and ``ln mean(exp(logw))`` of log weights (-inf: zero)."""
    if not np.isfinite(logw).any():
        return Importance(samples, np.zeros(len(samples)), 0.0, ncall)
    top = np.max(logw)
    w = np.exp(logw - top)
    return Importance(samples, w / w.sum(), float(w.sum() ** 2 / np.sum(w * w)), ncall,
                      float(top + np.log(w.mean())))


def pool(rounds: list[Importance]) -> Importance:
    """Importance-weighted draws of several proposals of the same posterior, as one set.

    Each round's self-normalised weights estimate the same posterior; the rounds are mixed
    in proportion to their ESS (the inverse of each estimate's variance), which makes the
    pooled ESS the sum of the rounds' (``1 / sum(weights**2)`` of the pooled weights).  A
    poor round (a proposal that missed the posterior) thus counts little, and the draws of
    good rounds add up instead of all but one being discarded.  The evidence estimate is
    the same mixture of the rounds' ``exp(logz)``; ``ncall`` the sum of their calls.
    """
    ess = np.array([r.ess for r in rounds], dtype=float)
    ncall = int(sum(r.ncall for r in rounds))
    samples = np.concatenate([r.samples for r in rounds])
    if not ess.sum() > 0:
        return Importance(samples, np.zeros(len(samples)), 0.0, ncall)
    lam = ess / ess.sum()
    weights = np.concatenate([f * r.weights for f, r in zip(lam, rounds)])
    weights /= weights.sum()
    used = lam > 0
    logz = float(np.logaddexp.reduce(np.log(lam[used])
                                     + np.array([r.logz for r in rounds])[used]))
    return Importance(samples, weights, float(1.0 / np.sum(weights * weights)), ncall, logz)


#: Refinement stops once the ESS reaches this multiple of one round's draws.
ENOUGH = 1.0

#: The share of q's own draws in a refinement round's proposal (keeps its other modes and
#: tails, so the weights stay bounded where the fitted mixture is too narrow).
DEFENSIVE = 0.1
