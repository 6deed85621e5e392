"""Former home of prospect-emu's batched emcee, now :mod:`prospect_emu.prospector.samplers.emcee`;
the names stay importable from here."""

from .samplers.emcee import (  # noqa: F401 - re-exports
    EMCEE_OPTIONS,
    PROSPECTOR_DEFAULTS,
    EmceeSampler,
    _autocorr,
    _reinitialize,
    _UnitCubePosterior,
    add_emcee_arguments,
    emcee_settings,
    run_emcee,
)
from .samplers.emcee_moves import (  # noqa: F401 - re-exports
    _batch_sampler_class,
    _kde_move,
    _moves,
    _vector_accept,
)

__all__ = ["EMCEE_OPTIONS", "PROSPECTOR_DEFAULTS", "EmceeSampler", "emcee_settings", "run_emcee"]
