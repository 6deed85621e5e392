"""IGM absorption as FSPS applies it (Madau 1995, scaled by ``igm_factor``), in numpy.

FSPS (``src/igm_absorb.f90``, called from ``compsp.f90`` when ``add_igm_absorption`` is on
and ``zred > 0``) multiplies the rest-frame spectrum by ``exp(-igm_factor * tau)``, with
``tau`` at the observed wavelength ``lobs = lam * (1 + zred)``:

* Lyman series line blanketing, 17 lines: ``A_i (lobs / lambda_i)**3.46`` on the pixels
  at or blueward of each line (rest frame), plus the metal term
  ``0.0017 (lobs / 1215.67)**1.68`` blueward of Lyman alpha;
* Lyman continuum blueward of the limit 911.75 AA (Madau's eq. 16, his footnote 3), in
  ``xc = lobs / 911.75``;
* where that fitting function turns over at short wavelengths, ``tau`` blueward of its
  maximum is held at the maximum.

The spectral emulator's rest frame carries no IGM (training refuses sets made with it):
the spectral kind applies this transmission after redshifting, at the fit's own zred and
``igm_factor``, so one emulator serves every redshift.  numpy only.
"""

from __future__ import annotations

import numpy as np

#: FSPS's Lyman series wavelengths (AA) and their optical-depth coefficients
LYMAN_WAVE = np.array([1215.67, 1025.72, 972.537, 949.743, 937.803, 930.748, 926.226, 923.150,
                       920.963, 919.352, 918.129, 917.181, 916.429, 915.824, 915.329, 914.919,
                       914.576])
LYMAN_COEFF = np.array([0.0036, 0.0017, 0.0011846, 0.0009410, 0.0007960, 0.0006967, 0.0006236,
                        0.0005665, 0.0005200, 0.0004817, 0.0004487, 0.0004200, 0.0003947,
                        0.000372, 0.000352, 0.0003334, 0.00031644])
#: the Lyman limit (AA) and the metal-line coefficient, as FSPS
LYMAN_LIMIT = 911.75
METAL_COEFF = 0.0017


def igm_optical_depth(obs_wave: np.ndarray, zred: float) -> np.ndarray:
    """FSPS's IGM optical depth (``igm_factor`` 1) at observed wavelengths for a source at ``zred``.

    Parameters
    ----------
    obs_wave : ndarray (W,)
        Observed-frame wavelengths, AA, ascending: a rest-frame grid times ``1 + zred``.
    zred : float
        The source's redshift; 0 or less gives no absorption (FSPS applies none).

    Returns
    -------
    ndarray (W,)
        The optical depth.  The cap that FSPS puts on the Lyman-continuum fit blueward of
        its maximum is found on this grid: on a slice of FSPS's grid it equals FSPS's
        wherever the maximum lies inside the slice or blueward of it (where the
        transmission is ~0 at any redshift that has such pixels inside a filter).
    """
    obs = np.asarray(obs_wave, dtype=float)
    zred = float(zred)
    tau = np.zeros(obs.shape)
    if not zred > 0:
        return tau
    z1 = 1.0 + zred
    lam = obs / z1
    for i, (lw, coeff) in enumerate(zip(LYMAN_WAVE, LYMAN_COEFF)):
        blue = lam <= lw
        if not blue.any():
            continue
        ratio = obs[blue] / lw
        tau[blue] += coeff * ratio ** 3.46
        if i == 0:
            tau[blue] += METAL_COEFF * ratio ** 1.68
    lyc = lam <= LYMAN_LIMIT
    if lyc.any():
        xc = obs[lyc] / LYMAN_LIMIT
        tau[lyc] += (0.25 * xc ** 3 * (z1 ** 0.46 - xc ** 0.46)
                     + 9.4 * xc ** 1.5 * (z1 ** 0.18 - xc ** 0.18)
                     - 0.7 * xc ** 3 * (xc ** -1.32 - z1 ** -1.32)
                     - 0.023 * (z1 ** 1.68 - xc ** 1.68))
    if tau.size:
        top = int(np.argmax(tau))
        tau[:top] = tau[top]
    return tau


def igm_transmission(obs_wave: np.ndarray, zred: float, igm_factor: float = 1.0) -> np.ndarray:
    """``exp(-igm_factor * tau)``: the fraction of the flux FSPS keeps at ``obs_wave``.

    Parameters
    ----------
    obs_wave : ndarray (W,)
        Observed-frame wavelengths, AA, ascending (rest-frame grid times ``1 + zred``).
    zred : float
        Source redshift (no absorption at ``zred <= 0``, as FSPS).
    igm_factor : float
        FSPS's scaling of the optical depth (``igm_factor``, default 1).

    Returns
    -------
    ndarray (W,)
        Transmission in [0, 1].
    """
    return np.exp(-float(igm_factor) * igm_optical_depth(obs_wave, zred))
