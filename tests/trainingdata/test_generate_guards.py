"""Generation options that used to give silently wrong training sets: spectrum sharing with
parameters derived from zred, ranges on derived parameters, unknown block parameters, and
vector (per-bin) masses."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from prospect.models import ProspectorParams
from prospect.models import priors as pri
from prospect.models.templates import TemplateLibrary
from prospect.models.transforms import tage_from_tuniv

from prospect_emu.emulator.training import TrainConfig, prepare
from prospect_emu.errors import ConfigurationError
from prospect_emu.normalization import model_scaling
from prospect_emu.trainingdata.generate import generate
from prospect_emu.trainingdata.sampling import ParameterSpace, UniformSampler, share_spectra
from prospect_emu.trainingdata.seds import ModelSource, build_from_source, compute_rows
from prospect_emu.trainingdata.trainingset import TrainingSet
from tests.conftest import PARAM_FILE

TUNIV_FILE = '''
import numpy as np
from prospect.models import SpecModel, priors
from prospect.models.templates import TemplateLibrary
from prospect.models.transforms import tage_from_tuniv


def build_model(**extras):
    """Delayed tau, with the age a fraction of the age of the universe at zred."""
    p = TemplateLibrary["parametric_sfh"]
    p["zred"]["init"] = 0.5
    p["tage"].update(isfree=False, depends_on=tage_from_tuniv)
    p["tage_tuniv"] = dict(N=1, isfree=True, init=0.5, prior=priors.Uniform(mini=0.1, maxi=1.0))
    return SpecModel(p)


def build_sps(**extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=1)
'''

VECTOR_MASS_FILE = '''
import numpy as np
from prospect.models import SpecModel, priors
from prospect.models.templates import TemplateLibrary


def build_model(**extras):
    """A non-parametric SFH with the three bin masses free."""
    p = TemplateLibrary["continuity_sfh"]
    for name in ("logmass", "logsfr_ratios"):
        p.pop(name)
    p["mass"] = dict(N=3, isfree=True, init=np.full(3, 1e9), units="Msun",
                     prior=priors.LogUniform(mini=np.full(3, 1e7), maxi=np.full(3, 1e10)))
    p["zred"]["init"] = 0.3
    p["logzsol"]["prior"] = priors.TopHat(mini=-0.3, maxi=0.0)
    return SpecModel(p)


def build_sps(**extras):
    from prospect.sources import FastStepBasis

    return FastStepBasis(zcontinuous=1)
'''


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _tuniv_model(hidden: bool = False) -> ProspectorParams:
    p = TemplateLibrary["parametric_sfh"]
    if hidden:  # the dependence is visible only in the values, not in the signature
        def tage_fn(**params):
            return tage_from_tuniv(zred=params["zred"], tage_tuniv=params["tage_tuniv"])
    else:
        tage_fn = tage_from_tuniv
    p["tage"].update(isfree=False, depends_on=tage_fn)
    p["tage_tuniv"] = dict(N=1, isfree=True, init=0.5, prior=pri.Uniform(mini=0.1, maxi=1.0))
    return ProspectorParams(p)


def _predict_reference(model, sps, rows, ndim, extra, filters):
    """Prospector's own predict per row, scaled to per unit mass at 10 pc."""
    obs = {"filters": filters, "wavelength": None, "spectrum": None, "maggies": None}
    out = []
    for row in rows:
        for j, name in enumerate(extra):
            model.params[name] = np.atleast_1d(row[ndim + j])
        _, phot, _ = model.predict(row[:ndim], obs=obs, sps=sps)
        out.append(phot / model_scaling(model.params))
    return np.array(out)


# ---- parameters derived from zred ------------------------------------------------------

