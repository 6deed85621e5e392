"""The emcee convergence report (prospect_emu.prospector.convergence) on synthetic chains
with known answers: AR(1) chains (tau = (1 + phi) / (1 - phi)), random walks (tau grows with
the chain length), walkers with shifted means, lost walkers."""

import logging

import numpy as np
import pytest
from scipy import signal, stats

from prospect_emu.errors import ConfigurationError
from prospect_emu.prospector.convergence import (
    ChainConvergence,
    autocorr_time,
    emcee_convergence,
    split_rhat,
)


def ar1(phi: float, niter: int, nwalkers: int, ndim: int, seed: int) -> np.ndarray:
    """Unit-variance AR(1) chains, (niter, nwalkers, ndim), started in the stationary law."""
    eps = np.random.default_rng(seed).normal(size=(niter, nwalkers, ndim))
    eps[0] /= np.sqrt(1.0 - phi ** 2)
    return signal.lfilter([np.sqrt(1.0 - phi ** 2)], [1.0, -phi], eps, axis=0)


def lnp_of(chain: np.ndarray) -> np.ndarray:
    return -0.5 * np.sum(chain ** 2, axis=-1)


def gelman_split_rhat(chain: np.ndarray) -> np.ndarray:
    """Split R-hat transcribed from Gelman et al. (2013, BDA3, sec. 11.4), loop by loop:
    each of the nwalkers chains cut in two halves of n steps (m = 2 nwalkers sequences),
    B = n/(m-1) sum_j (mean_j - mean)^2, W = 1/m sum_j s_j^2,
    var+ = (n-1)/n W + B/n, R = sqrt(var+ / W)."""
    niter, nwalkers, ndim = chain.shape
    n = niter // 2
    out = np.empty(ndim)
    for d in range(ndim):
        seqs = []
        for w in range(nwalkers):
            seqs.append(chain[:n, w, d])
            seqs.append(chain[niter - n:, w, d])
        m = len(seqs)
        means = [sum(s) / n for s in seqs]
        grand = sum(means) / m
        b = n / (m - 1) * sum((mu - grand) ** 2 for mu in means)
        w_ = sum(sum((s - mu) ** 2) / (n - 1) for s, mu in zip(seqs, means)) / m
        out[d] = np.sqrt(((n - 1) / n * w_ + b / n) / w_)
    return out


@pytest.mark.parametrize("phi", [0.5, 0.8])
def test_autocorr_time_of_ar1_chains(phi):
    """tau of AR(1) chains: the formula (1 + phi) / (1 - phi) within 10% (statistical error
    ~2.5% here), and exactly emcee's estimator."""
    emcee = pytest.importorskip("emcee")
    x = ar1(phi, 10000, 32, 2, seed=1)
    tau = autocorr_time(x)
    np.testing.assert_allclose(tau, (1 + phi) / (1 - phi), rtol=0.10)
    logging.getLogger("emcee.autocorr").setLevel(logging.ERROR)
    np.testing.assert_allclose(tau, emcee.autocorr.integrated_time(x, quiet=True), rtol=1e-10)


def test_converged_chain_reports_ess_and_no_problems():
    emcee = pytest.importorskip("emcee")
    x = ar1(0.5, 2000, 32, 3, seed=2)
    acc = np.full(32, 0.4)
    acc[5] = 0.3
    r = emcee_convergence(x, lnp_of(x), acc, ["a", "b", "c"])
    assert isinstance(r, ChainConvergence)
    assert r.converged and r.problems == [] and r.remedy == "" and r.message() == ""
    tau = emcee.autocorr.integrated_time(x, quiet=True)
    assert r.tau_max == pytest.approx(tau.max(), rel=1e-10)
    assert r.tau_max_param == "abc"[int(np.argmax(tau))]
    assert r.n_eff == pytest.approx(32 * 2000 / tau.max(), rel=1e-10)
    assert r.niter_over_tau == pytest.approx(2000 / tau.max(), rel=1e-10)
    assert r.acceptance_mean == pytest.approx(np.mean(acc)) and r.acceptance_min == 0.3
    assert r.rhat_max < 1.02 and r.lost_walkers == 0 and abs(r.tau_growth - 1) < 0.2
    d = r.as_dict()
    assert d["converged"] is True and d["n_eff"] == r.n_eff and len(d["tau"]) == 3
    assert "n_eff" in r.summary() and "NOT CONVERGED" not in r.summary()


