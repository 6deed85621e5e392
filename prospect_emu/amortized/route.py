"""A catalog object's route with an amortized posterior (``fit-catalog --posterior DIR``).

Per object, in the worker:

1. the object is checked against what the posterior learned (its redshift inside the
   simulated range, no band missing that was never missing in training); else it falls
   back, with the reason in the summary's ``message``;
2. ``proposals`` draws from the flow are weighted by the emulated posterior over the flow
   (:meth:`~prospect_emu.amortized.posterior.AmortizedPosterior.importance`), refined up to
   ``refine`` times by a Gaussian mixture fitted to the weighted draws (every draw weighted against
   the mixture of the rounds' proposals); below an effective sample size of ``min_ess``,
   once more with ``escalate`` times the draws (both tries pooled); with an ESS of at least
   ``min_ess`` the object's posterior is the weighted draws, resampled (route
   ``amortized``);
3. otherwise (out of distribution, multimodal, fluxes no simulation reached) the object is
   fitted by the catalog's sampler (route ``fallback:<sampler>``), never silently by a
   poor proposal.  After a low ESS the proposals are handed to it as starting points
   (the generic ``starts`` option: emcee's walkers start from the best of them and its
   prior draws; nested samplers start from the prior and ignore them): q's draws find
   modes that prior draws miss.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.catalog_object import (
    DEFAULT_SAMPLER_OPTIONS,
    ModelSource,
    build_model,
    equal_weight_draws,
    failed_row,
    finish_row,
    fit_object,
    object_seed,
    object_setup,
    sampler_name,
)
from ..errors import ConfigurationError
from ..prospector.samplers import blas_threads
from .posterior import AmortizedPosterior, Importance, pool

#: fit-catalog's options of the amortized route, and their defaults.
ROUTE_OPTIONS: dict[str, Any] = {"posterior": None, "proposals": 3000, "min_ess": 300.0,
                                 "refine": 2, "escalate": 4}

_LOCAL = threading.local()


def load_posterior(path: str | Path, source: ModelSource) -> AmortizedPosterior:
    """The posterior at ``path``, loaded and checked against the model once per thread."""
    cache = getattr(_LOCAL, "posteriors", None)
    if cache is None:
        cache = _LOCAL.posteriors = {}
    key = (str(path), source.key())
    if key not in cache:
        post = AmortizedPosterior.load(path)
        model, _ = build_model(source)
        post.check_model(model, source.emulator)
        missing = [b for b in source.bands if b not in post.bands]
        if missing:
            raise ConfigurationError(f"the posterior was not trained on band(s) {missing}: train "
                                     "it on an emulator with the catalog's bands")
        cache[key] = post
    return cache[key]


def importance_step(post: AmortizedPosterior, model, obs: dict[str, Any], zred: float,
                    route: dict[str, Any], seed: int | None
                    ) -> tuple[Importance | None, str | None]:
    """Steps 1-2 for one object: q's importance-weighted draws (None where the object is
    out of what the posterior learned, or the step failed) and why the object falls back
    (None: it stays on the amortized route).  ``route`` holds :data:`ROUTE_OPTIONS`."""
    reason = post.unseen(zred, post.measured(obs))
    if reason is not None:
        return None, reason
    k, refine = int(route["proposals"]), int(route["refine"])
    try:
        with blas_threads(1):  # faster than two threads on the batched network's products
            imp = post.importance(model, obs, zred, k, seed, refine=refine)
            if imp.ess < float(route["min_ess"]) and int(route["escalate"]) > 1:
                more = post.importance(model, obs, zred, k * int(route["escalate"]),
                                       None if seed is None else seed + 1, refine=refine)
                imp = pool([imp, more])
    except ConfigurationError:
        raise
    except Exception as exc:  # the proposal failed on this object: the sampler fits it
        return None, f"importance step failed ({type(exc).__name__}: {exc})"[:300]
    if imp.ess < float(route["min_ess"]):
        return imp, f"importance ESS {imp.ess:.0f} < {route['min_ess']}"
    return imp, None


def fallback_starts(imp: Importance, route: dict[str, Any]) -> np.ndarray:
    """The starting points a fallback sampler gets after a low ESS: q's own draws, the
    first ``proposals`` of the pooled draws (the refinement rounds and the escalation
    follow them)."""
    return imp.samples[:int(route["proposals"])]


def importance_output(imp: Importance, model, obs: dict[str, Any], seconds: float
                      ) -> dict[str, Any]:
    """``fit_model``'s output for importance-weighted draws: a result in dynesty's layout
    (weighted samples, their ln-likelihood, the evidence estimate), which Prospector's
    ``write_hdf5`` and ``results_from`` read as a nested sampler's."""
    from ..prospector.batched import lnprob_batch
    from ..prospector.samplers import SamplingResults

    keep = imp.weights > 0
    samples, w = imp.samples[keep], imp.weights[keep]
    n = len(samples)
    res = SamplingResults(
        samples=samples, logwt=np.log(w) + imp.logz,
        logl=lnprob_batch(samples, model, obs, nested=True), logz=np.full(n, imp.logz),
        logzerr=np.full(n, np.nan), logvol=np.full(n, np.nan), information=np.full(n, np.nan),
        eff=100.0 * n / max(imp.ncall, 1), niter=n, samples_id=np.arange(n),
        ncall=np.array([imp.ncall]), sampler="amortized", n_eff=imp.ess)
    return {"optimization": (None, 0.0), "sampling": (res, seconds)}


