"""``prospect-emu`` subcommands that fit: fit, fit-catalog, demo, compare.  Each ``add_*``
adds a subcommand's options; each ``_cmd_*`` calls the package."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigurationError
from ..options import DEFAULT_ERROR_MODE, ERROR_MODES, add_options, from_args


def _presets_epilog(presets=None,
                    header="sampler presets (--preset NAME, with --dynesty, --emcee or --nautilus)",
                    catalog: bool = False) -> str:
    """The sampler presets (defined once, in the sampler modules) and the default sampler by
    the model's number of free parameters (the registry's table) for a subcommand's help."""
    from ..prospector.samplers import dimension_help, presets_help

    return (f"{header}:\n" + presets_help(presets=presets) + "\n\ndefault sampler where none is "
            "named, by the model's number of free parameters (printed with the fit):\n"
            + dimension_help(catalog))


def _catalog_presets() -> tuple[str, ...]:
    """fit-catalog's presets: ``catalog`` and those the table by dimension names."""
    from ..prospector.samplers import DEFAULT_BY_DIMENSION

    return ("catalog", *(r.catalog_preset for r in DEFAULT_BY_DIMENSION))


def _cmd_fit(args: argparse.Namespace, extra: list[str]) -> int:
    from ..prospector.fitting import run_fit

    argv = list(extra)
    if args.emulator_error:
        argv += ["--emulator-error", args.emulator_error]
    res = run_fit(args.param_file, argv, emulator=args.emulator)
    how = f"emulator {args.emulator}" if args.emulator else "FSPS"
    calls = f", {res.ncall} likelihood calls" if res.ncall else ""
    print(f"fitted with {how} in {res.seconds:.1f} s{calls}")
    if res.output["sampling"][0] is not None:
        from ..analysis.posterior import summarize

        print(summarize(res.model, *res.samples()))
    print(f"wrote {res.hfile}")
    return 0


