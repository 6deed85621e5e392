"""Damaged artifacts, NaN and mixed inputs, and parameter files that return nothing:
each is a clear ConfigurationError (or a flag), never a fit that silently returns the
prior.  All on the bundled demo emulator: no FSPS needed."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import prospect_emu
from prospect_emu.cli import main
from prospect_emu.emulator.artifact import Emulator
from prospect_emu.errors import ConfigurationError

DEMO = Path(prospect_emu.__file__).parent / "data" / "demo_emulator"
DEMO_PARAMS = Path(prospect_emu.__file__).parent / "data" / "demo_params.py"
X = np.array([[-0.5, 0.3, 2.0, 1.0, 0.8], [0.0, 1.0, 5.0, 3.0, 1.5], [-1.0, 0.1, 1.0, 0.5, 0.2]])


def damaged_copy(tmp_path, change_weights=None, change_meta=None) -> Path:
    out = tmp_path / "emu"
    shutil.copytree(DEMO, out)
    if change_weights:
        with np.load(out / "weights.npz") as npz:
            w = {k: npz[k] for k in npz.files}
        change_weights(w)
        np.savez(out / "weights.npz", **w)
    if change_meta:
        meta = json.loads((out / "emulator.json").read_text())
        change_meta(meta)
        (out / "emulator.json").write_text(json.dumps(meta))
    return out


@pytest.mark.parametrize("change, match", [
    (lambda w: w.update(W4=w["W4"][:100]), r"layer 4 \(dense\).*'W4'.*\(100, 128\).*width is 128"),
    (lambda w: w.update(b2=w["b2"][:127]), r"layer 2 \(dense\).*'b2'.*\(127,\)"),
    # the demo emulator's network has 6 inputs: 5 parameters and the tage/tau ratio
    (lambda w: w.update(W0=np.vstack([w["W0"], w["W0"][:1]])), r"layer 0 \(dense\).*\(7, 128\).*width is 6"),
    (lambda w: w.update(alpha3=w["alpha3"][:64]), r"layer 3 \(alsing\).*'alpha3'.*\(64,\)"),
    (lambda w: w.update(W8=w["W8"][:, :15], b8=w["b8"][:15]), r"last layer has 15 outputs, expected 16"),
], ids=["hidden-W", "hidden-b", "input-width", "activation", "output-width"])
def test_mismatched_weights_fail_at_load_naming_layer_and_shapes(tmp_path, change, match):
    path = damaged_copy(tmp_path, change_weights=change)
    with pytest.raises(ConfigurationError, match=match):
        Emulator.load(path)


def test_missing_activation_weights_fail_at_load(tmp_path):
    path = damaged_copy(tmp_path, change_weights=lambda w: w.pop("beta5"))
    with pytest.raises(ConfigurationError, match=r"lacks \['beta5'\] \(layer 5, alsing\)"):
        Emulator.load(path)


def test_nan_inputs_are_out_of_bounds_in_batch_predict():
    emu = Emulator.load(DEMO)
    x = X.copy()
    x[1, 2] = np.nan
    pred = emu.predict(x)
    assert pred.out_of_bounds[1, 2] and pred.out_of_bounds.sum() == 1
    with pytest.raises(ValueError, match="tage"):
        emu.predict(x, strict=True)
    with pytest.raises(ValueError):  # the one-vector hot path agrees
        emu.predict_one(x[1])


def test_mapping_inputs_mixing_scalars_and_arrays_broadcast():
    emu = Emulator.load(DEMO)
    x = X.copy()
    x[:, 4] = 0.8  # zred the same for every row
    x[:, 1] = 0.3
    mixed = {"logzsol": x[:, 0], "dust2": 0.3, "tage": list(x[:, 2]), "tau": x[:, 3], "zred": 0.8}
    np.testing.assert_array_equal(emu.predict(mixed).mags, emu.predict(x).mags)
    first_scalar = dict(mixed, logzsol=-0.5)
    x[:, 0] = -0.5
    np.testing.assert_array_equal(emu.predict(first_scalar).mags, emu.predict(x).mags)
    with pytest.raises(ConfigurationError, match="one common length"):
        emu.predict(dict(mixed, tau=[1.0, 2.0]))
    with pytest.raises(ConfigurationError, match="one common length"):
        emu.predict(dict(mixed, tau=np.ones((3, 1))))


def test_info_covariance_without_error_statistics(tmp_path, capsys):
    path = damaged_copy(tmp_path, change_meta=lambda m: m.pop("test_errors"))
    assert main(["info", str(path), "--covariance"]) == 2
    err = capsys.readouterr().err
    assert "no test-set error statistics" in err and "Traceback" not in err
    assert main(["info", str(path)]) == 0


def write_param_file(tmp_path, body: str) -> Path:
    path = tmp_path / "params.py"
    path.write_text(f"from prospect_emu.paramfile import load_param_file\n"
                    f"_demo = load_param_file({str(DEMO_PARAMS)!r})\n"
                    f"build_model = _demo.build_model\n{body}\n")
    return path


def test_fit_with_build_obs_returning_none(tmp_path):
    from prospect_emu.prospector.fitting import run_fit

    path = write_param_file(tmp_path, "def build_obs(**kw):\n    pass\n")
    with pytest.raises(ConfigurationError, match=r"build_obs\(\*\*run_params\) in parameter file "
                       r".*params\.py returned None"):
        run_fit(path, ["--optimize"], emulator=DEMO, write=False)


def test_fit_without_emulator_needs_build_sps(tmp_path):
    from prospect_emu.prospector.fitting import run_fit

    path = write_param_file(tmp_path, "build_obs = _demo.build_obs\n")
    with pytest.raises(ConfigurationError, match=r"params\.py defines no build_sps.*no --emulator"):
        run_fit(path, ["--optimize"], write=False)
    assert main(["fit", str(path), "--optimize"]) == 2


def test_compare_with_build_sps_returning_none(tmp_path, monkeypatch):
    from prospect_emu.analysis.compare import compare

    home = tmp_path / "sps_home"
    for d in ("SPECTRA", "ISOCHRONES"):
        (home / d).mkdir(parents=True)
    monkeypatch.setenv("SPS_HOME", str(home))  # a data tree is found; build_sps is the problem
    path = write_param_file(tmp_path, "build_obs = _demo.build_obs\n"
                                      "def build_sps(**kw):\n    return None\n")
    with pytest.raises(ConfigurationError, match=r"build_sps\(\*\*run_params\) in parameter file "
                       r".*params\.py returned None"):
        compare(path, DEMO, tmp_path / "out", plots=False)
