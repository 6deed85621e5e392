"""Simulated catalogs for training an amortized posterior: prior draws of the emulated model,
their photometry from the emulator (batched numpy, no FSPS), and a noise model that matches
catalogs (per-band uncertainties from an S/N range or from a catalog's own rows, missing
bands), at a redshift per galaxy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cosmology import distance_factor_array
from ..errors import ConfigurationError


@dataclass
class NoiseModel:
    """How simulated photometry is observed.

    Attributes
    ----------
    snr : (float, float)
        Per galaxy a base S/N, log-uniform in this range; per band that S/N scattered by
        ``snr_scatter_dex`` (log-normal).  Unused where ``catalog_unc`` is given.
    snr_scatter_dex : float
    missing : float
        Probability that a band is not measured (independently per band), on top of the
        catalog's own missing bands; at least ``min_bands`` stay measured.
    min_bands : int
    catalog_unc : ndarray (m, nbands), optional
        Uncertainties (maggies) of a catalog's rows, NaN where not measured: each simulated
        galaxy takes one row's uncertainties and missing bands.
    """

    snr: tuple[float, float] = (5.0, 100.0)
    snr_scatter_dex: float = 0.1
    missing: float = 0.1
    min_bands: int = 3
    catalog_unc: np.ndarray | None = None

    def observe(self, true: np.ndarray, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Noisy maggies, uncertainties and the measured mask for rows of true maggies."""
        n, nb = true.shape
        if self.catalog_unc is not None:
            unc = self.catalog_unc[rng.integers(len(self.catalog_unc), size=n)]
            measured = np.isfinite(unc) & (unc > 0)
            unc = np.where(measured, unc, 1.0)
        else:
            lo, hi = self.snr
            base = np.exp(rng.uniform(np.log(lo), np.log(hi), size=(n, 1)))
            snr = base * 10.0 ** (self.snr_scatter_dex * rng.normal(size=(n, nb)))
            unc = np.abs(true) / snr
            measured = np.ones((n, nb), dtype=bool)
        if self.missing > 0:
            measured &= rng.uniform(size=(n, nb)) >= self.missing
        short = measured.sum(axis=1) < min(self.min_bands, nb)
        if short.any():  # keep min_bands measured: the rows' first bands of a random order
            order = np.argsort(rng.uniform(size=(int(short.sum()), nb)), axis=1)
            keep = np.zeros((int(short.sum()), nb), dtype=bool)
            np.put_along_axis(keep, order[:, :self.min_bands], True, axis=1)
            measured[short] |= keep & (np.isfinite(unc[short]) & (unc[short] > 0))
        noisy = true + unc * rng.normal(size=(n, nb))
        return np.where(measured, noisy, np.nan), np.where(measured, unc, np.nan), measured

    def to_json(self) -> dict[str, Any]:
        d = {"snr": list(self.snr), "snr_scatter_dex": self.snr_scatter_dex,
             "missing": self.missing, "min_bands": self.min_bands}
        if self.catalog_unc is not None:
            d["catalog_rows"] = int(len(self.catalog_unc))
            d["catalog_missing_fraction"] = np.mean(~np.isfinite(self.catalog_unc), axis=0).tolist()
        return d


#: the step of the redshift grid simulations are drawn on
ZRED_STEP = 1e-3


def _grid_redshifts(rng: np.random.Generator, zred: tuple[float, float], n: int) -> np.ndarray:
    """``n`` redshifts uniform on the grid of step :data:`ZRED_STEP` inside ``zred``."""
    lo, hi = np.ceil(zred[0] / ZRED_STEP), np.floor(zred[1] / ZRED_STEP)
    if hi < lo:  # a range narrower than a step: its lower end
        return np.full(n, float(zred[0]))
    return rng.integers(int(lo), int(hi) + 1, size=n) * ZRED_STEP


