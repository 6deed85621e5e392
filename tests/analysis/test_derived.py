"""Derived SFH quantities against scipy quadrature of FSPS's SFH definitions (no FSPS needed).

The reference SFH below is written from FSPS's documentation and ``csp_gen``: forward
(cosmic) time t, star formation from ``sf_start`` to ``tage`` (or ``sf_trunc`` when that
lies in between); a tau part ~ exp(-T/tau) (sfh 1) or T exp(-T/tau) (sfh 4), T = t -
sf_start, with mass fraction 1 - const - fburst; a constant part with fraction const
over the same span; a burst of fraction fburst at t = tburst, dropped (and the rest
renormalised) when tburst > tage; for sfh 5 (no const, no burst) the delayed tau
continues after sf_trunc as SFR(sf_trunc) * max(1 + sf_slope (t - sf_trunc), 0).
Total mass formed by tage = ``mass``.
"""

import numpy as np
import pytest
from scipy.integrate import quad

from prospect_emu.analysis.derived import DerivedQuantityWarning, sfh_age_and_sfr

FSPS_DEFAULTS = {"tau": 1.0, "const": 0.0, "sf_start": 0.0, "sf_trunc": 0.0, "fburst": 0.0,
                 "tburst": 11.0, "sf_slope": 0.0}


def reference(params, window=0.1):
    """(mass-weighted age, SFR over the last ``window`` Gyr in Msun/yr) by quadrature."""
    p = dict(FSPS_DEFAULTS, **params)
    if "fage_burst" in p and "tburst" not in params:
        p["tburst"] = p["fage_burst"] * p["tage"]
    tage, start, tau = p["tage"], p["sf_start"], p["tau"]
    end = p["sf_trunc"] if start < p["sf_trunc"] < tage else tage
    fburst = p["fburst"] if p["tburst"] <= tage else 0.0
    f_tau = 1.0 - p["const"] - fburst

    def shape(t):
        if p["sfh"] == 5 and t > end:  # Simha: linear after sf_trunc, never below zero
            x_t = (end - start) / tau
            return x_t * np.exp(-x_t) * max(1.0 + p["sf_slope"] * (t - end), 0.0)
        x = (t - start) / tau
        return np.exp(-x) * (x if p["sfh"] in (4, 5) else 1.0)

    opts = dict(epsabs=0.0, epsrel=1e-13, limit=500)
    if p["sfh"] == 5:  # delayed tau to sf_trunc, then linear to tage; no const or burst
        pts = [end] if end < tage else None
        norm = quad(shape, start, tage, points=pts, **opts)[0]
        age = quad(lambda t: (tage - t) * shape(t), start, tage, points=pts, **opts)[0] / norm
        lo = max(tage - window, start)
        pts = [end] if lo < end < tage else None
        recent = quad(shape, lo, tage, points=pts, **opts)[0] / norm
        return age, p.get("mass", 1.0) * recent / (window * 1e9)
    norm_tau = quad(shape, start, end, **opts)[0]

    def sfr(t):  # per unit mass formed by tage, per Gyr
        return f_tau * shape(t) / norm_tau + p["const"] / (end - start)

    age = quad(lambda t: (tage - t) * sfr(t), start, end, **opts)[0] + fburst * (tage - p["tburst"])
    lo = max(tage - window, start)
    recent = quad(sfr, lo, end, **opts)[0] if end > lo else 0.0
    recent += fburst * float(tage - window < p["tburst"] <= tage)
    return age, p.get("mass", 1.0) * recent / (window * 1e9)


CASES = [
    {"sfh": 1, "tage": 5.0, "tau": 1.0},
    {"sfh": 4, "tage": 10.0, "tau": 2.0},
    {"sfh": 4, "tage": 12.7, "tau": 0.3},
    {"sfh": 1, "tage": 3.0, "tau": 40.0},
    {"sfh": 4, "tage": 7.3, "tau": 1.5, "const": 0.25, "fburst": 0.15, "fage_burst": 0.9},
    {"sfh": 1, "tage": 6.0, "tau": 0.8, "const": 0.1, "fburst": 0.3, "tburst": 5.95},
    {"sfh": 4, "tage": 9.0, "tau": 3.0, "sf_start": 2.0, "sf_trunc": 8.5, "const": 0.2},
    {"sfh": 1, "tage": 4.0, "tau": 2.0, "sf_trunc": 3.95, "fburst": 0.2, "tburst": 6.0},
    {"sfh": 4, "tage": 0.08, "tau": 1.0},
    {"sfh": 5, "tage": 8.0, "tau": 1.5, "sf_trunc": 6.0, "sf_slope": -0.3},
    {"sfh": 5, "tage": 8.0, "tau": 0.7, "sf_trunc": 7.5, "sf_slope": -4.0},
    {"sfh": 5, "tage": 8.0, "tau": 0.7, "sf_trunc": 7.85, "sf_slope": -8.0},
    {"sfh": 5, "tage": 6.0, "tau": 2.0, "sf_start": 1.0, "sf_trunc": 5.95, "sf_slope": 0.5},
    {"sfh": 5, "tage": 6.0, "tau": 2.0, "sf_slope": -1.0},
]


