"""Layer 3, the emulator artifact: numpy inference of every kind (photometric, spectral;
listed once in :mod:`prospect_emu.emulator.kinds`, each a subclass of ``Emulator``),
the artifact format (weights ``.npz`` + versioned JSON), the likelihood's folded fast path
and its compiled kernels, and the builders that train a network (layer 2) on a training
set (layer 1) into an artifact.  Keras is imported lazily, by the builders only; names
load on first use.
"""

from .. import _lazy

_NAMES = {
    "Emulator": ".artifact",
    "PhotometricEmulator": ".photometric",
    "Prediction": ".artifact",
    "SpectralEmulator": ".spectral",
    "PCABasis": ".pca",
    "InputTransform": ".transforms",
    "OutputTransform": ".transforms",
    "FoldedNetwork": ".fastpath",
    "SpectralNetwork": ".fastpath",
    "TrainConfig": ".training",
    "train": ".training",
    "train_spectrum": ".spectral_training",
}
_SUBMODULES = (
    "artifact", "errorstats", "fastpath", "kernels", "kind_interface", "kinds", "numpy_layers",
    "pca", "photometric", "projection", "spectral", "spectral_metrics", "spectral_training",
    "training", "training_base", "transforms",
)

__all__ = sorted(_NAMES) + sorted(_SUBMODULES)

__getattr__, __dir__ = _lazy(__name__, _NAMES, _SUBMODULES)
