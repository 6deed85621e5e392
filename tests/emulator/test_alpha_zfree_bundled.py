"""The bundled free-redshift alpha-class spectral emulator (prospect_emu/data/
alpha_zfree_emulator) against FSPS on fresh prior draws of alpha_params.py --free_zred, with
FSPS's IGM absorption on (the emulator learnt spectra without it and applies it exactly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "prospect_emu" / "data"


def test_bundled_free_zred_emulator_matches_fsps_on_fresh_draws(sps_home, tmp_path):
    from prospect_emu.analysis.validate import emulator_residuals
    from prospect_emu.emulator.artifact import Emulator
    from prospect_emu.trainingdata.generate import generate
    from prospect_emu.trainingdata.trainingset import TrainingSet

    out = tmp_path / "fresh.h5"
    generate(out, 60, param_file=DATA / "alpha_params.py", run_params={"free_zred": True},
             seed=9001, block_size=1, chunk_size=60, workers=1, progress=False)
    emu = Emulator.load(DATA / "alpha_zfree_emulator")
    assert emu.kind == "spectrum" and "zred" in emu.input_names   # the age bins follow zred
    res = emulator_residuals(emu, TrainingSet(out))
    assert res["n_failed"] == 0 and res["n_out_of_bounds"] == 0
    d = np.abs(res["d_mag"])
    # independent set of 2,000 (docs/accuracy.rst): every band's 95th percentile <= 0.049 mag,
    # the median over bands 0.004; 60 draws give these with a margin
    assert np.median(d) < 0.01, np.median(d)
    assert np.quantile(d, 0.9) < 0.05, np.quantile(d, 0.9, axis=0)
    assert np.quantile(np.abs(res["d_mfrac"]), 0.9) < 0.002
