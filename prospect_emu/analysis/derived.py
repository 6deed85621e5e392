"""Derived quantities astronomers quote, per posterior sample.

Surviving stellar mass (formed mass x mfrac), mass-weighted age, the SFR averaged over
the last 100 Myr, and stellar metallicity (``logzsol``).

Star-formation histories, all in closed form (no time grid):

* FSPS ``sfh`` 0 (SSP), also when the model has no ``sfh`` parameter (FSPS's default).
* FSPS ``sfh`` 1 (tau, SFR ~ exp(-T/tau)) and 4 (delayed tau, SFR ~ T exp(-T/tau)),
  with every FSPS option of these forms, as FSPS's ``csp_gen`` weights them (and
  python-fsps's ``sfr_avg`` computes the SFR; FSPS's instantaneous ``sfr`` instead
  takes ``const`` and ``fburst`` as fractions of the mass formed by the oldest isochrone):
  ``const`` (fraction of the mass formed at a constant rate), ``fburst`` at ``tburst``
  (or Prospector's ``fage_burst``: ``tburst = fage_burst * tage``; a burst after
  ``tage`` is dropped and the other components renormalised, as FSPS does),
  ``sf_start`` (T counts from it) and ``sf_trunc`` (no star formation after it; ignored
  when 0, before ``sf_start`` or after ``tage``, as in FSPS).  Missing parameters
  take FSPS's defaults.
* FSPS ``sfh`` 5 (Simha et al. 2014): delayed tau until ``sf_trunc``, then a linear
  SFR with slope ``sf_slope`` (per Gyr, relative to the SFR at ``sf_trunc``), down to
  zero at most; ``sf_start`` as above (FSPS ignores ``const`` and bursts here).
* The nonparametric ``agebins`` + per-bin ``mass`` form (``sfh`` 3, Prospector's
  continuity templates after their ``depends_on`` transforms), constant SFR per bin.

Mass is Prospector's: the mass formed by ``tage``.  The mass-weighted age weights by
mass formed.  ``sfr_100myr`` is the mass formed in the last 100 Myr divided by 100 Myr
(so a galaxy younger than 100 Myr has its whole mass spread over the window).

Everything else (``sfh`` 2, 3 without ``agebins``, a ``tage`` not above
``sf_start``, ``const + fburst > 1``) is refused: age and SFR are NaN and a
:class:`DerivedQuantityWarning` says why (Python shows each distinct message once).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from math import comb, factorial

import numpy as np
from scipy.special import gammainc

DERIVED = ("stellar_mass", "mass_weighted_age", "sfr_100myr", "stellar_metallicity")
DERIVED_UNITS = {"stellar_mass": "Msun (surviving)", "mass_weighted_age": "Gyr",
                 "sfr_100myr": "Msun/yr", "stellar_metallicity": "log Z/Zsun"}

#: FSPS's defaults for the SFH parameters (python-fsps ``StellarPopulation``).
FSPS_SFH_DEFAULTS = {"sfh": 0, "tau": 1.0, "const": 0.0, "sf_start": 0.0, "sf_trunc": 0.0,
                     "tage": 0.0, "fburst": 0.0, "tburst": 11.0, "sf_slope": 0.0}


class DerivedQuantityWarning(UserWarning):
    """A derived quantity is NaN because its star-formation history is not supported."""


def _refuse(reason: str) -> tuple[float, float]:
    warnings.warn(f"mass-weighted age and SFR set to NaN: {reason}", DerivedQuantityWarning,
                  stacklevel=3)
    return np.nan, np.nan


def _scalar(params: Mapping, name: str) -> float:
    if name in params:
        return float(np.squeeze(params[name]))
    if name == "tburst" and "fage_burst" in params:
        return _scalar(params, "tage") * float(np.squeeze(params["fage_burst"]))
    return float(FSPS_SFH_DEFAULTS[name])


def _moment(n: int, a: float, b: float, tau: float) -> float:
    """``int_a^b T**n exp(-T/tau) dT`` for 0 <= a <= b, a sum of positive terms.

    With x = a/tau, d = (b - a)/tau it is ``tau**(n+1) exp(-x) sum_k C(n,k) x**(n-k)
    k! P(k+1, d)``, P the regularised lower incomplete gamma function: no cancellation,
    also for windows much shorter than tau or far past the peak.
    """
    if b <= a:
        return 0.0
    x, d = a / tau, (b - a) / tau
    s = sum(comb(n, k) * x ** (n - k) * factorial(k) * gammainc(k + 1, d) for k in range(n + 1))
    return float(tau ** (n + 1) * np.exp(-x) * s)


def _parametric(params: Mapping, sfh: int, window: float) -> tuple[float, float]:
    """(mass-weighted age in Gyr, fraction of the formed mass formed in the last
    ``window`` Gyr) for sfh 1, 4 or 5, or NaNs with a warning."""
    tage = _scalar(params, "tage")
    start = _scalar(params, "sf_start")
    tau = _scalar(params, "tau")
    const = _scalar(params, "const")
    fburst = _scalar(params, "fburst")
    tburst = _scalar(params, "tburst")
    trunc = _scalar(params, "sf_trunc")
    values = (tage, start, tau, const, fburst, tburst, trunc)
    if not all(np.isfinite(values)):
        return _refuse(f"non-finite SFH parameters (sfh={sfh})")
    span = tage - start  # duration of star formation, forward time T in [0, span]
    if span <= 0:
        return _refuse(f"tage is not after sf_start (sfh={sfh}): no stars formed")
    if tau <= 0:
        return _refuse(f"tau must be positive (sfh={sfh})")
    t_end = trunc - start if 0 < trunc - start <= span else span  # end of star formation
    w_lo = max(span - window, 0.0)  # the window in forward time: [w_lo, span]
    if sfh == 5:
        slope = _scalar(params, "sf_slope")
        if not np.isfinite(slope):
            return _refuse("non-finite sf_slope (sfh=5)")
        return _simha(span, tau, t_end, slope, w_lo)
    lookback_burst = tage - tburst
    if lookback_burst < 0:  # the burst lies in the future: FSPS drops it
        fburst = 0.0
    if const < 0 or fburst < 0 or const + fburst > 1:
        return _refuse(f"const and fburst must be >= 0 with const + fburst <= 1 (sfh={sfh})")
    age, recent = parametric_rows(sfh, np.array([values]), window)  # one formula for both
    return float(age[0]), float(recent[0])


#: the parameters of a tau history (sfh 1, 4), in :func:`parametric_rows`'s column order
TAU_SFH_KEYS = ("tage", "sf_start", "tau", "const", "fburst", "tburst", "sf_trunc")


def _moment_rows(n: int, a: np.ndarray, b: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """:func:`_moment` for arrays (0 where ``b <= a``)."""
    x, d = a / tau, np.maximum(b - a, 0.0) / tau
    s = sum(comb(n, k) * x ** (n - k) * factorial(k) * gammainc(k + 1, d) for k in range(n + 1))
    return np.where(b > a, tau ** (n + 1) * np.exp(-x) * s, 0.0)


def parametric_rows(sfh: int, values: np.ndarray, window: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(mass-weighted age in Gyr, fraction of the formed mass formed in the last ``window``
    Gyr) for many rows of one tau history (sfh 1 or 4), vectorised; :func:`_parametric`
    uses it for one row after its checks.

    Parameters
    ----------
    sfh : int
        1 or 4.
    values : ndarray (n, 7)
        Per row the parameters named by :data:`TAU_SFH_KEYS` (FSPS defaults filled in,
        ``tburst`` from ``fage_burst`` where the model uses it).
    window : float
        Gyr.

    Returns
    -------
    (ndarray, ndarray)
        NaN in the rows that :func:`sfh_age_and_sfr` refuses (no warning here: call it
        for those rows to get one).
    """
    if sfh not in (1, 4):
        raise ValueError(f"parametric_rows covers sfh 1 and 4, not {sfh}")
    tage, start, tau, const, fburst, tburst, trunc = np.asarray(values, dtype=float).T
    span = tage - start
    lookback_burst = tage - tburst
    fburst = np.where(lookback_burst < 0, 0.0, fburst)
    ok = np.all(np.isfinite(values), axis=1) & (span > 0) & (tau > 0) & (const >= 0) \
        & (fburst >= 0) & (const + fburst <= 1)
    span, tau = np.where(ok, span, 1.0), np.where(ok, tau, 1.0)
    t_end = np.where((trunc - start > 0) & (trunc - start <= span), trunc - start, span)
    w_lo = np.maximum(span - window, 0.0)
    n = 0 if sfh == 1 else 1
    f_tau = 1.0 - const - fburst
    zero = np.zeros_like(span)
    tau_total = _moment_rows(n, zero, t_end, tau)
    tau_first = _moment_rows(n + 1, zero, t_end, tau)
    tau_recent = _moment_rows(n, w_lo, t_end, tau)
    age = f_tau * (span - tau_first / tau_total)
    recent = f_tau * tau_recent / tau_total
    age = age + np.where(const > 0, const * (span - 0.5 * t_end), 0.0)
    recent = recent + np.where(const > 0, const * np.maximum(t_end - w_lo, 0.0) / t_end, 0.0)
    age = age + np.where(fburst > 0, fburst * lookback_burst, 0.0)
    recent = recent + np.where(fburst > 0, fburst * (lookback_burst < window), 0.0)
    return np.where(ok, age, np.nan), np.where(ok, recent, np.nan)


