"""emcee over the batched emulated likelihood (prospect_emu.prospector.emcee_sampler), on the bundled
demo emulator: no FSPS needed."""

import numpy as np
import pytest

from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS, DEMO_ZRED, mock_observation, sampler_argv
from prospect_emu.errors import ConfigurationError
from prospect_emu.paramfile import load_param_file
from prospect_emu.prospector.twin import emulate

pytest.importorskip("emcee")


@pytest.fixture(scope="module")
def mock():
    twin = emulate(load_param_file(DEMO_PARAMS).build_model(zred=DEMO_ZRED), DEMO_EMULATOR)
    obs, truth = mock_observation(twin, 20.0, 42)
    return twin, obs, truth


def test_emcee_fit_recovers_the_mock_and_results_from_reads_it(mock, tmp_path):
    """prospect-emu fit --emcee (the demo settings): the truth inside each marginal's central
    99%, a batched run, and Prospector's results_from reads the file back as an emcee result
    whose ln-probabilities are lnprobfn's at the stored chain."""
    from prospect.io.read_results import results_from

    from prospect_emu.prospector.fitting import run_fit
    from prospect_emu.prospector.likelihood import lnprobfn

    twin, obs, truth = mock
    argv = sampler_argv("emcee") + ["--outfile", str(tmp_path / "e"), "--zred", str(DEMO_ZRED)]
    fit = run_fit(DEMO_PARAMS, argv, emulator=DEMO_EMULATOR, obs=obs, seed=3)
    res = fit.output["sampling"][0]
    nwalkers, niter = int(argv[argv.index("--nwalkers") + 1]), int(argv[argv.index("--niter") + 1])
    assert res["vectorized"] and fit.ncall >= nwalkers * niter
    s, w = fit.samples()
    assert s.shape == (nwalkers * niter, 5) and np.allclose(w, 1.0 / len(s))
    # The truth must lie inside the posterior, not beyond its tails.  On this noisy mock the
    # true mass sits at the 0.7% quantile of a dynesty fit (nlive 200) and nautilus's, so a
    # central-99% interval is not a robust criterion for any sampler; the truth's quantile
    # in the emcee samples is held to (0.1%, 99.9%) instead.
    for j, name in enumerate(fit.model.theta_labels()):
        q = np.mean(s[:, j] < truth[j])
        assert 0.001 < q < 0.999, (name, q, truth[j])
    assert 0.02 < np.mean(res["acceptance_fraction"]) < 0.9
    out, _, model = results_from(str(fit.hfile))
    assert out["chain"].shape == (nwalkers, niter, 5) and out["lnprobability"].shape == (nwalkers, niter)
    assert out.get("weights") is None and out["run_params"]["emcee"]
    assert type(model).__name__ == "EmulatedSpecModel"
    np.testing.assert_array_equal(out["chain"].reshape(-1, 5), res["chain"].reshape(-1, 5))
    rng = np.random.default_rng(0)
    for i, k in zip(rng.integers(0, nwalkers, 5), rng.integers(0, niter, 5)):
        expect = lnprobfn(out["chain"][i, k], model=twin, obs=obs)
        assert out["lnprobability"][i, k] == pytest.approx(expect, abs=1e-6 * abs(expect) + 1e-6)
    # the best fit Prospector stores is the highest-probability sample
    i, k = np.unravel_index(np.argmax(out["lnprobability"]), out["lnprobability"].shape)
    np.testing.assert_allclose(out["bestfit"]["parameter"], out["chain"][i, k])


def test_emcee_result_does_not_depend_on_the_start(mock):
    """Two seeds (different initial prior draws, burn-in and moves): medians within a
    quarter of a posterior sigma of each other."""
    from prospect_emu.prospector.emcee_sampler import run_emcee

    twin, obs, _ = mock
    kw = dict(nwalkers=128, niter=512, nburn=[16, 32, 64], emcee_moves="de")
    a, _ = run_emcee(obs, twin, seed=1, **kw)
    b, _ = run_emcee(obs, twin, seed=2, **kw)
    sa, sb = a["flatchain"], b["flatchain"]
    sa[:, 0], sb[:, 0] = np.log10(sa[:, 0]), np.log10(sb[:, 0])
    sigma = 0.5 * np.diff(np.percentile(sa, [16, 84], axis=0), axis=0)[0]
    offset = np.abs(np.median(sa, 0) - np.median(sb, 0)) / sigma
    assert np.all(offset < 0.25), offset


