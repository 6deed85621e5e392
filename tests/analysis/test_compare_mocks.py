"""``compare --mocks`` resumes: a mock that an interrupted run finished is read back, not refitted."""

from __future__ import annotations

import json

import pytest

from prospect_emu.analysis import compare as compare_module

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
