"""No silent wrong answers from the emulated model (issue 8).

Everything here runs on the bundled demo emulator (no FSPS) except the check of the
FSPS-defaults table against python-fsps.  Emulators "trained at a fixed parameter" are
made from the demo emulator exactly: the input's contribution to the first layer is
folded into the bias at that value, so the network is the demo network there.
"""

import copy
import warnings

import numpy as np
import pytest
from astropy.cosmology import WMAP9
from prospect.models import SpecModel, priors
from prospect.models.templates import TemplateLibrary
from sedpy.observate import Filter, load_filters

from prospect_emu.demo import DEMO_EMULATOR
from prospect_emu.emulator.artifact import Emulator
from prospect_emu.errors import ConfigurationError
from prospect_emu.paramfile import load_param_file
from prospect_emu.prospector.likelihood import lnprobfn
from prospect_emu.prospector.model import EmulatedSpecModel
from prospect_emu.prospector.twin import emulate

DEMO_PARAMS = DEMO_EMULATOR.parent / "demo_params.py"


@pytest.fixture(scope="module")
def demo():
    return load_param_file(DEMO_PARAMS)


@pytest.fixture()
def emu():
    return Emulator.load(DEMO_EMULATOR)


@pytest.fixture(scope="module")
def obs(demo):
    return demo.build_obs()


def derived(emu, meta_edit=None, drop_input=None):
    """A copy of ``emu`` with edited metadata, or with one input fixed at a value."""
    meta = copy.deepcopy(emu.meta)
    weights = dict(emu.weights)
    if drop_input is not None:
        name, value = drop_input
        j = emu.input_names.index(name)
        t = emu.inputs
        s = ((np.log10(value) if t.log[j] else value) - t.center[j]) * t.inv_half[j]
        first = next(spec for spec in meta["layers"] if spec["type"] == "dense")
        w = weights[first["W"]]
        weights[first["b"]] = weights[first["b"]] + np.float32(s) * w[j]
        weights[first["W"]] = np.delete(w, j, axis=0)
        for key in ("names", "log10", "lo", "hi", "raw_lo", "raw_hi"):
            meta["inputs"][key].pop(j)
    if meta_edit is not None:
        meta_edit(meta)
    return Emulator(meta, weights)


def maggies_expected(emu, x, mass, zred, filters=None):
    """Observed maggies from the emulator's own prediction and astropy's WMAP9 distance."""
    per_mass = emu.predict(np.asarray(x, float)).phot
    dl_10pc = WMAP9.luminosity_distance(zred).to("pc").value / 10.0
    phot = per_mass * mass * (1 + zred) / dl_10pc ** 2
    return phot if filters is None else phot[emu.band_indices([f.name for f in filters])]


