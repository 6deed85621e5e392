"""``prospect-emu`` subcommands that build and check emulators: generate, train, validate,
sweep, info.  Each ``add_*`` adds a subcommand's options; each ``_cmd_*`` calls the package."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..emulator import kinds as _kinds
from ..errors import ConfigurationError


def _parse_ranges(items: Sequence[str] | None) -> dict[str, tuple[float, float]]:
    out = {}
    for item in items or []:
        name, eq, rest = item.partition("=")
        parts = rest.split(",")
        if not eq or len(parts) != 2:
            raise ConfigurationError(f"--range {item!r}: use NAME=LO,HI, e.g. --range zred=0,4")
        try:
            out[name.strip()] = (float(parts[0]), float(parts[1]))
        except ValueError as exc:
            raise ConfigurationError(f"--range {item!r}: LO and HI must be numbers") from exc
    return out


def _parse_pair(text: str | None, option: str) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise ConfigurationError(f"{option} {text!r}: use LO,HI (numbers), e.g. {option} 900,30000") from exc


def _parse_schedule(text: str | None):
    if not text:
        return None
    stages = []
    for part in text.split(","):
        bits = part.split(":")
        try:
            if len(bits) not in (2, 3):
                raise ValueError(part)
            stages.append((float(bits[0]), int(bits[1]), *(int(b) for b in bits[2:])))
        except ValueError as exc:
            raise ConfigurationError(f"--schedule {text!r}: use LR:BATCH[:STEPS],... "
                                     "e.g. 1e-3:128,1e-4:1024 or 2e-3:256:30000,1e-4:1024:8000"
                                     ) from exc
    return tuple(stages)


def _cmd_generate(args: argparse.Namespace, extra: list[str]) -> int:
    from ..filters import read_filters_file
    from ..paramfile import prospector_run_params
    from ..trainingdata.generate import generate

    filters = None
    if args.filters and args.filters_file:
        raise ConfigurationError("give --filters or --filters-file, not both")
    if args.filters:
        filters = [f for f in args.filters.replace(" ", ",").split(",") if f]
    elif args.filters_file:
        filters = read_filters_file(args.filters_file)
    run_params = prospector_run_params(extra)
    report = generate(args.out, args.n, param_file=args.param_file, run_params=run_params,
                      filters=filters, seed=args.seed, sampler=args.sampler,
                      ranges=_parse_ranges(args.range),
                      block_param=None if args.block_param.lower() == "none" else args.block_param,
                      block_size=args.block_size, share_spectrum=args.share_spectrum,
                      chunk_size=args.chunk_size, store_spectrum=args.store_spectrum,
                      wave_range=_parse_pair(args.wave_range, "--wave-range"),
                      workers=args.workers, dask_scheduler=args.dask_scheduler, resume=args.resume,
                      overwrite=args.overwrite, progress=not args.quiet,
                      prior_quantiles=_parse_pair(args.prior_quantiles, "--prior-quantiles"))
    print(report)
    return 0 if report.n_failed == 0 else 3


def add_generate(sub) -> None:
    """The ``generate`` subcommand's options."""
    g = sub.add_parser("generate", help="generate a training set of SEDs from a Prospector parameter file",
                       description="Run a Prospector model over parameter draws and store the SEDs in "
                       "HDF5. Unknown --options are passed to the parameter file as run_params.")
    g.add_argument("param_file", metavar="PARAM_FILE", help="Prospector parameter file")
    g.add_argument("--out", required=True, help="output HDF5 file")
    g.add_argument("--n", type=int, required=True, help="number of SEDs")
    g.add_argument("--filters", help="comma-separated sedpy filter names (default: build_obs's filters)")
    g.add_argument("--filters-file", help="text file of sedpy filter names")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--sampler", default="prior",
                   help="prior | uniform | callable:module:function | mixture:prior=0.7,uniform=0.3")
    g.add_argument("--range", action="append", metavar="NAME=LO,HI",
                   help="override a parameter's range, also for fixed ones (repeatable), e.g. zred=0,4")
    g.add_argument("--prior-quantiles", metavar="LO,HI", default="0.001,0.999",
                   help="quantiles at which unbounded priors (Normal, StudentT, ...) are truncated; "
                   "they become the training box (default 0.001,0.999)")
    g.add_argument("--block-param", default="auto",
                   help="sampled parameter shared within blocks of rows (default auto: logzsol "
                   "where it is sampled, else no blocks; none: no blocks)")
    g.add_argument("--block-size", type=int, default=20, help="rows per block (1: no blocks)")
    g.add_argument("--share-spectrum", type=int, default=1,
                   help="rows per rest-frame spectrum: groups differ only in mass and zred (1: off)")
    g.add_argument("--chunk-size", type=int, default=100, help="rows per chunk of work and writing")
    g.add_argument("--store-spectrum", action="store_true",
                   help="also store rest-frame spectra (needed by train --kind spectrum)")
    g.add_argument("--wave-range", metavar="LO,HI", default=None,
                   help="rest-frame wavelength range (AA) of stored spectra (default: what covers "
                        "the filters over the zred range, plus 10%%; to 1000 um rest where the "
                        "model has dust emission or an AGN torus)")
    g.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    g.add_argument("--dask-scheduler", metavar="ADDRESS", help="run on a Dask distributed cluster")
    g.add_argument("--resume", action="store_true", help="continue an interrupted run")
    g.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_cmd_generate, passthrough=True)


