"""Load an ordinary Prospector parameter file and the run_params it is called with."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import ConfigurationError
from .sps_home_patch import patch_prospector


def load_param_file(path: str | Path) -> ModuleType:
    """Import a Prospector parameter file as a module.

    Installs :func:`prospect_emu.patch_prospector` first, so that its ``build_model`` works
    where ``SPS_HOME`` is unset.

    Parameters
    ----------
    path : str or Path
        A Python file defining at least ``build_model(**run_params)``; optionally
        ``build_sps``, ``build_obs`` and ``build_noise``.

    Raises
    ------
    ConfigurationError
        If the file does not exist, cannot be imported, or lacks ``build_model``.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigurationError(f"parameter file {path} does not exist: pass the path of a "
                                 "Prospector parameter file (a .py file defining build_model)")
    name = f"_prospect_emu_paramfile_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"cannot import {path} as Python: it must be a .py file")
    # the file's build_model may build a SpecModel where SPS_HOME is unset (an emulated fit)
    patch_prospector()
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: report what broke, where
        raise ConfigurationError(f"importing parameter file {path} failed: "
                                 f"{type(exc).__name__}: {exc}") from exc
    if not callable(getattr(module, "build_model", None)):
        raise ConfigurationError(
            f"parameter file {path} defines no build_model(**run_params): a Prospector "
            "parameter file must define build_model returning a prospect.models model "
            "(see Prospector's demo parameter files)")
    module.__prospect_emu_path__ = str(path)
    return module


def _coerce(text: str) -> Any:
    """Turn a command-line string into int, float, bool, None or leave it a string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_extra_options(tokens: list[str]) -> dict[str, Any]:
    """Parse ``--name value`` / ``--flag`` tokens a parser did not know into run_params.

    Dashes in names become underscores (``--add-duste`` -> ``add_duste``); a flag with
    no value is ``True``; numbers are converted, as Prospector's parsers would.
    """
    out: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--") or tok == "--":
            raise ConfigurationError(f"unexpected argument {tok!r}: extra options for the "
                                     "parameter file must look like --name value or --flag")
        key, eq, val = tok[2:].partition("=")
        key = key.replace("-", "_")
        if eq:
            out[key] = _coerce(val)
        elif i + 1 < len(tokens) and not (tokens[i + 1].startswith("--")):
            out[key] = _coerce(tokens[i + 1])
            i += 1
        else:
            out[key] = True
        i += 1
    return out


def prospector_run_params(tokens: list[str], extra_parser_hook=None) -> dict[str, Any]:
    """run_params as Prospector's own parser gives them, plus any unknown options.

    Parameters
    ----------
    tokens : list of str
        Command-line tokens meant for the parameter file (``--zcontinuous 1 --objid 3``).
    extra_parser_hook : callable, optional
        Called with the parser to add more arguments before parsing.
    """
    from prospect import prospect_args

    parser = prospect_args.get_parser()
    if extra_parser_hook is not None:
        extra_parser_hook(parser)
    known, unknown = parser.parse_known_args(tokens)
    run_params = vars(known)
    run_params.update(parse_extra_options(unknown))
    return run_params


def run_params_for_json(run_params: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe subset of run_params (values that are not plain data become str)."""
    import json

    out = {}
    for k, v in run_params.items():
        try:
            json.dumps(v)
            out[k] = v
        except TypeError:
            out[k] = repr(v)
    return out