class Simulator:
    """Prior draws of an emulated model and their photometry in ``bands`` at given redshifts.

    Parameters
    ----------
    model : EmulatedSpecModel
        The emulated model (zred fixed; it is set per row here).
    bands : list of str
        The bands to simulate, a subset of the emulator's.
    emulator_scatter : bool
        Scatter the emulated magnitudes by the emulator's held-out residual covariance, as
        FSPS photometry differs from the emulator's (what the likelihood's ``diag`` and
        ``cov`` modes allow for).
    """

    def __init__(self, model, bands: list[str], emulator_scatter: bool = True):
        from sedpy.observate import load_filters

        if "zred" in model.free_params:
            raise ConfigurationError("zred is free in the model: the amortized posterior takes each "
                                     "galaxy's redshift as given; make zred fixed")
        self.model, self.emu = model, model.emulator
        self.bands = list(bands)
        self.filters = load_filters(self.bands)
        model.bands_for(self.filters)  # refuses a band the emulator lacks or learned otherwise
        self.chol = None
        if emulator_scatter:
            cov = np.asarray(model.emulator_covariance(self.filters), dtype=float)
            if np.all(np.isfinite(cov)):
                w, v = np.linalg.eigh(0.5 * (cov + cov.T))
                self.chol = v * np.sqrt(np.clip(w, 0.0, None))  # cov = chol @ chol.T

    def zred_range(self) -> tuple[float, float]:
        """The redshifts the emulator learned (the model's fixed zred where it is not an input)."""
        z0 = float(np.squeeze(self.model.params.get("zred", 0.0)))
        return self.emu.zred_coverage(self.filters, z0)

    def draw(self, n: int, rng: np.random.Generator, zred: tuple[float, float] | np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(theta (m, ndim), zred (m,), maggies (m, nbands))`` for ``n`` prior draws; rows
        the emulator cannot predict (outside its box) are dropped, so ``m <= n``.  Drawn
        redshifts lie on a grid of step :data:`ZRED_STEP` inside the range (a spectral
        emulator projects its spectrum once per redshift)."""
        model = self.model
        theta = np.atleast_2d(model.prior_transform(rng.uniform(size=(n, model.ndim))))
        z = (np.asarray(zred, dtype=float) if isinstance(zred, np.ndarray)
             else _grid_redshifts(rng, zred, n))
        lo, hi = self.zred_range()
        if np.any(z < lo - 1e-9) or np.any(z > hi + 1e-9):
            raise ConfigurationError(f"redshifts outside {lo:g}-{hi:g}, where the emulator "
                                     "predicts these bands: simulate inside that range")
        plan = model.input_plan
        x, scale = plan.read_rows(model, theta)
        z_model = float(np.squeeze(model.params.get("zred", 0.0)))
        mass = scale / plan.distance_factor(z_model, None)
        phot, ok = self.emu.photometry_rows(x, self.filters, z, model.igm_factor())
        maggies = phot * (mass * distance_factor_array(z))[:, None]
        if self.chol is not None:  # the emulator's error, in magnitudes
            maggies *= 10.0 ** (-0.4 * (rng.normal(size=maggies.shape) @ self.chol.T))
        return theta[ok], z[ok], maggies[ok]

    def simulate(self, n: int, noise: NoiseModel, rng: np.random.Generator,
                 zred: tuple[float, float], chunk: int = 100_000, progress: bool = True
                 ) -> dict[str, np.ndarray]:
        """``n`` simulated observations: theta, zred, noisy maggies, uncertainties, measured."""
        from tqdm.auto import tqdm

        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("theta", "zred", "maggies", "unc",
                                                              "measured")}
        done = 0
        with tqdm(total=n, desc="simulate", unit="gal", disable=not progress) as bar:
            while done < n:
                theta, z, true = self.draw(min(chunk, n - done), rng, zred)
                if not len(theta):
                    raise ConfigurationError("no prior draw lies inside the emulator's training box")
                obs, unc, measured = noise.observe(true, rng)
                for k, v in zip(parts, (theta, z, obs, unc, measured)):
                    parts[k].append(v)
                done += len(theta)
                bar.update(len(theta))
        return {k: np.concatenate(v)[:n] for k, v in parts.items()}
