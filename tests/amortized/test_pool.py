"""Combining importance-sampling rounds: pooling their own weights
(:func:`prospect_emu.amortized.posterior.pool`) and weighting every draw against the
mixture of the proposals (:func:`~prospect_emu.amortized.posterior.mixture`), on a target
whose answers are known in closed form: an unnormalised 3-d Gaussian with a known
normalisation, proposals of several qualities, densities from SciPy.  No PyTorch needed."""

import numpy as np
import pytest
from scipy import stats

from prospect_emu.amortized.posterior import Importance, mixture, pool

MEAN = np.array([1.0, -2.0, 0.5])
COV = np.array([[1.0, 0.6, 0.0], [0.6, 2.0, -0.3], [0.0, -0.3, 0.5]])
LOGZ = 2.5  # the target is exp(LOGZ) times the normal density
TARGET = stats.multivariate_normal(MEAN, COV)
#: (shift of the proposal's mean, scale of its covariance): a poor, a fair and a good proposal
PROPOSALS = [(np.array([1.5, 1.0, -0.8]), 4.0), (np.array([0.3, -0.2, 0.1]), 2.0),
             (np.zeros(3), 1.3)]


def _round(rng, shift, scale, k):
    """One round, weighted as the importance step weighs one: self-normalised weights, the
    ESS ``(sum w)^2 / sum w^2`` and ``ln mean(target / proposal)``."""
    q = stats.multivariate_normal(MEAN + shift, scale * COV)
    x = q.rvs(size=k, random_state=rng)
    logw = LOGZ + TARGET.logpdf(x) - q.logpdf(x)
    w = np.exp(logw - logw.max())
    return Importance(x, w / w.sum(), float(w.sum() ** 2 / np.sum(w * w)), k,
                      float(logw.max() + np.log(w.mean())))


def _rounds(seed, k=2000):
    rng = np.random.default_rng(seed)
    return [_round(rng, shift, scale, k) for shift, scale in PROPOSALS]


def test_pooled_draws_keep_every_round_and_add_their_ess():
    rounds = _rounds(0)
    out = pool(rounds)
    assert len(out.samples) == sum(len(r.samples) for r in rounds) == out.ncall
    np.testing.assert_array_equal(out.samples, np.concatenate([r.samples for r in rounds]))
    assert out.weights.sum() == pytest.approx(1.0)
    assert out.ess == pytest.approx(sum(r.ess for r in rounds), rel=1e-9)
    assert out.ess > max(r.ess for r in rounds)
    # the poor round, its weights scaled by its small share of the ESS, counts little
    first = out.weights[:len(rounds[0].samples)].sum()
    assert first == pytest.approx(rounds[0].ess / out.ess, rel=1e-9) and first < 0.2


def test_pooled_estimates_are_closer_to_the_truth_than_the_best_round():
    """Over 200 repetitions the pooled posterior mean and evidence are unbiased (to their
    Monte Carlo error) and their squared error is below that of the round with the largest
    ESS (which the importance step used to keep alone)."""
    err_pool, err_best, dz_pool = [], [], []
    for seed in range(200):
        rounds = _rounds(seed, k=500)
        out = pool(rounds)
        best = max(rounds, key=lambda r: r.ess)
        err_pool.append(out.weights @ out.samples - MEAN)
        err_best.append(best.weights @ best.samples - MEAN)
        dz_pool.append(out.logz - LOGZ)
    err_pool, err_best, dz_pool = map(np.array, (err_pool, err_best, dz_pool))
    mse_pool, mse_best = np.mean(err_pool ** 2, axis=0), np.mean(err_best ** 2, axis=0)
    assert np.all(mse_pool < 0.8 * mse_best), (mse_pool, mse_best)
    bias = err_pool.mean(axis=0) / (err_pool.std(axis=0) / np.sqrt(len(err_pool)))
    assert np.all(np.abs(bias) < 4), bias
    assert abs(np.mean(dz_pool)) < 0.01 and np.std(dz_pool) < 0.05


def test_pooled_credible_intervals_cover_the_target():
    """The pooled weighted draws' 95% intervals of each coordinate match the target's."""
    out = pool(_rounds(7, k=20_000))
    for j in range(3):
        order = np.argsort(out.samples[:, j])
        cdf = np.cumsum(out.weights[order])
        lo, hi = np.interp([0.025, 0.975], cdf, out.samples[order, j])
        sd = np.sqrt(COV[j, j])
        assert lo == pytest.approx(MEAN[j] - 1.96 * sd, abs=0.05 * sd)
        assert hi == pytest.approx(MEAN[j] + 1.96 * sd, abs=0.05 * sd)


