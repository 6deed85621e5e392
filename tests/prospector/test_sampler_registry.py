"""The sampler layer (prospect_emu.prospector.samplers): one ``get_sampler`` behind ``fit``,
``fit-catalog``, ``compare`` and the demo, presets defined once and shown in the CLI help, one
dynesty seeding, and the classic script's ``--emcee`` saying which emcee runs.

On the bundled demo emulator: no FSPS needed.  Likelihood values are checked against
Prospector's own ``lnprobfn`` (an independent computation of the same Gaussian).
"""

import warnings

import numpy as np
import pytest

from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS, DEMO_ZRED, mock_observation
from prospect_emu.errors import ConfigurationError
from prospect_emu.paramfile import load_param_file
from prospect_emu.prospector.samplers import (
    REGISTRY,
    Preset,
    SamplingResults,
    fit_model,
    get_sampler,
)
from prospect_emu.prospector.twin import emulate

#: small settings per sampler (generic names or the sampler's own run_params keys)
SMALL = {"dynesty": {"nlive": 40, "dlogz": 1.0},
         "emcee": {"nwalkers": 16, "niter": 30, "nburn": [10]},
         "nautilus": {"nlive": 100, "nautilus_neff": 300}}


def _twin(error="diag"):
    return emulate(load_param_file(DEMO_PARAMS).build_model(zred=DEMO_ZRED), DEMO_EMULATOR,
                   error=error)


@pytest.fixture(scope="module")
def mock():
    twin = _twin("none")
    obs, truth = mock_observation(twin, 20.0, 42)
    return twin, obs, truth


def test_the_registry_holds_the_three_samplers():
    assert set(REGISTRY) == {"dynesty", "emcee", "nautilus"}
    for name, s in REGISTRY.items():
        assert get_sampler(name) is s and s.name == name
        assert "default" in s.presets and "catalog" in s.presets and "demo" in s.presets


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_sampler_runs_through_get_sampler_and_returns_the_shared_result(name, mock):
    """Each registered sampler on the demo model: a SamplingResults, normalised weights over
    samples inside the prior, and stored ln-likelihoods equal to Prospector's own lnprobfn."""
    pytest.importorskip(name)
    from prospect.fitting import lnprobfn as prospector_lnprobfn

    twin, obs, _ = mock
    sampler = get_sampler(name)
    result, seconds = sampler.run(obs, twin, seed=1, **sampler.settings("catalog", **SMALL[name]))
    assert isinstance(result, SamplingResults) and result["sampler"] == name and seconds > 0
    samples, weights = sampler.posterior(result)
    assert samples.ndim == 2 and samples.shape[1] == twin.ndim == 5
    assert len(weights) == len(samples) and weights.sum() == pytest.approx(1.0)
    assert np.all(weights >= 0) and sampler.ncall(result) > 0
    assert np.all(np.isfinite([twin.prior_product(t) for t in samples]))
    rng = np.random.default_rng(0)
    if name == "emcee":  # ln-likelihood + ln-prior at the chain
        chain, lnp = result["flatchain"], result["flatlnprobability"]
        idx = rng.integers(0, len(chain), 5)
        expect = [prospector_lnprobfn(chain[i], model=twin, obs=obs, sps=None) for i in idx]
        np.testing.assert_allclose(lnp[idx], expect, rtol=1e-5, atol=1e-5)
        assert result["chain"].shape == (16, 30, 5)
    else:  # nested samplers: ln-likelihood at the samples, an evidence
        idx = rng.integers(0, len(samples), 5)
        expect = [prospector_lnprobfn(samples[i], model=twin, obs=obs, sps=None, nested=True)
                  for i in idx]
        np.testing.assert_allclose(np.asarray(result["logl"])[idx], expect, rtol=1e-5, atol=1e-5)
        assert np.isfinite(sampler.logz(result))


def _help(command: str) -> str:
    from prospect_emu.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command].format_help()


@pytest.mark.parametrize("command,presets", [("fit", None), ("compare", None),
                                             ("fit-catalog", ("catalog",))])
