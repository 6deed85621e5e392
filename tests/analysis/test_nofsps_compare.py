"""The comparison machinery of compare.py and the derived quantities, without FSPS.

``compare()`` fits one galaxy with FSPS and with an emulator; everything after the two
fits (posterior draws, derived quantities, the comparison rows, the mock summary) only
needs fit results.  Here two emulated fits with the bundled demo emulator (emulator error
'none' and 'cov') of FSPS-made photometry stand in for the two sides.
"""

import numpy as np
import pytest

from prospect_emu.analysis.compare import FitSide, compare_sides, format_table
from prospect_emu.analysis.compare_mocks import format_mock_summary, summarize_mocks
from prospect_emu.analysis.derived import DERIVED
from prospect_emu.prospector.fitting import run_fit
from tests.conftest import PARAM_FILE

EMCEE = ["--emcee", "--nwalkers", "16", "--niter", "60", "--nburn", "10"]
TRUTH = {"mass": 1e10, "logzsol": -0.3, "dust2": 0.4, "tage": 5.0, "tau": 2.0}


@pytest.fixture(scope="module")
def sides(demo_emulator):
    out = {}
    for k, mode in enumerate(("none", "cov")):
        fit = run_fit(PARAM_FILE, EMCEE, emulator=demo_emulator, emulator_error=mode, write=False,
                      seed=4 + k)
        out[mode] = FitSide.from_fit(mode, fit, 300, seed=1)
    return out


def _delayed_tau_age_and_sfr(mass, tage, tau, window=0.1):
    """Closed forms for SFR(t) ~ t exp(-t/tau), t in [0, tage] Gyr since the start."""
    def m1(t):  # integral of t exp(-t/tau)
        return -tau * np.exp(-t / tau) * (t + tau)

    def m2(t):  # integral of t^2 exp(-t/tau)
        return -tau * np.exp(-t / tau) * (t * t + 2 * tau * t + 2 * tau * tau)

    formed = m1(tage) - m1(0.0)
    mean_t = (m2(tage) - m2(0.0)) / formed
    recent = m1(tage) - m1(tage - window)
    return tage - mean_t, mass * recent / formed / (window * 1e9)


def test_fit_side_draws_and_derived_quantities_of_an_emulated_fit(sides):
    side = sides["none"]
    labels = side.fit.model.theta_labels()
    assert set(side.draws) == set(labels) | set(DERIVED)
    emu = side.fit.model.emulator
    for i in range(0, 300, 37):
        theta = {name: side.draws[name][i] for name in labels}
        pred = emu.predict(np.array([theta["logzsol"], theta["dust2"], theta["tage"], theta["tau"], 0.5]))
        # surviving mass = formed mass x the emulator's mfrac at this draw
        assert side.draws["stellar_mass"][i] == pytest.approx(theta["mass"] * float(pred.mfrac), rel=1e-5)
        assert side.draws["stellar_metallicity"][i] == theta["logzsol"]
        age, sfr = _delayed_tau_age_and_sfr(theta["mass"], theta["tage"], theta["tau"])
        # both closed forms: equal to rounding
        assert side.draws["mass_weighted_age"][i] == pytest.approx(age, rel=1e-8)
        assert side.draws["sfr_100myr"][i] == pytest.approx(sfr, rel=1e-8)


def test_compare_sides_rows(sides):
    a, b = sides["none"], sides["cov"]
    rows = compare_sides(a, b, truth=TRUTH)
    labels = a.fit.model.theta_labels()
    assert [r["quantity"] for r in rows] == labels + list(DERIVED)
    for r in rows:
        q = r["quantity"]
        pa = np.percentile(a.draws[q], [16, 50, 84])
        pb = np.percentile(b.draws[q], [16, 50, 84])
        np.testing.assert_allclose(r["fsps"], pa, rtol=1e-12)
        np.testing.assert_allclose(r["emulator"], pb, rtol=1e-12)
        # offset of the second median in half-widths of the first (reference) posterior
        assert r["offset_sigma"] == pytest.approx((pb[1] - pa[1]) / (0.5 * (pa[2] - pa[0])), rel=1e-9)
        assert 0 <= r["js_divergence"] <= 1
        assert r.get("truth") == TRUTH.get(q)
    # a side against itself: no offset, no divergence
    for r in compare_sides(a, a):
        assert r["offset_sigma"] == 0 and r["js_divergence"] == pytest.approx(0.0, abs=1e-12)
    table = format_table(rows, a, b)
    # prospect-emu's emcee counts its likelihood calls (Prospector's did not)
    assert all(q in table for q in labels + list(DERIVED))
    assert f"{a.fit.ncall} likelihood calls" in table and a.fit.ncall >= 16 * 60


