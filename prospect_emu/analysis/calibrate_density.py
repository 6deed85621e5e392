"""The posterior density as a calibration test quantity (``prospect-emu calibrate``).

Any function of the parameters and the data can be ranked like a parameter in
simulation-based calibration (Talts et al. 2018).  The emulated ln posterior density is the
one that sees what the per-parameter ranks miss: a sampler that never found a mode of the
posterior leaves the truth denser than every one of its draws (the rank of
``ln_posterior`` at 1), however ordinary the truth looks parameter by parameter.  For a
calibrated posterior the truth and the draws are exchangeable, so that happens in
``1 / (nsamples + 1)`` of the mocks; a pile at rank 1 is the sampler's failure, not the
emulator's, since the densities are the emulated posterior's own.  A pile at rank 0 (the
truth less dense than nearly every draw) is posteriors that are too narrow or off the
truth: sampler or emulator.
"""

from __future__ import annotations

import numpy as np

#: the name of the test quantity in the calibration table and mocks.ecsv
DENSITY = "ln_posterior"


def posterior_densities(source, z: np.ndarray, maggies: np.ndarray, unc: np.ndarray,
                        truths: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The emulated ln posterior density (up to a constant per mock) of each truth and draw.

    Parameters
    ----------
    source : ModelSource
        The emulated model the mocks were fitted with (its error mode included).
    z, maggies, unc : ndarray, shapes (n,), (n, nbands), (n, nbands)
        Each mock's redshift and noisy photometry with its uncertainties.
    truths : ndarray, shape (n, ndim)
        The free parameters' true values, in the model's ``theta_labels`` order.
    draws : ndarray, shape (n, s, ndim)
        Each mock's posterior draws of the free parameters.

    Returns
    -------
    (ndarray (n,), ndarray (n, s))
        ``ln prior + ln likelihood`` of the truths and of the draws (-inf outside the priors).
    """
    from ..prospector.batched import lnprob_batch
    from .catalog_object import build_model, make_obs

    model, filters = build_model(source)
    ok = np.ones(maggies.shape[1], dtype=bool)
    lnp_truth = np.empty(len(truths))
    lnp_draws = np.empty(draws.shape[:2])
    for i in range(len(truths)):
        model.params["zred"] = np.atleast_1d(float(z[i]))
        obs = make_obs(filters, maggies[i], unc[i], ok)
        lnp = lnprob_batch(np.vstack([truths[i], draws[i]]).astype(float), model, obs)
        lnp_truth[i], lnp_draws[i] = lnp[0], lnp[1:]
    return lnp_truth, lnp_draws


def missed_modes(lnp_truth: np.ndarray, lnp_draws: np.ndarray) -> np.ndarray:
    """Whether each truth is denser than every one of its draws (expected for
    ``1 / (s + 1)`` of the mocks of a calibrated posterior with ``s`` draws)."""
    return np.all(lnp_draws < lnp_truth[:, None], axis=1)
