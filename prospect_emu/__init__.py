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
    "generate": "prospect_emu.trainingdata.generate",
    "TrainingSet": "prospect_emu.trainingdata.trainingset",
    "PriorSampler": "prospect_emu.trainingdata.sampling",
    "UniformSampler": "prospect_emu.trainingdata.sampling",
    "CallableSampler": "prospect_emu.trainingdata.sampling",
    "MixtureSampler": "prospect_emu.trainingdata.sampling",
    "Emulator": "prospect_emu.emulator.artifact",
    "train": "prospect_emu.emulator.training",
    "EmulatedSpecModel": "prospect_emu.prospector.model",
    "emulate": "prospect_emu.prospector.twin",
    "add_emulator_arguments": "prospect_emu.prospector.switch",
    "use_emulator": "prospect_emu.prospector.switch",
    "lnprobfn": "prospect_emu.prospector.likelihood",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'prospect_emu' has no attribute {name!r}")
