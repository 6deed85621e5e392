"""Convergence report for an emcee ensemble chain (pure numpy/scipy).

An acceptance fraction alone does not tell a converged ensemble from one that is not: on
a 14-parameter Prospector-alpha-like model (emulator-made mocks) no emcee setting converged
(the autocorrelation time grew in proportion to the chain length, split R-hat across
walkers 1.3-2.3, ``niter / tau`` stuck at 9-11), and walkers ~700 in ln L below the rest
went unreported, while nautilus (300-400 live points) converged at ~85-120k likelihood
calls.  :func:`emcee_convergence` measures what shows this:

- the mean and the minimum acceptance fraction over the walkers;
- the integrated autocorrelation time per parameter (:func:`autocorr_time`, emcee's
  estimator), its maximum and the parameter it belongs to, and ``niter / tau``;
- ``tau`` of the first half of the chain against ``tau`` of the whole chain: a chain that
  has not converged has a ``tau`` that keeps growing with its length;
- the maximum split R-hat across walkers (Gelman et al. 2013, BDA3 eq. 11.4, each walker
  split into two halves);
- the walkers whose median ln-probability over the second half lies more than
  ``chi2.ppf(0.999, ndim) / 2`` below the best walker's (lost walkers), and those that did
  not move at all over the second half (stuck walkers).

The number of effective samples ``nwalkers * niter / tau`` is reported only when every
check passes: with a ``tau`` that is an underestimate it is meaningless.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ..errors import ConfigurationError

__all__ = ["ChainConvergence", "autocorr_time", "emcee_convergence", "split_rhat"]

#: ndim from which the remedy is nautilus rather than a longer emcee run
NAUTILUS_NDIM = 8


def autocorr_time(chain: np.ndarray, c: float = 5.0) -> np.ndarray:
    """emcee's integrated autocorrelation time per parameter.

    The estimator of ``emcee.autocorr.integrated_time(chain, c=c, quiet=True)`` (the
    walker-averaged normalised autocorrelation function, summed up to Sokal's window
    ``M >= c * tau``), for all walkers and parameters in one FFT.

    Parameters
    ----------
    chain : ndarray, (nsteps, nwalkers, ndim)
        Steps first, as ``emcee.EnsembleSampler.get_chain()`` returns it.
    c : float
        Sokal's window constant.

    Returns
    -------
    ndarray, (ndim,)
        In steps; not reliable where ``nsteps < 50 tau`` (emcee's own criterion).
    """
    x = np.asarray(chain, dtype=float)
    n_t = x.shape[0]
    nfft = 1 << max(n_t - 1, 0).bit_length()           # emcee's next power of two
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.fft.rfft(x - x.mean(axis=0), n=2 * nfft, axis=0)
        acf = np.fft.irfft(f * np.conjugate(f), n=2 * nfft, axis=0)[:n_t]
        acf = (acf / acf[0]).mean(axis=1)                 # (n_t, ndim)
    taus = 2.0 * np.cumsum(acf, axis=0) - 1.0
    tau = np.empty(x.shape[2])
    for d in range(x.shape[2]):
        m = np.arange(n_t) < c * taus[:, d]
        tau[d] = taus[np.argmin(m) if np.any(m) else n_t - 1, d]
    return tau


def split_rhat(chain: np.ndarray) -> np.ndarray:
    """Split R-hat per parameter, each walker's chain cut into two halves.

    Parameters
    ----------
    chain : ndarray, (nsteps, nwalkers, ndim)

    Returns
    -------
    ndarray, (ndim,)
        ``sqrt(var+ / W)`` with ``var+ = (n - 1) / n W + B / n`` (Gelman et al. 2013);
        NaN where a parameter does not vary within the halves.
    """
    x = np.asarray(chain, dtype=float)
    n = x.shape[0] // 2
    halves = np.concatenate([x[:n], x[x.shape[0] - n:]], axis=1)     # (n, 2 nwalkers, ndim)
    w = halves.var(axis=0, ddof=1).mean(axis=0)
    b = n * halves.mean(axis=0).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(((n - 1) / n * w + b / n) / w)


@dataclass
class ChainConvergence:
    """What :func:`emcee_convergence` measured, the verdict and the problems with remedies.

    Attributes
    ----------
    nwalkers, niter, ndim : int
    acceptance_mean, acceptance_min : float
        Over the walkers.
    tau : list of float
        Integrated autocorrelation time per parameter (steps), over the whole chain.
    tau_max : float
        Its maximum, for parameter ``tau_max_param``.
    niter_over_tau : float
        ``niter / tau_max`` (emcee's rule of thumb asks for >= 50).
    tau_half : float
        Maximum ``tau`` over the first half of the chain.
    tau_growth : float
        ``tau_max / tau_half``: near 1 for a converged chain, growing with its length otherwise.
    rhat_max : float
        Maximum split R-hat across walkers, for parameter ``rhat_max_param``.
    lost_walkers : int
        Walkers whose median ln-probability over the second half lies more than
        ``lost_threshold`` below the best walker's.
    lost_threshold : float
        ``chi2.ppf(0.999, ndim) / 2``.
    stuck_walkers : int
        Walkers that did not move at all over the second half of the chain.
    n_eff : float
        ``nwalkers * niter / tau_max`` where ``converged``, else NaN.
    converged : bool
    problems : list of str
        One line per failed check (empty where ``converged``).
    remedy : str
        What to do where a check failed (empty where ``converged``): for ``ndim >= 8``
        nautilus, else a longer run with the ``niter`` the autocorrelation time asks for.
    """

    nwalkers: int
    niter: int
    ndim: int
    acceptance_mean: float
    acceptance_min: float
    tau: list[float]
    tau_max: float
    tau_max_param: str
    niter_over_tau: float
    tau_half: float
    tau_growth: float
    rhat_max: float
    rhat_max_param: str
    lost_walkers: int
    lost_threshold: float
    stuck_walkers: int
    n_eff: float
    converged: bool
    problems: list[str] = field(default_factory=list)
    remedy: str = ""

    def summary(self) -> str:
        """One line: the figures and the verdict."""
        ess = f"n_eff {self.n_eff:.0f}" if self.converged else "NOT CONVERGED (no n_eff)"
        return (f"emcee: acceptance mean {self.acceptance_mean:.3f} min {self.acceptance_min:.3f}; "
                f"tau max {self.tau_max:.1f} ({self.tau_max_param}), niter/tau "
                f"{self.niter_over_tau:.1f}, tau(full)/tau(half) {self.tau_growth:.2f}; split R-hat "
                f"max {self.rhat_max:.3f} ({self.rhat_max_param}); lost walkers "
                f"{self.lost_walkers}/{self.nwalkers}, stuck {self.stuck_walkers}; {ess}")

    def message(self) -> str:
        """The problems and the remedy in one paragraph (empty where ``converged``)."""
        if self.converged:
            return ""
        return ("emcee did not converge: " + "; ".join(self.problems) + ". " + self.remedy
                + ". Its medians and intervals may be biased; no n_eff is reported.")

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values (floats, ints, strings, lists), e.g. for ``result["convergence"]``."""
        return asdict(self)


def _walker_axis(shape: tuple[int, ...], nwalkers: int, walker_axis: int | None) -> int:
    if walker_axis is not None:
        if walker_axis not in (0, 1):
            raise ConfigurationError(f"walker_axis must be 0 or 1; got {walker_axis}")
        return walker_axis
    axes = [a for a in (0, 1) if shape[a] == nwalkers]
    if not axes:
        raise ConfigurationError(f"the chain's shape {shape} has no axis of {nwalkers} walkers "
                                 "(the length of acceptance): pass (niter, nwalkers, ndim) or "
                                 "(nwalkers, niter, ndim)")
    if len(axes) == 2:
        raise ConfigurationError(f"the chain's shape {shape} has as many steps as walkers: pass "
                                 "walker_axis=0 for (nwalkers, niter, ndim) or 1 for (niter, "
                                 "nwalkers, ndim)")
    return axes[0]


def _remedy(ndim: int, tau_max: float, min_niter_over_tau: float) -> str:
    if ndim >= NAUTILUS_NDIM:
        return (f"with {ndim} free parameters emcee does not converge in a practical number of "
                "steps: use nautilus (prospect-emu fit --nautilus --preset wide)")
    need = math.ceil(min_niter_over_tau * tau_max) if tau_max == tau_max else "more"
    return (f"run at least --niter {need} (more if tau keeps growing), more --nwalkers, or "
            "use nautilus (prospect-emu fit --nautilus)")


def _problems(r: ChainConvergence, min_niter_over_tau: float, max_tau_growth: float,
              max_rhat: float) -> list[str]:
    out = []
    if r.tau_max != r.tau_max:
        out.append("tau is undefined: a walker did not move in the chain")
    elif not r.niter_over_tau >= min_niter_over_tau:
        out.append(f"niter/tau = {r.niter_over_tau:.1f} < {min_niter_over_tau:g} (tau "
                   f"{r.tau_max:.1f} steps for {r.tau_max_param}): tau is not measured yet")
    if r.tau_half != r.tau_half:
        out.append("tau over the first half of the chain is undefined: a walker did not move there")
    elif not r.tau_growth <= max_tau_growth:
        out.append(f"tau grows with the chain length (tau(full)/tau(half) = {r.tau_growth:.2f} > "
                   f"{max_tau_growth:g})")
    if not r.rhat_max <= max_rhat:
        out.append(f"split R-hat across walkers {r.rhat_max:.2f} > {max_rhat:g} for "
                   f"{r.rhat_max_param}: the walkers sample different distributions")
    if r.lost_walkers:
        out.append(f"{r.lost_walkers} of {r.nwalkers} walkers lost (median ln p more than "
                   f"{r.lost_threshold:.1f} below the best walker's)")
    if r.stuck_walkers:
        out.append(f"{r.stuck_walkers} of {r.nwalkers} walkers did not move over the second half")
    return out


def emcee_convergence(chain: np.ndarray, lnprob: np.ndarray, acceptance: Sequence[float],
                      labels: Sequence[str] | None = None, *, walker_axis: int | None = None,
                      min_niter_over_tau: float = 50.0, max_tau_growth: float = 1.2,
                      max_rhat: float = 1.1, lost_quantile: float = 0.999) -> ChainConvergence:
    """Convergence report for an emcee ensemble chain.

    Parameters
    ----------
    chain : ndarray, (niter, nwalkers, ndim) or (nwalkers, niter, ndim)
        The production chain (emcee's ``get_chain()`` or Prospector's stored layout).
        Autocorrelation times and R-hat are not invariant under non-linear maps: pass the
        coordinates the walkers moved in (e.g. the unit cube).
    lnprob : ndarray, (niter, nwalkers) or (nwalkers, niter)
        ln-probability of each sample, in the same layout as ``chain``.
    acceptance : sequence of float, (nwalkers,)
        Acceptance fraction per walker; its length tells the walker axis.
    labels : sequence of str, optional
        Parameter names (default ``p0, p1, ...``).
    walker_axis : {0, 1}, optional
        Needed only when ``niter == nwalkers``.
    min_niter_over_tau, max_tau_growth, max_rhat, lost_quantile
        The checks: ``niter >= min_niter_over_tau * tau``, ``tau(full) / tau(half) <=
        max_tau_growth``, split R-hat ``<= max_rhat``, no walker more than
        ``chi2.ppf(lost_quantile, ndim) / 2`` below the best in median ln p.

    Returns
    -------
    ChainConvergence

    Raises
    ------
    ConfigurationError
        Shapes that do not match, or a chain shorter than 4 steps.
    """
    x = np.asarray(chain, dtype=float)
    acc = np.asarray(acceptance, dtype=float).ravel()
    if x.ndim != 3:
        raise ConfigurationError(f"chain must be 3-d (niter, nwalkers, ndim); got shape {x.shape}")
    axis = _walker_axis(x.shape, acc.size, walker_axis)
    lnp = np.asarray(lnprob, dtype=float)
    if lnp.shape != x.shape[:2]:
        raise ConfigurationError(f"lnprob's shape {lnp.shape} does not match the chain's {x.shape[:2]}")
    if axis == 0:
        x, lnp = x.swapaxes(0, 1), lnp.T
    niter, nwalkers, ndim = x.shape
    if niter < 4:
        raise ConfigurationError(f"the chain has {niter} steps: at least 4 are needed")
    names = list(labels) if labels is not None else [f"p{i}" for i in range(ndim)]
    if len(names) != ndim:
        raise ConfigurationError(f"{len(names)} labels for {ndim} parameters")
    tau = autocorr_time(x)
    tau_half = float(np.max(autocorr_time(x[: niter // 2])))
    rhat = split_rhat(x)
    imax = int(np.nanargmax(tau)) if np.any(tau == tau) else 0
    rmax = int(np.nanargmax(rhat)) if np.any(rhat == rhat) else 0
    med = np.median(lnp[niter // 2:], axis=0)
    med = np.where(np.isnan(med), -np.inf, med)
    threshold = float(stats.chi2.ppf(lost_quantile, ndim) / 2.0)
    tau_max = float(tau[imax])
    report = ChainConvergence(
        nwalkers=nwalkers, niter=niter, ndim=ndim, acceptance_mean=float(acc.mean()),
        acceptance_min=float(acc.min()), tau=[float(t) for t in tau], tau_max=tau_max,
        tau_max_param=names[imax], niter_over_tau=float(niter / tau_max), tau_half=tau_half,
        tau_growth=float(tau_max / tau_half), rhat_max=float(rhat[rmax]),
        rhat_max_param=names[rmax], lost_walkers=int(np.sum(med < np.max(med) - threshold)),
        lost_threshold=threshold,
        stuck_walkers=int(np.sum(np.all(np.ptp(x[niter // 2:], axis=0) == 0, axis=1))),
        n_eff=math.nan, converged=False)
    report.problems = _problems(report, min_niter_over_tau, max_tau_growth, max_rhat)
    report.converged = not report.problems
    if report.converged:
        report.n_eff = float(nwalkers * niter / tau_max)
    else:
        report.remedy = _remedy(ndim, tau_max, min_niter_over_tau)
    return report
