"""The posterior-agreement metrics (median offsets in sigma, JS divergence in bits) against
scipy on known distributions.  No FSPS needed."""

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from prospect_emu.analysis.agreement import (
    common_edges,
    histogram_probabilities,
    js_divergence_bits,
    marginal_agreement,
)
from prospect_emu.errors import ConfigurationError


def _exact_probabilities(dist, edges):
    """Bin probabilities of a scipy distribution, the tails in the outer bins."""
    cdf = dist.cdf(edges)
    cdf[0], cdf[-1] = 0.0, 1.0
    return np.diff(cdf)


def test_js_of_histograms_equals_scipy_on_discrete_distributions():
    """Samples at bin centres with known counts: exactly scipy's JS distance squared (base 2)."""
    rng = np.random.default_rng(0)
    edges = np.linspace(0.0, 10.0, 11)
    centres = 0.5 * (edges[1:] + edges[:-1])
    for _ in range(5):
        ca, cb = rng.integers(0, 50, 10), rng.integers(0, 50, 10)
        a, b = np.repeat(centres, ca), np.repeat(centres, cb)
        expect = jensenshannon(ca / ca.sum(), cb / cb.sum(), base=2) ** 2
        assert js_divergence_bits(a, b, bins=edges) == pytest.approx(expect, rel=1e-12, abs=1e-15)
    # disjoint supports: 1 bit; identical samples: 0
    assert js_divergence_bits(np.full(10, 0.5), np.full(10, 9.5), bins=edges) == pytest.approx(1.0)
    assert js_divergence_bits(a, a, bins=edges) == 0.0


@pytest.mark.parametrize("dist_b", [stats.norm(0.7, 1.3), stats.norm(0.0, 1.0), stats.gamma(3.0)])
def test_js_from_samples_converges_to_scipy_on_the_exact_bin_probabilities(dist_b):
    """Large samples of two known continuous distributions on the estimator's common bins:
    within the finite-sample bias of scipy on the exact bin probabilities."""
    dist_a = stats.norm(0.0, 1.0)
    rng = np.random.default_rng(1)
    n = 400_000
    a, b = dist_a.rvs(n, random_state=rng), dist_b.rvs(n, random_state=rng)
    edges = common_edges(a, b, 40)
    expect = jensenshannon(_exact_probabilities(dist_a, edges), _exact_probabilities(dist_b, edges),
                           base=2) ** 2
    bias = 39 / (8 * np.log(2)) * 2 / n  # expected excess for two samples of size n
    assert js_divergence_bits(a, b, bins=40) == pytest.approx(expect + bias, abs=3e-3)


def test_weighted_samples_give_the_weighted_histogram():
    """Uniform draws weighted by a normal density estimate that normal's bin probabilities."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-6, 6, 600_000)
    w = stats.norm.pdf(x)
    edges = np.linspace(-3, 3, 31)
    p = histogram_probabilities(x, edges, w)
    np.testing.assert_allclose(p, _exact_probabilities(stats.norm(), edges), atol=2e-3)
    b = stats.norm(0.5, 1).rvs(400_000, random_state=rng)
    expect = jensenshannon(_exact_probabilities(stats.norm(), edges),
                           _exact_probabilities(stats.norm(0.5, 1), edges), base=2) ** 2
    assert js_divergence_bits(x, b, wa=w, bins=edges) == pytest.approx(expect, abs=2e-3)
    with pytest.raises(ConfigurationError, match="weights"):
        js_divergence_bits(x, b, wa=-w)
    # the bins follow the weighted samples, not the low-weight points spanning the prior
    lo, hi = common_edges(x, b, 40, wa=w)[[0, -1]]
    assert stats.norm.ppf(0.001) - 0.05 < lo < -3 and 3.5 < hi < stats.norm(0.5, 1).ppf(0.999) + 0.05


def test_marginal_agreement_offsets_in_reference_sigma():
    """Median offsets in units of the reference's half 16-84 width, mass in log10."""
    rng = np.random.default_rng(3)
    n = 200_000
    ref = np.column_stack([10 ** rng.normal(10.0, 0.2, n), rng.normal(0.0, 2.0, n)])
    other = np.column_stack([10 ** rng.normal(10.05, 0.2, n), rng.normal(0.6, 1.0, n)])
    rows = marginal_agreement(ref, other, labels=["mass", "dust2"])
    # sigma = (ppf(0.84) - ppf(0.16)) / 2 of the reference; offsets 0.05 / sigma_m, 0.6 / sigma_d
    half = 0.5 * (stats.norm.ppf(0.84) - stats.norm.ppf(0.16))
    assert rows[0]["offset_sigma"] == pytest.approx(0.05 / (0.2 * half), abs=0.02)
    assert rows[1]["offset_sigma"] == pytest.approx(0.6 / (2.0 * half), abs=0.02)
    assert rows[0]["ref_median"] == pytest.approx(10.0, abs=0.003)
    edges = common_edges(np.log10(ref[:, 0]), np.log10(other[:, 0]), 40)
    expect = jensenshannon(_exact_probabilities(stats.norm(10.0, 0.2), edges),
                           _exact_probabilities(stats.norm(10.05, 0.2), edges), base=2) ** 2
    assert rows[0]["js_bits"] == pytest.approx(expect, abs=1e-3)
    with pytest.raises(ConfigurationError, match="same parameters"):
        marginal_agreement(ref, other[:, :1])
