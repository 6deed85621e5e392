"""dynesty through Prospector's ``fit_model``, seeded.

Prospector 1.4.1 creates dynesty's sampler without an ``rstate``, so a dynesty fit is not
reproducible on its own.  :func:`seeded_dynesty` is the one seeding mechanism (used by
``prospect-emu fit``, ``fit-catalog``, ``compare`` and the demo): Prospector's module
reference to dynesty is replaced, once per process, by a proxy whose
``DynamicNestedSampler`` takes ``rstate=np.random.default_rng(seed)`` from a per-thread
seed; with no seed set it is dynesty itself.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from .base import Preset, Sampler, SamplingResults

__all__ = ["DynestySampler", "seeded_dynesty"]

_SEED = threading.local()


def _install() -> None:
    """Put the seeding proxy in front of dynesty in ``prospect.fitting.nested`` (once)."""
    import prospect.fitting.nested as nested

    if getattr(nested.dynesty, "_prospect_emu_seeded", False):
        return
    real = nested.dynesty

    class _SeededDynesty:
        _prospect_emu_seeded = True

        def __getattr__(self, name):
            return getattr(real, name)

        def DynamicNestedSampler(self, *args, **kwargs):  # noqa: N802 - dynesty's name
            seed = getattr(_SEED, "seed", None)
            if seed is not None:
                kwargs.setdefault("rstate", np.random.default_rng(seed))
            return real.DynamicNestedSampler(*args, **kwargs)

    nested.dynesty = _SeededDynesty()


@contextlib.contextmanager
def seeded_dynesty(seed: int | None):
    """Within the block, Prospector's dynesty runs in this thread use ``seed`` (None:
    unseeded, as Prospector does)."""
    _install()
    before = getattr(_SEED, "seed", None)
    _SEED.seed = seed
    try:
        yield
    finally:
        _SEED.seed = before


class DynestySampler(Sampler):
    """Prospector's dynesty (``fit_model(dynesty=True)``), seeded by :func:`seeded_dynesty`.

    Options are Prospector's ``nested_*`` run_params (``--nested_nlive_init``, ...).
    """

    name = "dynesty"
    summary = "Prospector's dynesty (one point per likelihood call)"
    presets = {p.name: p for p in (
        Preset("default", "Prospector's own nested_* defaults (prospect.utils.prospect_args)"),
        Preset("demo", "the demo's settings: one static run",
               {"nested_sample": "unif", "nested_nlive_init": 200, "nested_dlogz_init": 0.1,
                "nested_maxbatch": 0, "print_progress": False}),
        Preset("catalog", "fit-catalog's settings: small, one static run per object",
               {"nested_nlive_init": 150, "nested_bound": "multi", "nested_sample": "unif",
                "nested_dlogz_init": 0.2, "nested_maxbatch": 0, "print_progress": False,
                "verbose": False}),
    )}
    aliases = {"nlive": "nested_nlive_init", "bound": "nested_bound", "sample": "nested_sample",
               "dlogz": "nested_dlogz_init", "maxcall": "nested_maxcall_init",
               "walks": "nested_walks"}

    def run(self, obs: dict, model, sps=None, noise=(None, None), lnprobfn=None, *,
            seed: int | None = None, **run_params) -> tuple[SamplingResults, float]:
        """Prospector's ``fit_model`` with dynesty only (no optimizer), seeded.

        ``lnprobfn`` defaults to :func:`prospect_emu.prospector.likelihood.lnprobfn` for an
        emulated model, Prospector's ``lnprobfn`` for any other.
        Returns dynesty's result as a :class:`~.base.SamplingResults` (dynesty's keys,
        ``sampler``, ``vectorized`` and dynesty's own ``Results`` object as
        ``dynesty_results``) and the sampling seconds.
        """
        from prospect.fitting import fit_model

        if lnprobfn is None and getattr(model, "emulator", None) is None:
            from prospect.fitting import lnprobfn
        elif lnprobfn is None:
            from ..likelihood import lnprobfn
        kw = {k: v for k, v in run_params.items() if k not in ("optimize", "emcee", "dynesty")}
        with seeded_dynesty(seed):
            output = fit_model(obs, model, sps, noise=noise, lnprobfn=lnprobfn, optimize=False,
                               emcee=False, dynesty=True, **kw)
        res, seconds = output["sampling"]
        out = SamplingResults(res.items(), sampler="dynesty", vectorized=False, dynesty_results=res)
        return out, seconds

    def posterior(self, result) -> tuple[np.ndarray, np.ndarray]:
        w = np.exp(np.asarray(result["logwt"]) - result["logz"][-1])
        return np.asarray(result["samples"]), w / w.sum()

    def logz(self, result) -> float:
        return float(result["logz"][-1])
