"""emcee over the batched emulated likelihood, in the unit cube of the priors.

:func:`run_emcee` is shaped like :func:`prospect_emu.prospector.samplers.run_nautilus` (and
Prospector's ``run_emcee``): ``(obs, model, sps, noise, lnprobfn, **options) ->
(result, seconds)``; :class:`EmceeSampler` is its entry in the sampler registry
(``prospect-emu fit --emcee``, ``fit-catalog --sampler emcee``, the demo, ``calibrate``).
This is not Prospector's own emcee (walkers started around the model's ``init`` values),
which a parameter file's ``__main__`` runs through Prospector's ``fit_model``.

How it samples
    The walkers move in the unit-free space of the priors: ``u`` in the unit cube, with
    ``theta = model.prior_transform(u)``, where the posterior density is the likelihood
    alone (the prior is uniform there, so a log-uniform mass or a Normal prior needs no
    special handling and no step size per parameter).  ``emcee.EnsembleSampler(...,
    vectorize=True)`` hands each half-ensemble to :func:`prospect_emu.prospector.batched.lnprob_batch`
    in one call.  Where the batched path does not apply (FSPS, a noise model, a spectrum)
    Prospector's ``lnprobfn`` is called one vector at a time, same algorithm.

Initial positions and burn-in (Prospector-style ``nwalkers``, ``niter``, ``nburn``)
    ``emcee_ninit`` prior draws are evaluated (one batched call) and the ``nwalkers``
    most likely start the ensemble; ``emcee_starts`` (points in parameter space, e.g. an
    amortized posterior's proposals) join the prior draws in that choice.  Each burn-in
    round but the last runs ``nburn[k]`` steps, then redraws the walkers from a Gaussian
    with the covariance of the better half, centred on the best walker (Prospector's
    ``reinitialize_ball_covar``, which also frees stuck walkers); the last round relaxes the
    ensemble from that Gaussian into the posterior and is discarded; the production run
    (``niter`` steps) is kept.

The result is a dict readable as attributes, with the attributes of an emcee sampler
that Prospector's ``write_hdf5`` stores (``chain`` (nwalkers, niter, ndim) in parameter
units, ``lnprobability`` = ln-likelihood + ln-prior, ``acceptance_fraction``,
``random_state``), so ``prospect.io.read_results.results_from`` reads it back as an emcee
result; plus ``flatchain``, ``flatlnprobability``, ``ncall``, ``autocorr`` (integrated
autocorrelation time per parameter, in steps, NaN-free only for long enough chains),
``convergence`` (:class:`prospect_emu.prospector.convergence.ChainConvergence` as a dict:
acceptance, tau, niter/tau, tau's growth with the chain length, split R-hat, lost walkers,
all measured in the unit cube where the walkers move) and ``n_eff`` (walkers x steps / tau,
NaN unless every convergence check passed).  The report's one-line summary is printed and
a failed check is warned about, with its remedy.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from ...errors import ConfigurationError
from ..convergence import ChainConvergence, emcee_convergence
from ..convergence import autocorr_time as _autocorr
from .base import Preset, Sampler, SamplingResults, _fmt, blas_threads
from .emcee_moves import _batch_sampler_class, _moves

__all__ = ["EMCEE_OPTIONS", "PROSPECTOR_DEFAULTS", "EmceeSampler", "emcee_settings", "run_emcee",
           "unit_cube"]

#: emcee options beyond Prospector's nwalkers/niter/nburn: run_params key -> (default, type, help)
EMCEE_OPTIONS: dict[str, tuple[Any, type, str]] = {
    "emcee_ninit": (4096, int, "prior draws from which the best nwalkers start the walkers"),
    "emcee_moves": ("stretch", str, "emcee moves: stretch (emcee's default), de (differential "
                    "evolution), de_snooker, de_stretch, kde (proposals from a Gaussian KDE of the "
                    "other half-ensemble: about half de's autocorrelation time on the demo) or "
                    "de_kde"),
    "emcee_threads": (1, int, "BLAS threads while sampling (1: one core)"),
}


#: Prospector's defaults (prospect.utils.prospect_args), used where run_params has none
PROSPECTOR_DEFAULTS = {"nwalkers": 64, "niter": 512, "nburn": (16, 32, 64)}


def emcee_settings(nwalkers: int | None, niter: int | None, nburn, ndim: int,
                   ninit: int | None = None) -> tuple[int, int, list[int], int]:
    """Checked ``(nwalkers, niter, nburn, ninit)``; None takes Prospector's default.

    Raises
    ------
    ConfigurationError
        For an odd ``nwalkers`` or fewer than twice the free parameters, ``niter < 1``,
        a negative burn-in round, or ``ninit < nwalkers``.
    """
    nwalkers = int(PROSPECTOR_DEFAULTS["nwalkers"] if nwalkers is None else nwalkers)
    niter = int(PROSPECTOR_DEFAULTS["niter"] if niter is None else niter)
    nburn = list(PROSPECTOR_DEFAULTS["nburn"] if nburn is None else np.atleast_1d(nburn).tolist())
    if nwalkers < 2 * ndim or nwalkers % 2:
        raise ConfigurationError(f"emcee needs an even number of walkers, at least twice the {ndim} "
                                 f"free parameters; got --nwalkers {nwalkers}: use e.g. "
                                 f"--nwalkers {max(64, 2 * ndim + (2 * ndim) % 2)}")
    if niter < 1:
        raise ConfigurationError(f"--niter must be at least 1 (emcee production steps); got {niter}")
    if any(int(n) != n or n < 0 for n in nburn):
        raise ConfigurationError(f"--nburn takes whole numbers of steps >= 0 per burn-in round; "
                                 f"got {nburn}")
    ninit = int(EMCEE_OPTIONS["emcee_ninit"][0] if ninit is None else ninit)
    if ninit < nwalkers:
        raise ConfigurationError(f"--emcee_ninit ({ninit}) must be at least --nwalkers ({nwalkers}): "
                                 "the walkers start at the best of that many prior draws")
    return nwalkers, niter, [int(n) for n in nburn], ninit


def add_emcee_arguments(group) -> None:
    """Add the ``--emcee_*`` options (Prospector's parser has --emcee, --nwalkers, --niter,
    --nburn already)."""
    for key, (default, kind, text) in EMCEE_OPTIONS.items():
        group.add_argument("--" + key, type=kind, default=default, help=f"{text} (default {default})")


class _UnitCubePosterior:
    """ln-likelihood of rows ``u`` of the unit cube (-inf outside), batched where possible."""

    def __init__(self, obs, model, sps, noise, lnprobfn):
        from ..batched import BatchLikelihood
        from ..likelihood import fast_plan
        from ..likelihood import lnprobfn as emu_lnprobfn

        self.model = model
        lnprobfn = lnprobfn or emu_lnprobfn
        nonoise = noise is None or all(n is None for n in noise)
        self.vectorized = (nonoise and lnprobfn is emu_lnprobfn
                           and getattr(model, "fast_priors", None) is not None
                           and fast_plan(model, obs) is not None)
        if self.vectorized:
            self.like = BatchLikelihood(model, obs, nested=True, in_support=True)
        else:
            self.calls = 0

            def like(thetas):
                self.calls += len(thetas)
                return np.array([lnprobfn(t, model=model, obs=obs, sps=sps, noise=noise, nested=True)
                                 for t in thetas], dtype=float)
            self.like = like

    @property
    def ncall(self) -> int:
        return int(self.like.ncall if self.vectorized else self.calls)

    def transform(self, u: np.ndarray) -> np.ndarray:
        if self.vectorized:
            return np.atleast_2d(self.model.prior_transform(u))
        return np.array([self.model.prior_transform(x) for x in u], dtype=float)

    def ln_prior(self, thetas: np.ndarray) -> np.ndarray:
        if self.vectorized:
            return self.model.prior_product_rows(thetas)
        return np.array([self.model.prior_product(t) for t in thetas], dtype=float)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        u = np.atleast_2d(u)
        out = np.full(len(u), -np.inf)
        inside = np.flatnonzero(np.all((u > 0.0) & (u < 1.0), axis=1))
        if inside.size:
            lnl = np.asarray(self.like(self.transform(u[inside])), dtype=float)
            out[inside] = np.where(lnl == lnl, lnl, -np.inf)
        return out


def unit_cube(model, thetas) -> np.ndarray:
    """Rows of ``thetas`` (parameter units) in the priors' unit cube, through each prior's
    ``inverse_unit_transform`` (Prospector's; its cdf), the inverse of ``prior_transform``.

    Raises
    ------
    ConfigurationError
        For a prior that cannot be inverted (Prospector's ``Fast*`` priors have no cdf), or
        ``thetas`` of the wrong width.
    """
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    if thetas.shape[1] != model.ndim:
        raise ConfigurationError(f"starting points have {thetas.shape[1]} columns; the model "
                                 f"has {model.ndim} free parameters")
    u = np.empty_like(thetas)
    for name in model.free_params:
        sl = model.theta_index[name]
        prior = model.config_dict[name]["prior"]
        try:
            inv = prior.inverse_unit_transform(thetas[:, sl])
            u[:, sl] = np.broadcast_to(inv, thetas[:, sl].shape)
        except (AttributeError, TypeError, ValueError) as exc:  # e.g. Fast* priors: no cdf
            raise ConfigurationError(f"the prior of {name} ({type(prior).__name__}) cannot map "
                                     f"values into the unit cube ({exc})") from exc
    return u


def _with_starts(u0: np.ndarray, model, starts) -> np.ndarray:
    """``u0`` with the starting points appended in the unit cube; the starts are a hint, so
    a model whose priors cannot be inverted (or starts of the wrong width) keeps ``u0``, with a
    warning."""
    try:
        return np.vstack([u0, unit_cube(model, starts)])
    except ConfigurationError as exc:
        warnings.warn(f"emcee_starts not used, the walkers start from prior draws: {exc}",
                      RuntimeWarning, stacklevel=3)
        return u0


def _reinitialize(pos: np.ndarray, lnp: np.ndarray, post: _UnitCubePosterior,
                  rng: np.random.Generator) -> np.ndarray:
    """New walker positions from a Gaussian: covariance of the better half of ``pos``,
    centred on the best walker; positions outside the cube or of zero likelihood redrawn."""
    nwalkers, ndim = pos.shape
    good = lnp >= np.median(lnp)
    center = pos[np.argmax(lnp)]
    cov = np.atleast_2d(np.cov(pos[good].T)) + 1e-12 * np.eye(ndim)
    new = np.empty_like(pos)
    need = np.arange(nwalkers)
    for _ in range(20):
        draw = rng.multivariate_normal(center, cov, size=len(need), method="cholesky")
        ok = np.isfinite(post(draw))
        new[need[ok]] = draw[ok]
        need = need[~ok]
        if not need.size:
            return new
    new[need] = pos[good][rng.integers(0, good.sum(), size=need.size)]  # rare: keep good walkers
    return new


def _convergence(chain_u: np.ndarray, lnl: np.ndarray, acc: np.ndarray,
                 model) -> ChainConvergence | None:
    """The convergence report of the production chain (None under 4 steps), printed in one
    line; a warning with the problems and the remedy where a check failed."""
    if chain_u.shape[0] < 4:
        return None
    labels = list(model.theta_labels()) if hasattr(model, "theta_labels") else []
    report = emcee_convergence(chain_u, lnl, acc, labels if len(labels) == chain_u.shape[2] else None,
                               walker_axis=1)
    print(report.summary())
    if not report.converged:
        warnings.warn(report.message(), RuntimeWarning, stacklevel=3)
    return report


def run_emcee(obs: dict, model, sps=None, noise=(None, None), lnprobfn=None, *,
              seed: int | None = None, nwalkers: int | None = None, niter: int | None = None,
              nburn=None, **kwargs) -> tuple[SamplingResults, float]:
    """Sample a model's posterior with emcee in the unit cube of its priors.

    Parameters
    ----------
    obs, model, sps, noise, lnprobfn
        As for Prospector's ``run_emcee``; ``lnprobfn`` is used only where the batched
        likelihood does not apply (defaults to :func:`prospect_emu.prospector.likelihood.lnprobfn`).
    seed : int, optional
        Seed the initial draws, the burn-in redraws and emcee's moves.
    nwalkers, niter, nburn
        Prospector's emcee options: walkers (even, >= 2 ndim; default 64), production
        steps (default 512), burn-in rounds (default [16, 32, 64]).
    **kwargs
        ``emcee_ninit`` and ``emcee_threads`` (see :data:`EMCEE_OPTIONS`); ``emcee_starts``,
        an array (m, ndim) of candidate starting points in parameter units that compete
        with the prior draws for the walkers' starts (the generic ``starts`` option of
        ``fit-catalog`` samplers); others ignored.

    Returns
    -------
    (SamplingResults, float)
        The emcee-shaped result (see the module notes) and the sampling wall time in s.

    Raises
    ------
    ConfigurationError
        emcee not installed, bad settings, or fewer than ``nwalkers`` prior draws of
        non-zero likelihood.
    """
    try:
        import emcee  # noqa: F401 - here only to name a missing install; used by the helpers
    except ImportError as exc:
        raise ConfigurationError("--emcee needs emcee: pip install emcee (or prospect-emu[fast])") from exc
    from prospect.utils.obsutils import fix_obs

    ndim = model.ndim
    nwalkers, niter, nburn, ninit = emcee_settings(nwalkers, niter, nburn, ndim,
                                                   kwargs.get("emcee_ninit"))
    threads = kwargs.get("emcee_threads") or EMCEE_OPTIONS["emcee_threads"][0]
    moves = _moves(kwargs.get("emcee_moves") or EMCEE_OPTIONS["emcee_moves"][0])
    obs = fix_obs(obs)
    post = _UnitCubePosterior(obs, model, sps, noise, lnprobfn)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    with blas_threads(threads):
        u0 = rng.uniform(size=(ninit, ndim))
        if kwargs.get("emcee_starts") is not None:
            u0 = _with_starts(u0, model, kwargs["emcee_starts"])
        lnl0 = post(u0)
        finite = np.flatnonzero(np.isfinite(lnl0))
        if finite.size < nwalkers:
            raise ConfigurationError(
                f"only {finite.size} of {ninit} prior draws have a finite likelihood, fewer than "
                f"the {nwalkers} walkers: raise --emcee_ninit, or check the priors against the "
                "emulator's training box and the data")
        pos = u0[finite[np.argsort(lnl0[finite])[::-1][:nwalkers]]]
        sampler = _batch_sampler_class()(nwalkers, ndim, post, vectorize=True, moves=moves)
        sampler.random_state = np.random.RandomState(rng.integers(2 ** 31)).get_state()
        for k, steps in enumerate(nburn):
            state = sampler.run_mcmc(pos, steps, progress=False) if steps else None
            if state is None:
                continue
            pos = state.coords
            if k < len(nburn) - 1:
                pos = _reinitialize(state.coords, state.log_prob, post, rng)
            sampler.reset()
        sampler.run_mcmc(pos, niter, progress=False)
        seconds = time.perf_counter() - t0
        chain_u = sampler.get_chain()                       # (niter, nwalkers, ndim)
        lnl = sampler.get_log_prob()                        # (niter, nwalkers)
        flat_theta = post.transform(chain_u.reshape(-1, ndim))
        lnp = lnl.reshape(-1) + post.ln_prior(flat_theta)
    chain = flat_theta.reshape(niter, nwalkers, ndim).swapaxes(0, 1)   # (nwalkers, niter, ndim)
    lnprob = lnp.reshape(niter, nwalkers).T
    acc = np.asarray(sampler.acceptance_fraction)
    report = _convergence(chain_u, lnl, acc, model)
    tau = np.asarray(report.tau) if report is not None else _autocorr(chain_u)
    res = SamplingResults(
        chain=chain, lnprobability=lnprob, flatchain=chain.reshape(-1, ndim),
        flatlnprobability=lnprob.reshape(-1), acceptance_fraction=acc,
        random_state=sampler.random_state, ncall=np.array([post.ncall]), nwalkers=nwalkers,
        niter=niter, nburn=list(nburn), autocorr=tau,
        n_eff=report.n_eff if report is not None else math.nan,
        convergence=report.as_dict() if report is not None else None,
        sampler="emcee", vectorized=post.vectorized)
    return res, seconds


class EmceeSampler(Sampler):
    """prospect-emu's emcee (:func:`run_emcee`): walkers in the priors' unit cube over the
    batched likelihood; Prospector's ``nwalkers``, ``niter``, ``nburn`` and the ``emcee_*``
    options (:data:`EMCEE_OPTIONS`)."""

    name = "emcee"
    summary = ("prospect-emu's batched emcee in the priors' unit cube (pip install emcee; not "
               "Prospector's own emcee)")
    presets = {p.name: p for p in (
        Preset("default", "Prospector's nwalkers/niter/nburn defaults ({}, {}, {}), {} moves".format(
            *(_fmt(PROSPECTOR_DEFAULTS[k]) for k in ("nwalkers", "niter", "nburn")),
            EMCEE_OPTIONS["emcee_moves"][0])),
        # Chosen from the coverage over 100 independent FSPS-made mocks (calibrate on a
        # --block-size 1 set, seed 9191, S/N 20, zred 0.2-2.5, spectral demo emulator), not
        # from one mock.  The shortfall of shorter chains is mixing across the age-tau
        # degeneracy, not the number of walkers: 128 x 160 after 64 burn-in steps gave 95%
        # coverage 0.86-0.94 (tage, tau 0.86-0.87) and 4% beyond 3 sigma; 128 x 480 after 192
        # steps 0.90-0.97 and <= 2% (about 0.84 s a fit); 128 x 640 after 256 steps 0.92-0.98
        # and <= 1% (about 1.1 s).  docs/trust.rst has the table.
        Preset("demo", "the demo's and calibrate's settings, calibrated over 100 FSPS mocks",
               {"nwalkers": 128, "niter": 480, "nburn": [192], "emcee_moves": "de_kde"}),
        Preset("catalog", "fit-catalog's settings (benchmarks/bench_samplers.py)",
               {"nwalkers": 96, "niter": 192, "nburn": [16, 32, 64], "emcee_moves": "de_kde"}),
    )}
    aliases = {"nwalkers": "nwalkers", "niter": "niter", "nburn": "nburn",
               "starts": "emcee_starts"}

    def run(self, obs: dict, model, sps=None, noise=(None, None), lnprobfn=None, *,
            seed: int | None = None, **run_params) -> tuple[SamplingResults, float]:
        """:func:`run_emcee` with ``nwalkers``, ``niter``, ``nburn`` and the ``emcee_*``
        run_params (others ignored)."""
        return run_emcee(obs, model, sps, noise, lnprobfn, seed=seed,
                         nwalkers=run_params.get("nwalkers"), niter=run_params.get("niter"),
                         nburn=run_params.get("nburn"),
                         **{k: v for k, v in run_params.items() if k.startswith("emcee_")})

    def posterior(self, result) -> tuple[np.ndarray, np.ndarray]:
        chain = np.asarray(result["flatchain"])
        return chain, np.full(len(chain), 1.0 / len(chain))
