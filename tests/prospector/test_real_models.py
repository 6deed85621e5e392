"""Real Prospector models, as users write them (issue 23): every prior type drawn from the
prior itself, joint priors (Prospector-beta's NzSFH), free zred with age bins tied to it,
depends_on compared by content, the training box in the fit's prior, the early stop,
SpecModel without SPS_HOME, results_from from another folder.

Models are built the way Prospector's docs build them (tests/data/alpha_like_params.py:
TemplateLibrary continuity_sfh + dust_emission + agn, dust_type 4, a user to_dust1, and
Prospector's own TemplateLibrary["beta"] with nebular emission off).  Expected values come
from Prospector's prior objects (their scipy distributions), Prospector's transforms and
FSPS through Prospector's own predict.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import types
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from prospect.models import priors, transforms
from scipy import stats

from prospect_emu.demo import DEMO_EMULATOR
from prospect_emu.emulator.artifact import Emulator
from prospect_emu.errors import ConfigurationError
from prospect_emu.paramfile import load_param_file
from prospect_emu.prospector import compat
from prospect_emu.trainingdata.generate import _model_description, generate
from prospect_emu.trainingdata.sampling import ParameterSpace, PriorSampler
from prospect_emu.trainingdata.trainingset import TrainingSet

DATA = Path(__file__).resolve().parents[1] / "data"
ALPHA = DATA / "alpha_like_params.py"
Q = (0.001, 0.999)


@pytest.fixture(scope="module")
def alpha():
    return load_param_file(ALPHA)


def _no_sps_env():
    env = {k: v for k, v in os.environ.items() if k != "SPS_HOME"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


# ---- every prior type, drawn from itself, truncated at the stated quantiles ----------------
def _truncated_cdf(prior, k, quantiles):
    """The CDF of element k of a Prospector prior truncated at ``quantiles`` on its unbounded
    sides, and the truncation points, from the prior's scipy distribution."""
    dist = prior.distribution
    args = [np.ravel(a)[k] if np.size(a) > 1 else np.ravel(a)[0] for a in prior.args]
    loc = np.ravel(prior.loc)[k] if np.size(prior.loc) > 1 else float(np.ravel(prior.loc)[0])
    scale = np.ravel(prior.scale)[k] if np.size(prior.scale) > 1 else float(np.ravel(prior.scale)[0])
    lo, hi = dist.ppf(0.0, *args, loc=loc, scale=scale), dist.ppf(1.0, *args, loc=loc, scale=scale)
    f_lo = quantiles[0] if not np.isfinite(lo) else 0.0
    f_hi = quantiles[1] if not np.isfinite(hi) else 1.0
    lo = dist.ppf(f_lo, *args, loc=loc, scale=scale)
    hi = dist.ppf(f_hi, *args, loc=loc, scale=scale)

    def cdf(x):
        return (dist.cdf(x, *args, loc=loc, scale=scale) - f_lo) / (f_hi - f_lo)
    return cdf, lo, hi


PRIOR_CASES = {
    "Normal": lambda: priors.Normal(mean=0.0, sigma=0.3),
    "StudentT": lambda: priors.StudentT(mean=-0.2, scale=0.4, df=2),
    "ClippedNormal": lambda: priors.ClippedNormal(mean=0.0, sigma=0.4, mini=-1.0, maxi=0.4),
    "LogNormal": lambda: priors.LogNormal(mode=-0.5, sigma=0.5),
    "Beta": lambda: priors.Beta(alpha=2.0, beta=5.0, mini=-1.0, maxi=0.4),
    "SkewNormal": lambda: priors.SkewNormal(location=0.0, sigma=0.3, skew=3.0),
    "LogUniform": lambda: priors.LogUniform(mini=0.05, maxi=2.0),
}


