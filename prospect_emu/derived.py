"""Derived quantities astronomers quote, per posterior sample.

Surviving stellar mass (formed mass x mfrac), mass-weighted age, the SFR averaged over
the last 100 Myr, and stellar metallicity (``logzsol``).  Star-formation histories:
FSPS parametric ``sfh`` 0 (SSP), 1 (tau) and 4 (delayed tau), and the nonparametric
``agebins`` + per-bin ``mass`` form (``sfh`` 3, Prospector's continuity templates after
their ``depends_on`` transforms).  Other forms give NaN for age and SFR.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

DERIVED = ("stellar_mass", "mass_weighted_age", "sfr_100myr", "stellar_metallicity")
DERIVED_UNITS = {"stellar_mass": "Msun (surviving)", "mass_weighted_age": "Gyr",
                 "sfr_100myr": "Msun/yr", "stellar_metallicity": "log Z/Zsun"}


def sfh_age_and_sfr(params: Mapping, window_gyr: float = 0.1) -> tuple[float, float]:
    """(mass-weighted age in Gyr, SFR over the last ``window_gyr`` in Msun/yr)."""
    sfh = int(np.squeeze(params.get("sfh", 4)))
    mass = float(np.sum(params.get("mass", 1.0)))
    if "agebins" in params and np.size(params.get("mass", 1.0)) > 1:
        edges = 10 ** np.asarray(params["agebins"], dtype=float) / 1e9  # lookback, Gyr
        m = np.asarray(params["mass"], dtype=float)
        lo, hi = edges[:, 0], edges[:, 1]
        age = float(np.sum(m * 0.5 * (lo + hi)) / np.sum(m))
        overlap = np.clip(np.minimum(hi, window_gyr) - lo, 0, None)
        sfr = float(np.sum(m / (hi - lo) * overlap) / (window_gyr * 1e9))
        return age, sfr
    tage = float(np.squeeze(params.get("tage", np.nan)))
    if sfh == 0:
        return tage, (mass / (window_gyr * 1e9) if tage <= window_gyr else 0.0)
    if sfh not in (1, 4) or not np.isfinite(tage) or tage <= 0:
        return np.nan, np.nan
    tau = float(np.squeeze(params.get("tau", 1.0)))
    t = np.linspace(0.0, tage, 4001)  # time since star formation began, Gyr
    rate = np.exp(-t / tau) * (t if sfh == 4 else 1.0)
    total = np.trapezoid(rate, t)
    age = float(np.trapezoid((tage - t) * rate, t) / total)
    recent = t >= tage - window_gyr
    formed = np.trapezoid(rate[recent], t[recent]) if recent.sum() > 1 else 0.0
    return age, float(mass * formed / total / (window_gyr * 1e9))


def derived_quantities(model, samples: np.ndarray, obs: dict, sps=None) -> dict[str, np.ndarray]:
    """Derived quantities for each row of ``samples`` (calls ``model.predict`` for mfrac)."""
    out = {k: np.full(len(samples), np.nan) for k in DERIVED}
    for i, theta in enumerate(samples):
        try:
            _, _, mfrac = model.predict(theta, obs=obs, sps=sps)
        except ValueError:
            continue
        p = model.params
        out["stellar_mass"][i] = float(np.sum(p.get("mass", 1.0))) * float(mfrac)
        out["mass_weighted_age"][i], out["sfr_100myr"][i] = sfh_age_and_sfr(p)
        if "logzsol" in p:
            out["stellar_metallicity"][i] = float(np.squeeze(p["logzsol"]))
    return out
