"""prospect-emu: neural-network SED emulators for Prospector.

Importing the package is cheap and safe: it imports neither fsps, TensorFlow/Keras
nor Dask.  The public names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "ConfigurationError": "prospect_emu.errors",
    "generate": "prospect_emu.generate",
    "TrainingSet": "prospect_emu.trainingset",
    "PriorSampler": "prospect_emu.sampling",
    "UniformSampler": "prospect_emu.sampling",
    "CallableSampler": "prospect_emu.sampling",
    "MixtureSampler": "prospect_emu.sampling",
    "Emulator": "prospect_emu.artifact",
    "train": "prospect_emu.training",
    "EmulatedSpecModel": "prospect_emu.model",
    "emulate": "prospect_emu.model",
    "add_emulator_arguments": "prospect_emu.switch",
    "use_emulator": "prospect_emu.switch",
    "lnprobfn": "prospect_emu.likelihood",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'prospect_emu' has no attribute {name!r}")