@pytest.mark.parametrize("case", sorted(PRIOR_CASES))
def test_every_prior_type_is_drawn_from_the_prior_truncated_at_quantiles(alpha, case):
    """The continuity template's Student-t ratios and a dust_index prior of each type: the
    draws follow Prospector's prior truncated at 0.1%-99.9% on its unbounded sides (KS test
    against the truncated CDF of the prior's own scipy distribution), and that box is what
    the training set records."""
    model = alpha.build_model()
    model.config_dict["dust_index"]["prior"] = PRIOR_CASES[case]()
    space = ParameterSpace(model)
    draws = PriorSampler().draw(space, model, 20000, np.random.default_rng(11))
    checked = 0
    for name, inds in model.theta_index.items():
        prior = model.config_dict[name]["prior"]
        for k, col in enumerate(range(inds.start, inds.stop)):
            cdf, lo, hi = _truncated_cdf(prior, k, Q)
            x = draws[:, col]
            assert np.all((x >= lo - 1e-9) & (x <= hi + 1e-9)), (space.names[col], lo, hi)
            np.testing.assert_allclose(space.bounds[col], [lo, hi], rtol=1e-9, atol=1e-12)
            assert stats.kstest(x, cdf).pvalue > 1e-4, (space.names[col], case)
            checked += 1
    assert checked == space.ndim
    cfg = space.config()["prior_truncation"]
    assert cfg["quantiles"] == list(Q)
    assert {"logsfr_ratios_1", "logsfr_ratios_4"} <= set(cfg["columns"])
    # configurable: a narrower truncation gives a narrower box
    narrow = ParameterSpace(model, quantiles=(0.01, 0.99))
    j = space.names.index("logsfr_ratios_1")
    assert narrow.bounds[j, 1] < space.bounds[j, 1]
    prior = model.config_dict["logsfr_ratios"]["prior"]
    assert narrow.bounds[j, 1] == pytest.approx(stats.t.ppf(0.99, 2, loc=0.0, scale=0.3))
    assert type(prior).__name__ == "StudentT"
    with pytest.raises(ConfigurationError, match="quantiles"):
        ParameterSpace(model, quantiles=(0.5, 0.2))


def test_beta_template_is_drawn_through_its_joint_prior(alpha):
    """Prospector's TemplateLibrary["beta"]: the joint NzSFH prior (zred 0-15, mass,
    metallicity, SFR ratios in one vector parameter) drawn through its own unit_transform."""
    model = alpha.build_model(beta=True)
    space = ParameterSpace(model)
    nz = model.theta_index["nzsfh"]
    prior = model.config_dict["nzsfh"]["prior"]
    zmin, zmax = prior.params["zred_mini"], prior.params["zred_maxi"]
    assert space.bounds[nz.start].tolist() == [zmin, zmax] and zmax == 15
    n = 40
    draws = PriorSampler().draw(space, model, n, np.random.default_rng(5))
    u = np.random.default_rng(5).uniform(size=(n, space.ndim))
    expected = np.array([prior.unit_transform(row[nz]) for row in u])
    np.testing.assert_allclose(draws[:, nz], expected, rtol=1e-12)
    assert np.all((draws >= space.bounds[:, 0]) & (draws <= space.bounds[:, 1]))


# ---- depends_on compared by content --------------------------------------------------------
def _fake_emulator(desc, model, created="t0"):
    return types.SimpleNamespace(meta={"training_set": {"config": {"model": desc}, "path": "x"},
                                       "created": created},
                                 input_names=model.theta_labels(), kind="photometry")


def _copy_edited(tmp_path, name, old, new):
    text = ALPHA.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return load_param_file(path)


def test_an_edited_depends_on_function_is_refused(alpha, tmp_path):
    train = alpha.build_model()
    desc = _model_description(train)
    assert desc["dust1"]["depends_on"]["name"].endswith("to_dust1")
    assert desc["mass"]["depends_on"]["name"] == "prospect.models.transforms.logsfr_ratios_to_masses"
    assert desc["logzsol"]["depends_on"] is None
    inputs = set(train.theta_index)
    # the same file (imported again): nothing to say
    same = load_param_file(ALPHA).build_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compat.check_training_model(same, _fake_emulator(desc, same), inputs)
    # a comment and layout change only: the same code, accepted
    moved = _copy_edited(tmp_path, "comment.py", "    return dust1_fraction * dust2",
                         "    # the birth-cloud dust\n    return (dust1_fraction\n            * dust2)")
    compat.check_training_model(moved.build_model(), _fake_emulator(desc, same), inputs)
    # the function edited to return half its value: refused, naming it
    half = _copy_edited(tmp_path, "half.py", "    return dust1_fraction * dust2",
                        "    return 0.5 * dust1_fraction * dust2")
    with pytest.raises(ConfigurationError, match=r"dust1 is computed by depends_on .*to_dust1.*differs"):
        compat.check_training_model(half.build_model(), _fake_emulator(desc, same), inputs)
    # Prospector's own transform swapped for another: refused
    other = alpha.build_model()
    other.config_dict["mass"]["depends_on"] = transforms.logsfr_ratios_to_masses_flex
    with pytest.raises(ConfigurationError, match=r"mass is computed by depends_on .*masses_flex"):
        compat.check_training_model(other, _fake_emulator(desc, other), inputs)