def test_cli_help_shows_the_registry_presets(command, presets):
    text = _help(command)
    for s in REGISTRY.values():
        for p in s.presets.values():
            if presets is None or p.name in presets:
                assert p.describe() in text, (command, s.name, p.name)


def test_presets_are_defined_once(monkeypatch, mock, tmp_path):
    """A preset changed in the registry changes the CLI help, the fit (fit's route) and the
    catalog fit (fit-catalog's route): nothing restates its values."""
    from prospect_emu.analysis.catalog_object import fit_object
    from prospect_emu.prospector.fitting import run_fit

    emcee = get_sampler("emcee")
    monkeypatch.setitem(emcee.presets, "demo", Preset("demo", "patched", {
        "nwalkers": 22, "niter": 7, "nburn": [3], "emcee_moves": "de"}))
    monkeypatch.setitem(emcee.presets, "catalog", Preset("catalog", "patched", {
        "nwalkers": 14, "niter": 9, "nburn": [2]}))
    assert "nwalkers=22, niter=7" in _help("fit") and "nwalkers=22, niter=7" in _help("compare")
    assert "nwalkers=14, niter=9" in _help("fit-catalog")
    twin, obs, _ = mock
    fit = run_fit(DEMO_PARAMS, ["--outfile", str(tmp_path / "f"), "--zred", str(DEMO_ZRED)],
                  emulator=DEMO_EMULATOR, obs=obs, seed=1, write=False, sampler="emcee",
                  preset="demo")
    assert fit.output["sampling"][0]["chain"].shape == (22, 7, 5)
    assert fit.run_params["emcee"] and not fit.run_params["dynesty"]
    res = fit_object(twin, obs, {"sampler": "emcee", "seed": 1, "nsamples": 10})
    assert res["output"]["sampling"][0]["chain"].shape == (14, 9, 5)


def test_command_line_preset_fills_only_the_options_not_given():
    from prospect_emu.prospector.fitting import build_run_params

    demo = get_sampler("emcee").preset("demo").values
    rp = build_run_params(["--emcee", "--preset", "demo", "--niter", "50"])
    assert rp["emcee"] and not rp["dynesty"] and not rp["nautilus"]
    assert rp["niter"] == 50 and rp["nwalkers"] == demo["nwalkers"]
    assert list(rp["nburn"]) == list(demo["nburn"]) and rp["emcee_moves"] == demo["emcee_moves"]
    rp = build_run_params(["--dynesty", "--sampler_preset", "catalog"])
    assert rp["nested_nlive_init"] == get_sampler("dynesty").preset("catalog").values["nested_nlive_init"]
    plain = build_run_params(["--emcee"])
    assert plain["nwalkers"] == 64 and plain["sampler_preset"] is None  # Prospector's default
    with pytest.raises(ConfigurationError, match="no preset 'quick'.*default.*demo.*catalog"):
        build_run_params(["--emcee", "--preset", "quick"])


def test_dynesty_seeding_is_the_same_in_fit_and_fit_catalog(mock, tmp_path):
    """The one dynesty seeding: prospect-emu fit's route and fit-catalog's, same preset and
    seed, give the same samples; another seed gives others."""
    from prospect_emu.analysis.catalog_object import fit_object
    from prospect_emu.prospector.fitting import run_fit

    _, obs, _ = mock
    small = {"nlive": 40, "dlogz": 1.0}

    def fit_route(seed):
        fit = run_fit(DEMO_PARAMS, ["--outfile", str(tmp_path / "f"), "--zred", str(DEMO_ZRED)],
                      emulator=DEMO_EMULATOR, emulator_error="diag", obs=obs, seed=seed,
                      write=False, sampler="dynesty", preset="catalog", sampler_options=small)
        return fit.output["sampling"][0]

    def catalog_route(seed):
        res = fit_object(_twin("diag"), obs, {"sampler": "dynesty", **small, "seed": seed,
                                              "nsamples": 10})
        return res["output"]["sampling"][0]

    a, b, c = fit_route(7), catalog_route(7), catalog_route(8)
    assert a["sampler"] == b["sampler"] == "dynesty"
    np.testing.assert_array_equal(a["samples"], b["samples"])
    np.testing.assert_array_equal(a["logl"], b["logl"])
    assert a["samples"].shape != c["samples"].shape or not np.array_equal(a["samples"], c["samples"])


