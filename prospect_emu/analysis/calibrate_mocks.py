"""Mock galaxies of known truth for ``prospect-emu calibrate``: from an independent FSPS test
set (a training-set file written by ``prospect-emu generate``) or made by the emulator itself.

A test set is accepted only when it is a fair draw for calibration: made from the emulator's
model (the same free parameters, priors and fixed parameters; for a photometric emulator the
same bands), drawn from the prior (``generate --sampler prior``: coverage averaged over the
prior is what a calibrated posterior promises), and sharing no rows or spectra with the
emulator's training set (another configuration and another seed).  Anything else is refused
with the command that makes a proper one.

Noise: each band's uncertainty is the true flux over ``snr``, or the true flux times the
per-band median fractional uncertainty of a catalog; the observed flux is the true flux plus
Gaussian noise of that width.
"""

from __future__ import annotations

import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigurationError

#: derived quantities whose truth calibrate knows (the stellar metallicity is logzsol here)
DERIVED_TRUTHS = ("stellar_mass", "mass_weighted_age", "sfr_100myr")


@dataclass
class Mocks:
    """Noisy photometry of known truth, one row per mock.

    Attributes
    ----------
    rows : ndarray of int
        Row of each mock in its source (test-set row, or draw number).
    z : ndarray
        Redshift of each mock (the model's fixed ``zred`` during its fit).
    maggies, unc : ndarray, shape (n, nbands)
        Observed (noisy) fluxes and their uncertainties, maggies.
    bands : list of str
    labels : list of str
        Free parameters then :data:`DERIVED_TRUTHS`, the columns of ``truths``.
    truths : ndarray, shape (n, len(labels))
    source : str
        What made the mocks, for the report.
    """

    rows: np.ndarray
    z: np.ndarray
    maggies: np.ndarray
    unc: np.ndarray
    bands: list[str]
    labels: list[str]
    truths: np.ndarray
    source: str


def make_testset_hint(emu, emulator: str | Path, n: int = 100) -> str:
    """The command that makes a proper calibration test set for ``emu``."""
    config = emu.meta.get("training_set", {}).get("config", {})
    used = sorted({int(config["seed"])} | {int(t["test_set"]["seed"]) for t in
                                          emu.meta.get("independent_tests", [])
                                          if t.get("test_set", {}).get("seed") is not None}
                  if "seed" in config else set())
    seed = max(used + [0]) + 1000
    zr = (config.get("space", {}).get("ranges", {}) or {}).get("zred")
    zopt = f" --range zred={zr[0]:g},{zr[1]:g}" if zr else ""
    return (f"make one with: prospect-emu generate <the emulator's parameter file> --n {n} "
            f"--sampler prior --share-spectrum 1 --block-size 1 --seed {seed}{zopt} --out calib.h5 "
            f"(a seed none of the emulator's sets used: {used}; the parameter file: "
            f"prospect-emu info {shlex.quote(str(emulator))})")


def check_calibration_set(emu, test, emulator: str | Path) -> None:
    """Refuse a test set that is no fair calibration set for ``emu`` (see the module notes).

    Raises
    ------
    ConfigurationError
        Another model, other bands, not drawn from the prior, or rows shared with the
        emulator's training set; the message says how to make a proper one.
    """
    from ..trainingdata.trainingset import config_hash
    from .validate import _check_compatible

    hint = make_testset_hint(emu, emulator)
    trained = emu.meta.get("training_set", {}).get("config")
    if not trained:
        raise ConfigurationError(f"emulator {emulator} records no training set, so the "
                                 f"independence of {test.path} cannot be checked")
    if config_hash(trained) == config_hash(test.config):
        raise ConfigurationError(f"{test.path} is this emulator's training set: its rows are no "
                                 f"test of the emulator; {hint}")
    if trained.get("seed") == test.config.get("seed"):
        raise ConfigurationError(f"{test.path} was drawn with the emulator's training seed "
                                 f"({trained.get('seed')}): its rows and spectra repeat training "
                                 f"rows; {hint}")
    if _model_of(trained) != _model_of(test.config):
        raise ConfigurationError(f"{test.path} was made from another model than the emulator's "
                                 f"(free parameters, priors or fixed parameters differ); {hint}")
    try:
        _check_compatible(emu, test, f"emulator {emulator}")
    except ConfigurationError as exc:
        raise ConfigurationError(f"{exc}; {hint}") from exc
    if test.config.get("sampler", {}).get("kind") != "prior":
        raise ConfigurationError(f"{test.path} was not drawn from the prior (sampler "
                                 f"{test.config.get('sampler')}): posterior coverage is promised "
                                 f"for truths drawn from the prior; {hint}")
    shared = [f"--{k.replace('_', '-')} {test.config[k]}" for k in ("block_size", "share_spectrum")
              if int(test.config.get(k) or 1) > 1]
    if shared:
        warnings.warn(f"{test.path} was generated with {' and '.join(shared)}: rows share "
                      "parameters or spectra, so the mocks are not independent and the binomial "
                      "intervals are too narrow; regenerate with --block-size 1 --share-spectrum 1",
                      stacklevel=3)


