"""Acceptance of issue 23 on real Prospector models, through the command line, zero edits.

Parameter files this package's own tests do not write: ``outside_alpha_params.py`` (a
Prospector-alpha-like file in the style of Prospector's demo_params.py: its own run_params names,
depends_on function, IRAC and MIPS bands, zred fixed or free with ``--fit_redshift``) and
``alpha_template_params.py`` (Prospector's own ``TemplateLibrary["alpha"]`` and ``["beta"]``,
nebular off).  Each goes ``prospect-emu generate`` -> ``train`` -> ``fit --emulator`` ->
``compare`` (beta: up to the emulated fit) with small sizes, in this process through
``prospect_emu.cli.main`` (the same code as the console script), and the test asserts what a
user sees: exit code 0, no failed row, no warning in a fit (every warning recorded, none
filtered, over two fits), a result file whose parameters are the model's free parameters, and
a comparison holding both sides.

The sizes test the route, not the accuracy (a few hundred SEDs, a few hundred training steps,
a capped sampler); accuracy and convergence are measured in docs/accuracy.rst and
docs/performance.rst.  Needs FSPS (skips without SPS_HOME, fails under CI without it).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from prospect_emu.cli import main
from prospect_emu.paramfile import load_param_file, parse_extra_options

DATA = Path(__file__).parent / "data"
OUTSIDE = DATA / "outside_alpha_params.py"
TEMPLATES = DATA / "alpha_template_params.py"

#: file, its run_params options, whether compare runs
CASES = {
    "outside-fixed-zred": (OUTSIDE, [], True),
    "outside-free-zred": (OUTSIDE, ["--fit_redshift"], True),
    "alpha-template": (TEMPLATES, ["--template", "alpha"], True),
    "beta-template": (TEMPLATES, ["--template", "beta"], False),
}
N_SEDS = 400
TRAIN = ["--width", "32", "--depth", "2", "--steps", "300", "--schedule", "2e-3:128",
         "--eval-every", "100", "--seed", "1", "--no-keras", "--quiet"]
#: the dimension's sampler family (nautilus), capped: a route check, not a converged fit
SAMPLER = ["--nautilus", "--preset", "fast", "--nautilus_nlive", "60", "--nautilus_neff", "100",
           "--nautilus_maxcall", "1200"]


def _run(capsys, argv: list[str]) -> tuple[int, str, str, list[str]]:
    """``prospect-emu argv`` in this process: exit code, stdout, stderr and every warning
    raised (none filtered: a warning shown once per process would show on every run of the
    console script)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err, [f"{w.category.__name__}: {w.message}" for w in caught]


def _assert_ok(result, what: str) -> None:
    code, out, err, _ = result
    assert code == 0, f"{what} exited {code}\nstdout: {out[-2000:]}\nstderr: {err[-3000:]}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_generate_train_fit_compare_with_zero_edits(case, sps_home, tmp_path, capsys,
                                                    monkeypatch):
    param_file, options, with_compare = CASES[case]
    monkeypatch.chdir(tmp_path)
    h5, emu = tmp_path / "train.h5", tmp_path / "emu"

    gen = _run(capsys, ["generate", str(param_file), "--out", str(h5), "--n", str(N_SEDS),
                        "--seed", "3", "--workers", "1", "--chunk-size", "100", "--block-size", "10",
                        "--quiet", *options])
    _assert_ok(gen, "generate")
    from prospect_emu.trainingdata.trainingset import TrainingSet

    ts = TrainingSet(h5)
    assert (ts.n_ok, ts.n_failed) == (N_SEDS, 0), ts.summary()
    assert not gen[3], f"generate warned: {gen[3]}"

    _assert_ok(_run(capsys, ["train", str(h5), "--out", str(emu), *TRAIN]), "train")

    model = load_param_file(param_file).build_model(**parse_extra_options(options))
    fits = []
    for k in range(2):
        fit = _run(capsys, ["fit", str(param_file), "--emulator", str(emu), "--outfile",
                            f"fit{k}", *SAMPLER, *options])
        _assert_ok(fit, f"fit {k}")
        fits.append(fit)
    for k, (_, _out, err, caught) in enumerate(fits):
        assert not caught, f"fit {k} warned: {caught}"
        assert "warn" not in err.lower(), f"fit {k} printed on stderr: {err[-2000:]}"
    repeated = set(fits[0][2].splitlines()) & set(fits[1][2].splitlines()) - {""}
    assert not repeated, f"printed on stderr by every fit: {sorted(repeated)}"

    from prospect.io.read_results import results_from

    res, _, _ = results_from(str(tmp_path / "fit0_result.h5"))
    assert list(res["theta_labels"]) == list(model.theta_labels())
    assert res["chain"].shape[-1] == model.ndim
    assert np.isfinite(res["chain"]).all()

    if not with_compare:
        return
    cmp = _run(capsys, ["compare", str(param_file), "--emulator", str(emu), "--out", "cmp",
                        "--seed", "2", *SAMPLER, *options])
    _assert_ok(cmp, "compare")
    summary = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    for side in ("fsps", "emulator"):
        assert summary[side]["ncall"] > 0 and summary[side]["seconds"] > 0
    names = {r["name"] for r in summary["rows"]} if "name" in summary["rows"][0] else None
    assert names is None or set(model.theta_labels()) <= names
    for side in ("fsps", "emulator"):
        with h5py.File(tmp_path / "cmp" / f"{side}_result.h5", "r") as f:
            assert f["sampling/chain"].shape[-1] == model.ndim
    text = (tmp_path / "cmp" / "comparison.txt").read_text()
    assert re.search(r"FSPS", text) and re.search(r"emulator", text, re.I)
