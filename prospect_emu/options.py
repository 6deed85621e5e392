"""Options defined once: configuration dataclasses whose fields are also the CLI's options.

A field declared with :func:`opt` carries its default, its help text and how the command
line spells it (flag, metavar, choices, a parser for composite values such as ``LO,HI``).
:func:`add_options` turns such a dataclass into argparse options (the help shows each
default) and :func:`from_args` builds the dataclass back from the parsed namespace.  A new
option is one new field: the CLI and its reference page follow.

Also the emulator-error modes of the likelihood, used by every layer from the kernels to
the CLI.  This module imports nothing of the package but :mod:`prospect_emu.errors`.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

from .errors import ConfigurationError

__all__ = ["DEFAULT_ERROR_MODE", "ERROR_MODES", "REQUIRED", "add_options", "check_error_mode",
           "from_args", "opt", "parse_pair"]

#: Emulator-error modes of the likelihood: none, the diagonal of the emulator's test-set
#: residuals, or their full covariance.  The order is the kernels' integer code
#: (:data:`prospect_emu.emulator.kernels.MODES`).
ERROR_MODES: tuple[str, ...] = ("none", "diag", "cov")
#: The mode used unless one is chosen.
DEFAULT_ERROR_MODE = "diag"

#: :func:`opt`'s default for a field without one: the option is required.
REQUIRED: Any = dataclasses.MISSING


def check_error_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`ERROR_MODES`, else a ConfigurationError."""
    if mode not in ERROR_MODES:
        raise ConfigurationError(f"emulator_error must be one of {ERROR_MODES}, got {mode!r}")
    return mode


def opt(default: Any, help: str, *, flag: str | None = None, metavar: str | None = None,
        choices: Iterable[Any] | None = None, parse: Callable[[Any], Any] | None = None,
        cli: bool = True, **argparse_kwargs: Any) -> Any:
    """A dataclass field that is also a command-line option.

    Parameters
    ----------
    default
        The field's default (a list, dict or set is copied per instance); :data:`REQUIRED`
        for none (a required option).
    help : str
        The option's help; :func:`add_options` appends the default.
    flag : str, optional
        The option's name (default ``--field-name``).
    metavar, choices
        As in ``argparse``.
    parse : callable, optional
        Turns the command-line text (a list of texts with ``action="append"`` or ``nargs``)
        into the field's value, raising ConfigurationError for bad text; applied by
        :func:`from_args`, never to the default.
    cli : bool
        False: a library-only field, not on the command line.
    **argparse_kwargs
        Passed on to ``add_argument`` (``type``, ``nargs``, ``action``).
    """
    meta = {"help": help, "flag": flag, "metavar": metavar, "parse": parse, "cli": cli,
            "choices": None if choices is None else tuple(choices), "argparse": argparse_kwargs}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def cli_fields(cls: type, only: Iterable[str] | None = None) -> list[dataclasses.Field]:
    """The fields of dataclass ``cls`` on the command line (those named in ``only``)."""
    fields = [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)]
    if only is None:
        return fields
    only = list(only)
    unknown = set(only) - {f.name for f in fields}
    if unknown:
        raise TypeError(f"{cls.__name__} has no command-line fields {sorted(unknown)}")
    return [f for f in fields if f.name in only]


def flag_of(f: dataclasses.Field) -> str:
    """A field's option name: its ``flag``, else ``--`` and the name with dashes."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _default_of(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def show(value: Any) -> str:
    """A default as the command line spells it: ``0.001,0.999``, ``1e-3:128,1e-4:1024``."""
    if isinstance(value, (tuple, list)):
        return ",".join(":".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)
                        for v in value)
    return str(value)


def _scalar_type(cls: type, f: dataclasses.Field) -> type | None:
    """int, float or str from the field's annotation (``int | None`` gives int), else None."""
    hint = typing.get_type_hints(cls).get(f.name)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else None
    return hint if hint in (int, float, str) else None


def add_options(parser: argparse.ArgumentParser, cls: type,
                only: Iterable[str] | None = None) -> None:
    """Add the fields of dataclass ``cls`` (those named in ``only``) as options of ``parser``.

    Each option's default is the field's, shown in its help; a field without a default is a
    required option; a bool field is a switch (``--x`` for a False default, ``--x``/``--no-x``
    for True).

    Raises
    ------
    TypeError
        For a field without help text, or whose annotation is not int, float, str or bool
        (or one of these or None) and that gives neither ``parse`` nor ``type``.
    """
    for f in cli_fields(cls, only):
        meta = f.metadata
        if not meta.get("help"):
            raise TypeError(f"{cls.__name__}.{f.name}: a command-line field needs help text (opt)")
        default = _default_of(f)
        kwargs: dict[str, Any] = {"dest": f.name, **meta.get("argparse", {})}
        for key in ("metavar", "choices"):
            if meta.get(key) is not None:
                kwargs[key] = meta[key]
        help_text = meta["help"]
        if default is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
            if default not in (None, "") and not isinstance(default, bool):
                help_text += f" (default: {show(default)})"
        if isinstance(default, bool):
            kwargs["action"] = "store_true" if not default else argparse.BooleanOptionalAction
        elif meta.get("parse") is None and "type" not in kwargs and "action" not in kwargs:
            kind = _scalar_type(cls, f)
            if kind is None:
                raise TypeError(f"{cls.__name__}.{f.name}: give opt(parse=...) or type=... for "
                                "a value that is not int, float or str")
            kwargs["type"] = kind
        parser.add_argument(flag_of(f), help=help_text.replace("%", "%%"), **kwargs)


def from_args(cls: type, args: argparse.Namespace, **values: Any) -> Any:
    """The dataclass ``cls`` from parsed arguments: each command-line field from ``args``
    (command-line text through its ``parse``), the other fields from ``values`` or their
    defaults.  ConfigurationError for text that ``parse`` refuses."""
    for f in cli_fields(cls):
        if not hasattr(args, f.name) or f.name in values:
            continue
        value = getattr(args, f.name)
        parse = f.metadata.get("parse")
        if parse is not None and isinstance(value, (str, list)) and value is not f.default:
            value = parse(value)  # command-line text; a default is the value already
        values[f.name] = value
    return cls(**values)


def parse_pair(option: str, example: str = "900,30000") -> Callable[[str], tuple[float, float]]:
    """A parser of ``LO,HI`` (two numbers) for ``option``."""
    def parse(text: str) -> tuple[float, float]:
        parts = text.split(",")
        try:
            if len(parts) != 2:
                raise ValueError(text)
            return float(parts[0]), float(parts[1])
        except ValueError as exc:
            raise ConfigurationError(f"{option} {text!r}: use LO,HI (numbers), e.g. "
                                     f"{option} {example}") from exc
    return parse
