"""The spectral kind for the Prospector-alpha family (issue 23, item 4): FSPS's IGM
absorption applied after redshifting (against python-fsps itself and against Prospector's
FSPS photometry), the far-IR in the default stored rest-frame range of a model with dust
emission or an AGN torus, and ``validate`` of a fixed-zred spectral emulator at its own
redshift, a wide zred range leaving out only the bands it cannot project.  Expected values
come from FSPS (python-fsps, or Prospector's ``SpecModel.predict`` on ``CSPSpecBasis``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FLOAT32_RTOL

DEMO_PARAMS = Path(__file__).resolve().parents[2] / "prospect_emu" / "data" / "demo_params.py"
IGM_BANDS = ["galex_NUV", "sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0"]


def _demo_models(zred: float, igm_factor: float):
    """The demo model at ``zred`` without IGM, and the same with FSPS's IGM absorption (the
    switch set off explicitly in the first: Prospector's sps objects keep a parameter they
    were once given, so a model that lacks it would inherit the other's)."""
    from prospect.models import SpecModel

    from prospect_emu.paramfile import load_param_file

    base = load_param_file(DEMO_PARAMS).build_model(zred=zred).config_list

    def switch(on):
        return [{"name": "add_igm_absorption", "N": 1, "isfree": False, "init": on},
                {"name": "igm_factor", "N": 1, "isfree": False, "init": igm_factor}]
    return SpecModel(base + switch(False)), SpecModel(base + switch(True))


@pytest.fixture(scope="module")
def csp(sps_home):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=1)


# ---- the transmission against python-fsps ---------------------------------------------------
@pytest.mark.parametrize("igm_factor", [1.0, 2.0])
def test_igm_transmission_is_fsps(sps_home, igm_factor):
    import fsps

    from prospect_emu.emulator.igm import igm_transmission

    sp = fsps.StellarPopulation(zcontinuous=1, sfh=4, tau=1.0, logzsol=-0.3)
    for zred in (0.5, 1.5, 3.0, 4.5, 6.0):
        sp.params["zred"] = zred
        sp.params["add_igm_absorption"] = False
        wave, plain = sp.get_spectrum(tage=2.0)
        sp.params["add_igm_absorption"] = True
        sp.params["igm_factor"] = igm_factor
        _, absorbed = sp.get_spectrum(tage=2.0)
        truth = absorbed / plain
        got = igm_transmission(wave * (1 + zred), zred, igm_factor)
        assert truth.min() < 0.9  # the IGM really acts at this redshift
        np.testing.assert_allclose(got, truth, rtol=1e-4, atol=1e-12)
        np.testing.assert_array_equal(got[wave > 1215.67], 1.0)
    # FSPS applies none at zred 0
    assert np.all(igm_transmission(wave, 0.0, 1.0) == 1.0)


# ---- the projection and the emulated model against Prospector's FSPS photometry -------------
@pytest.mark.parametrize("zred,igm_factor", [(0.5, 1.0), (3.0, 1.0), (3.0, 2.0), (4.5, 1.0)])
def test_projection_with_igm_is_prospectors_fsps_photometry(csp, zred, igm_factor):
    from sedpy.observate import load_filters

    from prospect_emu.emulator.projection import projection_matrix

    filters = load_filters(IGM_BANDS)
    obs = {"filters": filters, "wavelength": None, "spectrum": None}
    plain, absorbed = _demo_models(zred, igm_factor)
    theta = plain.theta.copy()
    _, p_plain, _ = plain.predict(theta, obs=obs, sps=csp)
    wave, spec = plain._wave.copy(), plain._spec.copy()  # FSPS's rest frame, no IGM
    _, p_igm, _ = absorbed.predict(theta, obs=obs, sps=csp)
    if zred > 1:
        assert np.min(p_igm / p_plain) < 0.7
    proj_plain = projection_matrix(wave, filters, zred)
    proj_igm = projection_matrix(wave, filters, zred, igm_factor=igm_factor)
    ours_plain = spec[proj_plain.lo:proj_plain.hi] @ proj_plain.matrix
    ours_igm = spec[proj_igm.lo:proj_igm.hi] @ proj_igm.matrix
    np.testing.assert_allclose(ours_igm / ours_plain, p_igm / p_plain, rtol=1e-4)
    # the same absolute scale in every band (mass times distance): the plain projection is sedpy's
    scale = p_plain / ours_plain
    np.testing.assert_allclose(scale, scale[0], rtol=1e-5)


