"""The options of a training-set generation run (:class:`GenerateConfig`), defined once: the
keywords of :func:`prospect_emu.trainingdata.generate.generate` and the options of
``prospect-emu generate`` (:func:`prospect_emu.options.add_options`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from ..options import REQUIRED, opt, parse_pair
from .priordraws import DEFAULT_QUANTILES

#: ``block_param`` default: ``logzsol`` where it is sampled, else no blocks.
AUTO_BLOCK_PARAM = "auto"


def parse_ranges(items: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``["zred=0,4", ...]`` as ``{"zred": (0.0, 4.0), ...}``."""
    out = {}
    for item in items:
        name, eq, rest = item.partition("=")
        parts = rest.split(",")
        if not eq or len(parts) != 2:
            raise ConfigurationError(f"--range {item!r}: use NAME=LO,HI, e.g. --range zred=0,4")
        try:
            out[name.strip()] = (float(parts[0]), float(parts[1]))
        except ValueError as exc:
            raise ConfigurationError(f"--range {item!r}: LO and HI must be numbers") from exc
    return out


def _parse_block_param(text: str) -> str | None:
    return None if text.lower() == "none" else text


@dataclasses.dataclass
class GenerateConfig:
    """What to generate and how: the rows, their draws and the work.  Each field's help is
    also ``prospect-emu generate --help``'s."""

    n: int = opt(REQUIRED, "number of SEDs (rows, parameter draws)")
    seed: int = opt(0, "seeds every draw: the same seed gives the same rows")
    #: a :class:`~prospect_emu.trainingdata.sampling.Sampler` also works (library only)
    sampler: str = opt("prior", "prior | uniform | callable:module:function | "
                       "mixture:prior=0.7,uniform=0.3")
    ranges: dict[str, Sequence[float]] | None = opt(
        None, "override a parameter's range, also for fixed ones (repeatable), e.g. zred=0,4",
        flag="--range", metavar="NAME=LO,HI", action="append", parse=parse_ranges)
    prior_quantiles: Sequence[float] = opt(
        DEFAULT_QUANTILES, "quantiles at which unbounded priors (Normal, StudentT, ...) are "
        "truncated; they become the training box (stored in the set and so in the emulator)",
        metavar="LO,HI", parse=parse_pair("--prior-quantiles", "0.001,0.999"))
    block_param: str | None = opt(
        AUTO_BLOCK_PARAM, "sampled parameter shared within blocks of rows (auto: logzsol where "
        "it is sampled, else no blocks; none: no blocks)", parse=_parse_block_param)
    block_size: int = opt(20, "rows per block (1: no blocks)")
    share_spectrum: int = opt(
        1, "rows per rest-frame spectrum: groups differ only in mass and zred (1: off; refused "
        "for models with a depends_on parameter computed from zred, lumdist or mass)")
    chunk_size: int = opt(100, "rows per chunk of work and writing")
    store_spectrum: bool = opt(False, "also store rest-frame spectra (needed by train --kind "
                               "spectrum)")
    wave_range: Sequence[float] | None = opt(
        None, "rest-frame wavelength range (AA) of stored spectra (default: what covers the "
        "filters over the zred range, plus 10%; to 1000 um rest where the model has dust "
        "emission or an AGN torus)", metavar="LO,HI", parse=parse_pair("--wave-range"))
    workers: int | None = opt(None, "local worker processes (default: all cores; 1: in this "
                              "process)")
    dask_scheduler: str | None = opt(None, "run on a Dask distributed cluster",
                                     metavar="ADDRESS")
    resume: bool = opt(False, "continue an interrupted run with the same options")
    overwrite: bool = opt(False, "replace an existing output file")

    @classmethod
    def build(cls, n: int | None, config: GenerateConfig | None,
              options: dict[str, Any]) -> GenerateConfig:
        """``config`` (default: the defaults and ``n``) with ``n`` and ``options`` replaced;
        a TypeError names an unknown option."""
        if n is not None:
            options = {**options, "n": n}
        return cls(**options) if config is None else dataclasses.replace(config, **options)
