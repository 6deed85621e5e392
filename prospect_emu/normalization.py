"""Mass and distance scaling, exactly as Prospector 1.4.1's ``SpecModel.flux_norm``.

Training sets and emulators hold photometry *per unit formed stellar mass, observed
from a luminosity distance of 10 pc* (but redshifted through the filters).  The
observed flux in maggies is then::

    maggies = phot_per_mass * mass * distance_factor(zred, lumdist)

with ``mass`` the sum of the model's ``mass`` parameter (mass formed) and
``distance_factor = (1 + zred) / (d_L / 10 pc)**2``, d_L from astropy's WMAP9 at
``zred``, or the ``lumdist`` parameter (Mpc) when the model has one or ``zred == 0``
(then 1e-5 Mpc = 10 pc by default), as Prospector does.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

MASS_CONVENTION = (
    "phot = maggies per 1 Msun formed (sum of the model's 'mass' parameter) as seen from a "
    "luminosity distance of 10 pc, redshifted through the filters; observed maggies = "
    "phot * mass * (1 + zred) / (d_L / 10 pc)**2 with d_L from astropy WMAP9 at zred, or the "
    "'lumdist' parameter in Mpc when the model has one or zred == 0 (Prospector 1.4.1 "
    "SpecModel.flux_norm)"
)

@lru_cache(maxsize=4096)
def _luminosity_distance_mpc(zred: float) -> float:
    from astropy.cosmology import WMAP9

    return float(WMAP9.luminosity_distance(zred).to("Mpc").value)


def luminosity_distance_mpc(zred: float) -> float:
    """WMAP9 luminosity distance in Mpc (the cosmology Prospector 1.4.1 uses), cached."""
    return _luminosity_distance_mpc(float(zred))


def distance_factor(zred: float, lumdist: float | None = None) -> float:
    """``(1 + zred) / (d_L / 10 pc)**2``, Prospector's distance and bandwidth factor.

    Parameters
    ----------
    zred : float
        Redshift.
    lumdist : float, optional
        Luminosity distance in Mpc; overrides the cosmological distance, as the
        ``lumdist`` model parameter does in Prospector.
    """
    zred = float(zred)
    if lumdist is None:
        lumdist = 1e-5 if zred == 0 else luminosity_distance_mpc(zred)
    return (1.0 + zred) / (float(lumdist) * 1e5) ** 2


def model_scaling(params: Mapping) -> float:
    """``mass * distance_factor`` for a Prospector parameter dictionary."""
    zred = float(np.squeeze(params.get("zred", 0.0)))
    lumdist = params.get("lumdist", None)
    if lumdist is not None:
        lumdist = float(np.squeeze(lumdist))
    mass = float(np.sum(params.get("mass", 1.0)))
    return mass * distance_factor(zred, lumdist)
