"""The registry of emulator kinds: the one place that lists them.

A kind is what an artifact's ``emulator.json`` ``kind`` names (schema version 1 is always
``"photometry"``).  Each kind is one module holding its emulator class (a subclass of
:class:`~prospect_emu.emulator.artifact.Emulator`, which owns the kind's inference, fast
network, validation metrics and training-configuration checks as methods) and one training
builder.  The registry names them by import path and imports them on first use, so this
module imports nothing of the package but its errors, and the kind modules import the base
without a cycle.

Adding a kind is one new module (its emulator class and builder) and one :func:`register`
call, here or in the code that brings the kind::

    register(Kind("farir", "mypkg.farir:FarIREmulator", "mypkg.farir:train_farir",
                  "a far-infrared spectrum from a PCA basis"))

after which ``Emulator.load`` opens its artifacts, ``prospect-emu train --kind farir`` trains
them and ``prospect-emu validate`` validates them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError

__all__ = ["DEFAULT_KIND", "Kind", "get", "names", "register"]

#: the kind of an artifact that names none (schema version 1) and of ``TrainConfig``
DEFAULT_KIND = "photometry"


def _resolve(path: str) -> Any:
    """The object ``module:attribute`` names, imported on first use."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Kind:
    """One emulator kind.

    Parameters
    ----------
    name : str
        What ``emulator.json`` ``kind`` and ``train --kind`` say.
    emulator : str
        ``"module:Class"`` of its emulator class.
    builder : str
        ``"module:function"`` of its training builder, called as
        ``builder(data_path, out, config, progress=..., keep_keras=...)`` and returning the
        loaded emulator.
    description : str
        One line for the CLI help.
    """

    name: str
    emulator: str
    builder: str
    description: str = ""

    def emulator_class(self) -> type:
        """The kind's emulator class (its module imported on first use)."""
        return _resolve(self.emulator)

    def build(self) -> Callable[..., Any]:
        """The kind's training builder (its module imported on first use)."""
        return _resolve(self.builder)

    def check_config(self, config: Any) -> None:
        """The kind's checks of a ``TrainConfig`` (its emulator class's
        ``check_train_config``); a ConfigurationError names the option and the fix."""
        self.emulator_class().check_train_config(config)


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add (or replace) a kind; returns it."""
    _KINDS[kind.name] = kind
    return kind


def names() -> tuple[str, ...]:
    """The registered kind names, in registration order."""
    return tuple(_KINDS)


def get(name: str) -> Kind:
    """The kind called ``name``.

    Raises
    ------
    ConfigurationError
        For a name no kind has, listing the known ones.
    """
    try:
        return _KINDS[name]
    except (KeyError, TypeError):
        raise ConfigurationError(f"unknown emulator kind {name!r}: choose "
                                 f"{' or '.join(names())}") from None


register(Kind("photometry", "prospect_emu.emulator.photometric:PhotometricEmulator",
              "prospect_emu.emulator.training:train_photometry",
              "the training set's bands, zred an input"))
register(Kind("spectrum", "prospect_emu.emulator.spectral:SpectralEmulator",
              "prospect_emu.emulator.spectral_training:train_spectrum",
              "a rest-frame spectrum from a PCA basis; zred, mass and distance exact, any filter"))
