"""Amortized catalog fits: a conditional normalizing flow trained on the emulator's
simulations proposes each galaxy's posterior, importance weights by the emulated likelihood
make it exact to the emulated posterior, and a galaxy whose weights are poor falls back to
a sampler.  Needs the optional extra ``[amortized]`` (PyTorch, zuko).

- :mod:`.space`: the flow's parameter space and its conditioning features (numpy);
- :mod:`.simulate`: prior draws through the emulator and a catalog-like noise model;
- :mod:`.flow`: the zuko flow, its training and its portable weights;
- :mod:`.posterior`: the saved posterior and the importance step;
- :mod:`.proposals`: the importance step's refinement proposal, a Gaussian mixture fitted to
  weighted draws;
- :mod:`.train`: ``train-posterior`` (:class:`~.train.PosteriorConfig`);
- :mod:`.route`: a catalog object's route, amortized or fallback.

It sits in layer 5 beside :mod:`prospect_emu.analysis` (it builds models the way catalog fits
do, and ``fit-catalog`` and ``calibrate`` route objects through it).  Names load on first use.
"""

from .. import _lazy

_NAMES = {
    "AmortizedPosterior": ".posterior",
    "Importance": ".posterior",
    "PosteriorConfig": ".train",
    "train_posterior": ".train",
    "NoiseModel": ".simulate",
    "Simulator": ".simulate",
}
_SUBMODULES = ("flow", "posterior", "proposals", "route", "simulate", "space", "train")

__all__ = sorted(_NAMES) + sorted(_SUBMODULES)

__getattr__, __dir__ = _lazy(__name__, _NAMES, _SUBMODULES)
