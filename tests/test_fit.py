"""Fits through Prospector's fit_model: emulated and FSPS, every fitter, results read back."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from prospect_emu.fitting import build_run_params, posterior_samples, run_fit
from prospect_emu.posterior import weighted_quantile

from .conftest import DATA

# a converged but small dynesty run (emulated calls are cheap)
QUICK = ["--nested_sample", "unif", "--nested_nlive_init", "100", "--nested_dlogz_init", "0.2",
         "--nested_maxbatch", "0", "--print_progress", "False"]
TRUTH = {"mass": 1e10, "logzsol": -0.3, "dust2": 0.4, "tage": 5.0, "tau": 2.0}


def _no_fsps_env():
    return {k: v for k, v in os.environ.items() if k != "SPS_HOME"}


def test_emulated_dynesty_fit_writes_a_readable_result(small_emulator, param_file, tmp_path):
    out = tmp_path / "emu"
    res = run_fit(param_file, ["--dynesty", "--outfile", str(out), *QUICK],
                  emulator=small_emulator, emulator_error="cov", seed=2)
    assert res.hfile == tmp_path / "emu_result.h5" and res.hfile.exists()
    assert res.ncall and res.ncall > 500
    samples, w = res.samples()
    for j, name in enumerate(res.model.theta_labels()):  # the truth within the 95% interval
        lo, hi = weighted_quantile(samples[:, j], [0.025, 0.975], w)
        assert lo <= TRUTH[name] <= hi, (name, lo, hi)
    with h5py.File(res.hfile, "r") as f:
        assert "sampling" in f and "bestfit" in f and f["bestfit/photometry"].shape == (12,)
    # results_from on a machine without FSPS: the stored file rebuilds the emulated model
    code = f"""
import sys
sys.modules['fsps'] = None
from prospect.io.read_results import results_from
res, obs, model = results_from({str(res.hfile)!r})
print('MODEL', type(model).__name__, model.emulator_error, res['chain'].shape, res['run_params']['emulator'])
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_no_fsps_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "MODEL EmulatedSpecModel cov" in r.stdout and str(small_emulator) in r.stdout


@pytest.mark.parametrize("mode", ["none", "diag", "cov"])
def test_each_error_mode_runs_in_fit_model_with_the_optimizer(small_emulator, param_file, mode):
    res = run_fit(param_file, ["--optimize", "--min_method", "lm", "--nmin", "2"],
                  emulator=small_emulator, emulator_error=mode, write=False)
    best = min(res.output["optimization"][0], key=lambda r: r.cost)
    assert best.success and np.isfinite(best.cost)
    assert 9.3 < np.log10(best.x[0]) < 10.7


def test_emcee_fit(small_emulator, param_file, tmp_path):
    res = run_fit(param_file, ["--emcee", "--nwalkers", "16", "--niter", "40", "--nburn", "8",
                               "--outfile", str(tmp_path / "mc")], emulator=small_emulator)
    samples, w = posterior_samples(res.output)
    assert samples.shape[1] == 5 and np.all(np.isfinite(samples))
    assert res.hfile.exists()


def test_fsps_fit_of_the_same_file(sps_home, param_file, tmp_path):
    """The FSPS way, fixed metallicity and a small budget: the same file, no emulator."""
    res = run_fit(param_file, ["--dynesty", "--fixed_metallicity", "-0.3", "--outfile",
                               str(tmp_path / "fsps"), "--nested_nlive_init", "40",
                               "--nested_maxcall_init", "2500", "--nested_maxbatch", "0",
                               "--print_progress", "False"])
    assert res.sps is not None and res.model.theta_labels() == ["mass", "dust2", "tage", "tau"]
    samples, w = res.samples()
    assert 9.3 < np.log10(weighted_quantile(samples[:, 0], [0.5], w)[0]) < 10.7
    from prospect.io.read_results import results_from

    out, obs, model = results_from(str(res.hfile))
    assert out["chain"].shape[1] == 4 and type(model).__name__ == "SpecModel"


def test_cli_fit_passes_options_through(small_emulator, param_file, tmp_path):
    cmd = [sys.executable, "-m", "prospect_emu.cli", "fit", str(param_file), "--emulator",
           str(small_emulator), "--outfile", str(tmp_path / "cli"), "--objid", "3", "--zred", "0.5",
           "--optimize", "--emulator-error", "diag"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=_no_fsps_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "wrote" in r.stdout
    import json

    with h5py.File(tmp_path / "cli_result.h5", "r") as f:
        rp = json.loads(f.attrs["run_params"])
    assert rp["objid"] == 3 and rp["emulator_error"] == "diag" and rp["optimize"] is True


def test_cli_fit_legacy_sedmodel_file(small_emulator, tmp_path):
    cmd = [sys.executable, "-m", "prospect_emu.cli", "fit", str(DATA / "legacy_sedmodel_params.py"),
           "--emulator", str(small_emulator), "--outfile", str(tmp_path / "leg"), *QUICK]
    r = subprocess.run(cmd, capture_output=True, text=True, env=_no_fsps_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "leg_result.h5").exists() and "mass" in r.stdout


def test_one_flag_switch_in_a_parameter_file(small_emulator, tmp_path):
    script = DATA / "delayed_tau_switch_params.py"
    r = subprocess.run([sys.executable, str(script), "--optimize", "--outfile", str(tmp_path / "sw"),
                        "--emulator", str(small_emulator), "--emulator-error", "cov"],
                       capture_output=True, text=True, env=_no_fsps_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "sw_result.h5").exists()


def test_one_flag_switch_without_the_flag_uses_fsps(sps_home, tmp_path):
    script = DATA / "delayed_tau_switch_params.py"
    r = subprocess.run([sys.executable, str(script), "--optimize", "--min_method", "powell",
                        "--fixed_metallicity", "-0.3", "--outfile", str(tmp_path / "swf")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    with h5py.File(tmp_path / "swf_result.h5", "r") as f:
        assert "bestfit" not in f or f["bestfit/photometry"].shape == (12,)


def test_build_run_params_defaults_to_dynesty():
    rp = build_run_params(["--objid", "7"], emulator="x")
    assert rp["dynesty"] is True and rp["objid"] == 7 and rp["emulator"] == "x"
    assert rp["emulator_error"] == "diag"