def _cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    from ..emulator.training import TrainConfig, train

    cfg = TrainConfig(width=args.width, depth=args.depth, activation=args.activation,
                      epochs=args.epochs, patience=args.patience, val_frac=args.val_frac,
                      test_frac=args.test_frac, seed=args.seed, max_minutes=args.max_minutes,
                      steps=args.steps, patience_steps=args.patience_steps,
                      eval_every=args.eval_every, decay=args.decay, log_inputs=args.log_inputs,
                      ratio_inputs=args.ratio_inputs,
                      provenance=args.provenance, kind=args.kind, pca_tolerance=args.pca_tolerance,
                      max_components=args.max_components,
                      band_weight_power=args.band_weight_power,
                      pixel_weight_power=args.pixel_weight_power)
    schedule = _parse_schedule(args.schedule)
    if schedule:
        cfg.schedule = schedule
    emu = train(args.data, args.out, cfg, progress=not args.quiet, keep_keras=not args.no_keras)
    print(emu.summary())
    print(f"wrote {args.out}")
    return 0


def add_train(sub) -> None:
    """The ``train`` subcommand's options."""
    t = sub.add_parser("train", help="train an emulator on a training set",
                       description="Train a Keras MLP on a training set and write a numpy artifact.")
    t.add_argument("data", metavar="DATA.h5", help="training set from prospect-emu generate")
    t.add_argument("--out", required=True, metavar="EMU_DIR", help="emulator directory to write")
    t.add_argument("--width", type=int, default=128)
    t.add_argument("--depth", type=int, default=4)
    t.add_argument("--activation", default="alsing",
                   help="alsing | gelu (erf form) | gelu_tanh | relu | tanh | silu")
    t.add_argument("--epochs", type=int, default=300,
                   help="maximum passes over the training rows per schedule stage, capped at "
                   "20,000 optimizer steps (see --steps)")
    t.add_argument("--patience", type=int, default=15,
                   help="early-stopping patience per stage in passes, capped at 3,000 steps")
    t.add_argument("--steps", type=int, default=None,
                   help="optimizer steps per stage, at most (replaces --epochs): the same cost "
                   "whatever the set's size")
    t.add_argument("--patience-steps", type=int, default=None,
                   help="early-stopping patience in optimizer steps (replaces --patience)")
    t.add_argument("--eval-every", type=int, default=None,
                   help="steps between validation checks (default: one pass, at most 500)")
    t.add_argument("--decay", choices=("constant", "cosine"), default="constant",
                   help="learning rate within each stage: constant, or a cosine down to 1%% of it")
    t.add_argument("--schedule", help="learning rate:batch size[:steps] per stage, e.g. "
                   "1e-3:128,1e-4:1024 or 2e-3:256:30000,1e-4:1024:8000")
    t.add_argument("--log-inputs", default="auto",
                   help="inputs the network sees as log10: auto (log-uniform priors and positive "
                   "ranges over more than 2 decades, e.g. tage), prior (log-uniform priors only), "
                   "none, or names: tage,tau")
    t.add_argument("--ratio-inputs", default="auto",
                   help="ratios the network also sees, min(NUM/DEN, CAP) scaled to [-1, 1]: auto "
                   "(photometric kind: tage/tau where both are inputs, how many e-folds a "
                   "parametric SFH has run; spectral kind: none), none, or NUM/DEN[:CAP],... "
                   "(CAP default 30)")
    t.add_argument("--band-weight-power", type=float, default=0.5, metavar="P",
                   help="photometry: weight of each band's magnitude error in the loss, std**(2P) "
                   "relative to a standardised band (std: the band's magnitude spread): 0 each "
                   "band standardised (emulators trained before this option), which leaves the "
                   "widest bands (UV) the least accurate; 1 the loss in magnitudes, every band "
                   "counts the same; 0.5 (default) between, the best measured on the demo model")
    t.add_argument("--pixel-weight-power", type=float, default=None, metavar="P",
                   help="spectrum: weight of each rest-frame pixel's log-flux error in the loss, "
                   "scale**(2P) relative to a standardised pixel (scale: the pixel's log-flux "
                   "spread): 0 each pixel standardised, which leaves the widest pixels (the UV) "
                   "the least accurate; 1 every pixel's fractional error counts the same; 0.5 "
                   "(default) between, the best measured on the demo model")
    t.add_argument("--val-frac", type=float, default=0.1)
    t.add_argument("--test-frac", type=float, default=0.1)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--max-minutes", type=float, default=None,
                   help="time budget: stop training after this many minutes, restore the best "
                   "weights and write the emulator with its test statistics")
    t.add_argument("--no-keras", action="store_true", help="do not keep model.keras beside the artifact")
    t.add_argument("--provenance", default="",
                   help="what the training SEDs are (SPS libraries, intended use), stored in the artifact")
    t.add_argument("--kind", choices=_kinds.names(), default=_kinds.DEFAULT_KIND,
                   help="photometry: bands of the training set (default); spectrum: rest-frame "
                        "spectra (PCA + network; needs generate --store-spectrum), any filter at "
                        "any zred")
    t.add_argument("--pca-tolerance", type=float, default=0.005,
                   help="spectrum: median fractional PCA reconstruction error on the validation "
                        "spectra that sets the number of components (default 0.005)")
    t.add_argument("--max-components", type=int, default=128,
                   help="spectrum: at most this many PCA components (default 128)")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=_cmd_train)


