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