def test_summarize_mocks_coverage_offsets_and_outliers():
    # three mocks, one quantity; numbers chosen so every statistic is easy to do by hand
    rows = [  # (FSPS p16, p50, p84), (emulated p16, p50, p84), truth
        ((9.0, 10.0, 11.0), (9.5, 10.5, 11.5), 10.2),  # both cover; emu-truth +0.3 sigma
        ((1.0, 2.0, 3.0), (0.6, 1.0, 1.4), 2.5),       # emu below the truth: -3.75 sigma
        ((0.0, 1.0, 2.0), (9.0, 10.0, 11.0), 0.5),     # emu above the truth: +9.5 sigma
    ]
    records = [{"truth": {"q": t}, "rows": [{"quantity": "q", "fsps": list(f), "emulator": list(e),
                                             "offset_sigma": (e[1] - f[1]) / (0.5 * (f[2] - f[0])),
                                             "truth": t}]} for f, e, t in rows]
    s = summarize_mocks(records)
    assert s["n_mocks"] == 3
    q = s["quantities"]["q"]
    assert q["fsps_coverage_68"] == pytest.approx(1.0)
    assert q["emu_coverage_68"] == pytest.approx(1 / 3)  # truth above p84 in mock 2, below p16 in 3
    assert q["emu_vs_truth"]["median"] == pytest.approx(0.3)  # signed: 0.3, -3.75, 9.5
    assert q["emu_vs_truth"]["median_abs"] == pytest.approx(3.75)
    assert q["emu_vs_truth"]["outlier_rate_3sigma"] == pytest.approx(2 / 3)
    assert q["emu_vs_fsps"]["median_abs"] == pytest.approx(1.0)  # 0.5, -1, 9
    assert q["fsps_vs_truth"]["median_abs"] == pytest.approx(0.5)  # -0.2, -0.5, 0.5
    # |emulated - FSPS median| / |FSPS median|: 0.05, 0.5, 9.0
    assert q["median_relative_difference_of_medians"] == pytest.approx(0.5)
    text = format_mock_summary(s)
    assert text.startswith("3 mocks") and "\nq " in text


def test_summarize_mocks_95_coverage_and_collapsed_posteriors():
    # 95% intervals by hand
    rows = [((9.0, 10.0, 11.0), (8.0, 12.0), (9.5, 10.5, 11.5), (9.0, 12.0), 8.5),
            ((1.0, 2.0, 3.0), (0.0, 4.0), (0.6, 1.0, 1.4), (0.2, 1.8), 2.5),
            # a posterior collapsed to a point: no width, so no offset in sigma (not 1e30)
            ((5.0, 5.0, 5.0), (5.0, 5.0), (4.0, 5.0, 6.0), (3.0, 7.0), 5.5)]
    records = [{"rows": [{"quantity": "q", "fsps": list(f), "emulator": list(e), "fsps_95": list(f95),
                          "emulator_95": list(e95), "offset_sigma": float("nan"), "truth": t}]}
               for f, f95, e, e95, t in rows]
    q = summarize_mocks(records)["quantities"]["q"]
    assert q["fsps_coverage_95"] == pytest.approx(2 / 3)  # 8.5 in [8, 12], 2.5 in [0, 4], not 5.5
    assert q["emu_coverage_95"] == pytest.approx(1 / 3)  # 8.5 not in [9, 12], 2.5 not in [0.2, 1.8]
    # FSPS offsets from the truth: -(8.5-10)/1 = 1.5 and (2-2.5)/1 = -0.5; the collapsed one dropped
    assert q["fsps_vs_truth"]["median_abs"] == pytest.approx(1.0)
    assert "cov95" in format_mock_summary(summarize_mocks(records))


def test_summarize_mocks_jensen_shannon_per_quantity():
    # five mocks' divergences (bits), one row without one (an older comparison.json)
    js = [0.01, 0.04, 0.02, 0.30, 0.03]
    records = [{"rows": [{"quantity": "q", "fsps": [0.0, 1.0, 2.0], "emulator": [0.0, 1.0, 2.0],
                          "offset_sigma": 0.0, "js_divergence": v}]} for v in js]
    records.append({"rows": [{"quantity": "q", "fsps": [0.0, 1.0, 2.0], "emulator": [0.0, 1.0, 2.0],
                              "offset_sigma": 0.0}]})
    q = summarize_mocks(records)["quantities"]["q"]
    assert q["js_bits"]["median"] == pytest.approx(0.03)
    assert q["js_bits"]["max"] == pytest.approx(0.30)
    assert q["js_bits"]["p90"] == pytest.approx(0.04 + 0.6 * (0.30 - 0.04))  # numpy's linear rule
    assert "JS bits" in format_mock_summary(summarize_mocks(records))


def test_compare_table_says_when_a_side_did_not_converge(sides):
    import copy

    a, b = sides["none"], sides["cov"]
    # 16 walkers x 60 steps: far below 50 autocorrelation times, by the sampler's own report
    assert a.fit.convergence() is not None and a.fit.convergence()["converged"] is False
    table = format_table(compare_sides(a, b), a, b)
    assert table.count("NOT CONVERGED") == 2
    assert "none and cov did not converge" in table
    # a side whose sampler reports convergence is not flagged
    good = copy.copy(b)
    good.fit = copy.copy(b.fit)
    res = dict(b.fit.output["sampling"][0], convergence={"converged": True})
    good.fit.output = dict(b.fit.output, sampling=(res, b.fit.output["sampling"][1]))
    table = format_table(compare_sides(a, good), a, good)
    assert table.count("NOT CONVERGED") == 1 and "; converged" in table
    assert "none did not converge" in table