@pytest.mark.parametrize("zred,igm_factor", [(3.0, 1.0), (4.0, 2.0)])
def test_emulated_model_with_igm_follows_fsps(csp, zred, igm_factor):
    from sedpy.observate import load_filters

    from prospect_emu import demo
    from prospect_emu.prospector.likelihood import fast_plan, lnprobfn
    from prospect_emu.prospector.twin import emulate

    filters = load_filters(IGM_BANDS)
    obs = {"filters": filters, "wavelength": None, "spectrum": None}
    plain, absorbed = _demo_models(zred, igm_factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin_plain = emulate(plain, demo.DEMO_SPECTRAL_EMULATOR, error="none")
        twin_igm = emulate(absorbed, demo.DEMO_SPECTRAL_EMULATOR, error="none")
    rng = np.random.default_rng(23)
    ti = plain.theta_index
    for _ in range(3):
        theta = plain.theta.copy()
        theta[ti["dust2"]] = rng.uniform(0.1, 1.0)
        theta[ti["tage"]] = rng.uniform(0.3, 1.5)  # the universe is young at these zred
        theta[ti["logzsol"]] = rng.uniform(-1.0, 0.1)
        _, f_plain, _ = plain.predict(theta, obs=obs, sps=csp)
        _, f_igm, _ = absorbed.predict(theta, obs=obs, sps=csp)
        _, e_plain, _ = twin_plain.predict(theta, obs)
        _, e_igm, _ = twin_igm.predict(theta, obs)
        truth = f_igm / f_plain
        assert truth.min() < 0.6
        # the IGM's effect per band, emulated against FSPS (the emulator's own spectral error
        # largely cancels in the ratio); FSPS-made photometry itself to the emulator's accuracy
        np.testing.assert_allclose(e_igm / e_plain, truth, rtol=0.02)
        keep = truth > 0.05
        np.testing.assert_allclose(e_igm[keep], f_igm[keep], rtol=0.15)
        # an observed spectrum takes Prospector's route through the emulated sps: the same IGM
        lo, hi = 1000.0 * (1 + zred), 2500.0 * (1 + zred)
        sobs = {"filters": filters, "wavelength": np.linspace(lo, hi, 400),
                "spectrum": np.ones(400), "unc": np.ones(400), "mask": np.ones(400, dtype=bool)}
        s_plain, sp_plain, _ = twin_plain.predict(theta, sobs)
        s_igm, sp_igm, _ = twin_igm.predict(theta, sobs)
        fs_plain, _, _ = plain.predict(theta, obs=sobs, sps=csp)
        fs_igm, _, _ = absorbed.predict(theta, obs=sobs, sps=csp)
        np.testing.assert_allclose(s_igm / s_plain, fs_igm / fs_plain, rtol=0.02, atol=1e-3)
        # (photometry only runs the folded float32 network: float32 rounding apart)
        np.testing.assert_allclose(sp_igm, e_igm, rtol=FLOAT32_RTOL)
    # the likelihood's fast path (fixed zred and igm_factor) projects with the IGM too
    pobs = {"filters": filters, "maggies": f_igm, "maggies_unc": 0.05 * f_igm,
            "phot_mask": np.ones(len(filters), dtype=bool), "wavelength": None, "spectrum": None}
    assert fast_plan(twin_igm, pobs) is not None
    resid = (e_igm - f_igm) / pobs["maggies_unc"]
    expected = -0.5 * np.sum(resid ** 2 + np.log(2 * np.pi * pobs["maggies_unc"] ** 2))
    expected += twin_igm.prior_product(theta)
    assert lnprobfn(theta, model=twin_igm, obs=pobs) == pytest.approx(expected, rel=1e-4, abs=1e-3)


# ---- the far-IR in the stored rest frame -----------------------------------------------------
FAR_IR_PARAMS = '''
from prospect.models import SpecModel
from prospect.models.templates import TemplateLibrary


def build_model(zred=0.5, **extras):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = zred
    {extra}
    return SpecModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=zcontinuous)
'''


@pytest.mark.parametrize("extra,far_ir", [
    ('params.update(TemplateLibrary["dust_emission"])', True),
    ('params.update(TemplateLibrary["agn"])', True),
    ("pass", False)])
def test_default_stored_range_reaches_the_far_ir_with_dust_emission(sps_home, tmp_path,
                                                                     extra, far_ir):
    from prospect_emu.trainingdata.generate import generate
    from prospect_emu.trainingdata.trainingset import TrainingSet

    pf = tmp_path / "params.py"
    pf.write_text(FAR_IR_PARAMS.format(extra=extra))
    out = tmp_path / "spectra.h5"
    generate(out, 4, param_file=pf, filters=["sdss_r0", "wise_w2"], workers=1, chunk_size=4,
             seed=1, store_spectrum=True, progress=False)
    data = TrainingSet(out, with_spectrum=True)
    wave = np.asarray(data.wavelength)
    if far_ir:
        assert wave[-1] >= 1e7 * 0.99  # 1000 um rest
        assert np.all(np.isfinite(data.spectrum)) and np.all(data.spectrum > 0)
    else:
        assert wave[-1] < 1e5  # what the filters need: WISE W2 at zred 0.5, plus 10%


# ---- validate at the emulator's own fixed zred ------------------------------------------------
def _demo_test_set(tmp_path, name: str, filters, ranges=None, n: int = 40):
    from prospect_emu.trainingdata.generate import generate

    out = tmp_path / f"{name}.h5"
    generate(out, n, param_file=DEMO_PARAMS, filters=filters, workers=1, chunk_size=n,
             seed=77, progress=False, ranges=ranges)
    return out


def test_validate_a_fixed_zred_spectral_emulator_at_its_own_zred(sps_home, tmp_path):
    from prospect_emu import demo
    from prospect_emu.analysis.validate import validate

    bands = ["sdss_g0", "sdss_r0", "twomass_J"]
    test = _demo_test_set(tmp_path, "fixed", bands)  # demo model: zred fixed at 0.8
    out = validate([demo.DEMO_SPECTRAL_EMULATOR], test, plots=False)
    rep = out["emulators"][0]
    assert rep["bands"] == bands and rep["n_used"] >= 30
    assert rep["bands_left_out"] == {}
    # projected at zred 0.8: the demo emulator's accuracy (at another zred, magnitudes off)
    for b in bands:
        assert rep["per_output"][b]["p95_abs"] < 0.1


def test_validate_wide_zred_leaves_out_only_bands_outside_the_rest_frame(sps_home, tmp_path):
    from prospect_emu import demo
    from prospect_emu.analysis.validate import validate
    from prospect_emu.emulator.artifact import Emulator

    emu = Emulator.load(demo.DEMO_SPECTRAL_EMULATOR)
    test = _demo_test_set(tmp_path, "wide", ["sdss_r0", "twomass_J", "wise_w3"],
                          ranges={"zred": (0.0, 2.5)})
    with pytest.warns(UserWarning, match=r"band wise_w3 .*usable at zred 2\.\d+-"):
        out = validate([emu], test, plots=False)
    rep = out["emulators"][0]
    assert rep["bands"] == ["sdss_r0", "twomass_J"]
    left = rep["bands_left_out"]["wise_w3"]
    # W3 transmits to ~26 um observed: inside the 6.5 um rest frame from zred ~ 2.06
    import sedpy.observate

    w3 = sedpy.observate.load_filters(["wise_w3"])[0]
    red_end = w3.wavelength[np.flatnonzero(w3.transmission > 0)[-1]]
    assert left["usable_zred"][0] == pytest.approx(red_end / emu.wavelength[-1] - 1, abs=0.02)
    assert 0 < left["n_rows_outside"] < 40
    for b in rep["bands"]:
        assert rep["per_output"][b]["p95_abs"] < 0.15


IGM_DEMO_PARAMS = '''
from prospect.models import SpecModel
from prospect.models.templates import TemplateLibrary


def build_model(zred=0.8, **extras):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = float(zred)
    params["mass"]["prior"].params.update(mini=1e8, maxi=1e12)
    params.update(TemplateLibrary["igm"])
    params["igm_factor"]["init"] = 1.5
    return SpecModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=zcontinuous)
'''


def test_validate_applies_the_igm_of_the_test_sets_model(sps_home, tmp_path):
    from prospect_emu import demo
    from prospect_emu.analysis.validate import validate
    from prospect_emu.trainingdata.generate import generate

    pf = tmp_path / "igm_params.py"
    pf.write_text(IGM_DEMO_PARAMS)
    test = tmp_path / "igm.h5"
    bands = ["sdss_u0", "sdss_g0", "sdss_i0"]
    generate(test, 40, param_file=pf, filters=bands, workers=1, chunk_size=40, seed=78,
             progress=False, ranges={"zred": (2.5, 3.5)})
    rep = validate([demo.DEMO_SPECTRAL_EMULATOR], test, plots=False)["emulators"][0]
    # FSPS absorbed u by about a magnitude and more here (igm_factor 1.5): the emulated bands
    # agree only with the IGM applied
    for b in bands:
        assert rep["per_output"][b]["p95_abs"] < 0.1