def test_unknown_sampler_names_list_the_registered_ones(mock):
    from prospect_emu.analysis.catalog_object import fit_object, resolve_sampler
    from prospect_emu.prospector.fitting import run_fit

    for call in (lambda: get_sampler("zeus"), lambda: resolve_sampler("zeus"),
                 lambda: fit_object(mock[0], mock[1], {"sampler": "zeus"}),
                 lambda: run_fit(DEMO_PARAMS, [], emulator=DEMO_EMULATOR, obs=mock[1],
                                 write=False, sampler="zeus")):
        with pytest.raises(ConfigurationError, match="unknown sampler 'zeus'") as err:
            call()
        for name in REGISTRY:
            assert name in str(err.value)


def test_classic_emcee_says_which_emcee_runs_and_the_drop_in_runs_the_batched_one(mock):
    """A parameter file's own __main__ with --emcee (use_emulator, then Prospector's
    fit_model) is told it runs Prospector's emcee; prospect_emu's fit_model (with
    add_sampler_arguments in the parser) runs the same emcee as prospect-emu fit --emcee,
    unwarned."""
    from prospect_emu.prospector.switch import use_emulator

    twin, obs, _ = mock
    model = load_param_file(DEMO_PARAMS).build_model(zred=DEMO_ZRED)
    with pytest.warns(UserWarning, match="Prospector's own emcee.*prospect-emu fit --emcee"):
        emu, lnprobfn = use_emulator(model, {"emulator": str(DEMO_EMULATOR), "emcee": True})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        use_emulator(model, {"emulator": str(DEMO_EMULATOR), "dynesty": True})
        # a parser with prospect-emu's sampler options (the drop-in's route): no warning
        use_emulator(model, {"emulator": str(DEMO_EMULATOR), "emcee": True, "sampler_preset": None})
    out = fit_model(obs, emu, None, lnprobfn=lnprobfn, seed=2, emcee=True, nwalkers=16,
                    niter=20, nburn=[5])
    res = out["sampling"][0]
    assert isinstance(res, SamplingResults) and res["sampler"] == "emcee" and res["vectorized"]
    assert res["chain"].shape == (16, 20, 5)


def test_cli_fit_with_emcee_does_not_warn(tmp_path, mock):
    from prospect_emu.prospector.fitting import run_fit

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*Prospector's own emcee.*")
        fit = run_fit(DEMO_PARAMS, ["--emcee", "--nwalkers", "16", "--niter", "10", "--nburn", "4",
                                    "--outfile", str(tmp_path / "e"), "--zred", str(DEMO_ZRED)],
                      emulator=DEMO_EMULATOR, obs=mock[1], seed=1, write=False)
    assert fit.output["sampling"][0]["sampler"] == "emcee"


def test_compare_runs_the_registry_sampler_on_both_sides(sps_home, demo_emulator, monkeypatch,
                                                         tmp_path):
    """compare (FSPS and emulated fits) takes its sampler from the registry: a patched preset
    reaches both sides."""
    from prospect_emu.analysis.compare import compare
    from tests.conftest import PARAM_FILE

    emcee = get_sampler("emcee")
    monkeypatch.setitem(emcee.presets, "demo", Preset("demo", "patched", {
        "nwalkers": 12, "niter": 6, "nburn": [4], "emcee_ninit": 48}))
    res = compare(PARAM_FILE, demo_emulator, tmp_path, seed=1, n_draws=50, plots=False,
                  sampler="emcee", preset="demo")
    for side in (res["fsps"], res["emulator"]):
        out = side.fit.output["sampling"][0]
        assert out["sampler"] == "emcee" and out["chain"].shape == (12, 6, 5)
    assert not res["fsps"].fit.output["sampling"][0]["vectorized"]
    assert res["emulator"].fit.output["sampling"][0]["vectorized"]