def test_share_spectrum_refused_when_tage_follows_zred(sps_home, tmp_path):
    pfile = _write(tmp_path, "tuniv_params.py", TUNIV_FILE)
    with pytest.raises(ConfigurationError, match=r"tage depends on zred.*--share-spectrum 1"):
        generate(tmp_path / "x.h5", 8, param_file=pfile, filters=["sdss_r0"], ranges={"zred": (0, 3)},
                 share_spectrum=4, workers=1, chunk_size=8, progress=False)
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("hidden", [False, True])
def test_derived_dependencies_by_signature_and_by_value(hidden):
    from prospect_emu.trainingdata.sampling import derived_dependencies

    model = _tuniv_model(hidden)
    space = ParameterSpace(model, {"zred": (0.0, 3.0)})
    before = {k: np.copy(v) for k, v in model.params.items()}
    assert derived_dependencies(model, space) == {"tage": ["zred"]}
    for k, v in before.items():  # the model is left as it was
        np.testing.assert_array_equal(model.params[k], v)
    # dependencies on spectrum parameters only, or a derived scalar mass, are fine
    p = TemplateLibrary["parametric_sfh"]
    p["dust1"] = dict(N=1, isfree=False, init=0.0, depends_on=lambda dust2=0, **kw: 0.5 * dust2)
    p["logmass"] = dict(N=1, isfree=True, init=10.0, prior=pri.Uniform(mini=8.0, maxi=12.0))
    p["mass"].update(isfree=False, depends_on=lambda logmass=10, **kw: 10 ** logmass)
    plain = ProspectorParams(p)
    assert derived_dependencies(plain, ParameterSpace(plain, {"zred": (0, 3)})) == {}


def test_range_on_a_derived_parameter_is_refused():
    model = _tuniv_model()
    with pytest.raises(ConfigurationError, match=r"--range tage.*depends_on.*tage_from_tuniv"):
        ParameterSpace(model, {"zred": (0, 3), "tage": (1.0, 5.0)})


def test_no_spectrum_reuse_when_a_derived_parameter_changed(sps_home, tmp_path):
    """Rows differing only in zred: tage (= fraction of the age of the universe at zred)
    differs, so each row needs its own spectrum."""
    pfile = _write(tmp_path, "tuniv_params.py", TUNIV_FILE)
    _, model, sps = build_from_source(ModelSource(str(pfile), {}))
    space = ParameterSpace(model, {"zred": (0.0, 3.0)})
    assert space.names == ["mass", "logzsol", "dust2", "tau", "tage_tuniv", "zred"]
    base = np.array([1e10, -0.2, 0.3, 2.0, 0.6, 0.0])
    rows = np.repeat(base[None], 4, axis=0)
    rows[:, -1] = [0.2, 0.2, 1.0, 2.5]
    rows[1, 0] = 3e9  # mass alone changes: the spectrum may be reused
    from sedpy.observate import load_filters

    filters = load_filters(["sdss_u0", "sdss_r0", "twomass_Ks"])
    got = compute_rows(model, sps, rows, space.names, space.ndim, filters)
    assert not got["errors"]
    ref = _predict_reference(model, sps, rows, space.ndim, space.extra, filters)
    np.testing.assert_allclose(got["phot"], ref, rtol=1e-8)


# ---- vector (per-bin) mass -------------------------------------------------------------

def _vector_mass_model() -> ProspectorParams:
    p = TemplateLibrary["continuity_sfh"]
    for name in ("logmass", "logsfr_ratios"):
        p.pop(name)
    p["mass"] = dict(N=3, isfree=True, init=np.full(3, 1e9),
                     prior=pri.LogUniform(mini=np.full(3, 1e7), maxi=np.full(3, 1e10)))
    return ProspectorParams(p)


