"""prospect-emu: neural-network SED emulators for Prospector.

Importing the package is cheap and safe: it imports neither fsps, TensorFlow/Keras nor
Dask, and changes nothing in Prospector (:func:`patch_prospector`, which lets a
``SpecModel`` be built without ``SPS_HOME``, is called by the entry points that need it:
see :mod:`prospect_emu.sps_home_patch`).  The names in ``__all__`` (the front doors of
each layer) load their module on first use, and so do the layers themselves
(``prospect_emu.trainingdata``, ``.network``, ``.emulator``, ``.prospector``,
``.analysis``, ``.cli``), each with its own ``__all__``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__version__ = "0.1.0"

#: the front doors, bottom layer to top: public name -> the module that defines it
_LAZY = {
    "ConfigurationError": "prospect_emu.errors",
    "patch_prospector": "prospect_emu.sps_home_patch",
    # 1 training data
    "generate": "prospect_emu.trainingdata.generate",
    "TrainingSet": "prospect_emu.trainingdata.trainingset",
    "PriorSampler": "prospect_emu.trainingdata.sampling",
    "UniformSampler": "prospect_emu.trainingdata.sampling",
    "CallableSampler": "prospect_emu.trainingdata.sampling",
    "MixtureSampler": "prospect_emu.trainingdata.sampling",
    # 3 emulator (2, the network, is reached through train)
    "Emulator": "prospect_emu.emulator.artifact",
    "SpectralEmulator": "prospect_emu.emulator.spectral",
    "TrainConfig": "prospect_emu.emulator.training",
    "train": "prospect_emu.emulator.training",
    # 4 Prospector adapter
    "EmulatedSpecModel": "prospect_emu.prospector.model",
    "EmulatedSPS": "prospect_emu.prospector.sps",
    "emulate": "prospect_emu.prospector.twin",
    "add_emulator_arguments": "prospect_emu.prospector.switch",
    "use_emulator": "prospect_emu.prospector.switch",
    "emulator_sps": "prospect_emu.prospector.switch",
    "lnprobfn": "prospect_emu.prospector.likelihood",
    "lnprob_batch": "prospect_emu.prospector.batched",
    "run_fit": "prospect_emu.prospector.fitting",
    "run_emcee": "prospect_emu.prospector.emcee_sampler",
    "run_nautilus": "prospect_emu.prospector.samplers",
    # 5 analysis
    "validate": "prospect_emu.analysis.validate",
    "sweep": "prospect_emu.analysis.sweep",
    "compare": "prospect_emu.analysis.compare",
    "run_mocks": "prospect_emu.analysis.compare_mocks",
    "fit_catalog": "prospect_emu.analysis.catalog",
}

#: the layers, loaded on first attribute access like the names above
_SUBPACKAGES = ("trainingdata", "network", "emulator", "prospector", "analysis", "cli", "demo")

__all__ = sorted(_LAZY) + ["__version__"]


def _lazy(package: str, names: Mapping[str, str],
          submodules: Iterable[str] = ()) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` (PEP 562) for a package whose names load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping of str to str
        Public name -> the module defining it (absolute, or relative to ``package``).
    submodules : iterable of str
        Submodules of ``package`` returned as modules on first access.

    Returns
    -------
    tuple of callable
        The package's ``__getattr__`` and ``__dir__``.
    """
    submodules = tuple(submodules)

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name], package), name)
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names) | set(submodules))

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy(__name__, _LAZY, _SUBPACKAGES)