def test_scalar_path_is_the_same_algorithm(mock):
    """A likelihood the batched path does not cover (here any lnprobfn other than
    prospect-emu's) is called one vector at a time: same seed, the same chain."""
    from prospect_emu.prospector.emcee_sampler import run_emcee
    from prospect_emu.prospector.likelihood import lnprobfn

    twin, obs, _ = mock
    kw = dict(nwalkers=32, niter=40, nburn=[8, 8], emcee_ninit=256, emcee_moves="de")
    a, _ = run_emcee(obs, twin, seed=5, **kw)
    b, _ = run_emcee(obs, twin, seed=5, lnprobfn=lambda *p, **k: lnprobfn(*p, **k), **kw)
    assert a["vectorized"] and not b["vectorized"]
    assert b["ncall"][0] == a["ncall"][0] > 32 * 40
    np.testing.assert_allclose(b["chain"], a["chain"], rtol=1e-9)
    np.testing.assert_allclose(b["lnprobability"], a["lnprobability"], rtol=1e-5, atol=1e-3)


def test_emcee_settings_are_checked(mock):
    from prospect_emu.prospector.emcee_sampler import run_emcee

    twin, obs, _ = mock
    with pytest.raises(ConfigurationError, match="even number of walkers.*--nwalkers"):
        run_emcee(obs, twin, nwalkers=7)
    with pytest.raises(ConfigurationError, match="--niter"):
        run_emcee(obs, twin, niter=0)
    with pytest.raises(ConfigurationError, match="--emcee_ninit"):
        run_emcee(obs, twin, nwalkers=64, emcee_ninit=10)
    with pytest.raises(ConfigurationError, match="emcee_moves"):
        run_emcee(obs, twin, emcee_moves="walk")
    from prospect_emu.prospector.fitting import build_run_params

    with pytest.raises(ConfigurationError, match="--nautilus and --emcee"):
        build_run_params(["--nautilus", "--emcee"])


def test_kde_move_is_emcees_kde_proposal():
    """The numpy KDE move's Hastings factor equals scipy's gaussian_kde (Scott's bandwidth,
    what emcee's KDEMove uses) at the current and proposed positions."""
    from scipy.stats import gaussian_kde

    from prospect_emu.prospector.emcee_sampler import _kde_move

    rng = np.random.RandomState(0)
    comp = [rng.randn(40, 5) @ np.diag([1.0, 2.0, 3.0, 0.1, 1.0]) + 3.0,
            rng.randn(24, 5) @ np.diag([1.0, 2.0, 3.0, 0.1, 1.0]) + 3.0]
    s = rng.randn(30, 5) + 3.0
    q, factor = _kde_move().get_proposal(s, comp, np.random.RandomState(1))
    kde = gaussian_kde(np.concatenate(comp).T)
    assert q.shape == s.shape
    np.testing.assert_allclose(factor, kde.logpdf(s.T) - kde.logpdf(q.T), rtol=1e-8, atol=1e-8)
    # proposals are draws from that KDE: their mean and covariance match the KDE's
    big, _ = _kde_move().get_proposal(np.zeros((200000, 5)), comp, np.random.RandomState(2))
    pts = np.concatenate(comp)
    np.testing.assert_allclose(big.mean(0), pts.mean(0), atol=0.05)
    np.testing.assert_allclose(np.cov(big.T), np.cov(pts.T, bias=True) + np.cov(pts.T) * kde.factor ** 2, rtol=0.03,
                               atol=0.05)


@pytest.mark.parametrize("moves", ["stretch", "de", "de_snooker", "kde"])
def test_vectorised_acceptance_gives_emcees_own_chain(moves):
    """The moves with the vectorised acceptance test and the sampler that takes the batched
    log-probability as an array walk exactly emcee's own chain, step for step, from the
    same random state (a correlated Gaussian with a hard edge, -inf outside)."""
    import emcee
    from emcee.moves import RedBlueMove

    from prospect_emu.prospector.emcee_sampler import _batch_sampler_class, _kde_move

    cov = np.array([[1.0, 0.8, 0.0], [0.8, 1.0, 0.3], [0.0, 0.3, 2.0]])
    icov = np.linalg.inv(cov)

    def lnp(x):
        out = -0.5 * np.einsum("ij,jk,ik->i", x, icov, x)
        return np.where(x[:, 0] < 1.5, out, -np.inf)

    from prospect_emu.prospector.emcee_sampler import _vector_accept

    kde_plain = type("KDE", (RedBlueMove,), {"get_proposal": type(_kde_move()).get_proposal})
    pairs = {"stretch": (emcee.moves.StretchMove, _vector_accept(emcee.moves.StretchMove)),
             "de": (emcee.moves.DEMove, _vector_accept(emcee.moves.DEMove)),
             "de_snooker": (emcee.moves.DESnookerMove, _vector_accept(emcee.moves.DESnookerMove)),
             "kde": (kde_plain, type(_kde_move()))}
    theirs_move, our_move = pairs[moves]
    p0 = np.random.RandomState(3).randn(24, 3) * 0.1
    chains = []
    for cls, move in ((emcee.EnsembleSampler, theirs_move), (_batch_sampler_class(), our_move)):
        sampler = cls(24, 3, lnp, vectorize=True, moves=move())
        sampler.random_state = np.random.RandomState(11).get_state()
        sampler.run_mcmc(p0, 60, progress=False)
        state = sampler.random_state   # the generator's state after the run, as emcee's
        sampler.run_mcmc(None, 15, progress=False)   # and a run that continues the last
        chains.append((sampler.get_chain(), sampler.get_log_prob(), sampler.acceptance_fraction,
                       state[1], np.array(state[2:4])))
    assert 0.05 < chains[0][2].mean() < 0.95
    for a, b in zip(chains[0], chains[1]):
        np.testing.assert_array_equal(a, b)


