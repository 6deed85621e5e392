"""Layer 4, the Prospector adapter: ``EmulatedSpecModel``, the emulated sps object, the
likelihood (scalar and batched), fast priors, the one-flag switch, fits and samplers.

Works with no ``SPS_HOME`` and no fsps import on the emulated path.  Names load on first use.
"""

from .. import _lazy

_NAMES = {
    "EmulatedSpecModel": ".model",
    "EmulatedSPS": ".sps",
    "emulate": ".twin",
    "add_emulator_arguments": ".switch",
    "use_emulator": ".switch",
    "emulator_sps": ".switch",
    "EmulatorSPS": ".switch",
    "lnprobfn": ".likelihood",
    "lnprob_batch": ".batched",
    "BatchLikelihood": ".batched",
    "FastPriors": ".priors",
    "run_fit": ".fitting",
    "FitResult": ".fitting",
    "run_emcee": ".emcee_sampler",
    "run_nautilus": ".samplers",
    "SamplingResults": ".samplers",
    "get_sampler": ".samplers",
}
_SUBMODULES = (
    "batched", "compat", "emcee_sampler", "fitting", "kinds", "likelihood", "model",
    "model_spectral", "plans", "priors", "samplers", "sps", "switch", "twin",
)

__all__ = sorted(_NAMES) + sorted(_SUBMODULES)

__getattr__, __dir__ = _lazy(__name__, _NAMES, _SUBMODULES)