def test_an_old_description_without_fingerprints_is_said_once(alpha):
    model = alpha.build_model()
    desc = _model_description(model)
    old = {k: {kk: vv for kk, vv in v.items() if kk != "depends_on"} for k, v in desc.items()}
    emu = _fake_emulator(old, model, created="an old artifact")
    with pytest.warns(UserWarning, match=r"(?s)trained before.*dust1.*to_dust1"):
        compat.check_training_model(model, emu, set(model.theta_index))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compat.check_training_model(model, emu, set(model.theta_index))


# ---- the training box in the fit's prior ---------------------------------------------------
def _demo_with_normal_dust2(emu_meta_edit=None):
    """The demo model with a Normal dust2 prior whose 0.1%/99.9% quantiles are exactly the
    demo emulator's dust2 box [0, 2]."""
    from prospect_emu.prospector.twin import emulate

    demo = load_param_file(DEMO_EMULATOR.parent / "demo_params.py")
    model = demo.build_model()
    sigma = 1.0 / stats.norm.ppf(Q[1])
    model.config_dict["dust2"]["prior"] = priors.Normal(mean=1.0, sigma=sigma)
    emu = Emulator.load(DEMO_EMULATOR)
    if emu_meta_edit is not None:
        meta = copy.deepcopy(emu.meta)
        emu_meta_edit(meta)
        emu = Emulator(meta, dict(emu.weights))
    return demo, emulate(model, emu), sigma


def test_unit_cube_maps_into_the_prior_truncated_to_the_box():
    with pytest.warns(UserWarning, match=r"(?s)dust2: prior .*training box \[0, 2\].*truncated to the box"):
        demo, twin, sigma = _demo_with_normal_dust2()
    u = np.random.default_rng(2).uniform(size=(20000, twin.ndim))
    th = twin.prior_transform(u)
    d2 = th[:, twin.theta_index["dust2"]][:, 0]
    assert d2.min() >= 0.0 and d2.max() <= 2.0
    f0, f1 = stats.norm.cdf([0.0, 2.0], 1.0, sigma)

    def cdf(x):
        return (stats.norm.cdf(x, 1.0, sigma) - f0) / (f1 - f0)
    assert stats.kstest(d2, cdf).pvalue > 1e-4
    # every point a nested sampler starts from has a finite likelihood
    from prospect_emu.prospector.likelihood import lnprobfn

    obs = demo.build_obs()
    lnp = [lnprobfn(t, model=twin, obs=obs, nested=True) for t in th[:200]]
    assert np.all(np.isfinite(lnp))
    summary = twin.box_prior.summary()
    assert summary["truncated"]["dust2"]["box"] == [0.0, 2.0]
    assert summary["truncated"]["dust2"]["prior_mass_outside"] == pytest.approx(2e-3, rel=1e-6)


def test_the_training_sets_own_truncation_is_not_warned_about():
    def record(meta):
        meta["training_set"]["config"]["space"]["prior_truncation"] = {
            "quantiles": list(Q), "columns": {"dust2": list(Q)}}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, twin, _ = _demo_with_normal_dust2(record)
    assert "dust2" in twin.box_prior.summary()["truncated"]


