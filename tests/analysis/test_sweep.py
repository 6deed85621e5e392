"""prospect-emu sweep: the power-law fit, and a real sweep at tiny widths."""

import json

import numpy as np
import pytest

from prospect_emu.analysis.sweep import power_law_fit
from prospect_emu.cli import main
from prospect_emu.errors import ConfigurationError


def test_power_law_fit_recovers_known_exponents():
    rng = np.random.default_rng(3)
    n = np.array([32, 64, 128, 256, 512], float)
    for a, c in ((-1.0, 2.0), (2.0, 1e-9), (-0.37, 0.05)):
        y = c * n ** a * np.exp(rng.normal(0, 0.01, n.size))
        fit = power_law_fit(n, y)
        assert fit["exponent"] == pytest.approx(a, abs=0.03)
        assert fit["coefficient"] == pytest.approx(c, rel=0.1)
        assert 0 < fit["exponent_err"] < 0.05
    # exact data: exact answer (independently, from two points)
    fit = power_law_fit([10, 1000], [3.0, 3.0 * 100 ** -1.5])
    assert fit["exponent"] == pytest.approx(-1.5, rel=1e-12)
    with pytest.raises(ConfigurationError):
        power_law_fit([10], [1.0])


@pytest.mark.slow
def test_sweep_trains_each_width_and_measures(small_trainset, tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", str(small_trainset), "--widths", "4,16", "--depth", "2", "--out", str(out),
                 "--epochs", "15", "--patience", "3", "--schedule", "3e-3:256", "--obs-unc", "0.05",
                 "--fraction", "100", "--quiet"])
    assert code == 0
    res = json.loads((out / "sweep.json").read_text())
    assert [r["width"] for r in res["widths"]] == [4, 16]
    for r in res["widths"]:
        assert (out / f"width_{r['width']}" / "weights.npz").is_file()
        assert 0 < r["median_abs"] < r["p95_abs"] < 5
        assert 0 < r["single_s"] < 0.01 and 0 < r["batched_per_sed_s"] < r["single_s"]
    # the two-point fit equals the exponent computed by hand from the table
    w0, w1 = res["widths"]
    expect = np.log(w1["median_abs"] / w0["median_abs"]) / np.log(16 / 4)
    assert res["error_fit"]["exponent"] == pytest.approx(expect, rel=1e-9)
    assert res["recommended_width"] == 4  # a generous target: the smallest width meets it
    assert (out / "sweep.png").stat().st_size > 5000
    assert "paper N^-1" in capsys.readouterr().out
    assert main(["sweep", str(small_trainset), "--widths", "8", "--out", str(out)]) == 2