def _simha(span: float, tau: float, t_trunc: float, slope: float,
           w_lo: float) -> tuple[float, float]:
    """sfh 5 (Simha et al. 2014, as FSPS's ``sfhinfo``/``csp_gen``): SFR ~ (T/tau)
    exp(-T/tau) up to ``t_trunc``, then continuing linearly, ``SFR(t_trunc) * (1 +
    sf_slope (T - t_trunc))``, until it reaches zero or ``tage``."""
    tau_total = _moment(1, 0.0, t_trunc, tau) / tau
    tau_first = _moment(2, 0.0, t_trunc, tau) / tau
    tau_recent = _moment(1, w_lo, t_trunc, tau) / tau
    m = -slope
    t_hi = span if m <= 0 else min(span, t_trunc + 1.0 / m)
    s_t = t_trunc / tau * np.exp(-t_trunc / tau)

    def linear(a: float, b: float) -> tuple[float, float]:
        """Mass and first moment in T of the linear part over [a, b]."""
        if b <= a:
            return 0.0, 0.0
        u, v = a - t_trunc, b - t_trunc
        d1, d2, d3 = v - u, (v * v - u * u) / 2, (v ** 3 - u ** 3) / 3
        mass = d1 - m * d2
        return s_t * mass, s_t * (t_trunc * mass + d2 - m * d3)

    lin_mass, lin_first = linear(t_trunc, t_hi)
    total = tau_total + lin_mass
    age = span - (tau_first + lin_first) / total
    recent = (tau_recent + linear(max(t_trunc, w_lo), t_hi)[0]) / total
    return age, recent