def fit_task(source: ModelSource, task: dict[str, Any], sampler_options: dict[str, Any],
             keep_output: bool = False) -> dict[str, Any]:
    """Fit one catalog row by the amortized route or its fallback; the result as
    :func:`prospect_emu.analysis.catalog_object.fit_task`'s, with ``route`` and ``ess``.
    Objects run in parallel (one per worker), so each runs on one BLAS thread: a second
    thread per object makes the batched network slower, not faster, on a loaded core."""
    with blas_threads(1):
        return _fit_routed(source, task, sampler_options, keep_output)


def _fit_routed(source: ModelSource, task: dict[str, Any], sampler_options: dict[str, Any],
                keep_output: bool) -> dict[str, Any]:
    """:func:`fit_task`'s work."""
    opts = dict(sampler_options)
    route = {k: opts.pop(k, v) for k, v in ROUTE_OPTIONS.items()}
    if route["posterior"] is None:
        raise ConfigurationError("the amortized route needs a posterior (--posterior DIR)")
    post = load_posterior(route["posterior"], source)
    model, obs, row = object_setup(source, task)
    opts["seed"] = object_seed(opts.get("seed"), task["row"])
    t0 = time.perf_counter()
    imp, reason = importance_step(post, model, obs, row["z"], route, opts["seed"])
    ess = float("nan") if imp is None else imp.ess
    if reason is None:
        nsamples = int(opts.get("nsamples") or DEFAULT_SAMPLER_OPTIONS["nsamples"])
        draws = equal_weight_draws(imp.samples, imp.weights, nsamples, opts["seed"])
        row.update(route="amortized", message="")
        output = (importance_output(imp, model, obs, time.perf_counter() - t0)
                  if keep_output else None)
        fit = {"samples": draws, "ncall": imp.ncall, "ess": imp.ess, "output": output}
        return finish_row(model, obs, row, fit, t0, keep_output)
    if imp is not None:
        opts["starts"] = fallback_starts(imp, route)  # a sampler that starts from points
    row.update(route=f"fallback:{sampler_name(opts)}", message=reason)
    try:
        fit = fit_object(model, obs, opts)
    except ConfigurationError:
        raise
    except Exception as exc:  # a sampler failure on this object: report it, go on
        out = failed_row(row, exc, t0)
        out["row"]["message"] = f"{reason}; fallback: {out['row']['message']}"[:500]
        return out
    fit["ess"] = ess  # the importance step's, which sent the object here
    return finish_row(model, obs, row, fit, t0, keep_output)