def add_fit(sub) -> None:
    """The ``fit`` subcommand's options."""
    f = sub.add_parser("fit", help="fit a Prospector parameter file, with an emulator in place of FSPS",
                       description="Run an unmodified Prospector parameter file's fit (build_obs, "
                       "build_model, build_sps, build_noise) with the emulated model and write "
                       "Prospector's HDF5 result ({outfile}_result.h5). Every Prospector option "
                       "(--dynesty, --emcee, --optimize, --nested_maxcall, --outfile, ...) and "
                       "the file's own options (--objid 3) pass through. Default sampler: by the "
                       "model's number of free parameters (below; dynesty is Prospector's, "
                       "seeded); --emcee is prospect-emu's batched emcee in the "
                       "priors' unit cube, not Prospector's own; --nautilus nautilus, batched. "
                       "--preset NAME fills the sampler's options not given.",
                       epilog=_presets_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("param_file", metavar="PARAM_FILE")
    f.add_argument("--emulator", metavar="EMU_DIR",
                   help="emulator to fit with (omit to fit with FSPS via build_sps)")
    f.add_argument("--emulator-error", choices=ERROR_MODES, default=None,
                   help=f"emulator error in the likelihood (default {DEFAULT_ERROR_MODE})")
    f.set_defaults(func=_cmd_fit, passthrough=True)


def _cmd_fit_catalog(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.catalog import fit_catalog
    from ..analysis.catalog_config import CatalogConfig
    from ..paramfile import parse_extra_options

    try:
        report = fit_catalog(args.catalog, args.emulator, args.out,
                             config=from_args(CatalogConfig, args), param_file=args.param_file,
                             run_params=parse_extra_options(list(extra)), progress=not args.quiet)
    except KeyboardInterrupt:
        print("prospect-emu fit-catalog: interrupted; finished objects are kept in "
              f"{args.out} (rerun the same command to continue)", file=sys.stderr)
        return 130
    print(report)
    return 3 if report.counts.get("failed") else 0


def add_fit_catalog(sub) -> None:
    """The ``fit-catalog`` subcommand's options: :class:`~prospect_emu.analysis.catalog_config.CatalogConfig`'s
    fields (sampler options not given are left to the chosen sampler's preset), and the inputs."""
    from ..analysis.catalog_config import CatalogConfig

    fc = sub.add_parser("fit-catalog", help="fit every object of a photometric catalog with an emulator",
                        description="Fit each row of a table (FITS, CSV/ECSV, HDF5) through the "
                        "emulated likelihood: fixed zred from the row's redshift, its bands (NaN or "
                        "flagged values masked). Writes a summary table (medians, 16/84 percentiles "
                        "of free parameters and derived quantities, status per object) and "
                        "equal-weight posterior samples (samples.h5). Resumable: rerun the same "
                        "command to continue. Unknown --options go to build_model as run_params.",
                        epilog=_presets_epilog(_catalog_presets(), "sampler presets used by --sampler",
                                               catalog=True),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    fc.add_argument("catalog", metavar="CATALOG")
    fc.add_argument("--emulator", required=True, metavar="EMU_DIR")
    fc.add_argument("--out", required=True, metavar="DIR", help="output folder")
    fc.add_argument("--param-file", default=None,
                    help="Prospector parameter file (default: the one stored in the emulator)")
    add_options(fc, CatalogConfig)
    fc.add_argument("--quiet", action="store_true", help="no progress bar")
    fc.set_defaults(func=_cmd_fit_catalog, passthrough=True)


def _cmd_demo(args: argparse.Namespace, extra: list[str]) -> int:
    from ..demo import (
        BUNDLED_NAMES,
        DEMO_EMULATOR,
        DEMO_SPECTRAL_EMULATOR,
        demo_model,
        format_summary,
        run_demo,
    )

    if args.compare:
        from ..sps_environment import check_sps_home

        check_sps_home()
    if args.nautilus + args.emcee + args.dynesty > 1:
        raise ConfigurationError("more than one of --nautilus, --emcee and --dynesty given: "
                                 "choose one sampler")
    if args.spectral + args.photometric + bool(args.emulator) > 1:
        raise ConfigurationError("more than one of --spectral, --photometric and --emulator given: "
                                 "--spectral and --photometric are the bundled demo emulators; "
                                 "give one of them")
    spec = demo_model(args.model)
    if (args.spectral or args.photometric) and args.model != "demo":
        raise ConfigurationError(f"--spectral and --photometric choose between the demo model's "
                                 f"two bundled emulators; --model {args.model} has one "
                                 f"({spec.emulator.name}): drop the flag or give --emulator DIR")
    emulator = (DEMO_SPECTRAL_EMULATOR if args.spectral else DEMO_EMULATOR if args.photometric
                else args.emulator)
    which = (f"the emulator {args.emulator}" if args.emulator else
             BUNDLED_NAMES[emulator or spec.emulator])
    print(f"prospect-emu demo: fitting a mock galaxy of the {args.model} model "
          f"({spec.description}) with {which}"
          + (" (FSPS + BaSTI + BT-Settl test libraries; for demonstration, not for science)"
             if not args.emulator else ""))
    sampler = ("nautilus" if args.nautilus else "dynesty" if args.dynesty
               else "emcee" if args.emcee else None)
    summary = run_demo(args.out, compare=args.compare, seed=args.seed, snr=args.snr, nlive=args.nlive,
                       emulator=emulator, sampler=sampler, model=args.model)
    print(format_summary(summary))
    if "compare" in summary:
        print("\nFSPS and emulated fits side by side:")
        print(summary["compare"]["table"])
    for name, path in summary["paths"].items():
        print(f"wrote {name}: {path}")
    return 0


def add_demo(sub) -> None:
    """The ``demo`` subcommand's options."""
    from ..demo import DEMO_MODELS

    d = sub.add_parser("demo", help="fit a mock galaxy with the bundled demo emulator (no FSPS needed)",
                       description="Make a mock galaxy with the bundled (spectral) demo emulator, "
                       "fit it through the emulator's bundled amortized posterior (its draws "
                       "weighted by the emulated posterior; the batched emcee preset, started from "
                       "them, where their effective sample size is low), print the posterior "
                       "against the truth, and write the corner plot, the SED plot and "
                       "Prospector's HDF5 result.")
    d.add_argument("--out", default="prospect_emu_demo", help="output folder (default prospect_emu_demo)")
    d.add_argument("--compare", action="store_true",
                   help="also fit the mock with FSPS (needs python-fsps and SPS_HOME) and compare")
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--snr", type=float, default=20.0, help="signal-to-noise of the mock photometry (--model demo; the alpha "
                   "model's FSPS-made mock has its own noise)")
    d.add_argument("--nlive", type=int, default=None, help="dynesty/nautilus live points (default 200)")
    d.add_argument("--model", choices=sorted(DEMO_MODELS), default="demo",
                   help="demo: the 5-parameter delayed-tau model (mock made by the emulator); "
                   "alpha: the Prospector-alpha-class model (14 free parameters, 19 bands, mock "
                   "made with FSPS, fitted with nautilus' wide preset) (default: demo)")
    d.add_argument("--emcee", action="store_true",
                   help="sample with the batched emcee preset instead of the amortized posterior")
    d.add_argument("--dynesty", action="store_true",
                   help="sample with Prospector's dynesty instead of the amortized posterior")
    d.add_argument("--nautilus", action="store_true",
                   help="sample with nautilus (batched, vectorised likelihood) instead of the "
                   "amortized posterior")
    d.add_argument("--spectral", action="store_true",
                   help="use the bundled spectral demo emulator (the default: rest-frame spectrum, "
                   "redshift applied exactly; the more accurate of the two)")
    d.add_argument("--photometric", action="store_true",
                   help="use the bundled photometric demo emulator instead of the spectral one")
    d.add_argument("--emulator", metavar="EMU_DIR", default=None,
                   help="use this emulator of the --model's parameter file "
                   "(prospect_emu/data/demo_params.py or alpha_params.py) instead of the bundled one")
    d.set_defaults(func=_cmd_demo)


def _cmd_compare(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.compare import compare
    from ..analysis.compare_mocks import format_mock_summary, run_mocks

    argv = list(extra)
    if args.emulator_error:
        argv += ["--emulator-error", args.emulator_error]
    if args.mocks:
        summary = run_mocks(args.param_file, args.emulator, args.out, args.mocks, argv, snr=args.snr,
                            seed=args.seed, progress=not args.quiet, workers=args.workers,
                            dask_scheduler=args.dask_scheduler, noise_floor_mag=args.noise_floor_mag)
        print(format_mock_summary(summary))
    else:
        res = compare(args.param_file, args.emulator, args.out, argv, seed=args.seed)
        print(res["table"])
        for name, path in res["paths"].items():
            print(f"wrote {name}: {path}")
    return 0


def add_compare(sub) -> None:
    """The ``compare`` subcommand's options."""
    c = sub.add_parser("compare", help="fit the same data with FSPS and with an emulator, side by side",
                       description="Fit a parameter file's observations (or --mocks N mock galaxies "
                       "drawn from the prior) with FSPS and with the emulator, same sampler settings "
                       "and seed; report posteriors, offsets and divergences, and write plots. FSPS "
                       "fits cost ~5 ms a call here after a one-off ~15 s warm-up (more when "
                       "metallicity is free and the sampler wanders): fix parameters (e.g. "
                       "--fixed_metallicity -0.3 where the file supports it) or cap the sampler "
                       "(--nested_maxcall_init N) to bound the FSPS time. Both sides run the same "
                       "sampler (--dynesty, --emcee, --nautilus, --preset NAME: as for fit).",
                       epilog=_presets_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("param_file", metavar="PARAM_FILE")
    c.add_argument("--emulator", required=True, metavar="EMU_DIR")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument("--mocks", type=int, default=0, help="fit N mock galaxies drawn from the prior")
    c.add_argument("--snr", type=float, default=20.0, help="S/N of the mock photometry")
    c.add_argument("--noise-floor-mag", type=float, default=None, metavar="MAG",
                   help="with --mocks: each band's noise at least that of a band MAG magnitudes "
                   "below the mock's brightest band at --snr (a catalogue's depth: fainter bands "
                   "get lower S/N); default: S/N --snr in every band, however faint")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--workers", type=int, default=1,
                   help="with --mocks: local worker processes, one mock each at a time, each with "
                   "its own FSPS (default 1: in this process)")
    c.add_argument("--dask-scheduler", metavar="ADDRESS", help="with --mocks: fit on a Dask cluster")
    c.add_argument("--emulator-error", choices=ERROR_MODES, default=None,
                   help=f"emulator error in the likelihood (default {DEFAULT_ERROR_MODE})")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=_cmd_compare, passthrough=True)