def _model_of(config: dict) -> dict:
    """The model description that decides the physics, without zred's initial value."""
    model = {k: {a: b for a, b in v.items() if a in ("isfree", "prior", "init", "depends_on")
                 and b is not None} for k, v in (config.get("model") or {}).items()}
    if "zred" in model and not model["zred"].get("isfree"):
        model["zred"] = {"isfree": False}
    return model


def noise_widths(true: np.ndarray, snr: float | None, fractional: np.ndarray | None) -> np.ndarray:
    """Uncertainties of ``true`` fluxes: ``|true| / snr`` or ``|true| * fractional`` per band."""
    if fractional is not None:
        return np.abs(true) * fractional[None, :]
    if snr is None or not snr > 0:
        raise ConfigurationError(f"--snr must be positive (got {snr})")
    return np.abs(true) / float(snr)


def catalog_fractional_uncertainty(catalog: str | Path, bands: list[str], **load_options) -> np.ndarray:
    """Per-band median fractional uncertainty (unc / |flux|) of a catalog's measured values."""
    from .catalog_io import load_catalog

    data = load_catalog(catalog, bands, **load_options)
    frac = np.full(len(bands), np.nan)
    for j in range(len(bands)):
        ok = data.band_ok[:, j] & (np.abs(data.maggies[:, j]) > 0) & (data.unc[:, j] > 0)
        if ok.any():
            frac[j] = np.median(data.unc[ok, j] / np.abs(data.maggies[ok, j]))
    if not np.all(np.isfinite(frac)):
        missing = [b for b, f in zip(bands, frac) if not np.isfinite(f)]
        raise ConfigurationError(f"catalog {catalog} has no measured values in bands {missing}: "
                                 "give --snr, or map those bands with --map")
    return frac


def truths_of(model, theta: np.ndarray, mfrac: np.ndarray | None = None) -> np.ndarray:
    """Free parameters and :data:`DERIVED_TRUTHS` of each row of ``theta``; ``mfrac`` (FSPS's)
    replaces the emulated surviving-mass fraction in the stellar mass when given."""
    from .derived import derived_quantities

    derived = derived_quantities(model, theta, obs=None)
    if mfrac is not None:
        derived["stellar_mass"] = mass_formed(model, theta) * mfrac
    return np.column_stack([theta] + [derived[k] for k in DERIVED_TRUTHS])


