"""``prospect-emu train-posterior``: an amortized posterior for an emulator's model
(:mod:`prospect_emu.amortized`); its options are
:class:`~prospect_emu.amortized.train.PosteriorConfig`'s fields."""

from __future__ import annotations

import argparse

from ..options import add_options, from_args


def _cmd_train_posterior(args: argparse.Namespace, extra: list[str]) -> int:
    from ..amortized.train import PosteriorConfig, train_posterior
    from ..paramfile import prospector_run_params

    cfg = from_args(PosteriorConfig, args)
    post = train_posterior(args.emulator, args.out, cfg, param_file=args.param_file,
                           run_params=prospector_run_params(extra), progress=not args.quiet)
    t = post.meta["training"]
    print(f"simulated {post.meta['simulations']} galaxies in {post.meta['simulation_seconds']} s; "
          f"trained {len(t['val_loss'])} epochs in {t['seconds']} s ({t['stopped']}), "
          f"validation loss {t['best_val_loss']:.3f}")
    print(f"wrote {args.out}: use it with prospect-emu fit-catalog --posterior {args.out}")
    return 0


def add_train_posterior(sub) -> None:
    """The ``train-posterior`` subcommand's options."""
    from ..amortized.train import PosteriorConfig

    p = sub.add_parser("train-posterior",
                       help="train an amortized posterior on simulations through an emulator",
                       description="Simulate galaxies from the model's prior through the emulator, "
                       "observe them with a catalog-like noise model and train a conditional "
                       "normalizing flow q(theta | photometry, uncertainties, zred) for "
                       "fit-catalog --posterior. Needs the extra [amortized] (PyTorch, zuko). "
                       "Unknown --options are passed to the parameter file as run_params.")
    p.add_argument("emulator", metavar="EMU_DIR", help="an emulator (photometric or spectral; its "
                   "training bands are the posterior's)")
    p.add_argument("--out", required=True, metavar="DIR", help="the posterior's folder to write")
    p.add_argument("--param-file", default=None,
                   help="the model (default: the parameter file stored in the emulator)")
    add_options(p, PosteriorConfig)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train_posterior, passthrough=True)
