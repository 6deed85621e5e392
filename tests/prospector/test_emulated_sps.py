"""The emulated sps object in Prospector's own models, against real FSPS; photometry in
untrained filters at any redshift."""

from __future__ import annotations

import numpy as np
import pytest

from prospect_emu.errors import ConfigurationError
from tests.spectral_fixtures import RANGES, build_spectral_emulator, fsps_truth


@pytest.fixture(scope="session")
def spectral_emulator(sps_home, tmp_path_factory):
    return build_spectral_emulator(tmp_path_factory)

NEW_FILTERS = ["jwst_f200w", "wfc3_ir_f160w", "jwst_f444w"]


def _draws(n: int, seed: int) -> list[dict[str, float]]:
    """Held-out parameters from the training distribution (not the training seed)."""
    rng = np.random.default_rng(seed)
    return [{"logzsol": rng.uniform(*RANGES["logzsol"]), "dust2": rng.uniform(0, 2),
             "tage": rng.uniform(*RANGES["tage"]),
             "tau": float(np.exp(rng.uniform(*np.log(RANGES["tau"]))))} for _ in range(n)]


@pytest.fixture(scope="module")
def emu(spectral_emulator):
    from prospect_emu.emulator.artifact import Emulator

    return Emulator.load(spectral_emulator)


def _set(model, draw, zred):
    for k, v in draw.items():
        model.params[k] = np.atleast_1d(float(v))
    model.params["zred"] = np.atleast_1d(float(zred))
    return model.theta.copy()


def test_galaxy_spectrum_against_fsps(emu):
    from prospect_emu.prospector.sps import EmulatedSPS

    model, fsps_sps = fsps_truth()
    esps = EmulatedSPS(emu)
    errs, dmf = [], []
    for draw in _draws(30, seed=99):
        params = dict(model.params, **{k: np.atleast_1d(v) for k, v in draw.items()})
        w_true, s_true, mf_true = fsps_sps.get_galaxy_spectrum(**params)
        w, s, mf = esps.get_galaxy_spectrum(**params)
        i0 = np.searchsorted(w_true, w[0] * (1 - 1e-6))
        np.testing.assert_allclose(w, w_true[i0:i0 + len(w)], rtol=1e-6)
        band = (w >= 1000) & (w <= 25000)
        errs.append(np.abs(s[band] / s_true[i0:i0 + len(w)][band] - 1))
        dmf.append(abs(np.log10(mf / mf_true)))
    errs = np.array(errs)
    # a small emulator (2000 spectra, a minute of training) gives a median of ~1-2%;
    # a broken one (wrong input order or scaling, untrained network) gives tens of %
    assert np.median(errs) < 0.04, np.median(errs)
    assert np.quantile(errs, 0.9) < 0.25, np.quantile(errs, 0.9)
    assert np.max(dmf) < 0.01


def test_prospector_models_project_as_the_direct_path(emu):
    from prospect.models import PolySpecModel, SedModel, SpecModel
    from prospect.models.templates import TemplateLibrary
    from sedpy.observate import load_filters

    from prospect_emu.normalization import model_scaling
    from prospect_emu.prospector.sps import EmulatedSPS

    esps = EmulatedSPS(emu)
    filters = load_filters(["sdss_r0", "galex_NUV"] + NEW_FILTERS)
    obs = {"filters": filters, "wavelength": None, "spectrum": None, "maggies": None}
    for cls in (SpecModel, PolySpecModel, SedModel):
        params = TemplateLibrary["parametric_sfh"]
        if cls is PolySpecModel:
            params.update(TemplateLibrary["optimize_speccal"])
        model = cls(params)
        for zred, draw in zip((0.3, 1.1, 2.7), _draws(3, seed=5)):
            theta = _set(model, draw, zred)
            _, phot, mfrac = model.predict(theta, obs=obs, sps=esps)
            direct, mf = emu.photometry(esps.inputs(model.params), emu.photometry_plan(filters, zred))
            np.testing.assert_allclose(phot, direct * model_scaling(model.params), rtol=1e-10)
            assert mfrac == pytest.approx(mf, rel=1e-12)


def test_untrained_filters_at_high_redshift_against_fsps(emu):
    from sedpy.observate import load_filters

    from prospect_emu.normalization import model_scaling

    model, fsps_sps = fsps_truth()
    filters = load_filters(NEW_FILTERS)
    obs = {"filters": filters, "wavelength": None, "spectrum": None, "maggies": None}
    dm = []
    for zred, draw in zip(np.linspace(0.5, 3.0, 24), _draws(24, seed=31)):
        theta = _set(model, draw, zred)
        _, phot_true, _ = model.predict(theta, obs=obs, sps=fsps_sps)
        x = np.array([model.params[n][0] for n in emu.input_names])
        phot, _ = emu.predict_photometry(x, filters, zred)
        dm.append(-2.5 * np.log10(phot * model_scaling(model.params) / phot_true))
    dm = np.abs(np.array(dm))
    # small test emulator: median ~0.02 mag; an untrained or misprojected one: >> 0.1 mag
    assert np.median(dm) < 0.05, np.median(dm, axis=0)
    assert np.quantile(dm, 0.9) < 0.25, np.quantile(dm, 0.9, axis=0)


def test_bands_outside_the_emulated_range_and_bounds(emu):
    from prospect.models import SpecModel
    from prospect.models.templates import TemplateLibrary
    from sedpy.observate import load_filters

    from prospect_emu.prospector.sps import EmulatedSPS

    with pytest.raises(ConfigurationError, match=r"spitzer_mips_24 .*zred 0.5.*outside the emulated"):
        emu.photometry_plan(load_filters(["sdss_r0", "spitzer_mips_24"]), 0.5)
    with pytest.raises(ConfigurationError, match=r"galex_FUV .*zred 6"):
        emu.photometry_plan(load_filters(["galex_FUV"]), 6.0)
    model = SpecModel(TemplateLibrary["parametric_sfh"])
    theta = _set(model, {"logzsol": 0.0, "dust2": 0.5, "tage": 12.0, "tau": 1.0}, 1.0)
    with pytest.raises(ValueError, match="tage"):
        model.predict(theta, obs={"filters": None, "spectrum": None}, sps=EmulatedSPS(emu))
    with pytest.raises(ConfigurationError, match="spectral emulator"):
        from prospect_emu.emulator.artifact import Emulator
        from tests.emulator.test_spectral import DEMO

        EmulatedSPS(Emulator.load(DEMO))
