"""``compare --mocks`` resumes: a mock that an interrupted run finished is read back, not refitted."""

from __future__ import annotations

import json

import pytest

from prospect_emu.analysis import compare_mocks as compare_module
from prospect_emu.errors import ConfigurationError

pytestmark = pytest.mark.fsps


def test_run_mocks_reads_back_finished_mocks(sps_home, tmp_path, monkeypatch):
    from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS

    finished = {"rows": [{"quantity": "mass", "fsps": [1.0, 2.0, 3.0], "emulator": [1.0, 2.1, 3.0],
                          "offset_sigma": 0.1, "js_divergence": 0.01, "truth": 2.0}],
                "fsps": {"seconds": 11.0}, "emulator": {"seconds": 1.0}}
    for k in range(2):
        (tmp_path / f"mock{k:03d}").mkdir()
        (tmp_path / f"mock{k:03d}" / "comparison.json").write_text(json.dumps(finished))

    def refit(*args, **kwargs):
        raise AssertionError("a finished mock was fitted again")

    monkeypatch.setattr(compare_module, "compare", refit)
    summary = compare_module.run_mocks(DEMO_PARAMS, DEMO_EMULATOR, tmp_path, 2, progress=False, seed=4)
    assert summary["n_mocks"] == 2
    mocks = json.loads((tmp_path / "mocks.json").read_text())["mocks"]
    assert [m["fsps_seconds"] for m in mocks] == [11.0, 11.0]
    # the truths are the mocks' own draws (recomputed with FSPS), not the stored rows
    assert mocks[0]["truth"]["mass"] != mocks[1]["truth"]["mass"]

    # a third mock is not finished: the run goes on to fit it
    with pytest.raises(AssertionError, match="fitted again"):
        compare_module.run_mocks(DEMO_PARAMS, DEMO_EMULATOR, tmp_path, 3, progress=False, seed=4)
    # the folder's mocks were made at S/N 20 without a floor: other noise is refused, not mixed in
    with pytest.raises(ConfigurationError, match="another --out"):
        compare_module.run_mocks(DEMO_PARAMS, DEMO_EMULATOR, tmp_path, 2, progress=False, seed=4,
                                 noise_floor_mag=8.0)


def test_mocks_on_two_workers_equal_the_mocks_fitted_here(sps_home, tmp_path):
    """The same seed gives the same mocks and the same fits whether they run in this process
    or on two spawned workers that build their own FSPS; read_mocks pools finished runs."""
    from prospect_emu.demo import DEMO_EMULATOR, DEMO_PARAMS

    argv = ["--emcee", "--nwalkers", "12", "--niter", "40", "--nburn", "10"]
    here = compare_module.run_mocks(DEMO_PARAMS, DEMO_EMULATOR, tmp_path / "here", 2, argv,
                                    progress=False, seed=8, n_draws=200)
    pooled = compare_module.run_mocks(DEMO_PARAMS, DEMO_EMULATOR, tmp_path / "pool", 2, argv,
                                      progress=False, seed=8, n_draws=200, workers=2)
    assert pooled["quantities"] == here["quantities"]
    a = json.loads((tmp_path / "here" / "mocks.json").read_text())["mocks"]
    b = json.loads((tmp_path / "pool" / "mocks.json").read_text())["mocks"]
    assert [m["truth"] for m in a] == [m["truth"] for m in b]
    assert a[0]["truth"] != a[1]["truth"]
    # two runs read back together: each quantity counted over all four mocks
    both = compare_module.summarize_mocks(compare_module.read_mocks(tmp_path / "here", tmp_path / "pool"))
    assert both["n_mocks"] == 4
    mass = both["quantities"]["mass"]
    assert mass["emu_vs_fsps"]["median_abs"] == pytest.approx(here["quantities"]["mass"]["emu_vs_fsps"]["median_abs"])
    assert 0 <= mass["js_bits"]["median"] <= mass["js_bits"]["max"] <= 1


def test_read_mocks_refuses_a_folder_without_finished_mocks(tmp_path):
    from prospect_emu.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="no finished mock"):
        compare_module.read_mocks(tmp_path)