def test_a_round_without_a_finite_weight_is_ignored_and_all_empty_gives_zero_ess():
    good = _rounds(3)[2]
    empty = Importance(np.zeros((10, 3)), np.zeros(10), 0.0, 10)
    out = pool([empty, good])
    assert out.ess == pytest.approx(good.ess) and out.logz == pytest.approx(good.logz)
    assert np.all(out.weights[:10] == 0) and out.ncall == 10 + good.ncall
    none = pool([empty, empty])
    assert none.ess == 0.0 and not none.weights.any() and len(none.samples) == 20


def _mixture_of(seed, k=500):
    """The draws of three rounds (as :func:`_rounds`) and every proposal's log density at
    every draw, from SciPy."""
    rng = np.random.default_rng(seed)
    qs = [stats.multivariate_normal(MEAN + shift, scale * COV) for shift, scale in PROPOSALS]
    x = np.concatenate([q.rvs(size=k, random_state=rng) for q in qs])
    log_q = np.array([q.logpdf(x) for q in qs])
    return x, LOGZ + TARGET.logpdf(x), log_q, [k] * len(qs)


def test_mixture_weights_are_the_target_over_the_proposals_mixture():
    x, log_target, log_q, counts = _mixture_of(1, k=300)
    x[5] = np.nan  # a draw the target gives no density: weight zero
    log_target[5] = -np.inf
    out = mixture(x, log_target, log_q, counts)
    dens = sum(np.exp(lq) for lq in log_q) / 3  # equal shares
    expected = np.exp(log_target) / dens
    np.testing.assert_allclose(out.weights, expected / expected.sum(), rtol=1e-10, atol=0)
    assert out.weights[5] == 0 and out.ncall == 900
    assert out.ess == pytest.approx(expected.sum() ** 2 / np.sum(expected ** 2), rel=1e-10)
    assert out.logz == pytest.approx(np.log(expected.mean()), rel=1e-10)
    # unequal shares weigh each proposal by its draws
    uneven = mixture(x, log_target, log_q, [100, 100, 700])
    dens = (np.exp(log_q[0]) + np.exp(log_q[1]) + 7 * np.exp(log_q[2])) / 9
    np.testing.assert_allclose(uneven.weights, (np.exp(log_target) / dens)
                               / np.sum(np.exp(log_target) / dens), rtol=1e-10, atol=0)


def test_mixture_estimates_beat_pooling_the_rounds_own_weights():
    """Over 200 repetitions, on the same draws: the mixture's posterior mean and evidence are
    unbiased (to their Monte Carlo error), its squared error is below that of pooling the
    rounds' own weights (by 5-15% with these proposals, over three sets of 200 seeds), and
    its ESS above pooling's in every repetition (by 2-4%; on the demo posterior's rounds,
    whose first proposal is far poorer than the later ones, by 45%: docs/amortized.rst)."""
    err_mix, err_pool, dz, ess_ratio = [], [], [], []
    for seed in range(200):
        x, log_target, log_q, counts = _mixture_of(seed)
        out = mixture(x, log_target, log_q, counts)
        rounds = []
        for r in range(3):
            sl = slice(r * counts[r], (r + 1) * counts[r])
            rounds.append(mixture(x[sl], log_target[sl], log_q[r:r + 1, sl], [counts[r]]))
        pooled = pool(rounds)
        err_mix.append(out.weights @ out.samples - MEAN)
        err_pool.append(pooled.weights @ pooled.samples - MEAN)
        dz.append(out.logz - LOGZ)
        ess_ratio.append(out.ess / pooled.ess)
    err_mix, err_pool, dz = map(np.array, (err_mix, err_pool, dz))
    mse_mix, mse_pool = np.mean(err_mix ** 2, axis=0), np.mean(err_pool ** 2, axis=0)
    assert np.all(mse_mix < mse_pool), (mse_mix, mse_pool)
    bias = err_mix.mean(axis=0) / (err_mix.std(axis=0) / np.sqrt(len(err_mix)))
    assert np.all(np.abs(bias) < 4), bias
    assert abs(np.mean(dz)) < 0.01 and np.std(dz) < 0.05
    assert np.min(ess_ratio) > 1.0, np.min(ess_ratio)
