"""The ``prospect-emu`` command: argument parsing only; each subcommand calls the package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import ConfigurationError


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


def _cmd_generate(args: argparse.Namespace, extra: list[str]) -> int:
    from .filters import read_filters_file
    from .generate import generate
    from .paramfile import prospector_run_params

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
                      overwrite=args.overwrite, progress=not args.quiet)
    print(report)
    return 0 if report.n_failed == 0 else 3


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


def _cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    from .training import TrainConfig, train

    cfg = TrainConfig(width=args.width, depth=args.depth, activation=args.activation,
                      epochs=args.epochs, patience=args.patience, val_frac=args.val_frac,
                      test_frac=args.test_frac, seed=args.seed, max_minutes=args.max_minutes,
                      steps=args.steps, patience_steps=args.patience_steps,
                      eval_every=args.eval_every, decay=args.decay, log_inputs=args.log_inputs,
                      provenance=args.provenance, kind=args.kind, pca_tolerance=args.pca_tolerance,
                      max_components=args.max_components,
                      band_weight_power=args.band_weight_power)
    schedule = _parse_schedule(args.schedule)
    if schedule:
        cfg.schedule = schedule
    emu = train(args.data, args.out, cfg, progress=not args.quiet, keep_keras=not args.no_keras)
    print(emu.summary())
    print(f"wrote {args.out}")
    return 0


def _cmd_info(args: argparse.Namespace, extra: list[str]) -> int:
    from .artifact import Emulator

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


def _cmd_validate(args: argparse.Namespace, extra: list[str]) -> int:
    from .validate import format_summary, validate

    if len(args.paths) < 2:
        raise ConfigurationError("usage: prospect-emu validate EMU_DIR [EMU_DIR ...] TEST.h5 "
                                 "--report DIR: give at least one emulator and a test set")
    labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
    report = validate(args.paths[:-1], args.paths[-1], report_dir=args.report,
                      obs_unc=args.obs_unc, obs_catalog=args.obs, labels=labels)
    print(format_summary(report))
    print(f"wrote {Path(args.report) / 'report.json'}")
    for path in report["figures"].values():
        print(f"wrote {path}")
    return 0


def _cmd_sweep(args: argparse.Namespace, extra: list[str]) -> int:
    from .sweep import format_sweep, sweep
    from .training import TrainConfig

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


def _cmd_fit(args: argparse.Namespace, extra: list[str]) -> int:
    from .fitting import run_fit

    argv = list(extra)
    if args.emulator_error:
        argv += ["--emulator-error", args.emulator_error]
    res = run_fit(args.param_file, argv, emulator=args.emulator)
    how = f"emulator {args.emulator}" if args.emulator else "FSPS"
    calls = f", {res.ncall} likelihood calls" if res.ncall else ""
    print(f"fitted with {how} in {res.seconds:.1f} s{calls}")
    if res.output["sampling"][0] is not None:
        from .posterior import summarize

        print(summarize(res.model, *res.samples()))
    print(f"wrote {res.hfile}")
    return 0


def _cmd_demo(args: argparse.Namespace, extra: list[str]) -> int:
    from .demo import format_summary, run_demo

    if args.compare:
        from .sps_environment import check_sps_home

        check_sps_home()
    print("prospect-emu demo: fitting a mock galaxy with the bundled demo emulator "
          "(FSPS + BaSTI + BT-Settl test libraries; for demonstration, not for science)")
    summary = run_demo(args.out, compare=args.compare, seed=args.seed, snr=args.snr, nlive=args.nlive,
                       sampler="nautilus" if args.nautilus else "dynesty")
    print(format_summary(summary))
    if "compare" in summary:
        print("\nFSPS and emulated fits side by side:")
        print(summary["compare"]["table"])
    for name, path in summary["paths"].items():
        print(f"wrote {name}: {path}")
    return 0


def _cmd_compare(args: argparse.Namespace, extra: list[str]) -> int:
    from .compare import compare, format_mock_summary, run_mocks

    argv = list(extra)
    if args.emulator_error:
        argv += ["--emulator-error", args.emulator_error]
    if args.mocks:
        summary = run_mocks(args.param_file, args.emulator, args.out, args.mocks, argv, snr=args.snr,
                            seed=args.seed, progress=not args.quiet)
        print(format_mock_summary(summary))
    else:
        res = compare(args.param_file, args.emulator, args.out, argv, seed=args.seed)
        print(res["table"])
        for name, path in res["paths"].items():
            print(f"wrote {name}: {path}")
    return 0


def _cmd_fit_catalog(args: argparse.Namespace, extra: list[str]) -> int:
    from .catalog import fit_catalog
    from .catalog_io import parse_column_map
    from .paramfile import parse_extra_options

    options = {"sampler": args.sampler, "nlive": args.nlive, "bound": args.bound,
               "sample": args.sample, "dlogz": args.dlogz, "maxcall": args.maxcall,
               "nsamples": args.nsamples, "seed": args.seed}
    try:
        report = fit_catalog(args.catalog, args.emulator, args.out, param_file=args.param_file,
                             run_params=parse_extra_options(list(extra)),
                             emulator_error=args.emulator_error or "diag",
                             column_map=parse_column_map(args.map), flux_unit=args.flux_unit,
                             z_column=args.z_column, id_column=args.id_column,
                             flag_column=args.flag_column, flag_value=args.flag_value,
                             missing_value=args.missing_value, sampler_options=options,
                             workers=args.workers, dask_scheduler=args.dask_scheduler,
                             max_objects=args.max_objects, summary_name=args.summary,
                             overwrite=args.overwrite, full_results=args.full_results,
                             progress=not args.quiet)
    except KeyboardInterrupt:
        print("prospect-emu fit-catalog: interrupted; finished objects are kept in "
              f"{args.out} (rerun the same command to continue)", file=sys.stderr)
        return 130
    print(report)
    return 3 if report.counts.get("failed") else 0


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="prospect-emu",
        description="Train neural-network SED emulators on Prospector models and fit with them.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
                        "the filters over the zred range, plus 10%%)")
    g.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    g.add_argument("--dask-scheduler", metavar="ADDRESS", help="run on a Dask distributed cluster")
    g.add_argument("--resume", action="store_true", help="continue an interrupted run")
    g.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_cmd_generate, passthrough=True)

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
    t.add_argument("--band-weight-power", type=float, default=0.5, metavar="P",
                   help="photometry: weight of each band's magnitude error in the loss, std**(2P) "
                   "relative to a standardised band (std: the band's magnitude spread): 0 each "
                   "band standardised (emulators trained before this option), which leaves the "
                   "widest bands (UV) the least accurate; 1 the loss in magnitudes, every band "
                   "counts the same; 0.5 (default) between, the best measured on the demo model")
    t.add_argument("--val-frac", type=float, default=0.1)
    t.add_argument("--test-frac", type=float, default=0.1)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--max-minutes", type=float, default=None,
                   help="time budget: stop training after this many minutes, restore the best "
                   "weights and write the emulator with its test statistics")
    t.add_argument("--no-keras", action="store_true", help="do not keep model.keras beside the artifact")
    t.add_argument("--provenance", default="",
                   help="what the training SEDs are (SPS libraries, intended use), stored in the artifact")
    t.add_argument("--kind", choices=("photometry", "spectrum"), default="photometry",
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

    f = sub.add_parser("fit", help="fit a Prospector parameter file, with an emulator in place of FSPS",
                       description="Run an unmodified Prospector parameter file's fit (build_obs, "
                       "build_model, build_sps, build_noise) with the emulated model and write "
                       "Prospector's HDF5 result ({outfile}_result.h5). Every Prospector option "
                       "(--dynesty, --emcee, --optimize, --nested_maxcall, --outfile, ...) and "
                       "the file's own options (--objid 3) pass through. Default sampler: dynesty.")
    f.add_argument("param_file", metavar="PARAM_FILE")
    f.add_argument("--emulator", metavar="EMU_DIR",
                   help="emulator to fit with (omit to fit with FSPS via build_sps)")
    f.add_argument("--emulator-error", choices=("none", "diag", "cov"), default=None,
                   help="emulator error in the likelihood (default diag)")
    f.set_defaults(func=_cmd_fit, passthrough=True)

    fc = sub.add_parser("fit-catalog", help="fit every object of a photometric catalog with an emulator",
                        description="Fit each row of a table (FITS, CSV/ECSV, HDF5) through the "
                        "emulated likelihood: fixed zred from the row's redshift, its bands (NaN or "
                        "flagged values masked). Writes a summary table (medians, 16/84 percentiles "
                        "of free parameters and derived quantities, status per object) and "
                        "equal-weight posterior samples (samples.h5). Resumable: rerun the same "
                        "command to continue. Unknown --options go to build_model as run_params.")
    fc.add_argument("catalog", metavar="CATALOG")
    fc.add_argument("--emulator", required=True, metavar="EMU_DIR")
    fc.add_argument("--out", required=True, metavar="DIR", help="output folder")
    fc.add_argument("--param-file", default=None,
                    help="Prospector parameter file (default: the one stored in the emulator)")
    fc.add_argument("--emulator-error", choices=("none", "diag", "cov"), default=None,
                    help="emulator error in the likelihood (default diag)")
    fc.add_argument("--map", action="append", metavar="BAND=FLUX:ERR[:FLAG]",
                    help="columns of a band (repeatable), e.g. sdss_r0=r_flux:r_err; default "
                    "columns: <band> + <band>_unc/<band>_err, or flux_<band> + fluxerr_<band>")
    fc.add_argument("--flux-unit", default="maggies", choices=("maggies", "nJy", "uJy", "mJy", "Jy"))
    fc.add_argument("--z-column", default=None, help="redshift column (default z, zred or redshift)")
    fc.add_argument("--id-column", default=None, help="id column (default id/ID/objid; else row number)")
    fc.add_argument("--flag-column", default=None, help="objects whose flag is set are not fitted")
    fc.add_argument("--flag-value", default=None,
                    help="the flag value meaning 'skip' (default: any nonzero value)")
    fc.add_argument("--missing-value", type=float, default=None,
                    help="flux/uncertainty value meaning 'not measured', e.g. -99")
    fc.add_argument("--sampler", default="dynesty",
                    help="dynesty (default), nautilus (batched; pip install nautilus-sampler) or module:function")
    fc.add_argument("--nlive", type=int, default=150, help="dynesty live points (default 150)")
    fc.add_argument("--bound", default="multi", help="dynesty bound (default multi)")
    fc.add_argument("--sample", default="unif", help="dynesty sampling method (default unif)")
    fc.add_argument("--dlogz", type=float, default=0.2, help="dynesty stopping dlogz (default 0.2)")
    fc.add_argument("--maxcall", type=int, default=None, help="likelihood calls per object at most")
    fc.add_argument("--nsamples", type=int, default=1000,
                    help="equal-weight posterior draws stored per object (default 1000)")
    fc.add_argument("--seed", type=int, default=0)
    fc.add_argument("--workers", type=int, default=None,
                    help="local worker processes (default: all cores; 1: no pool)")
    fc.add_argument("--dask-scheduler", metavar="ADDRESS", help="run on a Dask distributed cluster")
    fc.add_argument("--max-objects", type=int, default=None, help="fit at most N objects in this run")
    fc.add_argument("--summary", default="summary.ecsv",
                    help="summary file name in --out: .ecsv (default), .fits, .csv or .h5")
    fc.add_argument("--overwrite", action="store_true", help="start again, discarding an earlier fit in --out")
    fc.add_argument("--full-results", action="store_true",
                    help="also write Prospector's HDF5 result per object (out/full/)")
    fc.add_argument("--quiet", action="store_true", help="no progress bar")
    fc.set_defaults(func=_cmd_fit_catalog, passthrough=True)

    d = sub.add_parser("demo", help="fit a mock galaxy with the bundled demo emulator (no FSPS needed)",
                       description="Make a mock galaxy with the bundled demo emulator, fit it with "
                       "dynesty through the emulated likelihood, print the posterior against the "
                       "truth, and write the corner plot, the SED plot and Prospector's HDF5 result.")
    d.add_argument("--out", default="prospect_emu_demo", help="output folder (default prospect_emu_demo)")
    d.add_argument("--compare", action="store_true",
                   help="also fit the mock with FSPS (needs python-fsps and SPS_HOME) and compare")
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--snr", type=float, default=20.0, help="signal-to-noise of the mock photometry")
    d.add_argument("--nlive", type=int, default=None, help="live points (default 200)")
    d.add_argument("--nautilus", action="store_true",
                   help="sample with nautilus (batched, vectorised likelihood) instead of dynesty")
    d.set_defaults(func=_cmd_demo)

    c = sub.add_parser("compare", help="fit the same data with FSPS and with an emulator, side by side",
                       description="Fit a parameter file's observations (or --mocks N mock galaxies "
                       "drawn from the prior) with FSPS and with the emulator, same sampler settings "
                       "and seed; report posteriors, offsets and divergences, and write plots. FSPS "
                       "fits cost ~5 ms a call here after a one-off ~15 s warm-up (more when "
                       "metallicity is free and the sampler wanders): fix parameters (e.g. "
                       "--fixed_metallicity -0.3 where the file supports it) or cap the sampler "
                       "(--nested_maxcall_init N) to bound the FSPS time.")
    c.add_argument("param_file", metavar="PARAM_FILE")
    c.add_argument("--emulator", required=True, metavar="EMU_DIR")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument("--mocks", type=int, default=0, help="fit N mock galaxies drawn from the prior")
    c.add_argument("--snr", type=float, default=20.0, help="S/N of the mock photometry")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--emulator-error", choices=("none", "diag", "cov"), default=None)
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=_cmd_compare, passthrough=True)

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
    v.set_defaults(func=_cmd_validate)

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

    i = sub.add_parser("info", help="what an emulator covers and how accurate it is")
    i.add_argument("emulator", metavar="EMU_DIR")
    i.add_argument("--covariance", action="store_true", help="also print the residual correlation matrix")
    i.set_defaults(func=_cmd_info)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``prospect-emu`` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.func(args, extra) or 0)
    except ConfigurationError as exc:
        print(f"prospect-emu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"prospect-emu {args.command}: interrupted; written chunks are kept "
              "(generate: rerun with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