def sfh_age_and_sfr(params: Mapping, window_gyr: float = 0.1) -> tuple[float, float]:
    """(mass-weighted age in Gyr, SFR over the last ``window_gyr`` in Msun/yr).

    Parameters
    ----------
    params : mapping
        A Prospector model's ``params`` (after ``depends_on`` transforms).
    window_gyr : float
        Averaging window of the SFR, Gyr.

    Returns
    -------
    (float, float)
        NaN for histories this module does not support (see the module notes), with a
        :class:`DerivedQuantityWarning`.
    """
    sfh = int(np.squeeze(params.get("sfh", FSPS_SFH_DEFAULTS["sfh"])))
    mass = float(np.sum(params.get("mass", 1.0)))
    if "agebins" in params and np.size(params.get("mass", 1.0)) > 1:
        edges = 10 ** np.asarray(params["agebins"], dtype=float) / 1e9  # lookback, Gyr
        m = np.asarray(params["mass"], dtype=float)
        lo, hi = edges[:, 0], edges[:, 1]
        age = float(np.sum(m * 0.5 * (lo + hi)) / np.sum(m))
        overlap = np.clip(np.minimum(hi, window_gyr) - lo, 0, None)
        sfr = float(np.sum(m / (hi - lo) * overlap) / (window_gyr * 1e9))
        return age, sfr
    if sfh == 0:
        tage = _scalar(params, "tage")
        if not np.isfinite(tage) or tage <= 0:
            return _refuse("an SSP (sfh=0) needs tage > 0")
        return tage, (mass / (window_gyr * 1e9) if tage < window_gyr else 0.0)
    if sfh not in (1, 4, 5):
        return _refuse(f"sfh={sfh} is not supported (only 0, 1, 4, 5 and agebins histories)")
    age, recent = _parametric(params, sfh, window_gyr)
    return age, float(mass * recent / (window_gyr * 1e9))


