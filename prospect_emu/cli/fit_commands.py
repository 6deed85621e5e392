"""``prospect-emu`` subcommands that fit: fit, fit-catalog, demo, compare.  Each ``add_*``
adds a subcommand's options; each ``_cmd_*`` calls the package."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigurationError


def _presets_epilog(presets=None,
                    header="sampler presets (--preset NAME, with --dynesty, --emcee or --nautilus)") -> str:
    """The sampler presets (defined once, in the sampler modules) for a subcommand's help."""
    from ..prospector.samplers import presets_help

    return f"{header}:\n" + presets_help(presets=presets)


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
                       "the file's own options (--objid 3) pass through. Default sampler: dynesty "
                       "(Prospector's, seeded); --emcee is prospect-emu's batched emcee in the "
                       "priors' unit cube, not Prospector's own; --nautilus nautilus, batched. "
                       "--preset NAME fills the sampler's options not given.",
                       epilog=_presets_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("param_file", metavar="PARAM_FILE")
    f.add_argument("--emulator", metavar="EMU_DIR",
                   help="emulator to fit with (omit to fit with FSPS via build_sps)")
    f.add_argument("--emulator-error", choices=("none", "diag", "cov"), default=None,
                   help="emulator error in the likelihood (default diag)")
    f.set_defaults(func=_cmd_fit, passthrough=True)


def _cmd_fit_catalog(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.catalog import fit_catalog
    from ..analysis.catalog_io import parse_column_map
    from ..paramfile import parse_extra_options

    options = {"sampler": args.sampler, "nlive": args.nlive, "bound": args.bound,
               "sample": args.sample, "dlogz": args.dlogz, "maxcall": args.maxcall,
               "nsamples": args.nsamples, "seed": args.seed}
    options.update({k: getattr(args, k) for k in ("nwalkers", "niter", "nburn")
                    if getattr(args, k) is not None})
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


def add_fit_catalog(sub) -> None:
    """The ``fit-catalog`` subcommand's options."""
    fc = sub.add_parser("fit-catalog", help="fit every object of a photometric catalog with an emulator",
                        description="Fit each row of a table (FITS, CSV/ECSV, HDF5) through the "
                        "emulated likelihood: fixed zred from the row's redshift, its bands (NaN or "
                        "flagged values masked). Writes a summary table (medians, 16/84 percentiles "
                        "of free parameters and derived quantities, status per object) and "
                        "equal-weight posterior samples (samples.h5). Resumable: rerun the same "
                        "command to continue. Unknown --options go to build_model as run_params.",
                        epilog=_presets_epilog(("catalog",), "sampler presets used by --sampler"),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
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
    from ..analysis.catalog_object import DEFAULT_SAMPLER_OPTIONS as dflt
    from ..prospector.samplers import REGISTRY

    fc.add_argument("--sampler", default=dflt["sampler"],
                    help=f"{', '.join(REGISTRY)} (default {dflt['sampler']}; each with its catalog "
                    "preset, below) or module:function")
    fc.add_argument("--nlive", type=int, default=dflt["nlive"],
                    help=f"dynesty/nautilus live points (default {dflt['nlive']})")
    fc.add_argument("--bound", default=dflt["bound"], help=f"dynesty bound (default {dflt['bound']})")
    fc.add_argument("--sample", default=dflt["sample"],
                    help=f"dynesty sampling method (default {dflt['sample']})")
    fc.add_argument("--dlogz", type=float, default=dflt["dlogz"],
                    help=f"dynesty stopping dlogz (default {dflt['dlogz']})")
    fc.add_argument("--maxcall", type=int, default=None, help="likelihood calls per object at most")
    fc.add_argument("--nwalkers", type=int, default=None, help="emcee walkers (default: the preset's)")
    fc.add_argument("--niter", type=int, default=None,
                    help="emcee production steps (default: the preset's)")
    fc.add_argument("--nburn", type=int, nargs="+", default=None,
                    help="emcee burn-in rounds (default: the preset's)")
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


def _cmd_demo(args: argparse.Namespace, extra: list[str]) -> int:
    from ..demo import (
        DEFAULT_DEMO_EMULATOR,
        DEMO_EMULATOR,
        DEMO_SPECTRAL_EMULATOR,
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
    emulator = (DEMO_SPECTRAL_EMULATOR if args.spectral else DEMO_EMULATOR if args.photometric
                else args.emulator or DEFAULT_DEMO_EMULATOR)
    which = (f"the emulator {args.emulator}" if args.emulator else
             "the bundled spectral demo emulator" if emulator == DEMO_SPECTRAL_EMULATOR else
             "the bundled photometric demo emulator")
    print(f"prospect-emu demo: fitting a mock galaxy with {which}"
          + (" (FSPS + BaSTI + BT-Settl test libraries; for demonstration, not for science)"
             if not args.emulator else ""))
    summary = run_demo(args.out, compare=args.compare, seed=args.seed, snr=args.snr, nlive=args.nlive,
                       emulator=emulator,
                       sampler="nautilus" if args.nautilus else "dynesty" if args.dynesty else "emcee")
    print(format_summary(summary))
    if "compare" in summary:
        print("\nFSPS and emulated fits side by side:")
        print(summary["compare"]["table"])
    for name, path in summary["paths"].items():
        print(f"wrote {name}: {path}")
    return 0


def add_demo(sub) -> None:
    """The ``demo`` subcommand's options."""
    d = sub.add_parser("demo", help="fit a mock galaxy with the bundled demo emulator (no FSPS needed)",
                       description="Make a mock galaxy with the bundled (spectral) demo emulator, "
                       "fit it with the batched emcee preset through the emulated likelihood, print "
                       "the posterior against the truth, and write the corner plot, the SED plot "
                       "and Prospector's HDF5 result.")
    d.add_argument("--out", default="prospect_emu_demo", help="output folder (default prospect_emu_demo)")
    d.add_argument("--compare", action="store_true",
                   help="also fit the mock with FSPS (needs python-fsps and SPS_HOME) and compare")
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--snr", type=float, default=20.0, help="signal-to-noise of the mock photometry")
    d.add_argument("--nlive", type=int, default=None, help="dynesty/nautilus live points (default 200)")
    d.add_argument("--emcee", action="store_true",
                   help="sample with the batched emcee preset (the default)")
    d.add_argument("--dynesty", action="store_true",
                   help="sample with Prospector's dynesty instead of emcee")
    d.add_argument("--nautilus", action="store_true",
                   help="sample with nautilus (batched, vectorised likelihood) instead of emcee")
    d.add_argument("--spectral", action="store_true",
                   help="use the bundled spectral demo emulator (the default: rest-frame spectrum, "
                   "redshift applied exactly; the more accurate of the two)")
    d.add_argument("--photometric", action="store_true",
                   help="use the bundled photometric demo emulator instead of the spectral one")
    d.add_argument("--emulator", metavar="EMU_DIR", default=None,
                   help="use this emulator of the demo model (prospect_emu/data/demo_params.py) "
                   "instead of the bundled one")
    d.set_defaults(func=_cmd_demo)


def _cmd_compare(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.compare import compare, format_mock_summary, run_mocks

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
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--emulator-error", choices=("none", "diag", "cov"), default=None)
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=_cmd_compare, passthrough=True)