def _cmd_validate(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.validate import validate
    from ..analysis.validate_output import format_summary

    if len(args.paths) < 2:
        raise ConfigurationError("usage: prospect-emu validate EMU_DIR [EMU_DIR ...] TEST.h5 "
                                 "--report DIR: give at least one emulator and a test set")
    labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
    report = validate(args.paths[:-1], args.paths[-1], report_dir=args.report,
                      obs_unc=args.obs_unc, obs_catalog=args.obs, labels=labels,
                      record=args.record)
    print(format_summary(report))
    print(f"wrote {Path(args.report) / 'report.json'}")
    for path in report["figures"].values():
        print(f"wrote {path}")
    return 0


def add_validate(sub) -> None:
    """The ``validate`` subcommand's options."""
    v = sub.add_parser("validate", help="an emulator's error on an independent test set, against "
                       "your observational errors",
                       description="Run one or more emulators over TEST.h5, a set made by "
                       "prospect-emu generate with another seed (FSPS truth they never saw), and "
                       "report per-band residuals, the ratio to the observational error, band "
                       "correlations, colour errors, error against each parameter and the worst "
                       "SEDs: report.json and PNGs in --report.")
    v.add_argument("paths", nargs="+", metavar="EMU_DIR [EMU_DIR ...] TEST.h5",
                   help="emulator directories, then the test set")
    v.add_argument("--report", required=True, metavar="DIR", help="folder for report.json and PNGs")
    v.add_argument("--obs-unc", type=float, default=None, metavar="FRAC",
                   help="fractional observational flux error per band, e.g. 0.05")
    v.add_argument("--obs", default=None, metavar="CATALOG",
                   help="catalog with <band> and <band>_unc columns (FITS, CSV/ECSV, HDF5)")
    v.add_argument("--labels", default=None, help="comma-separated names of the emulators")
    v.add_argument("--record", action="store_true",
                   help="store each emulator's per-band accuracy on TEST.h5 in its emulator.json, "
                   "for prospect-emu info (refused unless TEST.h5 is independent)")
    v.set_defaults(func=_cmd_validate)


def _cmd_sweep(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.sweep import format_sweep, sweep
    from ..emulator.training import TrainConfig

    try:
        widths = [int(w) for w in args.widths.split(",") if w.strip()]
    except ValueError as exc:
        raise ConfigurationError(f"--widths {args.widths!r}: use integers, e.g. 32,64,128") from exc
    cfg = TrainConfig(activation=args.activation, epochs=args.epochs, patience=args.patience,
                      seed=args.seed, max_minutes=args.max_minutes)
    schedule = _parse_schedule(args.schedule)
    if schedule:
        cfg.schedule = schedule
    result = sweep(args.data, args.out, widths, depth=args.depth, config=cfg, test_path=args.test,
                   obs_unc=args.obs_unc, fraction=args.fraction, progress=not args.quiet)
    print(format_sweep(result))
    print(f"wrote {Path(args.out) / 'sweep.json'} and {result['figure']}")
    return 0


def add_sweep(sub) -> None:
    """The ``sweep`` subcommand's options."""
    w = sub.add_parser("sweep", help="error and inference time against layer width",
                       description="Train one emulator per width on the same split, measure "
                       "held-out error and numpy inference time in one run, fit power laws "
                       "(paper: error ~ N^-1, time ~ N^2) and recommend a width.")
    w.add_argument("data", metavar="DATA.h5")
    w.add_argument("--widths", default="32,64,128,256,512", help="comma-separated layer widths")
    w.add_argument("--depth", type=int, default=4)
    w.add_argument("--out", required=True, metavar="DIR")
    w.add_argument("--test", default=None, metavar="TEST.h5",
                   help="independent test set (default: the held-out rows of the split)")
    w.add_argument("--obs-unc", type=float, default=None, metavar="FRAC",
                   help="fractional observational flux error, for the recommendation")
    w.add_argument("--fraction", type=float, default=0.5,
                   help="recommend the smallest width whose 95th percentile error is at most "
                   "this fraction of the observational error (default 0.5)")
    w.add_argument("--activation", default="alsing")
    w.add_argument("--epochs", type=int, default=300)
    w.add_argument("--patience", type=int, default=15)
    w.add_argument("--schedule", help="learning rate:batch size per stage")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--max-minutes", type=float, default=None, help="per width")
    w.add_argument("--quiet", action="store_true")
    w.set_defaults(func=_cmd_sweep)


def _cmd_info(args: argparse.Namespace, extra: list[str]) -> int:
    from ..emulator.artifact import Emulator

    emu = Emulator.load(args.emulator)
    if args.covariance and not emu.error_stats.get("correlation"):
        raise ConfigurationError(f"emulator {args.emulator} stores no test-set error statistics, so "
                                 "there is no residual correlation to print: run info without "
                                 "--covariance, or retrain it with prospect-emu train (which "
                                 "stores them)")
    print(emu.summary())
    if args.covariance:
        import numpy as np

        corr = np.array(emu.error_stats["correlation"])
        names = emu.error_stats["names"]
        print("residual correlation between outputs:")
        print(" " * 12 + " ".join(f"{n[:6]:>6s}" for n in names))
        for n, row in zip(names, corr):
            print(f"{n[:12]:12s}" + " ".join(f"{v:6.2f}" for v in row))
    return 0


def add_info(sub) -> None:
    """The ``info`` subcommand's options."""
    i = sub.add_parser("info", help="what an emulator covers and how accurate it is")
    i.add_argument("emulator", metavar="EMU_DIR")
    i.add_argument("--covariance", action="store_true", help="also print the residual correlation matrix")
    i.set_defaults(func=_cmd_info)
