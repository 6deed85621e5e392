"""The sampler layer: one registry of samplers, their presets and a shared result type.

- :func:`get_sampler` (``"dynesty"``, ``"emcee"``, ``"nautilus"``) returns a
  :class:`Sampler`: ``run(obs, model, sps, noise, lnprobfn, seed=..., **run_params) ->
  (result, seconds)``, ``posterior(result) -> (samples, weights)``, its named
  :class:`Preset` s (``default``, ``demo``, ``catalog``; nautilus also ``fast``), each
  defined once in the sampler's module and listed in the CLI help (:func:`presets_help`).
- :class:`SamplingResults`: the result of the batched samplers, in dynesty's or emcee's
  layout, so that Prospector's ``write_hdf5`` and ``results_from`` handle it.
- :func:`seeded_dynesty`: the one seeding of Prospector's dynesty.
- :func:`fit_model`: Prospector's ``fit_model`` with the sampler chosen by the registry
  (what ``prospect-emu fit`` runs).
- :data:`DEFAULT_BY_DIMENSION` and :func:`choose_sampler`: the default sampler and preset
  by the model's number of free parameters, where none is named.

Modules: :mod:`.base` (shared types), :mod:`.dynesty`, :mod:`.emcee` (with
:mod:`.emcee_moves`), :mod:`.nautilus`, :mod:`.registry`.
"""

from .base import Preset, Sampler, SamplingResults, blas_threads, str2bool
from .dynesty import DynestySampler, seeded_dynesty
from .emcee import EMCEE_OPTIONS, EmceeSampler, run_emcee
from .nautilus import (  # noqa: F401 - _options: the nautilus_fast semantics, tested
    NAUTILUS_FAST,
    NAUTILUS_OPTIONS,
    NautilusSampler,
    _options,
    run_nautilus,
)
from .registry import (
    DEFAULT_BY_DIMENSION,
    REGISTRY,
    DimensionDefault,
    SamplerChoice,
    add_sampler_arguments,
    apply_sampler,
    choose_sampler,
    default_for_dimension,
    dimension_help,
    fit_model,
    get_sampler,
    named_sampler,
    presets_help,
    sampler_name,
)

#: former private names, kept for code that imported them
_blas_threads = blas_threads
_str2bool = str2bool

__all__ = [
    "DEFAULT_BY_DIMENSION", "EMCEE_OPTIONS", "NAUTILUS_FAST", "NAUTILUS_OPTIONS", "REGISTRY",
    "DimensionDefault", "DynestySampler", "EmceeSampler", "NautilusSampler", "Preset", "Sampler",
    "SamplerChoice", "SamplingResults", "add_sampler_arguments", "apply_sampler",
    "choose_sampler", "default_for_dimension", "dimension_help", "fit_model", "get_sampler",
    "named_sampler", "presets_help", "run_emcee", "run_nautilus", "sampler_name",
    "seeded_dynesty",
]
