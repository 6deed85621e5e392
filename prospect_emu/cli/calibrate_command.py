"""``prospect-emu calibrate``: posterior coverage of an emulator on an independent FSPS test set."""

from __future__ import annotations

import argparse

from ..amortized.route import ROUTE_OPTIONS
from ..analysis.calibrate import DEFAULT_SAMPLER
from ..errors import ConfigurationError
from ..options import DEFAULT_ERROR_MODE, ERROR_MODES


def _cmd_calibrate(args: argparse.Namespace, extra: list[str]) -> int:
    from ..analysis.calibrate import calibrate

    options = {"sampler": args.sampler, "seed": args.seed, "nsamples": args.nsamples}
    options.update({k: getattr(args, k) for k in ("nwalkers", "niter", "nburn", "nlive")
                    if getattr(args, k) is not None})
    if args.posterior is not None:
        options.update(posterior=args.posterior, proposals=args.proposals, min_ess=args.min_ess,
                       refine=args.refine, escalate=args.escalate)
    if args.snr is not None and args.uncertainties is not None:
        raise ConfigurationError("--snr and --uncertainties both given: the noise comes from one "
                                 "of them")
    report = calibrate(args.emulator, args.testset, args.out, n=args.n,
                       snr=20.0 if args.snr is None else args.snr, uncertainties=args.uncertainties,
                       emulator_error=args.emulator_error, param_file=args.param_file,
                       sampler_options=options, seed=args.seed, workers=args.workers,
                       dask_scheduler=args.dask_scheduler, progress=not args.quiet)
    print(report)
    return 0


def add_calibrate(sub) -> None:
    """The ``calibrate`` subcommand's options."""
    c = sub.add_parser(
        "calibrate", help="posterior coverage of an emulator on FSPS mocks of known truth",
        description="Fit N rows of an independent FSPS test set (prospect-emu generate "
        "--sampler prior with another seed) with noise added, through the emulator (no FSPS at "
        "fit time), and report per parameter the 68%% and 95%% coverage with binomial "
        "intervals, the fraction beyond 3 sigma, the rank histogram (SBC) and a verdict; the "
        "same for the emulated ln posterior density, whose truth lying above every draw is "
        "a mode the sampler missed. "
        "Writes calibration.ecsv, mocks.ecsv and ranks.png in --out. A test set made from "
        "another model, not drawn from the prior, or sharing rows with the emulator's training "
        "set is refused.")
    c.add_argument("emulator", metavar="EMULATOR", help="emulator directory")
    c.add_argument("testset", metavar="TESTSET", help="FSPS test set from prospect-emu generate")
    c.add_argument("--out", required=True, metavar="DIR", help="output folder")
    c.add_argument("--n", type=int, default=100, help="mocks: the first N usable rows (default 100)")
    c.add_argument("--snr", type=float, default=None, help="S/N of every band (default 20)")
    c.add_argument("--uncertainties", metavar="CATALOG", default=None,
                   help="noise from a catalog instead: its per-band median fractional uncertainty")
    c.add_argument("--emulator-error", choices=ERROR_MODES, default=DEFAULT_ERROR_MODE,
                   help=f"emulator error in the likelihood (default {DEFAULT_ERROR_MODE})")
    c.add_argument("--param-file", default=None,
                   help="Prospector parameter file (default: the one stored in the emulator)")
    c.add_argument("--sampler", default="emcee",
                   help="emcee (default: the demo's batched preset), dynesty, nautilus or "
                   "module:function")
    c.add_argument("--nwalkers", type=int, default=None,
                   help=f"emcee walkers (default {DEFAULT_SAMPLER['nwalkers']})")
    c.add_argument("--niter", type=int, default=None,
                   help=f"emcee production steps (default {DEFAULT_SAMPLER['niter']})")
    c.add_argument("--nburn", type=int, nargs="+", default=None,
                   help="emcee burn-in rounds, steps each (default "
                   f"{' '.join(str(n) for n in DEFAULT_SAMPLER['nburn'])})")
    c.add_argument("--nlive", type=int, default=None, help="dynesty/nautilus live points")
    c.add_argument("--posterior", metavar="DIR", default=None,
                   help="an amortized posterior (train-posterior): calibrate its importance-"
                   "weighted fits, --sampler being the fallback")
    c.add_argument("--proposals", type=int, default=ROUTE_OPTIONS["proposals"],
                   help=f"with --posterior: draws per mock (default {ROUTE_OPTIONS['proposals']})")
    c.add_argument("--min-ess", type=float, default=ROUTE_OPTIONS["min_ess"],
                   help=f"with --posterior: ESS below which a mock falls back (default "
                   f"{ROUTE_OPTIONS['min_ess']:g})")
    c.add_argument("--refine", type=int, default=ROUTE_OPTIONS["refine"],
                   help=f"with --posterior: kernel-density refinement rounds (default "
                   f"{ROUTE_OPTIONS['refine']})")
    c.add_argument("--escalate", type=int, default=ROUTE_OPTIONS["escalate"],
                   help="with --posterior: where the ESS is low, one more try with this many "
                   f"times the draws before the fallback (default {ROUTE_OPTIONS['escalate']}; "
                   "1: none)")
    c.add_argument("--nsamples", type=int, default=1000, help="posterior draws kept per mock")
    c.add_argument("--seed", type=int, default=0, help="seeds the noise and the fits")
    c.add_argument("--workers", type=int, default=1,
                   help="local worker processes (default 1: in this process)")
    c.add_argument("--dask-scheduler", metavar="ADDRESS", help="fit on a Dask distributed cluster")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_cmd_calibrate)
