"""The amortized posterior's parameter space and features (numpy only), against independent
computations: finite-difference Jacobians, Lupton's asinh magnitudes written out here."""

import numpy as np
import pytest

from prospect_emu.amortized.space import Features, ThetaSpace

BOUNDS = np.array([[1e8, 1e12], [-2.0, 0.19], [0.0, 2.0], [-np.inf, np.inf]])


@pytest.fixture
def space():
    rng = np.random.default_rng(3)
    draws = np.column_stack([10 ** rng.uniform(8, 12, 5000), rng.uniform(-2, 0.19, 5000),
                             rng.uniform(0, 2, 5000), rng.standard_t(5, 5000) * 0.3 + 1.0])
    return ThetaSpace.from_prior(["mass", "logzsol", "dust2", "ratio"], BOUNDS, draws), draws


def test_round_trip_log_scale_and_affine_range(space):
    sp, draws = space
    assert sp.log.tolist() == [True, False, False, False]  # four decades: log; open: standardised
    y, _ = sp.to_flow(draws)
    assert np.all(np.isfinite(y))
    # the bounded coordinates fill [-1, 1]; the open one is standardised
    np.testing.assert_allclose(y[:, :3].min(axis=0), -1, atol=2e-3)
    np.testing.assert_allclose(y[:, :3].max(axis=0), 1, atol=2e-3)
    assert abs(y[:, 3].mean()) < 1e-9 and abs(y[:, 3].std() - 1) < 1e-6
    np.testing.assert_allclose(sp.from_flow(y), draws, rtol=1e-9)


def test_log_jacobian_matches_finite_differences(space):
    sp, draws = space
    theta = draws[:50]
    _, logjac = sp.to_flow(theta)
    fd = np.zeros(len(theta))
    for j in range(theta.shape[1]):
        h = 1e-6 * np.maximum(np.abs(theta[:, j]), 1e-3)
        up, dn = theta.copy(), theta.copy()
        up[:, j] += h
        dn[:, j] -= h
        dy = (sp.to_flow(up)[0][:, j] - sp.to_flow(dn)[0][:, j]) / (2 * h)
        fd += np.log(np.abs(dy))
    np.testing.assert_allclose(logjac, fd, rtol=1e-5, atol=1e-6)


def test_outside_the_range_maps_outside_the_prior_and_json_round_trip(space):
    sp, draws = space
    y, _ = sp.to_flow(draws[:2])
    y[0, 2] = 1.5  # beyond dust2's range: theta beyond its prior, which gives weight 0
    assert sp.from_flow(y)[0, 2] > 2.0
    again = ThetaSpace.from_json(sp.to_json())
    np.testing.assert_array_equal(again.to_flow(draws[:5])[0], sp.to_flow(draws[:5])[0])


def test_features_are_colours_significances_and_the_mean_magnitude():
    flux = np.array([[1e-9, -2e-11, 5e-10]])
    unc = np.array([[1e-11, 1e-11, 2e-11]])
    measured = np.array([[True, True, False]])
    raw = Features.raw(flux, unc, measured, np.array([1.5]))
    b = unc[0, :2]
    lupton = -2.5 / np.log(10) * (np.arcsinh(flux[0, :2] / (2 * b)) + np.log(b))
    np.testing.assert_allclose(raw[0, :2], lupton - lupton.mean())
    np.testing.assert_allclose(raw[0, 3:5], np.arcsinh(flux[0, :2] / (2 * b)) / np.log(10))
    assert raw[0, 2] == 0 and raw[0, 5] == 0  # not measured
    assert raw[0, 6:9].tolist() == [1, 1, 0]
    # the mean magnitude, that corrected for distance (independently: astropy's WMAP9), zred
    from astropy.cosmology import WMAP9

    dl_pc = WMAP9.luminosity_distance(1.5).to("pc").value
    absolute = lupton.mean() - 5 * np.log10(dl_pc / 10) + 2.5 * np.log10(2.5)
    np.testing.assert_allclose(raw[0, 9:], [lupton.mean(), absolute, 1.5], atol=2e-3)
    # at high S/N the asinh magnitude is the usual one and the significance log10(S/N)
    assert abs(lupton[0] - (-2.5 * np.log10(1e-9))) < 1e-3
    assert abs(raw[0, 3] - np.log10(100)) < 1e-3
    feats = Features.fit(["a", "b", "c"], np.repeat(raw, 4, axis=0) + np.arange(4)[:, None],
                         np.repeat(measured, 4, axis=0))
    ctx = feats(flux, unc, measured, np.array([1.5]))
    assert ctx.dtype == np.float32 and ctx.shape == (1, 12)
    assert ctx[0, 2] == 0 and ctx[0, 5] == 0 and ctx[0, 6:9].tolist() == [1, 1, 0]