def derived_quantities(model, samples: np.ndarray, obs: dict, sps=None,
                       window_gyr: float = 0.1) -> dict[str, np.ndarray]:
    """Derived quantities for each row of ``samples``.

    ``mfrac`` comes from one batched pass of an emulated model
    (:meth:`~prospect_emu.prospector.model.EmulatedSpecModel.mfrac_rows`), else from
    ``model.predict`` per row (FSPS); rows it cannot predict are NaN.  Tau histories
    (sfh 1, 4) are evaluated for all rows at once (:func:`parametric_rows`), others
    per row (:func:`sfh_age_and_sfr`).
    """
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    n = len(samples)
    out = {k: np.full(n, np.nan) for k in DERIVED}
    batched = getattr(model, "mfrac_rows", None)
    mfracs = batched(samples) if batched is not None else None
    columns = _columns(model, samples) if mfracs is not None else None
    if columns is not None:
        return _from_columns(model, samples, columns, mfracs, window_gyr, out)
    tau_rows: dict[int, list[int]] = {1: [], 4: []}
    values = np.full((n, len(TAU_SFH_KEYS)), np.nan)
    mass = np.full(n, np.nan)
    for i, theta in enumerate(samples):
        if mfracs is None:
            try:
                _, _, mfrac = model.predict(theta, obs=obs, sps=sps)
            except ValueError:
                continue
        else:
            mfrac = mfracs[i]
            if not np.isfinite(mfrac):
                continue
            model.set_parameters(theta)
        p = model.params
        mass[i] = float(np.sum(p.get("mass", 1.0)))
        out["stellar_mass"][i] = mass[i] * float(mfrac)
        if "logzsol" in p:
            out["stellar_metallicity"][i] = float(np.squeeze(p["logzsol"]))
        sfh = int(np.squeeze(p.get("sfh", FSPS_SFH_DEFAULTS["sfh"])))
        if sfh in tau_rows and not ("agebins" in p and np.size(p.get("mass", 1.0)) > 1):
            tau_rows[sfh].append(i)
            values[i] = [_scalar(p, k) for k in TAU_SFH_KEYS]
        else:
            out["mass_weighted_age"][i], out["sfr_100myr"][i] = sfh_age_and_sfr(p, window_gyr)
    for sfh, rows in tau_rows.items():
        if rows:
            _tau_history(model, samples, sfh, np.asarray(rows), values, mass, window_gyr, out)
    return out


def _tau_history(model, samples, sfh, rows, values, mass, window_gyr, out) -> None:
    """Mass-weighted age and SFR of ``rows`` (one tau history ``sfh``) into ``out``."""
    age, recent = parametric_rows(sfh, values[rows], window_gyr)
    out["mass_weighted_age"][rows] = age
    out["sfr_100myr"][rows] = mass[rows] * recent / (window_gyr * 1e9)
    for i in rows[~np.isfinite(age)]:  # refused: the scalar function says why
        model.set_parameters(samples[i])
        out["mass_weighted_age"][i], out["sfr_100myr"][i] = sfh_age_and_sfr(model.params, window_gyr)


def _columns(model, samples: np.ndarray) -> dict[str, np.ndarray] | None:
    """Per-row values of what the derived quantities read (``mass``, ``logzsol``, ``sfh``
    and :data:`TAU_SFH_KEYS`), each a free scalar's column of ``samples`` or a fixed
    value, without setting the model row by row; None where that does not hold (a model
    with ``depends_on`` parameters, a free ``sfh``, a vector ``mass``, not a tau history)."""
    if getattr(model, "_has_parameter_dependencies", True) or "sfh" in model.theta_index:
        return None
    model.set_parameters(samples[0])
    p = model.params
    sfh = int(np.squeeze(p.get("sfh", FSPS_SFH_DEFAULTS["sfh"])))
    if sfh not in (1, 4) or np.size(p.get("mass", 1.0)) != 1:
        return None
    n = len(samples)

    def column(name: str) -> np.ndarray | None:
        sl = model.theta_index.get(name)
        if sl is None:
            return np.full(n, _scalar(p, name)) if name in p or name in FSPS_SFH_DEFAULTS else None
        return samples[:, sl.start] if sl.stop - sl.start == 1 else None

    burst_from_age = "tburst" not in p and "fage_burst" in p  # _scalar: tage * fage_burst
    names = ["mass", *(k for k in TAU_SFH_KEYS if not (k == "tburst" and burst_from_age))]
    names += ["logzsol"] * ("logzsol" in p) + ["fage_burst"] * burst_from_age
    cols = {k: column(k) for k in names}
    if any(v is None for v in cols.values()):
        return None
    if burst_from_age:
        cols["tburst"] = cols["tage"] * cols.pop("fage_burst")
    cols["sfh"] = sfh
    return cols


def _from_columns(model, samples, cols, mfracs, window_gyr, out) -> dict[str, np.ndarray]:
    """:func:`derived_quantities` from :func:`_columns`, all rows at once."""
    ok = np.flatnonzero(np.isfinite(mfracs))
    mass = cols["mass"]
    out["stellar_mass"][ok] = mass[ok] * mfracs[ok]
    if "logzsol" in cols:
        out["stellar_metallicity"][ok] = cols["logzsol"][ok]
    values = np.column_stack([cols[k] for k in TAU_SFH_KEYS])
    if ok.size:
        _tau_history(model, samples, cols["sfh"], ok, values, mass, window_gyr, out)
    return out
