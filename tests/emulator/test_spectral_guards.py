"""Training-time guards of the spectral kind on real FSPS training sets: IGM absorption
(the stored rest-frame spectrum depends on zred) is refused; nebular lines kept outside the
spectrum (nebemlineinspec off) are refused; lines inside it are warned about."""

from __future__ import annotations

import numpy as np
import pytest

from prospect_emu.errors import ConfigurationError

PARAM_TEXT = '''
from prospect.models import SpecModel
from prospect.models.templates import TemplateLibrary


def build_model(zred=0.5, **extras):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"]["init"] = zred
    params["logzsol"]["isfree"] = False
    params["logzsol"]["init"] = -0.3
    params.update(TemplateLibrary[{template!r}])
    {tweak}
    return SpecModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=zcontinuous)
'''
FILTERS = ["sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0"]
RANGES = {"zred": (0.0, 2.0), "tage": (0.5, 10.0), "tau": (0.3, 10.0)}


def _trainset(tmp_path, template: str, tweak: str = "", n: int = 60):
    from prospect_emu.trainingdata.generate import generate

    pf = tmp_path / f"{template}_params.py"
    pf.write_text(PARAM_TEXT.format(template=template, tweak=tweak))
    out = tmp_path / f"{template}.h5"
    generate(out, n, param_file=pf, ranges=RANGES, filters=FILTERS, workers=1, chunk_size=n,
             seed=3, store_spectrum=True, progress=False)
    return out


def _config():
    from prospect_emu.emulator.training import TrainConfig

    return TrainConfig(kind="spectrum", width=16, depth=1, epochs=2, patience=1, seed=1,
                       schedule=((1e-3, 32),), val_frac=0.2, test_frac=0.2)


def test_igm_absorption_refused_for_the_spectral_kind(sps_home, tmp_path):
    from prospect.sources import CSPSpecBasis

    from prospect_emu.emulator.training import train

    # what the guard rests on, with FSPS itself (Prospector passes zred to it): with IGM
    # absorption the rest-frame spectrum depends on zred, blueward of Lyman alpha only
    sps = CSPSpecBasis(zcontinuous=1)
    base = {"sfh": 4, "tage": 3.0, "tau": 1.0, "logzsol": -0.3, "dust2": 0.3, "mass": 1.0,
            "add_igm_absorption": True}
    w, s0, _ = sps.get_galaxy_spectrum(**base, zred=0.1)
    _, s2, _ = sps.get_galaxy_spectrum(**base, zred=2.0)
    blue = (w > 950) & (w < 1180)
    red = (w > 2000) & (w < 20000)
    assert np.median(s2[blue] / s0[blue]) < 0.9
    np.testing.assert_allclose(s2[red], s0[red], rtol=1e-6)

    data = _trainset(tmp_path, "igm")
    with pytest.raises(ConfigurationError, match=r"add_igm_absorption.*--kind photometry"):
        train(data, tmp_path / "emu", _config(), progress=False, keep_keras=False)
    assert not (tmp_path / "emu" / "emulator.json").exists()


def test_nebular_lines_outside_the_spectrum_refused(sps_home, tmp_path):
    from prospect_emu.emulator.training import train

    data = _trainset(tmp_path, "nebular", 'params["nebemlineinspec"]["init"] = False')
    with pytest.raises(ConfigurationError, match=r"add_neb_emission.*nebemlineinspec.*"
                                                 r"get_galaxy_elines"):
        train(data, tmp_path / "emu", _config(), progress=False, keep_keras=False)


def test_nebular_lines_inside_the_spectrum_warned(sps_home, tmp_path):
    from prospect_emu.emulator.training import train

    data = _trainset(tmp_path, "nebular")  # Prospector's template: nebemlineinspec True
    with pytest.warns(UserWarning, match=r"nebular emission lines.*narrow feature"):
        emu = train(data, tmp_path / "emu", _config(), progress=False, keep_keras=False)
    assert emu.kind == "spectrum"


