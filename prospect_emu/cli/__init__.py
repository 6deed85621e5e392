"""The ``prospect-emu`` command: argument parsing only; each subcommand calls the package.

Subcommands that build and check emulators live in :mod:`.build_commands`, those that fit in
:mod:`.fit_commands`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import ConfigurationError
from . import build_commands, calibrate_command, fit_commands, posterior_command

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="prospect-emu",
        description="Train neural-network SED emulators on Prospector models and fit with them.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    build_commands.add_generate(sub)
    build_commands.add_train(sub)
    fit_commands.add_fit(sub)
    fit_commands.add_fit_catalog(sub)
    posterior_command.add_train_posterior(sub)
    fit_commands.add_demo(sub)
    fit_commands.add_compare(sub)
    calibrate_command.add_calibrate(sub)
    build_commands.add_validate(sub)
    build_commands.add_sweep(sub)
    build_commands.add_info(sub)
    return parser


def _version() -> str:
    from .. import __version__

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
    from ..sps_home_patch import patch_prospector

    patch_prospector()  # the commands build users' models, also where SPS_HOME is unset
    try:
        return int(args.func(args, extra) or 0)
    except ConfigurationError as exc:
        print(f"prospect-emu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"prospect-emu {args.command}: interrupted; written chunks are kept "
              "(generate: rerun with --resume)", file=sys.stderr)
        return 130
