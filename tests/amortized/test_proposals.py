"""The importance step's refinement proposal (numpy only): its density against SciPy's
Gaussians, its draws against its own moments, and the fit against targets with a known
answer (weights computed from SciPy's densities, not by the code under test)."""

import numpy as np
from scipy import stats

from prospect_emu.amortized.proposals import MixtureProposal

#: a curved two-component target in 3-D: the kind of shape one Gaussian misses
TRUE_W = np.array([0.35, 0.65])
TRUE_MU = np.array([[-1.5, 0.5, 0.0], [1.0, -0.5, 0.3]])
TRUE_COV = np.array([[[0.30, 0.12, 0.0], [0.12, 0.20, 0.05], [0.0, 0.05, 0.10]],
                     [[0.50, -0.20, 0.0], [-0.20, 0.40, 0.0], [0.0, 0.0, 0.15]]])


def target_log_pdf(y):
    return np.logaddexp.reduce([np.log(w) + stats.multivariate_normal(m, c).logpdf(y)
                                for w, m, c in zip(TRUE_W, TRUE_MU, TRUE_COV)], axis=0)


def weighted_draws(n, rng):
    """Draws of a broad Gaussian, weighted by the target over it (as q's draws are)."""
    broad = stats.multivariate_normal(np.zeros(3), 4.0 * np.eye(3))
    y = broad.rvs(size=n, random_state=rng)
    logw = target_log_pdf(y) - broad.logpdf(y)
    w = np.exp(logw - logw.max())
    return y, w / w.sum()


def ess_per_draw(prop, rng, n=20_000):
    """The target's importance ESS per draw with ``prop`` as the proposal."""
    y = prop.sample(n, rng)
    logw = target_log_pdf(y) - prop.log_pdf(y)
    w = np.exp(logw - logw.max())
    return w.sum() ** 2 / np.sum(w * w) / n


def test_density_is_its_weighted_gaussians_and_draws_have_its_moments():
    rng = np.random.default_rng(5)
    y, w = weighted_draws(20_000, rng)
    prop = MixtureProposal.fit(y, w, rng, components=4)
    share = np.exp(prop.logw)
    covs = prop.chol @ prop.chol.transpose(0, 2, 1)
    pts = y[:50]
    ref = np.log(sum(s * stats.multivariate_normal(m, c).pdf(pts)
                     for s, m, c in zip(share, prop.loc, covs)))
    np.testing.assert_allclose(prop.log_pdf(pts), ref, rtol=1e-10)
    draws = prop.sample(400_000, rng)
    mean = share @ prop.loc
    second = np.einsum("k,kij->ij", share, covs + np.einsum("ki,kj->kij", prop.loc, prop.loc))
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=0.01)
    np.testing.assert_allclose(np.cov(draws.T), second - np.outer(mean, mean), atol=0.02)


def test_two_components_recover_the_known_mixture():
    rng = np.random.default_rng(6)
    y, w = weighted_draws(60_000, rng)
    assert 1.0 / np.sum(w * w) > 3000  # enough effective draws for the tolerances below
    prop = MixtureProposal.fit(y, w, rng, components=2, iterations=40)
    order = np.argsort(prop.loc[:, 0])
    np.testing.assert_allclose(np.exp(prop.logw[order]), TRUE_W, atol=0.03)
    np.testing.assert_allclose(prop.loc[order], TRUE_MU, atol=0.06)
    covs = (prop.chol @ prop.chol.transpose(0, 2, 1))[order]
    np.testing.assert_allclose(covs, TRUE_COV, atol=0.05)


def test_em_iterations_never_lower_the_weighted_likelihood():
    """EM's defining property, on the same start (same seed): the draws' weighted mean log
    density under the fit does not fall with more iterations."""
    y, w = weighted_draws(20_000, np.random.default_rng(7))
    ll = [w @ MixtureProposal.fit(y, w, np.random.default_rng(1), components=6,
                                  iterations=it).log_pdf(y) for it in (0, 1, 2, 4, 8, 16)]
    assert np.all(np.diff(ll) >= -1e-9), ll
    assert ll[-1] > ll[0] + 0.1


def test_mixture_follows_a_two_mode_target_where_one_gaussian_cannot():
    rng = np.random.default_rng(8)
    y, w = weighted_draws(20_000, rng)
    one = ess_per_draw(MixtureProposal.fit(y, w, rng, components=1), rng)
    eight = ess_per_draw(MixtureProposal.fit(y, w, rng, components=8), rng)
    assert eight > 0.8 and one < 0.6, (one, eight)


def test_few_effective_draws_give_few_components_and_no_singular_covariance():
    rng = np.random.default_rng(9)
    y = rng.standard_normal((500, 5))
    w = np.zeros(500)
    w[:40] = rng.uniform(0.5, 1.0, 40)  # 40 draws with weight, the rest none
    prop = MixtureProposal.fit(y, w, rng, components=8)
    assert len(prop.logw) == 1  # ESS < 8 (D + 2): one Gaussian, the draws' own moments
    np.testing.assert_allclose(prop.loc[0], w @ y / w.sum(), atol=1e-12)
    assert np.all(np.isfinite(prop.log_pdf(y)))
    two = MixtureProposal.fit(y[:2], np.ones(2), rng)  # the fewest the importance step fits
    assert np.all(np.isfinite(two.log_pdf(y)))