@pytest.mark.parametrize("params", CASES, ids=[str(i) for i in range(len(CASES))])
def test_parametric_sfh_matches_quadrature(params):
    params = dict(params, mass=3e10)
    age, sfr = sfh_age_and_sfr(params)
    age_ref, sfr_ref = reference(params)
    assert age == pytest.approx(age_ref, rel=1e-8)
    assert sfr == pytest.approx(sfr_ref, rel=1e-8)


def test_missing_sfh_is_fsps_default_ssp():
    # FSPS's default sfh is 0 (an SSP): all mass formed tage ago
    age, sfr = sfh_age_and_sfr({"tage": 0.05, "tau": 1.0, "mass": 2e9})
    assert age == pytest.approx(0.05, rel=1e-12)
    assert sfr == pytest.approx(2e9 / 1e8, rel=1e-12)
    age, sfr = sfh_age_and_sfr({"tage": 3.0, "mass": 2e9})
    assert (age, sfr) == (pytest.approx(3.0), 0.0)


@pytest.mark.parametrize("params", [
    {"sfh": 3, "tage": 5.0},
    {"sfh": 2, "tage": 5.0},
    {"sfh": 4, "tage": 1.0, "sf_start": 2.0},
    {"sfh": 1, "tage": 5.0, "const": 0.7, "fburst": 0.5, "tburst": 1.0},
])
def test_unsupported_histories_are_nan_with_a_warning(params):
    with pytest.warns(DerivedQuantityWarning):
        age, sfr = sfh_age_and_sfr(dict(params, mass=1e10))
    assert np.isnan(age) and np.isnan(sfr)


def test_parametric_rows_match_quadrature_and_refuse_what_the_scalar_refuses():
    """The vectorised tau histories (derived quantities of many draws at once) against the
    quadrature reference, row by row, with refused rows NaN among them."""
    from prospect_emu.analysis.derived import TAU_SFH_KEYS, _scalar, parametric_rows

    bad = [{"sfh": 4, "tage": 1.0, "sf_start": 2.0},  # tage before sf_start
           {"sfh": 1, "tage": 5.0, "const": 0.7, "fburst": 0.5, "tburst": 1.0},  # const+fburst > 1
           {"sfh": 4, "tage": 5.0, "tau": -1.0}]
    for sfh in (1, 4):
        cases = [c for c in CASES if c["sfh"] == sfh] + [c for c in bad if c["sfh"] == sfh]
        values = np.array([[_scalar(c, k) for k in TAU_SFH_KEYS] for c in cases])
        age, recent = parametric_rows(sfh, values)
        for c, a, r in zip(cases, age, recent):
            if c in bad:
                assert np.isnan(a) and np.isnan(r)
                continue
            age_ref, sfr_ref = reference(dict(c, mass=1.0))
            assert a == pytest.approx(age_ref, rel=1e-8)
            assert r / 1e8 == pytest.approx(sfr_ref, rel=1e-8, abs=1e-300)
    with pytest.raises(ValueError, match="sfh 1 and 4"):
        parametric_rows(5, values)


@pytest.mark.parametrize("dependent", [False, True])
def test_derived_quantities_of_many_draws_match_quadrature_row_by_row(dependent):
    """``derived_quantities`` on prior draws of a delayed-tau model with a constant part
    and a burst at ``fage_burst * tage``, against the quadrature reference per row: once
    read from the columns of the draws (no ``depends_on``) and once row by row (a model
    with a ``depends_on`` parameter); rows without mfrac stay NaN."""
    from prospect.models import ProspectorParams
    from prospect.models.templates import TemplateLibrary

    from prospect_emu.analysis.derived import derived_quantities

    class WithMfrac(ProspectorParams):  # mfrac per row, as an emulated model gives it
        def mfrac_rows(self, thetas):
            out = 0.9 - 0.02 * thetas[:, self.theta_index["tage"].start]
            out[::7] = np.nan
            return out

    params = TemplateLibrary["parametric_sfh"]
    params.update(const={"N": 1, "isfree": False, "init": 0.1},
                  fburst={"N": 1, "isfree": False, "init": 0.2},
                  fage_burst={"N": 1, "isfree": False, "init": 0.5})
    if dependent:
        params["dust1"] = {"N": 1, "isfree": False, "init": 0.0,
                           "depends_on": lambda dust2=None, **extras: 0.5 * dust2}
    model = WithMfrac(params)
    assert model._has_parameter_dependencies == dependent
    u = np.random.default_rng(4).uniform(size=(22, model.ndim))
    draws = np.array([model.prior_transform(row) for row in u])
    out = derived_quantities(model, draws, obs={})
    ix = model.theta_index
    for i, theta in enumerate(draws):
        if i % 7 == 0:
            assert all(np.isnan(out[k][i]) for k in out)
            continue
        mass, tage = theta[ix["mass"]][0], theta[ix["tage"]][0]
        assert out["stellar_mass"][i] == pytest.approx(mass * (0.9 - 0.02 * tage), rel=1e-12)
        assert out["stellar_metallicity"][i] == theta[ix["logzsol"]][0]
        age, sfr = reference({"sfh": 4, "tage": tage, "tau": theta[ix["tau"]][0], "const": 0.1,
                              "fburst": 0.2, "fage_burst": 0.5, "mass": mass})
        assert out["mass_weighted_age"][i] == pytest.approx(age, rel=1e-7)
        assert out["sfr_100myr"][i] == pytest.approx(sfr, rel=1e-7, abs=1e-300)