def quiet_emulate(model, emulator, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return emulate(model, emulator, **kw)


# ---- 1. the twin is the model as it is now ------------------------------------------------
def test_twin_keeps_fixed_values_and_priors_set_after_build(demo, emu, obs):
    model = demo.build_model()            # zred 0.8
    model.params["zred"] = np.array([1.5])  # per-galaxy redshift, set after build_model
    model.config_dict["tage"]["prior"] = priors.TopHat(mini=1.0, maxi=5.0)
    model.config_dict["dust2"]["prior"].update(maxi=1.0)
    em = quiet_emulate(model, emu)
    assert em.params["zred"] == pytest.approx(1.5)
    theta = model.theta.copy()
    for name, value in {"mass": 2e10, "logzsol": -0.3, "dust2": 0.4, "tage": 3.0, "tau": 2.0}.items():
        theta[model.theta_index[name]] = value
    _, phot, _ = em.predict(theta, obs=obs)
    expect = maggies_expected(emu, [-0.3, 0.4, 3.0, 2.0, 1.5], 2e10, 1.5, obs["filters"])
    np.testing.assert_allclose(phot, expect, rtol=1e-5)
    at_08 = maggies_expected(emu, [-0.3, 0.4, 3.0, 2.0, 0.8], 2e10, 0.8, obs["filters"])
    assert np.all(np.abs(phot / at_08 - 1) > 0.05)
    # the priors are the model's current ones, as Prospector evaluates them
    rng = np.random.default_rng(3)
    for _ in range(50):
        th = theta.copy()
        th[model.theta_index["tage"]] = rng.uniform(0.01, 13)
        th[model.theta_index["dust2"]] = rng.uniform(0.0, 2.0)
        ref = model.prior_product(th)
        got = em.prior_product(th)
        assert got == ref if not np.isfinite(ref) else got == pytest.approx(ref, rel=1e-12)
    th[model.theta_index["tage"]] = 7.0
    assert em.prior_product(th) == -np.inf


# ---- 2. vector parameters ------------------------------------------------------------------
def _two_component_tage():
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.8
    params["tage"].update(N=2, init=np.array([1.0, 3.0]),
                          prior=priors.TopHat(mini=np.full(2, 0.01), maxi=np.full(2, 13.0)))
    return params


def test_vector_parameter_is_refused_by_a_scalar_input(emu):
    with pytest.raises(ConfigurationError, match=r"'tage' is a vector of 2 elements.*scalar"):
        EmulatedSpecModel(_two_component_tage(), emulator=emu)


def test_vector_elements_are_read_per_element_and_checked(emu):
    def rename(mapping):
        return derived(emu, lambda m: m["inputs"].update(
            names=[mapping.get(n, n) for n in m["inputs"]["names"]]))

    # the emulator's tau input read as element 2 of a two-element tage
    params = _two_component_tage()
    del params["tau"]
    with pytest.warns(UserWarning, match=r"tage_2: prior \[0\.01, 13\], training box \[0\.1, 30\]"):
        em = EmulatedSpecModel(params, emulator=rename({"tage": "tage_1", "tau": "tage_2"}))
    theta = em.theta.copy()
    theta[em.theta_index["tage"]] = [2.5, 7.0]
    em.set_parameters(theta)
    np.testing.assert_allclose(em.emulator_inputs()[[2, 3]], [2.5, 7.0])
    # only some elements of the vector
    with pytest.raises(ConfigurationError, match=r"'tage' has 2 elements.*missing \['tage_2'\]"):
        EmulatedSpecModel(_two_component_tage(), emulator=rename({"tage": "tage_1"}))
    # an element beyond the parameter's length, or numbered from 0
    for bad in ("tage_3", "tage_0"):
        with pytest.raises(ConfigurationError, match=rf"'{bad}' is element .* has 2 element"):
            EmulatedSpecModel(_two_component_tage(), emulator=rename({"tage": bad}))


def test_vector_mass_needs_mass_inputs(emu):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.8
    params["mass"].update(N=2, init=np.array([1e9, 1e10]),
                          prior=priors.LogUniform(mini=np.full(2, 1e8), maxi=np.full(2, 1e12)))
    with pytest.raises(ConfigurationError, match=r"'mass' is a vector of 2 .*sum\(mass\).*ratios"):
        EmulatedSpecModel(params, emulator=emu)


# ---- 3. the fit model is the training model -----------------------------------------------
def test_emulator_trained_at_fixed_zred_refuses_another_zred(demo, emu, obs):
    fixed = derived(emu, drop_input=("zred", 0.8))
    assert "zred" not in fixed.input_names
    em = quiet_emulate(demo.build_model(zred=0.8), fixed)
    theta = em.theta.copy()
    theta[:] = [1e10, -0.5, 0.3, 4.0, 1.0]  # mass, logzsol, dust2, tage, tau
    _, phot, _ = em.predict(theta, obs=obs)
    np.testing.assert_allclose(phot, maggies_expected(emu, [-0.5, 0.3, 4.0, 1.0, 0.8], 1e10, 0.8),
                               rtol=1e-4)
    model = demo.build_model(zred=0.8)
    model.params["zred"] = np.array([1.5])
    with pytest.raises(ConfigurationError, match=r"zred = 1\.5 in the fit model.*zred = 0\.8"):
        emulate(model, fixed)
    # and a zred the emulator takes as an input may differ from the training model's
    quiet_emulate(model, emu)


def test_fixed_parameter_differing_from_training_is_refused(demo, emu):
    model = demo.build_model()
    model.params["imf_type"] = np.array([1])
    with pytest.raises(ConfigurationError, match=r"imf_type = 1 in the fit model.*imf_type = 2"):
        emulate(model, emu)
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.8
    params["sfh"]["init"] = 1
    with pytest.raises(ConfigurationError, match=r"sfh = 1 in the fit model.*sfh = 4"):
        EmulatedSpecModel(params, emulator=emu)
    # fitting a parameter the emulator learned at a fixed value has no effect: refused
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.8
    params["imf_type"].update(isfree=True, prior=priors.TopHat(mini=0, maxi=3))
    with pytest.raises(ConfigurationError, match=r"imf_type is free in the fit model"):
        EmulatedSpecModel(params, emulator=emu)


def test_added_and_missing_parameters(demo, emu):
    # dust emission added: FSPS would use duste_qpah 4.0 and duste_gamma 0.001, the
    # training SEDs FSPS's defaults (3.5, 0.01)
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.8
    params.update(TemplateLibrary["dust_emission"])
    with pytest.raises(ConfigurationError, match=r"duste_gamma = 0\.001 .*did not have") as err:
        EmulatedSpecModel(params, emulator=emu)
    assert "duste_qpah = 4.0" in str(err.value) and "duste_umin" not in str(err.value)
    # a dependent FSPS parameter the training model lacked
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.8
    params["dust1"] = {"N": 1, "isfree": False, "init": 0.0,
                       "depends_on": lambda dust2=None, **kw: 0.5 * dust2}
    with pytest.raises(ConfigurationError, match=r"dust1 is computed by depends_on"):
        EmulatedSpecModel(params, emulator=emu)
    # added at FSPS's default, or a likelihood-only parameter: accepted
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.8
    params["add_dust_emission"] = {"N": 1, "isfree": False, "init": True}
    params.update(TemplateLibrary["outlier_model"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EmulatedSpecModel(params, emulator=emu)
    # missing: sfh (trained at 4, FSPS default 0) is refused; dust_type (trained at FSPS's
    # default 0) is not
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.8
    del params["dust_type"]
    EmulatedSpecModel(params, emulator=emu)
    del params["sfh"]
    with pytest.raises(ConfigurationError, match=r"lacks sfh.*default sfh = 0.*sfh = 4"):
        EmulatedSpecModel(params, emulator=emu)


def _edit_description(name, entry):
    def edit(meta):
        model = meta["training_set"]["config"]["model"]
        if entry is None:
            model.pop(name)
        else:
            model[name] = entry
    return edit


def test_stored_values_are_parsed_robustly(demo, emu):
    model = demo.build_model()
    model.params["imf_type"] = np.array([2.0])  # float where the training stored an int
    model.params["sfh"] = np.int64(4)
    forms = ["np.int64(4)", "array([4.])", "array([4], dtype=int32)", "4.0", "[4]"]
    for form in forms:
        e = derived(emu, _edit_description("sfh", {"isfree": False, "units": "", "init": form}))
        quiet_emulate(model, e)
    for form in ("np.int64(1)", "array([1., 4.])", "'4'", "None", "True"):
        e = derived(emu, _edit_description("sfh", {"isfree": False, "units": "", "init": form}))
        with pytest.raises(ConfigurationError, match="sfh"):
            emulate(model, e)
    # text it cannot read: a warning naming the parameter, not a refusal
    e = derived(emu, _edit_description("sfh", {"isfree": False, "units": "",
                                               "init": "<SFH object at 0x7f>"}))
    with pytest.warns(UserWarning, match=r"(?s)could not check.*sfh: fit model 4"):
        emulate(model, e)


def test_depends_on_compared_by_content(demo, emu):
    from prospect_emu.dependencies import function_fingerprint
    from prospect_emu.prospector import compat

    def half(dust2=None, **extras):
        return 0.5 * dust2

    def third(dust2=None, **extras):
        return dust2 / 3.0

    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = 0.8
    params["dust1"] = {"N": 1, "isfree": False, "init": 0.0, "depends_on": half}
    stored = {"isfree": False, "units": "", "init": "0.0"}
    compat._WARNED_NO_FINGERPRINTS.clear()
    old = derived(emu, _edit_description("dust1", stored))  # stores no fingerprint
    with pytest.warns(UserWarning, match=r"(?s)trained before.*dust1.*half.*once"):
        EmulatedSpecModel(params, emulator=old)
    with warnings.catch_warnings():  # said once per emulator
        warnings.simplefilter("error")
        EmulatedSpecModel(params, emulator=old)
    same = derived(emu, _edit_description("dust1", {**stored,
                                                    "depends_on": function_fingerprint(half)}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EmulatedSpecModel(params, emulator=same)
    other = derived(emu, _edit_description("dust1", {**stored,
                                                     "depends_on": function_fingerprint(third)}))
    with pytest.raises(ConfigurationError, match=r"dust1 is computed by depends_on .*half.*differs"):
        EmulatedSpecModel(params, emulator=other)


def test_old_artifact_without_model_description_loads_with_a_warning(demo, emu, obs):
    old = derived(emu, lambda m: m["training_set"]["config"].pop("model"))
    model = demo.build_model()
    model.params["imf_type"] = np.array([1])
    with pytest.warns(UserWarning, match="no description of the model it was trained on"):
        em = emulate(model, old)
    assert np.all(em.predict(em.theta, obs=obs)[1] > 0)


def test_fixed_input_outside_the_training_box_is_refused(demo, emu):
    model = demo.build_model()
    model.params["zred"] = np.array([4.5])
    with pytest.raises(ConfigurationError, match=r"zred = 4\.5 outside \[0, 3\]"):
        emulate(model, emu)


def test_redefined_filter_with_the_same_name_is_refused(demo, emu, obs):
    em = quiet_emulate(demo.build_model(), emu)
    _, ref, _ = em.predict(em.theta, obs=obs)
    r = load_filters(["sdss_r0"])[0]
    mine = Filter("sdss_r0", data=(r.wavelength * 1.05, r.transmission))  # same name, shifted
    bad = {**obs, "filters": [mine if f.name == "sdss_r0" else f for f in obs["filters"]]}
    with pytest.raises(ConfigurationError, match=r"\['sdss_r0'\].*transmission curve differs"):
        em.predict(em.theta, obs=bad)
    with pytest.raises(ConfigurationError, match="transmission"):
        lnprobfn(em.theta, model=em, obs=bad)  # not a silent -inf
    # the real curves, reloaded: accepted, the same photometry, checked once per set
    again = {**obs, "filters": load_filters([f.name for f in obs["filters"]])}
    for _ in range(3):
        np.testing.assert_array_equal(em.predict(em.theta, obs=again)[1], ref)
    assert len(em._band_cache) == 2


def test_prior_reaching_outside_the_training_box_warns_once(demo, emu):
    model = demo.build_model()
    quiet_emulate(model, emu)  # the demo model's priors lie inside the box: no warning
    model.config_dict["tau"]["prior"] = priors.LogUniform(mini=0.1, maxi=100.0)
    with pytest.warns(UserWarning, match=r"tau: prior \[0\.1, 100\], training box \[0\.1, 30\]") as rec:
        em = emulate(model, emu)
    assert len([w for w in rec if "training box" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lnprobfn(em.theta, model=em, obs=demo.build_obs())


# ---- 4. fast priors follow the model's priors ---------------------------------------------
def test_fast_priors_follow_prior_updates(demo, emu):
    em = quiet_emulate(demo.build_model(), emu)
    rng = np.random.default_rng(7)

    def truncated(u):
        """Unit coordinates of Prospector's priors truncated to the training box, from the
        prior objects' own CDFs (what the unit-cube samplers draw from)."""
        u = np.array(u, dtype=float)
        t = em.emulator.inputs
        for j, name in enumerate(em.emulator.input_names):
            if name in em.theta_index:
                k, prior = em.theta_index[name].start, em.config_dict[name]["prior"]
                f0, f1 = (float(np.clip(prior.inverse_unit_transform(v), 0, 1))
                          for v in (t.raw_lo[j], t.raw_hi[j]))
                u[k] = f0 + u[k] * (f1 - f0)
        return u

    def agree():
        for _ in range(100):
            u = rng.uniform(size=em.ndim)
            theta = SpecModel.prior_transform(em, truncated(u))
            np.testing.assert_allclose(em.prior_transform(u), theta, rtol=1e-10)
            theta = theta * rng.choice([0.5, 1.0, 1.6], size=em.ndim)
            ref = SpecModel.prior_product(em, theta)   # Prospector's own, on the same priors
            got = em.prior_product(theta)
            assert got == ref if not np.isfinite(ref) else got == pytest.approx(ref, rel=1e-10)

    agree()
    em.config_dict["tage"]["prior"].update(mini=2.0, maxi=6.0)
    theta = em.theta.copy()
    theta[em.theta_index["tage"]] = 1.0
    assert em.prior_product(theta) == -np.inf
    agree()
    em.config_dict["dust2"]["prior"] = priors.Normal(mean=0.5, sigma=0.1)
    agree()
    em.config_dict["tau"]["prior"] = priors.Beta(alpha=2, beta=2, mini=0.5, maxi=5)
    assert "beta" in em.fast_priors.groups  # Beta has a vectorised twin (issue 12)
    agree()
    em.config_dict["tau"]["prior"] = priors.LogUniform(mini=0.2, maxi=20)
    assert em.fast_priors is not None
    agree()


# ---- 5. messages instead of tracebacks ----------------------------------------------------
def test_error_mode_without_statistics_fails_at_construction(demo, emu):
    bare = derived(emu, lambda m: m.pop("test_errors"))
    for mode in ("diag", "cov"):
        with pytest.raises(ConfigurationError, match=f"{mode}.*no(ne)?.*error statistics|"
                                                     f"{mode}.*statistics.*none"):
            emulate(demo.build_model(), bare, error=mode)
    em = quiet_emulate(demo.build_model(), bare, error="none")
    with pytest.raises(ConfigurationError, match="statistics"):
        em.emulator_error = "cov"
    assert em.emulator_error == "none"


def test_maggies_without_filters_is_an_error(demo, emu, obs):
    em = quiet_emulate(demo.build_model(), emu)
    with pytest.raises(ConfigurationError, match=r"obs\['filters'\] is None"):
        em.predict(em.theta, obs={**obs, "filters": None})
    with pytest.raises(ConfigurationError, match=r"obs\['filters'\] is None"):
        lnprobfn(em.theta, model=em, obs={**obs, "filters": None})


# ---- the FSPS defaults table is python-fsps's -----------------------------------------------
def test_fsps_defaults_table_matches_python_fsps(sps_home):
    import fsps

    from prospect_emu.prospector.compat import FSPS_DEFAULTS

    sp = fsps.StellarPopulation(zcontinuous=1)
    assert set(FSPS_DEFAULTS) == set(sp.params.all_params)
    for name, value in FSPS_DEFAULTS.items():
        assert sp.params[name] == value, name
