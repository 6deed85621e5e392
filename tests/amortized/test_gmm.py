"""The mixture's numpy inference against zuko's own GMM (PyTorch): densities at the same
points, and draws whose moments are the mixture's, computed from zuko's distribution
objects (weights, means, covariance matrices), not from the code under test."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
zuko = pytest.importorskip("zuko")

from prospect_emu.amortized.gmm import GaussianMixture  # noqa: E402

D, C, K = 4, 6, 5


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(11)
    flow = zuko.mixtures.GMM(D, C, components=K, hidden_features=(32, 32))
    with torch.no_grad():  # spread the untrained components out
        for p in flow.parameters():
            p.mul_(3.0)
    flow = flow.double().eval()  # float64: the comparison tests the layout, not float32
    state = {k: v.detach().numpy() for k, v in flow.state_dict().items()}
    return flow, GaussianMixture(state, D, K)


def _zuko(flow, ctx):
    return flow(torch.as_tensor(ctx, dtype=torch.float64))


def test_log_prob_is_zukos(pair):
    flow, gmm = pair
    rng = np.random.default_rng(0)
    for _ in range(4):
        ctx = rng.normal(size=C)
        dist = _zuko(flow, ctx)
        with torch.no_grad():
            y = dist.sample((500,))
            expect = dist.log_prob(y).numpy()
        got = gmm.log_prob(ctx, y.numpy())
        np.testing.assert_allclose(got, expect, rtol=1e-10, atol=1e-10)


def test_draws_have_the_mixtures_moments(pair):
    flow, gmm = pair
    ctx = np.random.default_rng(1).normal(size=C)
    dist = _zuko(flow, ctx)
    with torch.no_grad():
        w = torch.softmax(dist.logits, -1).numpy()
        mu = dist.base.loc.numpy()
        cov = dist.base.covariance_matrix.numpy()
    mean = w @ mu
    second = np.einsum("k,kij->ij", w, cov + np.einsum("ki,kj->kij", mu, mu))
    var = np.diag(second) - mean ** 2
    n = 200_000
    y, logq = gmm.sample(ctx, n, np.random.default_rng(2))
    assert y.shape == (n, D)
    # 5 standard errors of a mean of n draws
    np.testing.assert_array_less(np.abs(y.mean(axis=0) - mean), 5 * np.sqrt(var / n))
    np.testing.assert_allclose(y.var(axis=0), var, rtol=0.05)
    np.testing.assert_allclose(logq, gmm.log_prob(ctx, y), rtol=0, atol=1e-12)
    # the same seed, the same draws
    np.testing.assert_array_equal(gmm.sample(ctx, 10, np.random.default_rng(3))[0],
                                  gmm.sample(ctx, 10, np.random.default_rng(3))[0])


def test_mismatched_weights_are_refused(pair):
    from prospect_emu.errors import ConfigurationError

    _, gmm = pair
    with pytest.raises(ConfigurationError, match="components"):
        GaussianMixture(gmm.state, D, K + 1)
    with pytest.raises(ConfigurationError, match="retrain"):
        GaussianMixture({"x.0.weight": np.zeros((2, 2))}, D, K)