def test_batch_sampler_refuses_nan_log_probabilities():
    from prospect_emu.prospector.emcee_sampler import _batch_sampler_class

    sampler = _batch_sampler_class()(8, 2, lambda x: np.full(len(x), np.nan), vectorize=True)
    with pytest.raises(ValueError, match="returned NaN"):
        sampler.run_mcmc(np.random.RandomState(0).randn(8, 2), 2, progress=False)


@pytest.mark.parametrize("nsteps", [40, 192, 257])
def test_autocorrelation_time_is_emcees(nsteps):
    """The one-FFT integrated autocorrelation time equals emcee's walker-by-walker estimate
    (AR(1) chains of known correlation)."""
    import logging

    import emcee

    from prospect_emu.prospector.emcee_sampler import _autocorr

    rng = np.random.default_rng(nsteps)
    phi = np.array([0.0, 0.5, 0.9, 0.97])
    x = np.zeros((nsteps, 32, phi.size))
    e = rng.normal(size=x.shape)
    for t in range(1, nsteps):
        x[t] = phi * x[t - 1] + e[t]
    logging.getLogger("emcee.autocorr").setLevel(logging.ERROR)
    expected = emcee.autocorr.integrated_time(x, quiet=True)
    np.testing.assert_allclose(_autocorr(x), expected, rtol=1e-10)
    assert expected[2] > 3 * expected[0]  # the correlated chains are told apart


def test_unit_cube_inverts_prospectors_prior_transform(mock):
    """unit_cube maps Prospector's prior_transform(u) back to u for every prior of the demo
    model (log-uniform mass and tau, top-hats); the wrong width is refused."""
    from prospect_emu.prospector.samplers.emcee import unit_cube

    twin, _, _ = mock
    u = np.random.default_rng(4).uniform(0.001, 0.999, size=(50, twin.ndim))
    theta = np.array([twin.prior_transform(x) for x in u])
    np.testing.assert_allclose(unit_cube(twin, theta), u, rtol=1e-9, atol=1e-12)
    with pytest.raises(ConfigurationError, match="columns"):
        unit_cube(twin, theta[:, :3])


def test_starting_points_a_prior_cannot_invert_leave_the_prior_draws(mock):
    """A FastUniform prior (no cdf in Prospector 1.4.1): the starts are refused by unit_cube
    with the parameter named, and run_emcee warns and starts from prior draws instead of
    failing the fit (the amortized route passes starts to every fallback)."""
    from prospect.models import priors

    from prospect_emu.prospector.samplers.emcee import run_emcee, unit_cube

    model0 = load_param_file(DEMO_PARAMS).build_model(zred=DEMO_ZRED)
    model0.config_dict["dust2"]["prior"] = priors.FastUniform(a=0.0, b=2.0)
    twin = emulate(model0, DEMO_EMULATOR)
    _, obs, truth = mock
    with pytest.raises(ConfigurationError, match="dust2.*FastUniform"):
        unit_cube(twin, np.atleast_2d(truth))
    with pytest.warns(RuntimeWarning, match="emcee_starts not used.*dust2"):
        res, _ = run_emcee(obs, twin, seed=1, nwalkers=16, niter=4, nburn=[0],
                           emcee_starts=np.atleast_2d(truth))
    assert np.all(np.isfinite(res["lnprobability"]))


def test_starting_points_compete_with_the_prior_draws_for_the_walkers(mock):
    """Given points near the truth and as many prior draws as walkers, the walkers start at
    those points (they fit far better than random prior draws): the first stored step lies
    within a few parts in a thousand of the truth.  Through the generic ``starts`` option of
    the registry's emcee; samplers that start from the prior drop it."""
    from prospect_emu.prospector.samplers import get_sampler

    twin, obs, truth = mock
    truth = np.asarray(truth, dtype=float)
    starts = truth * (1 + 1e-3 * np.random.default_rng(5).uniform(-1, 1, size=(200, truth.size)))
    emcee = get_sampler("emcee")
    settings = emcee.settings("catalog", nwalkers=16, niter=2, nburn=[0], starts=starts)
    assert settings["emcee_starts"] is starts
    res, _ = emcee.run(obs, twin, seed=2, emcee_ninit=16, **{k: v for k, v in settings.items()
                                                             if k != "emcee_moves"})
    first = np.asarray(res["chain"])[:, 0, :]
    assert np.all(np.abs(first / truth - 1) < 0.01), first
    assert "starts" not in str(get_sampler("dynesty").settings("catalog", starts=starts))
