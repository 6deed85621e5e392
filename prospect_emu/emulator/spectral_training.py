"""Train the spectral emulator kind (``prospect-emu train DATA --kind spectrum``).

Recipe (after Alsing et al. 2020, speculator):

1. the rows and the train/validation/test split of the photometric kind
   (:func:`prospect_emu.emulator.training_base.prepare`: the same honest hold-out, whole groups of rows
   that share a spectrum or a metallicity block in one split); rows that share a spectrum
   are then counted once;
2. inputs: the sampled parameters except zred, mass and lumdist (redshift and distance
   enter exactly), log10-scaled for log-uniform priors and for ``config.log_inputs``
   (default tage: young ages are squeezed on a linear scale);
3. a PCA of the standardised log10 training spectra (:mod:`prospect_emu.emulator.pca`), with the
   fewest components whose reconstruction of the validation spectra meets
   ``config.pca_tolerance`` (median fractional error);
4. a Keras MLP predicting the standardised coefficients and log10 mfrac, trained through
   fixed (non-trainable) layers holding the basis, so that the loss is the MSE of the
   log10 spectrum, each pixel weighted by ``scale**P`` over its spread ``scale``
   (:func:`pixel_weights`; ``P = 0``: the standardised log10 spectrum, which leaves the
   widest pixels, the rest-frame UV, the least accurate; ``P = 1``: every pixel's
   fractional error counts the same) (measured for issue 10 at P = 0: 1.0%/7.0% median/95th spectral
   error, against 2.9%/21% for an MSE on standardised coefficients, with 5000 spectra;
   here, delayed-tau model, 8000 spectra, 4 x 256, 13 min on 2 busy cores: 0.53%/4.0%
   over 1000 AA - 2.5 um, 0.69%/5.5% over 300 AA - 6.5 um, 11 components);
5. held-out statistics through the numpy inference: spectral fractional error per
   wavelength and overall, and the photometric error it implies in the training set's
   bands at the test rows' redshifts (asinh mag, the photometric kind's layout).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..normalization import MASS_CONVENTION
from ..provenance import package_versions, utc_now
from ..trainingdata.sampling import parameter_of_label
from ..trainingdata.trainingset import OK, TrainingSet
from .artifact import SCHEMA_VERSION
from .errorstats import residual_statistics
from .pca import choose_components, fit_pca, fractional_error, log_spectra
from .spectral_metrics import (
    REPORT_RANGE,  # noqa: F401 - re-exported
    fixed_zred,  # noqa: F401 - re-exported
)
from .spectral_metrics import error_table as _error_table
from .spectral_metrics import model_switch as _model_switch
from .spectral_metrics import unique_rows as _unique_rows
from .training_base import fit_schedule, prepare, save_artifact
from .transforms import InputTransform, asinh_mag, band_softening

#: parameters that enter the spectral kind exactly instead of through the network
EXACT = ("zred", "mass", "lumdist")
#: ``TrainConfig.pixel_weight_power`` when none is given.  Measured on the demo model (100k
#: FSPS spectra, 4 x 256, an independent set of 5,000 draws), 95th percentiles of the
#: spectrum (1000 AA - 2.5 um) / of the worst of 15 bands: P = 0.5 2.1% / 0.020 mag against
#: P = 1 2.9% / 0.030 (same 3-stage schedule); P = 0.5 2.0% / 0.019 against P = 0.3 2.3% /
#: 0.026 (same 4-stage schedule); the earlier P = 0 emulator (15k spectra) 6.1% / 0.085.
DEFAULT_PIXEL_WEIGHT_POWER = 0.5


def pixel_weights(scale: np.ndarray, power: float) -> np.ndarray:
    """Loss weight per rest-frame pixel: ``scale**power``, scaled to a mean square of 1.

    The trainer's targets are the standardised log10 spectra ``(l - mean) / scale`` times
    these weights, so a pixel's log-flux error weighs ``scale**(2 power - 2)`` in the loss:
    ``power = 0`` standardises each pixel, ``power = 1`` is the MSE of the log10 spectrum
    itself (up to a constant).  The mean square of 1 keeps the loss's size, so the learning
    rates of the schedule keep their meaning.
    """
    w = np.asarray(scale, dtype=float) ** float(power)
    return w / np.sqrt(np.mean(w * w))


def loss_layers(pca, power: float) -> tuple[np.ndarray, np.ndarray, Callable]:
    """The fixed layer of :func:`~prospect_emu.network.architecture.build_spectral_trainer`
    for ``pca`` with pixel weights ``w`` (:func:`pixel_weights`), and the targets:
    ``(projection, offset, encode)``; the layer maps the standardised coefficients to
    ``w (l - mean) / scale``, the weighted standardised log10 spectrum, and
    ``encode(l)`` gives that of log10 spectra ``l`` (float32; ``encode(l, out=l)`` overwrites
    a float32 ``l``, a large set's training rows, instead of making a second copy)."""
    w = pixel_weights(pca.scale, power)

    def encode(log_spec: np.ndarray, out: np.ndarray | None = None,
               chunk: int = 16384) -> np.ndarray:
        log_spec = np.asarray(log_spec)
        out = np.empty(log_spec.shape, dtype=np.float32) if out is None else out
        for i in range(0, len(log_spec), chunk):
            out[i:i + chunk] = (log_spec[i:i + chunk] - pca.mean) / pca.scale * w
        return out
    return (pca.coeff_std[:, None] * pca.basis) * w, (pca.coeff_mean @ pca.basis) * w, encode


def implied_photometry_errors(emu, data: TrainingSet, rows: np.ndarray, x: np.ndarray,
                              softening: np.ndarray) -> tuple[dict[str, Any], int]:
    """Held-out photometric residuals (asinh mag) in the training bands at each row's zred.

    Returns the :func:`~prospect_emu.emulator.errorstats.residual_statistics` of
    ``[emulated - FSPS per band, log10 mfrac]`` and the number of rows left out because a
    band lay outside the emulated range at their redshift.
    """
    from ..filters import load_filters

    filters = load_filters(data.filter_names)
    zcol = data.names.index("zred") if "zred" in data.names else None
    zfix = fixed_zred(data) if zcol is None else None
    c, mfrac, _ = emu.coefficients(x, strict=False)
    resid, skipped = [], 0
    for j, r in enumerate(rows):
        z = float(data.params[r, zcol]) if zcol is not None else zfix
        try:
            plan = emu.photometry_plan(filters, z)
        except ConfigurationError:
            skipped += 1
            continue
        phot = plan.photometry(c[j])
        d = asinh_mag(phot, softening) - asinh_mag(data.phot[r], softening)
        resid.append(np.append(d, np.log10(mfrac[j]) - np.log10(data.mfrac[r])))
    if len(resid) < 2:
        raise ConfigurationError("the training bands lie outside the emulated rest-frame range at "
                                 "the redshifts of nearly all test rows: widen --wave-range")
    names = list(data.filter_names) + ["log10_mfrac"]
    return {**residual_statistics(np.array(resid), names), "units": "asinh mag (log10 for mfrac)",
            "at": "each test row's zred"}, skipped


def _chunks(a: np.ndarray, chunk: int = 4096):
    """Rows of ``a``, ``chunk`` at a time."""
    return (a[i:i + chunk] for i in range(0, len(a), chunk))


def floor_spectra(spectra: np.ndarray, floor: float, chunk: int = 4096) -> tuple[np.ndarray, int]:
    """Raise, in place, each row's pixels below ``floor`` times its brightest pixel to that.

    FSPS gives exactly zero flux blueward of the ionizing edges of old populations and
    fluxes 30 dex below the peak behind heavy dust; neither is measured, and a log-spectrum
    PCA needs positive pixels.

    Returns
    -------
    bad : ndarray of bool (N,)
        Rows that cannot be used: a non-finite or negative pixel, or none positive.
    n_floored : int
        Usable rows in which some pixel was raised.
    """
    bad = np.zeros(len(spectra), dtype=bool)
    n_floored = 0
    for i in range(0, len(spectra), chunk):
        block = spectra[i:i + chunk]
        peak = block.max(axis=1, initial=0.0)
        b = ~np.all(np.isfinite(block) & (block >= 0), axis=1) | ~(peak > 0)
        low = block < (floor * peak)[:, None]
        n_floored += int((low.any(axis=1) & ~b).sum())
        np.maximum(block, (floor * peak)[:, None].astype(block.dtype), out=block)
        bad[i:i + chunk] = b
    return bad, n_floored


def check_rest_frame_model(data: TrainingSet) -> None:
    """Refuse (or warn about) training sets whose stored rest-frame spectra a spectral
    emulator cannot stand for, from the model the set records (``config["model"]``).

    * ``add_igm_absorption``: FSPS absorbs the spectrum blueward of Lyman alpha by the
      IGM at each row's zred (Prospector passes zred to FSPS), so the stored rest-frame
      spectrum depends on zred, which the spectral kind applies exactly and never shows
      the network: refused.  Train on spectra without it: a fit model with
      ``add_igm_absorption`` on gets FSPS's IGM absorption applied after redshifting
      (:mod:`prospect_emu.emulator.igm`), at any zred and ``igm_factor``.
    * ``add_neb_emission`` with ``nebemlineinspec`` off (Prospector's nebular template):
      the stored spectra hold the nebular continuum but not the lines, which Prospector
      adds from the sps object's ``get_galaxy_elines``; :class:`~prospect_emu.prospector.sps.EmulatedSPS`
      has no lines, so every emulated spectrum and band would lack them: refused.
    * ``add_neb_emission`` with the lines in the spectrum (``nebemlineinspec`` on, FSPS's
      default): consistent, but a PCA of log spectra meets each line as a narrow feature
      a few pixels wide whose strength varies with age and gas parameters: it costs
      components and its error sits in a few pixels that a median tolerance hardly sees
      (look at the per-wavelength 95th percentile): warned.

    Raises
    ------
    ConfigurationError
        For the refused cases, naming the parameter and the fix.
    """
    model = (data.config or {}).get("model") or {}
    if _model_switch(model, "add_igm_absorption", False):
        raise ConfigurationError(
            "the training set was generated with add_igm_absorption on: FSPS then absorbs each "
            "stored rest-frame spectrum by the IGM at that row's zred, but a spectral emulator's "
            "rest-frame spectrum cannot depend on zred (redshift enters exactly). Regenerate with "
            "add_igm_absorption False (leave out Prospector's 'igm' template, or set its init to "
            "False): the emulator then serves fit models with add_igm_absorption on, applying "
            "FSPS's IGM absorption (Madau 1995, igm_factor) after redshifting, at any zred. Or "
            "train the photometric kind (--kind photometry), which takes zred as an input")
    if _model_switch(model, "add_neb_emission", False):
        if not _model_switch(model, "nebemlineinspec", True):
            raise ConfigurationError(
                "the training set was generated with add_neb_emission on and nebemlineinspec "
                "off: its stored spectra hold the nebular continuum but not the emission lines, "
                "which Prospector adds from the sps object's get_galaxy_elines(), and the "
                "emulated sps has no lines, so emulated spectra and photometry would lack them. "
                "Regenerate with nebemlineinspec True (the lines inside the stored spectra), or "
                "with add_neb_emission False, or train the photometric kind (--kind photometry), "
                "whose bands include the lines")
        warnings.warn(
            "the training set's spectra include nebular emission lines (add_neb_emission, "
            "nebemlineinspec on): the PCA of log spectra learns each line as a narrow feature "
            "a few pixels wide; expect more components and larger errors at the line "
            "wavelengths than the median tolerance shows (check the per-wavelength 95th "
            "percentile in the artifact's spectral_errors). Prospector's line fitting and "
            "marginalisation see no lines from the emulated sps", UserWarning, stacklevel=3)


def tied_exact_columns(data: TrainingSet, names: list[str]) -> set[str]:
    """The zred / lumdist columns among ``names`` that a derived parameter follows
    (``depends_on``, e.g. age bins set from zred by ``zred_to_agebins``, or ``tage`` as a
    fraction of the age of the universe): the stored rest-frame spectrum changes with them,
    so the network must see them (redshift still enters the projection exactly).

    Read from the set's record (``config["spectrum_depends_on"]``, written by ``generate``).
    A set written before that record, with a depends_on parameter and zred varying, warns.
    """
    config = data.config or {}
    varying = {n for n in names if parameter_of_label(n) in EXACT}
    if "spectrum_depends_on" in config:
        followed = {c for cols in config["spectrum_depends_on"].values() for c in cols}
        return varying & followed
    derived = [k for k, v in (config.get("model") or {}).items()
               if isinstance(v, dict) and v.get("depends_on")]
    if varying and derived:
        warnings.warn(
            f"the training set predates prospect-emu's record of which depends_on parameters "
            f"follow {', '.join(sorted(varying))}; its model computes {', '.join(sorted(derived))} "
            "through depends_on. If one of them follows zred (age bins from zred_to_agebins, "
            "tage from the age of the universe), the rest-frame spectra change with zred, which "
            "this emulator will not see: regenerate the set with this prospect-emu, which "
            "records it, and train again", UserWarning, stacklevel=3)
    return set()


def train_spectrum(data_path: str | Path, out: str | Path, config, progress: bool = True,
                   keep_keras: bool = True):
    """Train a spectral emulator and write its artifact directory (see module docstring).

    Parameters
    ----------
    data_path : str or Path
        A training set written with ``generate --store-spectrum``.
    out : str or Path
        The emulator directory to write.
    config : TrainConfig
        With ``kind == "spectrum"``; ``pca_tolerance``, ``max_components`` and
        ``log_inputs`` apply.

    Returns
    -------
    SpectralEmulator
    """
    try:
        import keras
    except ImportError as exc:
        raise ConfigurationError("training needs Keras 3 and a backend: pip install "
                                 "'prospect-emu[train]'") from exc
    from ..network.architecture import build_network, build_spectral_trainer, export_layers
    from .spectral import SpectralEmulator

    data = TrainingSet(data_path, with_spectrum=True)
    if data.spectrum is None:
        raise ConfigurationError(f"{data_path} stores no spectra: generate it with "
                                 "--store-spectrum to train a spectral emulator")
    check_rest_frame_model(data)
    prep = prepare(data, config)
    rows = getattr(prep, "rows", None)
    if rows is None or len(rows) != len(prep.x):
        good = (data.status == OK) & np.all(np.isfinite(data.phot), axis=1) & np.isfinite(data.mfrac) \
            & (data.mfrac > 0) & np.all(np.isfinite(data.params), axis=1)
        rows = np.flatnonzero(good)
    spectra = data.spectrum
    data.spectrum = None
    bad, n_floored = floor_spectra(spectra, config.spectrum_floor)
    bad = bad[rows]
    split = {k: v[~bad[v]] for k, v in prep.split.items()}
    tied = tied_exact_columns(data, prep.inputs.names)
    keep = [j for j, n in enumerate(prep.inputs.names)
            if parameter_of_label(n) not in EXACT or n in tied]
    if not keep:
        raise ConfigurationError("the training set varies nothing but zred, mass or distance: a "
                                 "spectral emulator has nothing to learn")
    names = [prep.inputs.names[j] for j in keep]
    log = prep.inputs.log[keep]  # config.log_inputs, resolved by prepare
    # config.ratio_inputs, resolved by prepare; "auto" adds none for this kind (on the spectral
    # demo set tage/tau gave 6.96% vs 6.52% held-out 95th percentile: no gain measured)
    auto = str(config.ratio_inputs).strip().lower() == "auto"
    ratios = [] if auto else [(keep.index(a), keep.index(b), cap) for a, b, cap in prep.inputs.ratios
                              if a in keep and b in keep]
    inputs = InputTransform.from_bounds(names, prep.inputs.raw_lo[keep], prep.inputs.raw_hi[keep],
                                        log, ratios)
    x = prep.x[:, keep]
    tr, va = _unique_rows(x, split["train"]), _unique_rows(x, split["val"])
    te_all = split["test"]
    te = _unique_rows(x, te_all)
    # one reordered copy, its log taken in place: a million spectra fit in memory
    logspec = log_spectra(spectra[rows[np.concatenate([tr, va, te])]], inplace=True)
    del spectra
    l_tr, l_va, l_te = np.split(logspec, [len(tr), len(tr) + len(va)])

    t0 = time.perf_counter()
    full = fit_pca(partial(_chunks, l_tr))
    k, pca_stats = choose_components(full, l_va, config.pca_tolerance, config.max_components)
    pca = full.truncated(k).with_coefficient_stats(_chunks(l_tr))
    l_te = l_te.astype(float)
    test_rec = fractional_error(pca.reconstruct(pca.coefficients(l_te)), l_te)
    pca_stats.update({"n_components": k, "test_median": float(np.median(test_rec)),
                      "test_p95": float(np.quantile(test_rec, 0.95)),
                      "explained_variance": float(full.eigenvalues[:k].sum() / full.eigenvalues.sum()),
                      "seconds": time.perf_counter() - t0})

    lmf = np.log10(prep.mfrac)
    mf_mean, mf_std = float(lmf[tr].mean()), float(max(lmf[tr].std(), 1e-12))
    xs = inputs(x).astype("float32")
    power = DEFAULT_PIXEL_WEIGHT_POWER if config.pixel_weight_power is None \
        else float(config.pixel_weight_power)
    projection, offset, encode = loss_layers(pca, power)

    def targets(idx, lsp, out=None):
        return encode(lsp, out), ((lmf[idx] - mf_mean) / mf_std).astype("float32")[:, None]

    keras.utils.set_random_seed(config.seed)
    core = build_network(xs.shape[1], k + 1, config.width, config.depth, config.activation)
    trainer = build_spectral_trainer(core, projection, offset)
    optimizer = keras.optimizers.Adam(learning_rate=float(config.schedule[0][0]))
    trainer.compile(optimizer=optimizer, loss=["mse", "mse"])
    y_tr, y_va = targets(tr, l_tr, out=l_tr), targets(va, l_va)  # l_tr is not used again
    t0 = time.perf_counter()
    history = fit_schedule(trainer, optimizer, xs[tr], y_tr, (xs[va], y_va), config, progress)
    seconds = time.perf_counter() - t0
    del logspec, l_tr, l_va, y_tr, y_va  # the test below needs none of it (l_te is a copy)

    layer_spec, weights = export_layers(core)
    weights.update({"wavelength": data.wavelength.astype(np.float32),
                    "pca_mean": pca.mean.astype(np.float32),
                    "pca_scale": pca.scale.astype(np.float32),
                    "pca_basis": pca.basis.astype(np.float32),
                    "coeff_mean": pca.coeff_mean.astype(np.float32),
                    "coeff_std": pca.coeff_std.astype(np.float32)})
    phot_tr = prep.phot[split["train"]]
    soft = band_softening(phot_tr, config.softening_fraction, config.softening_reference)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "kind": "spectrum",
        "created": utc_now(),
        "inputs": inputs.to_json(),
        "outputs": {"n_components": int(k), "log10_mfrac_mean": mf_mean, "log10_mfrac_std": mf_std,
                    "filter_names": list(data.filter_names), "softening": soft.tolist(),
                    "magnitudes": "asinh", "spectrum_units": "Lsun/Hz per Msun formed, rest frame",
                    "wavelength_units": "AA, rest frame"},
        "exact_parameters": list(EXACT),
        "pca": pca_stats,
        "filters": [{"name": n, "hash": data.filter_hashes[n]} for n in data.filter_names],
        "units": {n: data.metadata.get("units", {}).get(n, "") for n in inputs.names},
        "mass_convention": MASS_CONVENTION,
        "layers": layer_spec,
        "network": {"width": config.width, "depth": config.depth, "activation": config.activation,
                    "backend": keras.backend.backend(), "loss": "MSE of the log10 spectrum "
                    "through the fixed PCA basis, each pixel's standardised log flux weighted "
                    f"by scale**{power:g} (mean square 1), plus MSE of standardised log10 mfrac"},
        "training": {**asdict(config), "schedule": [list(s) for s in config.schedule],
                     "pixel_weight_power": power,
                     "stopped_by_budget": any(h.get("stopped_by_budget") for h in history),
                     "log_inputs": config.log_inputs if isinstance(config.log_inputs, str) else list(config.log_inputs), "history": history, "seconds": seconds,
                     "n_train": int(len(tr)), "n_val": int(len(va)), "n_test": int(len(te)),
                     "n_test_rows": int(len(te_all)), "n_excluded": int(prep.n_excluded + bad.sum()),
                     "n_rows_floored": n_floored,
                     "split": getattr(prep, "split_info", {"unit": "row"}),
                     "unique_spectra_only": True},
        "training_set": {"path": str(Path(data_path).resolve()), "config": data.config,
                         "metadata": {k_: v for k_, v in data.metadata.items() if k_ != "failures"}},
        "versions": package_versions(),
        "provenance": config.provenance,
    }
    emu = SpectralEmulator(meta, weights)
    _, spec_te, _ = emu.predict_spectrum(x[te])
    err = fractional_error(np.log10(spec_te), l_te)
    meta["spectral_errors"] = _error_table(err, data.wavelength)
    meta["test_errors"], skipped = implied_photometry_errors(emu, data, rows[te_all], x[te_all], soft)
    meta["test_errors"]["n_rows_outside_range"] = int(skipped)
    save_artifact(emu, out, core, xs[te[:256]], keep_keras)
    return SpectralEmulator.load(out)
