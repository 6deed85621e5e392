"""``prospect-emu`` subcommands that build and check emulators: generate, train, validate,
sweep, info.  Each ``add_*`` adds a subcommand's options; each ``_cmd_*`` calls the package."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigurationError
from ..options import add_options, from_args


def _cmd_generate(args: argparse.Namespace, extra: list[str]) -> int:
    from ..filters import read_filters_file
    from ..paramfile import prospector_run_params
    from ..trainingdata.generate import generate
    from ..trainingdata.generate_config import GenerateConfig

    filters = None
    if args.filters and args.filters_file:
        raise ConfigurationError("give --filters or --filters-file, not both")
    if args.filters:
        filters = [f for f in args.filters.replace(" ", ",").split(",") if f]
    elif args.filters_file:
        filters = read_filters_file(args.filters_file)
    config = from_args(GenerateConfig, args)
    report = generate(args.out, config=config, param_file=args.param_file,
                      run_params=prospector_run_params(extra), filters=filters,
                      progress=not args.quiet)
    print(report)
    return 0 if report.n_failed == 0 else 3


def add_generate(sub) -> None:
    """The ``generate`` subcommand's options: :class:`~prospect_emu.trainingdata.generate_config.GenerateConfig`'s
    fields, and the inputs."""
    from ..trainingdata.generate_config import GenerateConfig

    g = sub.add_parser("generate", help="generate a training set of SEDs from a Prospector parameter file",
                       description="Run a Prospector model over parameter draws and store the SEDs in "
                       "HDF5. Unknown --options are passed to the parameter file as run_params.")
    g.add_argument("param_file", metavar="PARAM_FILE", help="Prospector parameter file")
    g.add_argument("--out", required=True, help="output HDF5 file")
    g.add_argument("--filters", help="comma-separated sedpy filter names (default: build_obs's filters)")
    g.add_argument("--filters-file", help="text file of sedpy filter names")
    add_options(g, GenerateConfig)
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_cmd_generate, passthrough=True)


def _cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    from ..emulator.training import TrainConfig, train

    cfg = from_args(TrainConfig, args)
    emu = train(args.data, args.out, cfg, progress=not args.quiet, keep_keras=not args.no_keras)
    print(emu.summary())
    print(f"wrote {args.out}")
    return 0


def add_train(sub) -> None:
    """The ``train`` subcommand's options: :class:`~prospect_emu.emulator.training.TrainConfig`'s
    fields, and the input and output."""
    from ..emulator.training_base import TrainConfig

    t = sub.add_parser("train", help="train an emulator on a training set",
                       description="Train a Keras MLP on a training set and write a numpy artifact.")
    t.add_argument("data", metavar="DATA.h5", help="training set from prospect-emu generate")
    t.add_argument("--out", required=True, metavar="EMU_DIR", help="emulator directory to write")
    add_options(t, TrainConfig)
    t.add_argument("--no-keras", action="store_true", help="do not keep model.keras beside the artifact")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
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


#: The training options ``sweep`` shares with ``train`` (the same for every width).
SWEEP_TRAIN_OPTIONS = ("depth", "activation", "epochs", "patience", "schedule", "seed",
                       "max_minutes")


def _cmd_sweep(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.sweep import format_sweep, sweep
    from ..emulator.training import TrainConfig

    try:
        widths = [int(w) for w in args.widths.split(",") if w.strip()]
    except ValueError as exc:
        raise ConfigurationError(f"--widths {args.widths!r}: use integers, e.g. 32,64,128") from exc
    cfg = from_args(TrainConfig, args)
    result = sweep(args.data, args.out, widths, depth=cfg.depth, config=cfg, test_path=args.test,
                   obs_unc=args.obs_unc, fraction=args.fraction, progress=not args.quiet)
    print(format_sweep(result))
    print(f"wrote {Path(args.out) / 'sweep.json'} and {result['figure']}")
    return 0


def add_sweep(sub) -> None:
    """The ``sweep`` subcommand's options, with train's :data:`SWEEP_TRAIN_OPTIONS`
    (``--max-minutes`` per width)."""
    from ..emulator.training_base import TrainConfig

    w = sub.add_parser("sweep", help="error and inference time against layer width",
                       description="Train one emulator per width on the same split, measure "
                       "held-out error and numpy inference time in one run, fit power laws "
                       "(paper: error ~ N^-1, time ~ N^2) and recommend a width. Each "
                       "training's --max-minutes applies per width.")
    w.add_argument("data", metavar="DATA.h5")
    w.add_argument("--widths", default="32,64,128,256,512", help="comma-separated layer widths")
    w.add_argument("--out", required=True, metavar="DIR")
    w.add_argument("--test", default=None, metavar="TEST.h5",
                   help="independent test set (default: the held-out rows of the split)")
    w.add_argument("--obs-unc", type=float, default=None, metavar="FRAC",
                   help="fractional observational flux error, for the recommendation")
    w.add_argument("--fraction", type=float, default=0.5,
                   help="recommend the smallest width whose 95th percentile error is at most "
                   "this fraction of the observational error (default 0.5)")
    add_options(w, TrainConfig, only=SWEEP_TRAIN_OPTIONS)
    w.add_argument("--quiet", action="store_true", help="no progress bar")
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
    if args.test:
        from ..analysis.heldout import format_heldout, heldout_comparison

        print(format_heldout(heldout_comparison(emu, args.test)))
    return 0


def add_info(sub) -> None:
    """The ``info`` subcommand's options."""
    i = sub.add_parser("info", help="what an emulator covers and how accurate it is")
    i.add_argument("emulator", metavar="EMU_DIR")
    i.add_argument("--covariance", action="store_true", help="also print the residual correlation matrix")
    i.add_argument("--test", metavar="TEST.h5", default=None,
                   help="an independent set (prospect-emu generate, another seed): print the "
                   "held-out statistics stored at training beside the same measured on it, "
                   "with their ratio (agreement: within 20%%)")
    i.set_defaults(func=_cmd_info)
