"""The fast single-call path (issue 12), on the bundled demo emulator (no FSPS).

Expected values are built independently: astropy's WMAP9 for distances, Prospector's
own prior objects for priors, a float64 re-implementation of the stored network (from
the artifact's weights and the Alsing formula) for the folded network.
"""

import numpy as np
import pytest
from astropy.cosmology import WMAP9
from prospect.models import ProspectorParams, priors
from prospect.models.templates import TemplateLibrary

from prospect_emu.demo import DEMO_EMULATOR
from prospect_emu.emulator.artifact import Emulator

PRIORS = [
    priors.TopHat(mini=-1.0, maxi=2.0),
    priors.Uniform(mini=0.0, maxi=3.0),
    priors.LogUniform(mini=0.1, maxi=30.0),
    priors.Normal(mean=0.3, sigma=0.2),
    priors.ClippedNormal(mean=0.5, sigma=0.4, mini=0.0, maxi=2.0),
    priors.ClippedNormal(mean=-3.0, sigma=0.4, mini=0.0, maxi=2.0),  # both bounds in a tail
    priors.LogNormal(mode=0.5, sigma=0.3),
    priors.LogNormalLinpar(mode=2.0, sigma_factor=1.5),
    priors.StudentT(mean=0.1, scale=0.3, df=3),
    priors.Beta(alpha=2, beta=3, mini=0.1, maxi=10),
    priors.Beta(alpha=0.5, beta=1, mini=0, maxi=1),
    priors.SkewNormal(location=0.2, sigma=0.5, skew=3),
]


class _OddPrior(priors.Prior):
    """A user's prior that Prospector evaluates through its own methods."""

    prior_params = ["width"]

    def __call__(self, x, **kw):
        return -np.abs(np.asarray(x)) / self.params["width"] - np.log(2 * self.params["width"])

    def unit_transform(self, u, **kw):
        u = np.asarray(u, dtype=float)
        return np.where(u < 0.5, np.log(2 * u), -np.log(2 * (1 - u))) * self.params["width"]


def _model(prior):
    params = TemplateLibrary["parametric_sfh"]
    params["dust2"]["prior"] = prior
    return ProspectorParams(params)


def test_distance_table_matches_astropy():
    from prospect_emu import cosmology

    rng = np.random.default_rng(0)
    z = np.concatenate([np.geomspace(1e-7, 1e-2, 40), rng.uniform(0, cosmology.ZMAX, 1000),
                        [cosmology.ZMAX, 3.0, 0.8]])
    ref = WMAP9.luminosity_distance(z).to("Mpc").value
    got = np.array([cosmology.luminosity_distance_mpc(v) for v in z])
    assert np.max(np.abs(got / ref - 1)) < 1e-6
    np.testing.assert_allclose(cosmology.luminosity_distance_mpc_array(z), ref, rtol=1e-6)
    # Prospector's distance factor (1 + z) / (d_L / 10 pc)^2, and beyond the table
    for zz in (0.37, 25.0):
        dl_pc = WMAP9.luminosity_distance(zz).to("pc").value
        assert cosmology.distance_factor(zz) == pytest.approx((1 + zz) / (dl_pc / 10) ** 2, rel=1e-6)
    assert cosmology.distance_factor(0.0) == 1.0  # 10 pc, as Prospector for zred = 0


@pytest.mark.parametrize("prior", PRIORS + [_OddPrior(width=0.7)], ids=lambda p: type(p).__name__)
def test_fast_priors_equal_prospectors_own_priors(prior):
    from prospect_emu.prospector.priors import FastPriors

    model = _model(prior)
    fast = FastPriors.for_model(model)
    rng = np.random.default_rng(1)
    u = rng.uniform(size=(300, model.ndim))
    theta = np.array([model.prior_transform(row) for row in u])
    np.testing.assert_allclose(fast.unit_transform(u), theta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose([fast.unit_transform(row) for row in u[:20]], theta[:20],
                               rtol=1e-9, atol=1e-12)
    # also outside the supports: -inf where Prospector's prior is zero
    theta = theta * rng.choice([1.0, 1.3, -0.5], size=theta.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = np.array([model.prior_product(t) for t in theta])
    one = np.array([fast.ln_prior(t) for t in theta])
    rows = fast.ln_prior(theta)
    for got in (one, rows):
        assert np.array_equal(np.isfinite(got), np.isfinite(ref))
        fin = np.isfinite(ref)
        np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-10, atol=1e-10)
    assert np.isfinite(ref).sum() > 20


def test_fast_priors_vector_parameter():
    from prospect_emu.prospector.priors import FastPriors

    params = TemplateLibrary["parametric_sfh"]
    params["tage"].update(N=2, init=[1.0, 2.0],
                          prior=priors.ClippedNormal(mean=np.array([1.0, 3.0]),
                                                     sigma=np.array([0.5, 1.0]),
                                                     mini=np.array([0.0, 0.5]),
                                                     maxi=np.array([3.0, 9.0])))
    model = ProspectorParams(params)
    fast = FastPriors.for_model(model)
    rng = np.random.default_rng(2)
    for u in rng.uniform(size=(50, model.ndim)):
        t = model.prior_transform(u)
        np.testing.assert_allclose(fast.unit_transform(u), t, rtol=1e-9)
        assert fast.ln_prior(t) == pytest.approx(model.prior_product(t), rel=1e-10)


def _float64_network(emu: Emulator, x: np.ndarray) -> np.ndarray:
    """asinh magnitudes and log10 mfrac from the stored weights, in float64."""
    w = emu.weights
    z = emu.inputs(x)
    for spec in emu.meta["layers"]:
        if spec["type"] == "dense":
            z = z @ w[spec["W"]].astype(float) + w[spec["b"]].astype(float)
        else:
            a, b = w[spec["alpha"]].astype(float), w[spec["beta"]].astype(float)
            z = (b + (1 - b) / (1 + np.exp(-a * z))) * z
    return z * emu.outputs.std + emu.outputs.mean


def test_folded_network_is_the_stored_network():
    from prospect_emu.emulator.fastpath import FoldedNetwork
    from prospect_emu.emulator.transforms import LN10_25

    emu = Emulator.load(DEMO_EMULATOR)
    rng = np.random.default_rng(3)
    x = emu.inputs.raw_lo + rng.uniform(size=(500, 5)) * (emu.inputs.raw_hi - emu.inputs.raw_lo)
    ref = _float64_network(emu, x)
    bands = np.array([4, 0, 14, 7])  # any subset, any order
    net = FoldedNetwork(emu, bands)
    n = emu.inputs.n_network  # 5 parameters and the tage/tau ratio input
    s = np.ones((len(x), n + 1), np.float32)
    s[:, :n] = emu.inputs(x)
    for out in (net.forward(s), np.array([net.forward_one(r) for r in s])):
        mags = -(out[:, :-1] + np.log(emu.outputs.softening[bands])) / LN10_25
        # float32 network: ~1e-5 mag, as the stored float32 forward pass itself
        assert np.max(np.abs(mags - ref[:, bands])) < 5e-5
        np.testing.assert_allclose(out[:, -1] / np.log(10), ref[:, -1], atol=5e-6)
