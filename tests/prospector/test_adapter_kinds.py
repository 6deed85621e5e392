"""The Prospector adapter's kinds (issue 22 item c): ``EmulatedSpecModel`` holds a kind
object found by the emulator's kind name in :data:`prospect_emu.prospector.kinds.REGISTRY`
and never tests which kind it holds.  Runs on the bundled artifacts (no FSPS)."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from prospect_emu.emulator import kinds as emulator_kinds
from prospect_emu.emulator.artifact import Emulator
from prospect_emu.errors import ConfigurationError
from prospect_emu.prospector.kinds import REGISTRY, PhotometricKind, kind_for
from prospect_emu.prospector.model_spectral import SpectralKind


def _twin(emulator):
    from prospect_emu.demo import DEMO_PARAMS
    from prospect_emu.paramfile import load_param_file
    from prospect_emu.prospector.twin import emulate

    model = load_param_file(DEMO_PARAMS).build_model(zred=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a prior truncated to the training box, if any
        return emulate(model, emulator, error="none")


def test_every_emulator_kind_has_an_adapter_kind():
    assert tuple(REGISTRY) == emulator_kinds.names()
    for name, cls in REGISTRY.items():
        assert cls.name == name


@pytest.mark.parametrize("artifact, expected", [("DEMO_EMULATOR", PhotometricKind),
                                                ("DEMO_SPECTRAL_EMULATOR", SpectralKind)])
def test_each_bundled_emulator_finds_its_kind(artifact, expected):
    from prospect_emu import demo
    from prospect_emu.prospector.sps import EmulatedSPS

    emu = Emulator.load(getattr(demo, artifact))
    assert type(kind_for(emu)) is expected is REGISTRY[emu.kind]
    twin = _twin(emu)
    assert type(twin.kind) is expected
    if expected is SpectralKind:
        assert isinstance(twin.kind.sps, EmulatedSPS) and twin.kind.sps.emulator is emu
        assert "igm_factor" in twin.kind.fast_network_options(twin)
    else:
        assert twin.kind.fast_network_options(twin) == {}


def test_an_unknown_kind_is_a_clear_error(demo_emulator):
    with pytest.raises(ConfigurationError, match=r"knows no emulator kind 'ensemble' \(known "
                                                 r"kinds: photometry, spectrum\)"):
        kind_for(SimpleNamespace(kind="ensemble"))
    emu = Emulator.load(demo_emulator)
    emu.kind = "ensemble"  # as an artifact of a kind the adapter has no class for
    with pytest.raises(ConfigurationError, match="knows no emulator kind 'ensemble'"):
        _twin(emu)


def test_a_new_kind_is_one_registry_entry(demo_emulator, monkeypatch):
    class ToyKind(PhotometricKind):
        name = "toy"

    monkeypatch.setitem(REGISTRY, "toy", ToyKind)
    from sedpy.observate import load_filters

    emu = Emulator.load(demo_emulator)
    ref = _twin(emu)
    toy_emu = Emulator.load(demo_emulator)
    toy_emu.kind = "toy"
    toy = _twin(toy_emu)
    assert type(toy.kind) is ToyKind
    obs = {"filters": load_filters(["sdss_g0", "sdss_r0"]), "spectrum": None}
    _, phot, mfrac = toy.predict(toy.theta.copy(), obs=obs)
    _, ref_phot, ref_mfrac = ref.predict(ref.theta.copy(), obs=obs)
    np.testing.assert_array_equal(phot, ref_phot)
    assert mfrac == ref_mfrac
