"""Layer 1, training data: parameter designs, FSPS generation and the HDF5 training sets.

Imports only the shared helpers at the package top level (errors, filters, paramfile, ...).
Names load on first use.  ``generate`` here is the module; the function is
``prospect_emu.generate``, :func:`prospect_emu.trainingdata.generate.generate`.
"""

from .. import _lazy

_NAMES = {
    "GenerationReport": ".generate",
    "GenerateConfig": ".generate_config",
    "TrainingSet": ".trainingset",
    "write_head": ".trainingset",
    "ParameterSpace": ".sampling",
    "Sampler": ".sampling",
    "PriorSampler": ".sampling",
    "UniformSampler": ".sampling",
    "CallableSampler": ".sampling",
    "MixtureSampler": ".sampling",
    "sampler_from_spec": ".sampling",
}
_SUBMODULES = ("chunks", "generate", "generate_config", "priordraws", "sampling", "seds",
               "trainingset")

__all__ = sorted(_NAMES) + sorted(_SUBMODULES)

__getattr__, __dir__ = _lazy(__name__, _NAMES, _SUBMODULES)