TIED_TEXT = '''
from prospect.models import SpecModel, priors, transforms
from prospect.models.templates import TemplateLibrary


def build_model(zred=1.0, **extras):
    params = TemplateLibrary["parametric_sfh"]
    params["zred"].update(isfree=True, init=zred, prior=priors.TopHat(mini=0.5, maxi=2.5))
    params["logzsol"].update(isfree=False, init=-0.3)
    params["tage_tuniv"] = {"N": 1, "isfree": True, "init": 0.5,
                            "prior": priors.TopHat(mini=0.2, maxi=0.95)}
    params["tage"].update(isfree=False, depends_on=transforms.tage_from_tuniv)
    return SpecModel(params)


def build_sps(zcontinuous=1, **extras):
    from prospect.sources import CSPSpecBasis

    return CSPSpecBasis(zcontinuous=zcontinuous)
'''


def _fsps_colour(sps, zred: float, tage_tuniv: float, tau: float, dust2: float) -> float:
    """log10 of the rest-frame flux ratio 5000-6000 AA / 2500-3000 AA, from FSPS."""
    from prospect.models import transforms

    tage = transforms.tage_from_tuniv(zred=zred, tage_tuniv=tage_tuniv)
    w, s, _ = sps.get_galaxy_spectrum(sfh=4, tage=tage, tau=tau, logzsol=-0.3, dust2=dust2,
                                      mass=1.0, zred=zred)
    return _colour(w, s)


def _colour(w: np.ndarray, s: np.ndarray) -> float:
    red, blue = (w > 5000) & (w < 6000), (w > 2500) & (w < 3000)
    return float(np.log10(np.mean(s[red]) / np.mean(s[blue])))


def test_a_spectrum_that_follows_zred_through_depends_on_makes_zred_a_network_input(sps_home,
                                                                                     tmp_path):
    """tage = tage_tuniv x the age of the universe at zred: the stored rest-frame spectra
    change with zred, so the spectral kind must show the network zred (before, it dropped
    zred as 'exact' and learnt an average over redshift: one rest-frame spectrum for all)."""
    from prospect.sources import CSPSpecBasis

    from prospect_emu.emulator.training import TrainConfig, train
    from prospect_emu.trainingdata.generate import generate
    from prospect_emu.trainingdata.trainingset import TrainingSet

    pf = tmp_path / "tied_params.py"
    pf.write_text(TIED_TEXT)
    out = tmp_path / "tied.h5"
    generate(out, 400, param_file=pf, ranges={"tau": (0.3, 10.0), "dust2": (0.0, 1.0)},
             filters=FILTERS, workers=1, chunk_size=400, seed=3, store_spectrum=True,
             progress=False)
    assert TrainingSet(out).config["spectrum_depends_on"] == {"tage": ["zred"]}
    emu = train(out, tmp_path / "emu",
                TrainConfig(kind="spectrum", width=64, depth=2, epochs=60, patience=15, seed=1,
                            schedule=((2e-3, 32), (5e-4, 128))),
                progress=False, keep_keras=False)
    assert "zred" in emu.input_names and "tage_tuniv" in emu.input_names
    assert any("zred is also a network input" in line for line in emu.summary().splitlines())

    # the same galaxy (tage_tuniv 0.8) at zred 0.6 (tage 6.4 Gyr) and 2.4 (2.2 Gyr)
    sps = CSPSpecBasis(zcontinuous=1)
    theta = {"tage_tuniv": 0.8, "tau": 1.0, "dust2": 0.3}
    change = {}
    for who in ("fsps", "emulator"):
        c = []
        for z in (0.6, 2.4):
            if who == "fsps":
                c.append(_fsps_colour(sps, z, **theta))
            else:
                w, s, _ = emu.predict_spectrum({**theta, "zred": z})
                c.append(_colour(w, s))
        change[who] = c[0] - c[1]
    assert change["fsps"] > 0.3  # older at low zred: redder by a factor > 2 in this ratio
    assert 0.6 * change["fsps"] < change["emulator"] < 1.4 * change["fsps"], change


def test_tied_exact_columns_from_the_record_and_a_warning_without_it():
    from types import SimpleNamespace

    from prospect_emu.emulator.spectral_training import tied_exact_columns

    names = ["zred", "tage_tuniv", "tau"]
    recorded = SimpleNamespace(config={"spectrum_depends_on": {"tage": ["zred"]}, "model": {}})
    assert tied_exact_columns(recorded, names) == {"zred"}
    assert tied_exact_columns(recorded, ["tage_tuniv", "tau"]) == set()
    untied = SimpleNamespace(config={"model": {"tage": {"depends_on": {"name": "f"}}}})
    with pytest.warns(UserWarning, match="predates.*depends_on.*regenerate"):
        assert tied_exact_columns(untied, names) == set()
