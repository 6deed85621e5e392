"""Checks of an observation's photometry before the emulated likelihood uses it: the
bands ``obs['phot_mask']`` selects, and the refusal of data the Gaussian cannot use in a
fitted band (non-finite maggies, a zero, negative or non-finite uncertainty), the same
for every error mode."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigurationError
from ..filters import filter_names


def used_bands(obs, n: int) -> np.ndarray:
    """Indices of the bands ``obs['phot_mask']`` selects (all without a mask)."""
    mask = obs.get("phot_mask", None)
    idx = np.arange(n)
    if mask is None:
        return idx
    used = idx[mask]
    if used.size == 0:
        raise ConfigurationError("obs['phot_mask'] selects no band: nothing to fit. Check the "
                                 "mask's sign (True means use the band)")
    return used


def check_phot_data(obs: dict, positive_unc: bool = True) -> None:
    """Refuse data the Gaussian cannot use in a fitted band (``obs['phot_mask']``):
    non-finite ``maggies``, or ``maggies_unc`` not finite or (``positive_unc``) not
    positive.  Unrefused, error mode 'none' would give NaN, and diag/cov NaN or a
    finite but meaningless number (a zero uncertainty leaves the emulator's alone).

    Raises
    ------
    ConfigurationError
        Naming the bands and the fix (mask them, or ``fix_obs``).
    """
    global _DATA_CHECKED
    maggies = obs.get("maggies", None)
    if maggies is None:
        return
    u, mask = obs.get("maggies_unc", None), obs.get("phot_mask", None)
    key = None
    if type(maggies) is np.ndarray and type(u) is np.ndarray and \
            (mask is None or type(mask) is np.ndarray):
        # the last data found good, by content (an array edited in place is checked again)
        key = (maggies.tobytes(), u.tobytes(), None if mask is None else mask.tobytes(),
               maggies.dtype.char, u.dtype.char, None if mask is None else mask.dtype.char,
               positive_unc)
        if key == _DATA_CHECKED:
            return
    _check_phot_data(obs, positive_unc)
    _DATA_CHECKED = key


#: :func:`check_phot_data`'s one-entry memo: the bytes of the last data found good
_DATA_CHECKED = None


def _check_phot_data(obs: dict, positive_unc: bool) -> None:
    maggies = obs["maggies"]
    m = np.asarray(maggies, dtype=float).reshape(-1)
    u = obs.get("maggies_unc", None)
    unc = np.broadcast_to(np.asarray(np.nan if u is None else u, dtype=float), m.shape)
    used = used_bands(obs, m.size)
    ok = np.isfinite(unc[used])
    if positive_unc:
        ok &= unc[used] > 0
    bad_m, bad_u = used[~np.isfinite(m[used])], used[~ok]
    if not (bad_m.size or bad_u.size):
        return
    try:
        names = filter_names(obs["filters"])
    except Exception:  # no usable filters: numbers
        names = [f"band {i}" for i in range(m.size)]
    what = [f"maggies not finite in {[names[i] for i in bad_m]}"] if bad_m.size else []
    if bad_u.size:
        kind = "zero, negative or not finite" if positive_unc else "not finite"
        what.append(f"maggies_unc {kind} in {[names[i] for i in bad_u]}")
    raise ConfigurationError(
        f"the photometry cannot be fitted (its ln-likelihood would be NaN or meaningless): "
        f"{'; '.join(what)}. Leave those bands out with "
        "obs['phot_mask'] (False = not fitted), or pass obs through "
        "prospect.utils.obsutils.fix_obs, which masks them")