def test_share_spectra_shares_every_bin_mass():
    model = _vector_mass_model()
    space = ParameterSpace(model, {"zred": (0, 3)})
    assert space.names[:3] == ["mass_1", "mass_2", "mass_3"]
    draws = UniformSampler().draw(space, model, 40, np.random.default_rng(0))
    groups = share_spectra(draws, space, 4).reshape(10, 4, -1)
    z = space.names.index("zred")
    others = [j for j in range(len(space.names)) if j != z]
    assert np.all(groups[:, :, others] == groups[:, :1, others])  # bin masses set the spectrum
    assert np.all(np.ptp(groups[:, :, z], axis=1) > 0)


def test_vector_mass_ratios_are_spectrum_inputs(sps_home, tmp_path):
    pfile = _write(tmp_path, "vector_mass_params.py", VECTOR_MASS_FILE)
    _, model, sps = build_from_source(ModelSource(str(pfile), {}))
    space = ParameterSpace(model)
    assert space.names == ["mass_1", "mass_2", "mass_3", "logzsol", "dust2"]
    rows = np.array([[1e9, 1e9, 1e9, -0.1, 0.3],
                     [1e8, 1e9, 5e9, -0.1, 0.3],     # other ratios: another spectrum
                     [2e8, 2e9, 1e10, -0.1, 0.3]])   # same ratios, twice the mass: same spectrum
    from sedpy.observate import load_filters

    filters = load_filters(["galex_NUV", "sdss_r0"])
    got = compute_rows(model, sps, rows, space.names, space.ndim, filters)
    assert not got["errors"]
    ref = _predict_reference(model, sps, rows, space.ndim, space.extra, filters)
    assert abs(np.log10(ref[1, 0] / ref[0, 0])) > 0.1  # the ratios do change the colours
    np.testing.assert_allclose(got["phot"], ref, rtol=1e-8)


def test_training_on_a_vector_mass_is_refused(sps_home, tmp_path):
    pfile = _write(tmp_path, "vector_mass_params.py", VECTOR_MASS_FILE)
    out = tmp_path / "vm.h5"
    generate(out, 4000, param_file=pfile, filters=["sdss_r0"], workers=1, max_chunks=0,
             chunk_size=1000, progress=False)
    data = TrainingSet(out)
    data.status[:] = 1  # the refusal is about the columns, not the (uncomputed) photometry
    data.phot[:] = 1e-9
    data.mfrac[:] = 0.6
    with pytest.raises(ConfigurationError, match=r"vector mass \(mass_1, mass_2, mass_3.*logmass"):
        prepare(data, TrainConfig())


# ---- block parameter -------------------------------------------------------------------

def test_unknown_block_param_is_an_error_but_the_default_turns_off(sps_home, tmp_path):
    kw = dict(param_file=PARAM_FILE, filters=["sdss_r0"], workers=1, max_chunks=0, progress=False)
    with pytest.raises(ConfigurationError, match=r"--block-param 'dust3' is not a sampled.*"
                       r"mass, logzsol, dust2, tage, tau"):
        generate(tmp_path / "a.h5", 40, block_param="dust3", **kw)
    fixed = dict(kw, run_params={"fixed_metallicity": -0.3})
    with pytest.raises(ConfigurationError, match=r"--block-param 'logzsol' is not a sampled"):
        generate(tmp_path / "b.h5", 40, block_param="logzsol", **fixed)
    generate(tmp_path / "c.h5", 40, **fixed)  # the default: no blocks, silently
    assert TrainingSet(tmp_path / "c.h5").config["block_param"] is None
    generate(tmp_path / "d.h5", 40, **kw)
    d = TrainingSet(tmp_path / "d.h5")
    assert d.config["block_param"] == "logzsol" and len(np.unique(d.column("logzsol"))) == 2
    res = subprocess.run([sys.executable, "-m", "prospect_emu.cli", "generate", str(PARAM_FILE),
                          "--out", str(tmp_path / "e.h5"), "--n", "4", "--filters", "sdss_r0",
                          "--block-param", "dust3", "--workers", "1", "--quiet"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "'dust3' is not a sampled parameter" in res.stderr, res.stderr
    assert not (tmp_path / "e.h5").exists()
