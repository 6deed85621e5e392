"""Layer 5, analysis: validation against FSPS sets, width sweeps, FSPS-vs-emulator
comparisons, derived quantities, posterior summaries, plots and catalog fitting.

Names load on first use.  ``validate``, ``compare`` and ``sweep`` here are the modules; the
functions, also exported as ``prospect_emu.validate``, ``prospect_emu.compare`` and
``prospect_emu.sweep``, are :func:`.validate.validate`, :func:`.compare.compare` and
:func:`.sweep.sweep`.
"""

from .. import _lazy

_NAMES = {
    "fit_catalog": ".catalog",
    "CatalogReport": ".catalog",
    "CatalogConfig": ".catalog_config",
    "run_mocks": ".compare_mocks",
    "read_mocks": ".compare_mocks",
    "summarize_mocks": ".compare_mocks",
    "format_mock_summary": ".compare_mocks",
    "derived_quantities": ".derived",
    "DerivedQuantityWarning": ".derived",
    "marginal_agreement": ".agreement",
    "weighted_quantile": ".posterior",
}
_SUBMODULES = (
    "agreement", "catalog", "catalog_config", "catalog_io", "catalog_object", "compare",
    "compare_mocks",
    "derived", "heldout", "plots",
    "posterior", "sweep", "validate", "validate_output",
)

__all__ = sorted(_NAMES) + sorted(_SUBMODULES)

__getattr__, __dir__ = _lazy(__name__, _NAMES, _SUBMODULES)
