"""The options of a catalog fit (:class:`CatalogConfig`), defined once: the keywords of
:func:`prospect_emu.analysis.catalog.fit_catalog` and the options of ``prospect-emu
fit-catalog`` (:func:`prospect_emu.options.add_options`).  The sampler's defaults are
:data:`~prospect_emu.analysis.catalog_object.DEFAULT_SAMPLER_OPTIONS`, dynesty's ``catalog``
preset in the sampler registry."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..amortized.route import ROUTE_OPTIONS as _ROUTE
from ..options import DEFAULT_ERROR_MODE, ERROR_MODES, opt
from .catalog_io import parse_column_map
from .catalog_object import DEFAULT_SAMPLER_OPTIONS as _DFLT
from .catalog_object import SAMPLERS

#: Units a catalog's fluxes may be in.
FLUX_UNITS = ("maggies", "nJy", "uJy", "mJy", "Jy")
#: Sampler options beyond :data:`~prospect_emu.analysis.catalog_object.DEFAULT_SAMPLER_OPTIONS`'
#: keys (emcee's; the preset's where not set).
PRESET_OPTIONS = ("nwalkers", "niter", "nburn")


@dataclasses.dataclass
class CatalogConfig:
    """How to read the catalog, fit each object and run the work.  Each field's help is also
    ``prospect-emu fit-catalog --help``'s."""

    emulator_error: str = opt(DEFAULT_ERROR_MODE, "emulator error in the likelihood",
                              choices=ERROR_MODES)
    column_map: dict[str, Any] | None = opt(
        None, "columns of a band (repeatable), e.g. sdss_r0=r_flux:r_err; default columns: "
        "<band> + <band>_unc/<band>_err, or flux_<band> + fluxerr_<band>", flag="--map",
        metavar="BAND=FLUX:ERR[:FLAG]", action="append", parse=parse_column_map)
    flux_unit: str = opt("maggies", "unit of the catalog's fluxes and uncertainties",
                         choices=FLUX_UNITS)
    z_column: str | None = opt(None, "redshift column (default z, zred or redshift)")
    id_column: str | None = opt(None, "id column (default id/ID/objid; else row number)")
    flag_column: str | None = opt(None, "objects whose flag is set are not fitted")
    flag_value: str | None = opt(None, "the flag value meaning 'skip' (default: any nonzero "
                                 "value)")
    missing_value: float | None = opt(None, "flux/uncertainty value meaning 'not measured', "
                                      "e.g. -99")
    sampler: str | None = opt(None, f"{', '.join(SAMPLERS)} (each with its catalog preset, "
                              "below) or module:function (default: by the model's number of free "
                              "parameters, below)")
    nlive: int | None = opt(None, "dynesty/nautilus live points (default: the preset's; "
                            f"dynesty {_DFLT['nlive']})")
    bound: str | None = opt(None, f"dynesty bound (default: the preset's, {_DFLT['bound']})")
    sample: str | None = opt(None, "dynesty sampling method (default: the preset's, "
                             f"{_DFLT['sample']})")
    dlogz: float | None = opt(None, "dynesty stopping dlogz (default: the preset's, "
                              f"{_DFLT['dlogz']})")
    maxcall: int | None = opt(_DFLT["maxcall"], "likelihood calls per object at most")
    nwalkers: int | None = opt(None, "emcee walkers (default: the preset's)")
    niter: int | None = opt(None, "emcee production steps (default: the preset's)")
    nburn: list[int] | None = opt(None, "emcee burn-in rounds (default: the preset's)",
                                  nargs="+", type=int)
    nsamples: int = opt(_DFLT["nsamples"], "equal-weight posterior draws stored per object")
    seed: int = opt(_DFLT["seed"], "seeds each object's fit (with its row number)")
    posterior: str | None = opt(None, "an amortized posterior (prospect-emu train-posterior): "
                                "each object is fitted by importance-weighted draws from it, and "
                                "falls back to the sampler where their ESS is low", metavar="DIR")
    proposals: int = opt(_ROUTE["proposals"], "with --posterior: draws from the posterior per "
                         "object")
    min_ess: float = opt(_ROUTE["min_ess"], "with --posterior: the effective sample size below "
                         "which an object falls back to the sampler")
    refine: int = opt(_ROUTE["refine"], "with --posterior: rounds of proposals from a Gaussian "
                      "mixture fitted to the weighted draws, every draw weighted against their mixture, "
                      "while the ESS is below the number of proposals")
    escalate: int = opt(_ROUTE["escalate"], "with --posterior: where the ESS is low, one more "
                        "try with this many times the draws, pooled with the first, before the fallback "
                        "(1: none)")
    workers: int | None = opt(None, "local worker processes (default: all cores; 1: no pool)")
    dask_scheduler: str | None = opt(None, "run on a Dask distributed cluster", metavar="ADDRESS")
    max_objects: int | None = opt(None, "fit at most N objects in this run (a rerun continues)")
    summary_name: str = opt("summary.ecsv", "summary file name in the output folder: .ecsv, "
                            ".fits, .csv or .h5", flag="--summary")
    overwrite: bool = opt(False, "start again, discarding an earlier fit in the output folder")
    full_results: bool = opt(False, "also write Prospector's HDF5 result per object (out/full/)")

    def sampler_options(self) -> dict[str, Any]:
        """The sampler options that are set (not None); the chosen sampler's preset fills
        the others (:func:`prospect_emu.analysis.catalog.fit_catalog`)."""
        names = (*_DFLT, *PRESET_OPTIONS)
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}

    def route_options(self) -> dict[str, Any]:
        """The amortized route's options (empty without ``posterior``)."""
        if self.posterior is None:
            return {}
        return {"posterior": self.posterior, "proposals": self.proposals, "min_ess": self.min_ess,
                "refine": self.refine, "escalate": self.escalate}

    @classmethod
    def build(cls, config: CatalogConfig | None, options: dict[str, Any]) -> CatalogConfig:
        """``config`` (default: the defaults) with ``options`` replaced; a TypeError names an
        unknown option."""
        return cls(**options) if config is None else dataclasses.replace(config, **options)
