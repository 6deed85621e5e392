"""The drop-in route: Prospector's own ``prospect.fitting.lnprobfn`` on an emulated model.

It works (the emulated model honours ``prior_product``, ``set_parameters`` and ``predict``),
but it knows nothing of emulator error, and Prospector's own per-call work
(``lnlike_phot``, ``lnlike_spec``, its checks) costs about as much again as the whole
compiled likelihood.  :func:`prospect_emu.prospector.likelihood.lnprobfn`, which
:func:`~prospect_emu.prospector.switch.use_emulator` returns, is the fast route and the one
that applies the model's emulator-error mode.  :func:`check_route` warns, once per model,
where Prospector's ``lnprobfn`` is used on a model whose emulator error would be dropped.
"""

from __future__ import annotations

import sys
import warnings

from prospect.fitting import lnprobfn as _prospector_lnprobfn

_PROSPECTOR_CODE = _prospector_lnprobfn.__code__


def called_by_prospector_lnprobfn(depth: int = 1) -> bool:
    """Whether the function ``depth`` frames above the caller is Prospector's ``lnprobfn``."""
    getframe = getattr(sys, "_getframe", None)
    if getframe is None:  # pragma: no cover - not CPython
        return False
    try:
        return getframe(depth + 1).f_code is _PROSPECTOR_CODE
    except ValueError:  # pragma: no cover - the stack is not that deep
        return False


def check_route(model, depth: int = 1) -> None:
    """Warn once per model where Prospector's ``lnprobfn`` (``depth`` frames above the
    caller) evaluates a model with emulator error 'diag' or 'cov', which it would drop.

    Parameters
    ----------
    model : EmulatedSpecModel
    depth : int
        How many frames above the caller to look for Prospector's ``lnprobfn``.
    """
    mode = getattr(model, "emulator_error", "none")
    if mode == "none" or not called_by_prospector_lnprobfn(depth + 1):
        return
    model._route_warned = True
    warnings.warn(
        f"Prospector's own lnprobfn is evaluating an emulated model with emulator_error={mode!r}, "
        "which it ignores (its likelihood has no emulator error), at about twice the cost of "
        "prospect-emu's. Pass prospect-emu's likelihood: model, lnprobfn = "
        "use_emulator(model, run_params); fit_model(obs, model, sps, noise, lnprobfn=lnprobfn, "
        "...) (or `from prospect_emu.prospector.likelihood import lnprobfn`), or set "
        "emulator_error='none' to fit without emulator error", stacklevel=depth + 3)