def mocks_from_test_set(emu, model, test, n: int, rng: np.random.Generator, snr: float | None,
                        fractional: np.ndarray | None = None) -> Mocks:
    """The first ``n`` usable rows of an FSPS test set as noisy mocks (FSPS photometry).

    The mocks' redshifts are the test set's ``zred`` column, or its fixed zred where it
    does not vary it (an emulator of a fixed-zred model); either must lie where the
    emulator learned its bands."""
    from ..cosmology import distance_factor_array
    from ..emulator.spectral_metrics import test_set_zred
    from ..trainingdata.trainingset import OK

    labels = list(model.theta_labels())
    missing = [k for k in labels if k not in test.names]
    if missing:
        raise ConfigurationError(f"{test.path} does not vary {missing}: it was not made from this "
                                 f"model; {make_testset_hint(emu, 'EMU_DIR')}")
    bands = list(emu.filter_names)
    cols = [test.filter_names.index(b) for b in bands]
    good = (test.status == OK) & np.all(np.isfinite(test.params), axis=1) \
        & np.all(np.isfinite(test.phot[:, cols]), axis=1) & (test.mfrac > 0)
    x = emu.as_vector(test.params, names=test.names)
    good &= ~emu.inputs.out_of_bounds(x).any(axis=1)
    rows = np.flatnonzero(good)[:n]
    if rows.size == 0:
        raise ConfigurationError(f"{test.path} has no finished rows inside the emulator's bounds")
    theta = np.column_stack([test.column(k)[rows] for k in labels])
    z = test_set_zred(test)[rows]
    _check_learned_zred(emu, model, bands, z, test.path)
    true = test.phot[rows][:, cols] * (mass_formed(model, theta) * distance_factor_array(z))[:, None]
    unc = noise_widths(true, snr, fractional)
    return Mocks(rows, z, true + unc * rng.normal(size=true.shape), unc, bands,
                 labels + list(DERIVED_TRUTHS), truths_of(model, theta, test.mfrac[rows]),
                 f"FSPS test set {test.path}")


def _check_learned_zred(emu, model, bands: list[str], z: np.ndarray, path) -> None:
    """Refuse mocks at redshifts where the emulator did not learn the bands."""
    from ..filters import load_filters

    lo, hi = emu.zred_coverage(load_filters(bands), float(np.squeeze(model.params.get("zred", 0.0))))
    if np.any(z < lo - 1e-9) or np.any(z > hi + 1e-9):
        raise ConfigurationError(f"{path} has rows at zred {np.min(z):g}-{np.max(z):g}, the emulator "
                                 f"learned these bands at zred {lo:g}-{hi:g}: make the test set "
                                 "from the emulator's own parameter file")


def mass_formed(model, theta: np.ndarray) -> np.ndarray:
    """The total mass formed (the sum of the model's ``mass`` parameter, which the emulated
    photometry is normalised to) of each row of ``theta``: a free ``mass`` or one a
    ``depends_on`` computes (a continuity history's bin masses)."""
    theta = np.atleast_2d(theta)
    if "mass" in model.theta_index:  # free: set from theta, never by a depends_on
        return np.sum(theta[:, model.theta_index["mass"]], axis=1)
    out = np.empty(len(theta))
    for i, row in enumerate(theta):
        model.set_parameters(row)
        out[i] = float(np.sum(model.params["mass"]))
    return out


def mocks_from_emulator(model, bands: list[str], n: int, zrange: tuple[float, float],
                        rng: np.random.Generator, snr: float) -> Mocks:
    """``n`` mocks made by the emulated ``model`` itself at prior draws (a perfect emulator:
    what is left of any miscalibration is the sampler's)."""
    from prospect.utils.obsutils import fix_obs
    from sedpy.observate import load_filters

    labels = list(model.theta_labels())
    theta = np.array([model.prior_transform(u) for u in rng.uniform(size=(n, model.ndim))])
    z = rng.uniform(*zrange, size=n)
    filters = load_filters(bands)
    true = np.empty((n, len(bands)))
    for i in range(n):
        model.params["zred"] = np.atleast_1d(z[i])
        obs = fix_obs({"filters": filters, "maggies": np.ones(len(bands)),
                       "maggies_unc": np.ones(len(bands)), "wavelength": None, "spectrum": None})
        true[i] = model.predict(theta[i], obs=obs)[1]
    unc = noise_widths(true, snr, None)
    return Mocks(np.arange(n), z, true + unc * rng.normal(size=true.shape), unc, bands,
                 labels + list(DERIVED_TRUTHS), truths_of(model, theta), "emulator-made mocks")
