"""prospect-emu validate: report numbers against a direct computation from the test set.

The test set here is built so that the answer is known without the code under test:
its "FSPS" photometry is the bundled demo emulator's prediction shifted, per SED and band,
by offsets drawn in the test (truth = prediction - offset); validate must then report
residuals (emulated - truth) equal to those offsets.  No FSPS needed.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from sedpy.observate import load_filters

from prospect_emu.analysis.validate import validate
from prospect_emu.cli import main
from prospect_emu.emulator.artifact import Emulator
from prospect_emu.emulator.transforms import asinh_flux
from prospect_emu.errors import ConfigurationError
from prospect_emu.filters import filter_hash
from prospect_emu.trainingdata import trainingset as ts

DEMO = Path(__file__).resolve().parents[2] / "prospect_emu" / "data" / "demo_emulator"
SIGMA = np.linspace(0.005, 0.08, 15)  # per-band std of the planted residuals
# validate predicts the rows again in batches of another shape: float32 BLAS may sum in
# another order, so magnitudes (|mag| < ~40, float32 eps 1.2e-7) agree to ~5e-6, not exactly
MAG_TOL = 2e-5


def make_test_set(path, emu, n=400, seed=7, bands=None, config=None, planted=None):
    """A training-set file whose 'truth' is the emulator's prediction minus planted offsets."""
    rng = np.random.default_rng(seed)
    lo, hi = emu.inputs.raw_lo, emu.inputs.raw_hi
    x = lo + rng.uniform(size=(n, len(lo))) * (hi - lo)
    x[:, emu.input_names.index("tau")] = np.exp(rng.uniform(np.log(lo[3]), np.log(hi[3]), n))
    x[-5:, emu.input_names.index("zred")] = 3.5  # outside the training box: must be left out
    names = ["mass"] + emu.input_names
    params = np.column_stack([np.full(n, 1e10), x])
    pred = emu.predict(np.clip(x, lo, hi))
    delta = rng.normal(size=(n, 15)) * SIGMA if planted is None else planted
    dm = rng.normal(0, 0.002, n)
    bands = bands or emu.filter_names
    keep = [emu.filter_names.index(b) for b in bands]
    phot = asinh_flux(pred.mags - delta, emu.outputs.softening)[:, keep]
    mfrac = pred.mfrac * 10 ** (-dm)
    filters = load_filters(bands)
    config = config or {"seed": seed, "sampler": {"kind": "uniform"}, "share_spectrum": 1,
                        "filters": [[f.name, filter_hash(f)] for f in filters]}
    ts.create(path, params=params, names=names, filters=filters, chunk_size=n, config=config,
              metadata={})
    status = np.full(n, ts.OK, dtype=np.int8)
    status[0] = ts.FAILED
    ts.write_chunk(path, 0, phot, mfrac, status)
    return delta, dm, x


@pytest.fixture(scope="module")
def emu():
    return Emulator.load(DEMO)


def test_report_equals_direct_computation(emu, tmp_path):
    test = tmp_path / "test.h5"
    delta, dm, x = make_test_set(test, emu)
    rep = validate([emu], test, report_dir=tmp_path / "rep", obs_unc=0.05, labels=["demo"])
    r = rep["emulators"][0]
    used = slice(1, len(delta) - 5)  # row 0 failed, the last 5 are outside the box
    d = delta[used]
    assert r["n_used"] == len(d) and r["n_out_of_bounds"] == 5 and r["n_failed_rows"] == 1
    for j, b in enumerate(emu.filter_names):
        s = r["per_output"][b]
        a = np.abs(d[:, j])
        assert s["median_abs"] == pytest.approx(np.median(a), abs=MAG_TOL)
        assert s["p95_abs"] == pytest.approx(np.percentile(a, 95), abs=MAG_TOL)
        assert s["max_abs"] == pytest.approx(a.max(), abs=MAG_TOL)
        assert s["std"] == pytest.approx(np.std(d[:, j], ddof=1), abs=MAG_TOL)
        assert s["quantiles"][4] == pytest.approx(np.median(d[:, j]), abs=MAG_TOL)
        # a residual within MAG_TOL of the threshold may fall either side of it
        assert s["frac_above"]["0.03"] == pytest.approx(np.mean(a > 0.03), abs=2.5 / len(a))
        o = r["obs"][b]
        ratio = np.std(d[:, j], ddof=1) / (2.5 / np.log(10) * 0.05)
        assert o["ratio"] == pytest.approx(ratio, rel=1e-3)  # std >= 0.005 mag, known to MAG_TOL
        assert o["verdict"] == ("emulator-limited" if ratio >= 1 else "marginal" if ratio >= 0.3 else "ok")
    assert r["per_output"]["log10_mfrac"]["std"] == pytest.approx(np.std(dm[used], ddof=1), abs=1e-6)
    # adjacent colours in order of effective wavelength (sedpy's own wave_effective)
    weff = [f.wave_effective for f in load_filters(emu.filter_names)]
    order = np.argsort(weff)
    i, j = order[0], order[1]
    c = r["colours"][f"{emu.filter_names[i]}-{emu.filter_names[j]}"]
    assert c["p95_abs"] == pytest.approx(np.percentile(np.abs(d[:, i] - d[:, j]), 95), abs=MAG_TOL)
    assert len(r["colours"]) == 14
    # worst SED and the binned error against the inputs
    worst = np.abs(d).max(axis=1)
    assert r["worst"][0]["row"] == 1 + int(np.argmax(worst))
    assert r["worst"][0]["max_abs"] == pytest.approx(worst.max(), abs=MAG_TOL)
    assert len(r["worst"]) == 20
    for name in emu.input_names:
        assert sum(r["by_parameter"][name]["count"]) == len(d)
    corr = np.corrcoef(np.column_stack([d, dm[used]]), rowvar=False)
    np.testing.assert_allclose(np.array(r["correlation"])[:15, :15], corr[:15, :15], atol=1e-3)
    on_disk = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert on_disk["emulators"][0]["per_output"]["sdss_r0"]["p95_abs"] == r["per_output"]["sdss_r0"]["p95_abs"]
    for f in rep["figures"].values():
        assert Path(f).stat().st_size > 5000


