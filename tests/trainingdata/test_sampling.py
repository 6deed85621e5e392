"""Parameter draws: prior, uniform, mixtures, callables, ranges, blocks (no FSPS needed)."""

import numpy as np
import pytest
from prospect.models import ProspectorParams
from prospect.models.templates import TemplateLibrary
from scipy import stats

from prospect_emu.errors import ConfigurationError
from prospect_emu.trainingdata.sampling import (
    CallableSampler,
    MixtureSampler,
    ParameterSpace,
    PriorSampler,
    UniformSampler,
    apply_blocks,
    sampler_from_spec,
    share_spectra,
)


@pytest.fixture()
def model():
    return ProspectorParams(TemplateLibrary["parametric_sfh"])


def _prior_cdf(model, name):
    prior = model.config_dict[name]["prior"]
    lo, hi = prior.params["mini"], prior.params["maxi"]
    if type(prior).__name__ == "LogUniform":
        return lambda x: (np.log(x) - np.log(lo)) / (np.log(hi) - np.log(lo))
    return lambda x: (x - lo) / (hi - lo)


def test_prior_draws_follow_the_prior(model):
    space = ParameterSpace(model)
    draws = PriorSampler().draw(space, model, 4000, np.random.default_rng(1))
    assert draws.shape == (4000, 5)
    for j, name in enumerate(space.names):
        p = stats.kstest(draws[:, j], _prior_cdf(model, name)).pvalue
        assert p > 1e-3, (name, p)


def test_uniform_is_uniform_in_the_natural_variable_and_ranges_override(model):
    space = ParameterSpace(model, {"zred": (0, 4), "dust2": (0.5, 1.0)})
    assert space.names == ["mass", "logzsol", "dust2", "tage", "tau", "zred"]
    draws = UniformSampler().draw(space, model, 3000, np.random.default_rng(2))
    z = draws[:, space.index("zred")]
    assert stats.kstest(z, "uniform", args=(0, 4)).pvalue > 1e-3
    d = draws[:, space.index("dust2")]
    assert d.min() >= 0.5 and d.max() <= 1.0
    logm = np.log10(draws[:, 0])  # mass has a log-uniform prior: uniform in log
    assert stats.kstest(logm, "uniform", args=(8, 4)).pvalue > 1e-3


def test_prior_sampler_draws_overridden_fixed_parameters(model):
    space = ParameterSpace(model, {"zred": (0.5, 1.5)})
    draws = PriorSampler().draw(space, model, 500, np.random.default_rng(3))
    z = draws[:, -1]
    assert 0.5 <= z.min() and z.max() <= 1.5 and z.std() > 0.2
    row = draws[0]
    theta = space.set_row(model, row)
    assert model.params["zred"][0] == row[-1] and len(theta) == 5


def test_mixture_fractions_and_determinism(model):
    space = ParameterSpace(model)
    smp = sampler_from_spec("mixture:prior=0.7,uniform=0.3")
    assert isinstance(smp, MixtureSampler)
    a = smp.draw(space, model, 2000, np.random.default_rng(5))
    b = smp.draw(space, model, 2000, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert smp.config()["weights"] == pytest.approx([0.7, 0.3])


def test_callable_sampler_dict_and_errors(model):
    space = ParameterSpace(model)

    def narrow(n, rng, space):
        return {k: np.full(n, np.mean(b)) for k, b in zip(space.names, space.bounds)}

    out = CallableSampler(narrow).draw(space, model, 10, np.random.default_rng(0))
    assert out.shape == (10, 5)
    with pytest.raises(ConfigurationError, match="shape"):
        CallableSampler(lambda n, rng, s: np.zeros((n, 2))).draw(space, model, 3, np.random.default_rng())
    with pytest.raises(ConfigurationError, match="module:function"):
        sampler_from_spec("callable:nocolon")
    with pytest.raises(ConfigurationError, match="unknown sampler"):
        sampler_from_spec("gaussian")


def test_blocks_keep_the_marginal(model):
    space = ParameterSpace(model)
    draws = PriorSampler().draw(space, model, 6000, np.random.default_rng(7))
    blocked = apply_blocks(draws, space, "logzsol", 20)
    z = blocked[:, 1]
    assert len(np.unique(z)) == 300
    assert np.all(z.reshape(-1, 20) == z.reshape(-1, 20)[:, :1])
    np.testing.assert_array_equal(blocked[:, [0, 2, 3, 4]], draws[:, [0, 2, 3, 4]])
    assert stats.kstest(np.unique(z), _prior_cdf(model, "logzsol")).pvalue > 1e-3


def test_share_spectra_varies_only_mass_and_redshift(model):
    space = ParameterSpace(model, {"zred": (0, 3)})
    draws = UniformSampler().draw(space, model, 40, np.random.default_rng(8))
    shared = share_spectra(draws, space, 4)
    groups = shared.reshape(10, 4, -1)
    assert np.all(groups[:, :, 1:5] == groups[:, :1, 1:5])
    np.testing.assert_array_equal(shared[:, [0, 5]], draws[:, [0, 5]])


def test_bad_ranges(model):
    with pytest.raises(ConfigurationError, match="not a parameter"):
        ParameterSpace(model, {"redshift": (0, 1)})
    with pytest.raises(ConfigurationError, match="lo < hi"):
        ParameterSpace(model, {"zred": (1, 0)})


class _OneVectorPrior:
    """A prior whose unit_transform only takes one vector (it does not broadcast over rows)."""

    def __init__(self, prior):
        self.prior = prior

    def unit_transform(self, x):
        x = np.asarray(x, dtype=float)
        return self.prior.unit_transform(x.ravel()[: self.prior.params["mean"].size])

    def __getattr__(self, name):
        return getattr(self.prior, name)


@pytest.mark.parametrize("template", ["parametric_sfh", "continuity_sfh"])
def test_prior_transform_rows_equals_prospectors_per_row_transform(template):
    from prospect_emu.trainingdata.sampling import prior_transform_rows

    model = ProspectorParams(TemplateLibrary[template])
    u = np.random.default_rng(5).uniform(size=(300, model.ndim))
    expected = np.array([model.prior_transform(row) for row in u])
    np.testing.assert_allclose(prior_transform_rows(model, u), expected, rtol=1e-12, atol=0)
    if template == "continuity_sfh":  # a vector prior (StudentT, one per bin ratio)
        assert any(len(np.atleast_1d(model.params[k])) > 1 for k in model.theta_index)


def test_prior_transform_rows_falls_back_to_rows_for_a_prior_that_does_not_broadcast():
    from prospect_emu.trainingdata.sampling import prior_transform_rows

    model = ProspectorParams(TemplateLibrary["continuity_sfh"])
    name = "logsfr_ratios"
    model.config_dict[name]["prior"] = _OneVectorPrior(model.config_dict[name]["prior"])
    u = np.random.default_rng(6).uniform(size=(40, model.ndim))
    expected = np.array([model.prior_transform(row) for row in u])
    np.testing.assert_allclose(prior_transform_rows(model, u), expected, rtol=1e-12, atol=0)
