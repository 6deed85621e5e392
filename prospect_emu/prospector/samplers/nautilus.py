"""nautilus over the vectorised emulated likelihood.

:func:`run_nautilus` is a plain function ``(obs, model, sps, noise, lnprobfn, **options)
-> (result, seconds)``, shaped like Prospector's ``run_dynesty``; :class:`NautilusSampler`
is its entry in the sampler registry (``prospect-emu fit --nautilus``, ``fit-catalog
--sampler nautilus``, the demo).  For an emulated model it hands nautilus the batched likelihood
(:mod:`prospect_emu.prospector.batched`, ``vectorized=True``) and the vectorised prior transform; for
any other model (FSPS) Prospector's ``lnprobfn`` one point at a time.

The result is a :class:`SamplingResults`, a dict with the keys of a dynesty result
(``samples``, ``logwt``, ``logl``, ``logz``, ``logzerr``, ``logvol``, ``information``,
``eff``, ``niter``, ``samples_id``, ``ncall``), also readable as attributes, so that
Prospector's ``write_hdf5`` stores it as it stores dynesty's (``chain`` and normalised
``weights`` in the ``sampling`` group) and ``results_from`` reads it back.  nautilus has
no per-sample prior volume or information: ``logvol`` and ``information`` are NaN.

Options (``run_params``, Prospector-style): ``nautilus_nlive`` (live points, default
1000), ``nautilus_nnetworks`` (neural networks per bound, default 4), ``nautilus_flive``
(stop when the live set holds less than this fraction of the evidence, default 0.01),
``nautilus_neff`` (effective sample size to reach, default 10000),
``nautilus_discard_exploration`` (default False), ``nautilus_maxcall`` (default
unlimited), ``nautilus_threads`` (BLAS threads while sampling, default 1: one core),
``nautilus_fast`` (the ``fast`` preset, :data:`NAUTILUS_FAST`, in place of the options left
at their defaults; the default networks' training is most of a default fit's time).  The
presets: :attr:`NautilusSampler.presets`.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from ...errors import ConfigurationError
from .base import Preset, Sampler, SamplingResults, blas_threads, str2bool

__all__ = ["NAUTILUS_FAST", "NAUTILUS_OPTIONS", "NautilusSampler", "run_nautilus"]

#: nautilus options: run_params key -> (default, type, help)
NAUTILUS_OPTIONS: dict[str, tuple[Any, type, str]] = {
    "nautilus_nlive": (1000, int, "nautilus live points"),
    "nautilus_nnetworks": (4, int, "nautilus neural networks per bound"),
    "nautilus_flive": (0.01, float, "stop when the live points hold less than this fraction "
                       "of the evidence"),
    "nautilus_neff": (10000, int, "effective posterior sample size to reach"),
    "nautilus_discard_exploration": (False, bool, "drop the exploration phase's points"),
    "nautilus_maxcall": (None, int, "at most this many likelihood calls"),
    "nautilus_threads": (1, int, "BLAS threads while sampling (1: one core)"),
    "nautilus_nn_layers": ("100,50,20", str, "hidden layer sizes of nautilus' networks"),
    "nautilus_nn_maxiter": (10000, int, "training iterations of nautilus' networks, at most"),
    "nautilus_fast": (False, bool, "the fast preset (NAUTILUS_FAST) for the options left at their "
                      "defaults: fewer live points, one small network, shorter training"),
}

#: the presets, each defined here only (see benchmarks/bench_samplers.py for the trade-off)
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("default", "the --nautilus_* defaults (NAUTILUS_OPTIONS)"),
    Preset("fast", "one small network, shorter training, fewer live points",
           {"nautilus_nlive": 200, "nautilus_nnetworks": 1, "nautilus_nn_layers": "32,16",
            "nautilus_nn_maxiter": 300, "nautilus_neff": 3000}),
    Preset("catalog", "fit-catalog's settings: the fast networks, 2000 effective samples",
           {"nautilus_nlive": 150, "nautilus_nnetworks": 1, "nautilus_nn_layers": "32,16",
            "nautilus_nn_maxiter": 300, "nautilus_neff": 2000}),
    # Measured on a 14-parameter Prospector-alpha-like emulator (emulator-made mocks, S/N 20):
    # ESS 1700-1900 at 100-120k calls, medians within 0.13-0.18 sigma of a 300-live run,
    # where no emcee setting converged and the fast preset's 200 live points cost 186-590k.
    Preset("wide", "for 8 or more free parameters: 400 live points, the fast networks, 1500 "
           "effective samples", {"nautilus_nlive": 400, "nautilus_nnetworks": 1,
                                 "nautilus_nn_layers": "32,16", "nautilus_nn_maxiter": 300,
                                 "nautilus_neff": 1500}),
)}
PRESETS["demo"] = Preset("demo", "the demo's settings: the fast preset", PRESETS["fast"].values)

#: ``--nautilus_fast``: the fast preset's settings, which replace the defaults
NAUTILUS_FAST: dict[str, Any] = dict(PRESETS["fast"].values)


def _options(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = {k: kwargs.get(k, d) for k, (d, _, _) in NAUTILUS_OPTIONS.items()}
    for k in out:
        if out[k] is None:
            out[k] = NAUTILUS_OPTIONS[k][0]
        elif NAUTILUS_OPTIONS[k][1] is bool:
            out[k] = str2bool(out[k])
    if str2bool(out["nautilus_fast"]):
        for k, v in NAUTILUS_FAST.items():
            if out[k] == NAUTILUS_OPTIONS[k][0]:
                out[k] = v
    return out


def run_nautilus(obs: dict, model, sps=None, noise=(None, None), lnprobfn=None, *,
                 seed: int | None = None, **kwargs) -> tuple[SamplingResults, float]:
    """Sample a model's posterior with nautilus.

    Parameters
    ----------
    obs, model, sps, noise, lnprobfn
        As for Prospector's ``run_dynesty``; ``lnprobfn`` is used only where the
        batched likelihood does not apply (defaults to
        :func:`prospect_emu.prospector.likelihood.lnprobfn`).
    seed : int, optional
        Seed nautilus for a reproducible fit.
    **kwargs
        ``nautilus_*`` options (see the module notes); others are ignored.

    Returns
    -------
    (SamplingResults, float)
        The result and the sampling wall time in seconds.
    """
    try:
        from nautilus import Sampler
    except ImportError as exc:
        raise ConfigurationError("--nautilus needs the nautilus sampler: pip install "
                                 "nautilus-sampler (or prospect-emu[fast])") from exc
    from prospect.utils.obsutils import fix_obs

    from ..batched import BatchLikelihood
    from ..likelihood import fast_plan
    from ..likelihood import lnprobfn as emu_lnprobfn

    opt = _options(kwargs)
    obs = fix_obs(obs)
    lnprobfn = lnprobfn or emu_lnprobfn
    nonoise = noise is None or all(n is None for n in noise)
    vectorized = nonoise and fast_plan(model, obs) is not None and lnprobfn is emu_lnprobfn
    if vectorized:
        like = BatchLikelihood(model, obs, nested=True, in_support=True)
        prior = model.prior_transform
    else:
        calls = [0]

        def like(theta):
            calls[0] += 1
            return lnprobfn(theta, model=model, obs=obs, sps=sps, noise=noise, nested=True)

        def prior(u):
            return model.prior_transform(u)
    t0 = time.perf_counter()
    with blas_threads(opt["nautilus_threads"]), warnings.catch_warnings():
        # the presets cap the networks' training on purpose (nautilus_nn_maxiter): scikit-learn's
        # "maximum iterations reached" would otherwise come with every bound of every fit
        warnings.filterwarnings("ignore", message="Stochastic Optimizer: Maximum iterations")
        layers = tuple(int(v) for v in str(opt["nautilus_nn_layers"]).split(",") if v.strip())
        sampler = Sampler(prior, like, n_dim=model.ndim, n_live=opt["nautilus_nlive"],
                          n_networks=opt["nautilus_nnetworks"], vectorized=vectorized,
                          seed=seed, neural_network_kwargs={
                              "hidden_layer_sizes": layers,
                              "max_iter": opt["nautilus_nn_maxiter"]})
        sampler.run(f_live=opt["nautilus_flive"], n_eff=opt["nautilus_neff"],
                    discard_exploration=opt["nautilus_discard_exploration"],
                    n_like_max=np.inf if opt["nautilus_maxcall"] is None else opt["nautilus_maxcall"],
                    verbose=False)
    seconds = time.perf_counter() - t0
    points, log_w, log_l = sampler.posterior()
    log_w = log_w - np.logaddexp.reduce(log_w)
    ncall = like.ncall if vectorized else calls[0]
    log_z = float(sampler.log_z)
    n = len(points)
    res = SamplingResults(
        samples=np.asarray(points, dtype=float), logwt=log_w + log_z, logl=np.asarray(log_l),
        logz=np.full(n, log_z), logzerr=np.full(n, np.nan), logvol=np.full(n, np.nan),
        information=np.full(n, np.nan), eff=100.0 * n / max(ncall, 1), niter=n,
        samples_id=np.arange(n), ncall=np.array([ncall]), sampler="nautilus",
        n_eff=float(sampler.n_eff), vectorized=vectorized)
    return res, seconds


class NautilusSampler(Sampler):
    """nautilus (:func:`run_nautilus`): batched proposals over the vectorised emulated
    likelihood; options ``nautilus_*`` (:data:`NAUTILUS_OPTIONS`)."""

    name = "nautilus"
    summary = "nautilus, batched over the vectorised likelihood (pip install nautilus-sampler)"
    presets = PRESETS
    aliases = {"nlive": "nautilus_nlive", "maxcall": "nautilus_maxcall"}

    def run(self, obs: dict, model, sps=None, noise=(None, None), lnprobfn=None, *,
            seed: int | None = None, **run_params) -> tuple[SamplingResults, float]:
        """:func:`run_nautilus` with the ``nautilus_*`` run_params (others ignored)."""
        return run_nautilus(obs, model, sps, noise, lnprobfn, seed=seed,
                            **{k: v for k, v in run_params.items() if k.startswith("nautilus_")})

    def posterior(self, result) -> tuple[np.ndarray, np.ndarray]:
        w = np.exp(np.asarray(result["logwt"]) - np.max(result["logwt"]))
        return np.asarray(result["samples"]), w / w.sum()

    def logz(self, result) -> float:
        return float(result["logz"][-1])