# ---- SpecModel without SPS_HOME, results_from from another folder --------------------------
def test_import_then_build_model_without_sps_home():
    code = ("import prospect_emu\n"
            "from prospect_emu.paramfile import load_param_file\n"
            f"m = load_param_file({str(ALPHA)!r}).build_model()\n"
            "print('BUILT', type(m).__name__, type(m.emline_info).__name__)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_no_sps_env())
    assert r.returncode == 0, r.stderr[-2000:]
    assert "BUILT SpecModel OSError" in r.stdout


def test_results_from_finds_the_emulator_from_another_folder(param_file, tmp_path, monkeypatch):
    from prospect_emu.prospector.fitting import run_fit

    work = tmp_path / "work"
    shutil.copytree(DEMO_EMULATOR, work / "emu")
    monkeypatch.chdir(work)
    res = run_fit(param_file, ["--emcee", "--nwalkers", "16", "--niter", "20", "--nburn", "4",
                               "--outfile", "fit"], emulator="emu", emulator_error="none")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("from prospect.io.read_results import results_from\n"
            f"res, obs, model = results_from({str(res.hfile.resolve())!r})\n"
            "print('MODEL', type(model).__name__, res['run_params']['emulator'])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_no_sps_env(), cwd=elsewhere)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"MODEL EmulatedSpecModel {work / 'emu'}" in r.stdout
    from prospect_emu.prospector.fitting import artifact_hash

    with h5py.File(res.hfile, "r") as f:
        assert "emulator_hash" in str(f.attrs["prospect_emu"])
    assert res.run_params["emulator_hash"] == artifact_hash(work / "emu")
    # the emulator gone: model None, and a message that says why
    shutil.rmtree(work / "emu")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_no_sps_env(), cwd=elsewhere)
    assert "MODEL NoneType" in r.stdout
    assert "cannot rebuild the emulated model" in r.stderr and "was not found" in r.stderr


# ---- with FSPS: generation of these models -------------------------------------------------
def _colours(phot):
    return -2.5 * np.log10(phot[1:] / phot[0])


@pytest.mark.fsps
def test_a_free_zred_set_written_in_prospectors_order_is_not_resumed(sps_home, alpha, tmp_path):
    """A set written before derived parameters were ordered has rows whose masses came from
    the previous row's age bins: resuming it would mix those with correct rows."""
    from prospect_emu.trainingdata.trainingset import config_hash

    out = tmp_path / "old.h5"
    kw = dict(param_file=ALPHA, run_params={"free_zred": True, "nbins": 4}, workers=1,
              chunk_size=2, progress=False, seed=3)
    generate(out, 4, max_chunks=0, **kw)
    with h5py.File(out, "r+") as f:  # as an older prospect-emu wrote it
        config = json.loads(f.attrs["config"])
        assert config.pop("dependency_order") == ["agebins", "mass", "dust1"]
        f.attrs["config"] = json.dumps(config, sort_keys=True)
        f.attrs["config_hash"] = config_hash(config)
    with pytest.raises(ConfigurationError, match="mass from the previous row's agebins"):
        generate(out, 4, resume=True, **kw)
    rep = generate(out, 4, overwrite=True, max_chunks=0, **kw)
    assert rep.n_pending == 4


@pytest.mark.fsps
def test_free_zred_with_agebins_tied_to_it_generates(sps_home, alpha, tmp_path):
    """zred free, agebins by Prospector's zred_to_agebins (which fails on an array zred):
    every row computed; colours equal FSPS through Prospector with the age bins from
    zred_to_agebins at a scalar zred."""
    out = tmp_path / "free_zred.h5"
    rep = generate(out, 4, param_file=ALPHA, run_params={"free_zred": True, "nbins": 4},
                   workers=1, chunk_size=4, progress=False, seed=3)
    assert rep.n_ok == 4 and rep.n_failed == 0
    ts = TrainingSet(out)
    assert ts.config["model"]["agebins"]["depends_on"]["name"] == \
        "prospect.models.transforms.zred_to_agebins"
    # the expected photometry of row 0: a fixed-zred model with those age bins
    row = ts.params[0]
    names = list(ts.names)
    zred = float(row[names.index("zred")])
    model = alpha.build_model(zred=zred, nbins=4)
    bins = transforms.zred_to_agebins(zred=zred, agebins=model.params["agebins"])
    model.params["agebins"] = bins
    theta = np.array([row[names.index(lab)] for lab in model.theta_labels()])
    sps = alpha.build_sps()
    _, phot, _ = model.predict(theta, obs=alpha.build_obs(), sps=sps)
    np.testing.assert_allclose(_colours(ts.phot[0]), _colours(phot), atol=2e-4)


@pytest.mark.fsps
def test_beta_template_generates(sps_home, tmp_path):
    out = tmp_path / "beta.h5"
    rep = generate(out, 3, param_file=ALPHA, run_params={"beta": True}, workers=1, chunk_size=3,
                   progress=False, seed=1)
    assert rep.n_ok == 3 and rep.n_failed == 0
    ts = TrainingSet(out)
    assert np.all(np.isfinite(ts.phot)) and ts.params[:, list(ts.names).index("nzsfh_1")].max() > 4


@pytest.mark.fsps
def test_generation_stops_when_its_first_rows_all_fail(sps_home, tmp_path):
    path = tmp_path / "broken.py"
    path.write_text(ALPHA.read_text().replace(
        "    return dust1_fraction * dust2", "    raise ValueError('to_dust1 is broken')"))
    out = tmp_path / "broken.h5"
    with pytest.raises(ConfigurationError, match=r"(?s)first 50 rows all failed.*to_dust1 is "
                                                 r"broken.*logzsol=") as err:
        generate(out, 1000, param_file=path, workers=1, chunk_size=25, progress=False)
    assert "Row 0 failed" in str(err.value)
    ts = TrainingSet(out)
    assert ts.n_failed == 50 and ts.n_ok == 0  # two chunks computed, the rest never run