def test_both_layouts_give_the_same_report():
    x = ar1(0.5, 600, 20, 2, seed=3)
    acc = np.linspace(0.2, 0.4, 20)
    a = emcee_convergence(x, lnp_of(x), acc).as_dict()
    b = emcee_convergence(x.swapaxes(0, 1), lnp_of(x).T, acc).as_dict()
    assert a == b
    with pytest.raises(ConfigurationError, match="walker_axis"):
        emcee_convergence(x[:20], lnp_of(x[:20]), acc)
    c = emcee_convergence(x[:20], lnp_of(x[:20]), acc, walker_axis=1)
    assert c.niter == 20 and c.nwalkers == 20
    with pytest.raises(ConfigurationError, match="walkers"):
        emcee_convergence(x, lnp_of(x), acc[:7])


def test_random_walk_is_not_converged_and_tau_grows():
    """A random walk has no stationary law: emcee's tau grows with the chain length, so the
    report flags it and gives no n_eff; with 10 parameters the remedy is nautilus."""
    rng = np.random.default_rng(4)
    x = np.cumsum(rng.normal(size=(2000, 24, 10)), axis=0)
    short, full = autocorr_time(x[:1000]).max(), autocorr_time(x).max()
    assert full / short > 1.2                      # the premise, checked independently of the report
    r = emcee_convergence(x, lnp_of(x), np.full(24, 0.3))
    assert not r.converged and np.isnan(r.n_eff)
    assert r.tau_growth == pytest.approx(full / short, rel=1e-10)
    assert any("tau grows" in p for p in r.problems)
    assert "use nautilus" in r.remedy and r.remedy in r.message()
    assert all(p in r.message() for p in r.problems)
    assert "NOT CONVERGED" in r.summary()


def test_split_rhat_matches_gelmans_formula():
    x = ar1(0.3, 801, 16, 2, seed=5)
    np.testing.assert_allclose(split_rhat(x), gelman_split_rhat(x), rtol=1e-12)
    assert np.all(np.abs(split_rhat(x) - 1.0) < 0.02)   # identical distributions
    shifted = x.copy()
    shifted[:, :8, 1] += 2.0                             # half the walkers two sigma off
    rhat = gelman_split_rhat(shifted)
    assert rhat[1] > 1.1
    r = emcee_convergence(shifted, lnp_of(shifted), np.full(16, 0.3), ["x", "y"])
    assert r.rhat_max == pytest.approx(rhat.max(), rel=1e-12) and r.rhat_max_param == "y"
    assert not r.converged and any("R-hat" in p for p in r.problems)
    assert np.isnan(r.n_eff)


def test_lost_walkers_are_counted():
    """Walkers whose median ln p over the second half lies more than chi2.ppf(0.999, ndim)/2
    below the best walker's are lost; a walker less far below is not."""
    ndim = 4
    x = ar1(0.5, 2000, 32, ndim, seed=6)
    lnp = lnp_of(x)
    threshold = stats.chi2.ppf(0.999, ndim) / 2
    lnp[:, [3, 7]] -= 3 * threshold                 # lost
    lnp[:, 11] -= 0.3 * threshold                   # low, not lost
    lnp[:1000, 12] -= 3 * threshold                 # caught up by the second half: not lost
    r = emcee_convergence(x, lnp, np.full(32, 0.3))
    assert r.lost_threshold == pytest.approx(threshold)
    assert r.lost_walkers == 2 and not r.converged
    assert len(r.problems) == 1 and "2 of 32 walkers lost" in r.problems[0]
    # 4 parameters: the remedy is a longer run, at least 50 tau
    assert f"--niter {int(np.ceil(50 * r.tau_max))}" in r.remedy


def test_a_walker_that_never_moves_is_reported():
    """A walker stuck at one point over the second half (within its ln p spread, so not
    lost by ln p) is counted as stuck; a walker stuck only in the first half is not."""
    x = ar1(0.5, 400, 16, 2, seed=7)
    x[200:, 4] = 0.1
    x[:150, 9] = x[0, 9]
    r = emcee_convergence(x, lnp_of(x), np.full(16, 0.3))
    assert r.stuck_walkers == 1 and r.lost_walkers == 0
    assert not r.converged and np.isnan(r.n_eff)
    assert any("1 of 16 walkers did not move" in p for p in r.problems)
    with pytest.raises(ConfigurationError, match="at least 4"):
        emcee_convergence(x[:3], lnp_of(x[:3]), np.full(16, 0.3))
