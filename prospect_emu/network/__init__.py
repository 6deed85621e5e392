"""Layer 2, the network: Keras models, activations and the training recipe (training only).

Nothing here is imported by inference: the likelihood never calls Keras.  Imports only the
shared helpers at the package top level.  Names load on first use; those of
:mod:`~prospect_emu.network.architecture` import Keras.
"""

from .. import _lazy

_NAMES = {
    "build_network": ".architecture",
    "AlsingActivation": ".architecture",
    "GeluActivation": ".architecture",
    "Stage": ".recipe",
    "plan_stages": ".recipe",
    "run_stages": ".recipe",
}
_SUBMODULES = ("architecture", "recipe")

__all__ = sorted(_NAMES) + sorted(_SUBMODULES)

__getattr__, __dir__ = _lazy(__name__, _NAMES, _SUBMODULES)