def test_several_emulators_and_the_cli(emu, tmp_path, capsys):
    test = tmp_path / "test.h5"
    delta, _, _ = make_test_set(test, emu, n=200)
    code = main(["validate", str(DEMO), str(DEMO), str(test), "--report", str(tmp_path / "r"),
                 "--labels", "a,b", "--obs-unc", "0.02"])
    assert code == 0
    out = capsys.readouterr().out
    assert "emulator-limited bands" in out and "galex_FUV" in out
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert set(rep["comparison"]["galex_FUV"]) == {"a", "b"}
    expect = np.percentile(np.abs(delta[1:-5, 0]), 95)
    assert rep["comparison"]["galex_FUV"]["a"] == pytest.approx(expect, abs=MAG_TOL)
    assert Path(rep["figures"]["comparison"]).is_file()


def test_record_stores_the_independent_accuracy_for_info(emu, tmp_path, capsys):
    import shutil

    copy = tmp_path / "emu"
    shutil.copytree(DEMO, copy)
    weights_before = (copy / "weights.npz").read_bytes()
    test = tmp_path / "indep.h5"
    delta, _, _ = make_test_set(test, emu, n=300, seed=11)
    assert main(["validate", str(copy), str(test), "--report", str(tmp_path / "r"),
                 "--record"]) == 0
    capsys.readouterr()
    before = len(emu.meta.get("independent_tests", []))  # the bundled emulator's own record
    stored = Emulator.load(copy).meta["independent_tests"][before:]
    assert len(stored) == 1 and stored[0]["test_set"]["name"] == "indep.h5"
    assert stored[0]["test_set"]["seed"] == 11 and stored[0]["n_used"] == 300 - 6
    d = np.abs(delta[1:-5])
    for j, b in enumerate(emu.filter_names):
        assert stored[0]["per_output"][b]["p95_abs"] == pytest.approx(np.percentile(d[:, j], 95),
                                                                     abs=MAG_TOL)
    assert stored[0]["all_bands"]["median_abs"] == pytest.approx(np.median(d), abs=MAG_TOL)
    assert (copy / "weights.npz").read_bytes() == weights_before
    # info prints it, band by band
    assert main(["info", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "independent test set indep.h5 (seed 11" in out and "294 SEDs" in out
    lines = out.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("independent test set indep.h5 (seed 11"))
    line = next(ln for ln in lines[start:] if ln.split() and ln.split()[0] == "galex_FUV")
    assert float(line.split()[2]) == pytest.approx(np.percentile(d[:, 0], 95), abs=2e-4)
    # the same set again replaces its entry; another set is added beside it
    main(["validate", str(copy), str(test), "--report", str(tmp_path / "r2"), "--record"])
    other = tmp_path / "other.h5"
    make_test_set(other, emu, n=100, seed=12)
    main(["validate", str(copy), str(other), "--report", str(tmp_path / "r3"), "--record"])
    names = [t["test_set"]["name"] for t in Emulator.load(copy).meta["independent_tests"]]
    assert names[before:] == ["indep.h5", "other.h5"]


def test_record_refuses_a_set_that_is_not_independent(emu, tmp_path):
    import shutil

    copy = tmp_path / "emu"
    shutil.copytree(DEMO, copy)
    trained = emu.meta["training_set"]["config"]
    test = tmp_path / "same_seed.h5"
    config = {k: trained[k] for k in ("seed", "sampler", "space", "param_file_text")}
    config.update(share_spectrum=1, filters=trained["filters"])
    make_test_set(test, emu, n=100, config=config)
    with pytest.warns(UserWarning, match="training seed"):
        with pytest.raises(ConfigurationError, match="not recording"):
            validate([copy], test, record=True)
    assert Emulator.load(copy).meta.get("independent_tests") == emu.meta.get("independent_tests")


def test_bad_inputs_are_clear(emu, tmp_path, capsys):
    short = tmp_path / "short.h5"
    make_test_set(short, emu, n=100, bands=emu.filter_names[:10])
    with pytest.raises(ConfigurationError, match="lacks"):
        validate([emu], short)
    same = tmp_path / "same.h5"
    make_test_set(same, emu, n=100, config=emu.meta["training_set"]["config"])
    with pytest.raises(ConfigurationError, match="training set of this emulator"):
        validate([emu], same)
    train_cfg = dict(emu.meta["training_set"]["config"], n=123)
    seed_twin = tmp_path / "twin.h5"
    make_test_set(seed_twin, emu, n=100, config=train_cfg)
    with pytest.warns(UserWarning, match="training seed"):
        validate([emu], seed_twin)
    assert main(["validate", str(DEMO), str(short), "--report", str(tmp_path / "x")]) == 2
    assert "lacks" in capsys.readouterr().err
    assert main(["validate", str(DEMO), str(tmp_path / "x.h5"), "--report", str(tmp_path / "x"),
                 "--obs-unc", "-1"]) == 2


def test_spectral_kind_in_any_band_at_each_rows_redshift(tmp_path):
    """A spectral emulator is validated in every band of the test set (also bands it was not
    trained in), projected at each row's zred: residuals equal planted flux offsets."""
    from tests.prospector.test_spectral_fits import _tiny_spectral_emulator

    emu = _tiny_spectral_emulator()  # an untrained network: the truth is made from it
    bands = ["sdss_g0", "sdss_r0", "sdss_i0"]  # i0 is not one of its training bands
    rng = np.random.default_rng(5)
    n = 120
    lo, hi = emu.inputs.raw_lo, emu.inputs.raw_hi
    x = lo + rng.uniform(size=(n, 4)) * (hi - lo)
    z = rng.choice([0.1, 0.4, 0.9], size=n)
    filters = load_filters(bands)
    pred = np.empty((n, 3))
    for zz in (0.1, 0.4, 0.9):  # the expected photometry, one redshift at a time
        sel = z == zz
        pred[sel] = emu.predict_photometry(x[sel], filters, zz)[0]
    delta = rng.normal(0, [0.01, 0.02, 0.05], size=(n, 3))
    truth = pred * 10 ** (0.4 * delta)  # emulated - truth = +delta mag (fluxes >> softening)
    path = tmp_path / "spec_test.h5"
    ts.create(path, params=np.column_stack([np.full(n, 1e10), x, z]),
              names=["mass", *emu.input_names, "zred"], filters=filters, chunk_size=n,
              config={"seed": 1, "sampler": {"kind": "uniform"}, "share_spectrum": 1}, metadata={})
    ts.write_chunk(path, 0, truth, np.full(n, 0.6), np.full(n, ts.OK, dtype=np.int8))
    rep = validate([emu], path, labels=["spectral"])["emulators"][0]
    assert rep["kind"] == "spectrum" and rep["bands"] == bands and rep["n_used"] == n
    for j, b in enumerate(bands):
        s = rep["per_output"][b]
        assert s["std"] == pytest.approx(np.std(delta[:, j], ddof=1), abs=MAG_TOL)
        assert s["p95_abs"] == pytest.approx(np.percentile(np.abs(delta[:, j]), 95), abs=MAG_TOL)
    no_z = tmp_path / "no_z.h5"
    ts.create(no_z, params=np.column_stack([np.full(n, 1e10), x]), names=["mass", *emu.input_names],
              filters=filters, chunk_size=n, config={"seed": 1}, metadata={})
    with pytest.raises(ConfigurationError, match="does not vary zred"):
        validate([emu], no_z)
