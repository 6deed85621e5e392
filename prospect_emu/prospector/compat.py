"""Is the fit model the model the emulator learned?  Checks done once, at construction.

An emulator stores a description of the Prospector model its training set was made
with (``meta["training_set"]["config"]["model"]``: per parameter ``isfree``, ``units``,
the prior's repr and, for fixed parameters, the repr of ``init``).
:func:`check_training_model` compares it with the fit model's *current* state:

* a parameter the emulator takes as an input, ``mass`` and ``lumdist`` (applied
  analytically) and likelihood-only parameters (:data:`LIKELIHOOD_ONLY`: outlier,
  jitter and calibration parameters) are not compared;
* a parameter fixed in both models must have the same value (numbers to a relative
  1e-6, arrays element by element, booleans, integers, strings); a value the stored
  text cannot be parsed back into is compared as normalised text, and where that
  still differs a warning is given rather than an error;
* a parameter computed by ``depends_on`` (in either model) is compared by the content
  of its function: the description stores a fingerprint of each one
  (:func:`prospect_emu.dependencies.function_fingerprint`), and a function whose source
  and code both differ is refused, naming it (:func:`dependency_problems`); so is a
  parameter tied by ``depends_on`` in one model and not in the other.  An older
  emulator stores no fingerprints: one warning per emulator and process says so;
* a parameter fixed in training but free (fitted) in the fit model is refused: the
  emulator does not take it, so fitting it would have no effect;
* a parameter the fit model has and the training model lacked is refused when it
  changes the SED: an FSPS parameter (:data:`FSPS_DEFAULTS`) set to a value other
  than FSPS's default (the value the training SEDs were made with), free or computed
  by ``depends_on``, or one of Prospector's own SED parameters
  (:data:`PROSPECTOR_SED_PARAMS`, e.g. ``agebins``).  Other unknown names can only act
  through ``depends_on`` on the parameters checked above, and are noted;
* a parameter the training model had fixed and the fit model lacks is refused when the
  fit would use another value: an FSPS parameter whose training value is not FSPS's
  default, or a Prospector SED parameter.

Each refusal is a :class:`~prospect_emu.errors.ConfigurationError` naming the parameter
and both values.  An emulator without the description (an older artifact) loads with a
warning that no check is possible.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import warnings
from typing import Any

import numpy as np

from ..dependencies import function_name, same_function
from ..errors import ConfigurationError

#: Applied analytically by the emulated model, never emulator inputs.
ANALYTIC = frozenset({"mass", "lumdist"})

#: Prospector parameters that enter only the likelihood (noise, outliers, calibration).
LIKELIHOOD_ONLY = frozenset({
    "f_outlier_phot", "nsigma_outlier_phot", "f_outlier_spec", "nsigma_outlier_spec",
    "phot_jitter", "spec_jitter", "unc_factor", "spec_norm", "polyorder", "poly_regularization",
    "poly_coeffs", "cal_type", "spline_knot_n", "spline_knot_spacing", "spline_knot_wave",
    "wavecal_coeffs", "amplitude", "length", "linespec_scaling",
})

#: Non-FSPS parameters that Prospector's sources and SpecModel use to build the SED.
PROSPECTOR_SED_PARAMS = frozenset({
    "agebins", "mass_units", "dust_curve", "logl", "logr", "logt", "eline_sigma",
    "eline_delta_zred", "eline_prior_width", "elines_to_fit", "elines_to_fix",
    "elines_to_ignore", "marginalize_elines", "use_eline_prior", "agn_elum",
    "agn_eline_sigma",
})

#: python-fsps (0.4, 0.5) ``StellarPopulation`` parameter defaults: the values FSPS uses
#: for a parameter the Prospector model does not set.  ``tests/prospector/test_adapter_trust.py``
#: checks this table against the installed python-fsps.
FSPS_DEFAULTS: dict[str, Any] = {
    "add_agb_dust_model": True, "add_dust_emission": True, "add_igm_absorption": False,
    "add_neb_emission": False, "add_neb_continuum": True, "add_stellar_remnants": True,
    "redshift_colors": False, "compute_light_ages": False, "nebemlineinspec": True,
    "smooth_velocity": True, "smooth_lsf": False, "agb_dust": 1.0, "tpagb_norm_type": 2,
    "dell": 0.0, "delt": 0.0, "redgb": 1.0, "agb": 1.0, "fcstar": 1.0, "fbhb": 0.0, "sbss": 0.0,
    "pagb": 1.0, "frac_xrb": 1.0, "zred": 0.0, "zmet": 1, "logzsol": 0.0, "pmetals": 2.0,
    "afeindx": 1, "afe": 0.0, "imf_type": 2, "imf_upper_limit": 120, "imf_lower_limit": 0.08,
    "imf1": 1.3, "imf2": 2.3, "imf3": 2.3, "vdmc": 0.08, "mdave": 0.5, "evtype": -1,
    "use_wr_spectra": 1, "use_lw_tpagb": 0, "logt_wmb_hot": 0.0, "add_xrb_emission": 0,
    "masscut": 150.0, "sigma_smooth": 0.0, "min_wave_smooth": 1e3, "max_wave_smooth": 1e4,
    "gas_logu": -2, "gas_logz": 0.0, "igm_factor": 1.0, "sfh": 0, "tau": 1.0, "const": 0.0,
    "sf_start": 0.0, "sf_trunc": 0.0, "tage": 0.0, "dust_tesc": 7.0, "fburst": 0.0,
    "tburst": 11.0, "sf_slope": 0.0, "dust_type": 0, "dust1": 0.0, "dust2": 0.0, "dust3": 0.0,
    "dust_clumps": -99.0, "frac_nodust": 0.0, "frac_obrun": 0.0, "dust_index": -0.7,
    "dust1_index": -1.0, "mwr": 3.1, "uvb": 1.0, "wgp1": 1, "wgp2": 1, "wgp3": 1,
    "duste_gamma": 0.01, "duste_umin": 1.0, "duste_qpah": 3.5, "fagn": 0.0, "agn_tau": 10.0,
}

_NAMED = {"True": True, "False": False, "None": None, "nan": np.nan, "inf": np.inf,
          "True_": True, "False_": False, "pi": np.pi}
_CALLS = {"array", "asarray", "float", "int", "bool", "str", "float64", "float32", "float16",
          "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64", "bool_",
          "str_", "longdouble", "complex128"}


def user_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the first caller outside
    prospect_emu (the user's line), counted from the function that warns."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


class _Unparseable(Exception):
    pass


def _literal(node: ast.AST) -> Any:
    """The value of a repr's syntax tree: literals, numpy scalars and arrays only."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _literal(node.operand)
        if isinstance(v, list):
            raise _Unparseable
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.Name) and node.id in _NAMED:
        return _NAMED[node.id]
    if isinstance(node, ast.Attribute) and node.attr in _NAMED:
        return _NAMED[node.attr]
    if isinstance(node, ast.Call) and len(node.args) == 1:
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if fname in _CALLS:
            return _literal(node.args[0])  # dtype= and the like do not change the value
    raise _Unparseable


def parse_repr(text: str) -> tuple[bool, Any]:
    """Parse the ``repr`` of a parameter value back into a value, without ``eval``.

    Understands numbers (also ``np.float64(0.8)``), ``nan``/``inf``, booleans, None,
    strings, lists, tuples and numpy ``array(...)`` reprs (``dtype=`` is ignored).

    Returns
    -------
    (ok, value)
        ``ok`` is False for text it cannot parse (e.g. a summarised long array with
        ``...``, or an object's repr).
    """
    try:
        return True, _literal(ast.parse(str(text).strip(), mode="eval").body)
    except (SyntaxError, ValueError, TypeError, RecursionError, _Unparseable):
        return False, None


def values_equal(a: Any, b: Any) -> bool | None:
    """Whether two parameter values are the same (None: cannot tell).

    Numbers and booleans compare numerically (relative 1e-6: a numpy array repr keeps
    8 significant digits), element by element after removing length-1 axes; strings
    compare as text.
    """
    try:
        x, y = np.asarray(a), np.asarray(b)
    except Exception:  # ragged, exotic
        return None
    num = "biuf"
    if x.dtype.kind in num and y.dtype.kind in num:
        x, y = x.astype(float).ravel(), y.astype(float).ravel()
        if x.size != y.size:
            return False
        return bool(np.allclose(x, y, rtol=1e-6, atol=1e-12, equal_nan=True))
    if x.dtype.kind in "US" and y.dtype.kind in "US":
        return x.size == y.size and bool(np.all(x.astype(str).ravel() == y.astype(str).ravel()))
    try:
        xs, ys = x.ravel().tolist(), y.ravel().tolist()
    except Exception:  # pragma: no cover - defensive
        return None
    plain = (int, float, bool, str, type(None), np.generic)
    if all(isinstance(v, plain) for v in xs + ys):  # e.g. None or a string against a number
        return len(xs) == len(ys) and all(type(u) is type(v) and u == v for u, v in zip(xs, ys))
    return None


def _normalise_text(text: str) -> str:
    text = re.sub(r"\s+", "", str(text))
    text = re.sub(r"np\.\w+\(([^()]*)\)", r"\1", text)  # np.float64(0.8) -> 0.8
    text = re.sub(r",dtype=[^)]*\)", ")", text)
    return text.replace("array(", "").replace(")", "").replace("[", "").replace("]", "")


def same_as_stored(stored: str, current: Any) -> bool | None:
    """Whether ``current`` equals the value whose ``repr`` is ``stored`` (None: unsure)."""
    ok, value = parse_repr(stored)
    if ok:
        verdict = values_equal(value, current)
        if verdict is not None:
            return verdict
    cur = np.asarray(current) if not isinstance(current, str) else current
    texts = {repr(current), repr(cur)}
    if isinstance(cur, np.ndarray) and cur.size == 1:
        texts.add(repr(cur.ravel()[0]))
    if _normalise_text(stored) in {_normalise_text(t) for t in texts}:
        return True
    return None


def _show(value: Any) -> str:
    v = np.asarray(value)
    if v.size == 1:
        v = v.ravel()[0]
        return repr(v.item() if isinstance(v, np.generic) else v)
    return np.array2string(v, threshold=8, separator=", ")


def _function_name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def training_description(emulator) -> dict[str, dict[str, Any]] | None:
    """The training model's per-parameter description, or None for an older artifact."""
    desc = (emulator.meta.get("training_set") or {}).get("config", {}) or {}
    model = desc.get("model") if isinstance(desc, dict) else None
    return model if isinstance(model, dict) and model else None


def check_training_model(model, emulator, inputs: set[str]) -> list[str]:
    """Refuse a fit model that differs from the emulator's training model.

    Parameters
    ----------
    model : prospect.models.ProspectorParams
        The fit model, in its current state (``params``, ``config_dict``,
        ``theta_index``).
    emulator : prospect_emu.emulator.artifact.Emulator
    inputs : set of str
        Model parameters the emulator reads (its inputs, ``p`` or ``p_k``).

    Returns
    -------
    list of str
        Notes on what could not be compared (also given as one warning when they
        concern parameters that could change the SED).

    Raises
    ------
    ConfigurationError
        Naming each differing parameter with the fit model's and the training
        model's values.
    """
    desc = training_description(emulator)
    if desc is None:
        warnings.warn("the emulator stores no description of the model it was trained on (an "
                      "older artifact): prospect-emu cannot check that the fit model's fixed "
                      "parameters match it. Retrain it with this prospect-emu to enable the check",
                      stacklevel=user_stacklevel())
        return ["no training-model description: nothing compared"]
    cd = model.config_dict
    params = model.params
    free = set(model.theta_index)
    problems, unsure = dependency_problems(model, desc, emulator)
    notes: list[str] = []
    # a spectral emulator applies these exactly (Prospector redshifts and smooths)
    exact = set(getattr(emulator, "exact_parameters",
                        emulator.meta.get("exact_parameters", ())))
    for name in sorted(set(desc) | set(params) | set(cd)):
        if name in inputs or name in ANALYTIC or name in LIKELIHOOD_ONLY or name in exact:
            continue
        train = desc.get(name)
        have = name in params
        dep = cd.get(name, {}).get("depends_on") if have else None
        spectral = name in FSPS_DEFAULTS or name in PROSPECTOR_SED_PARAMS
        if train is not None and have:
            if train.get("isfree", False):
                notes.append(f"{name}: free in the training model but not an emulator input; "
                             "not compared")
                continue
            stored = train.get("init")
            if name in free:
                problems.append(
                    f"{name} is free in the fit model, but the emulator was trained at a fixed "
                    f"{name} = {stored} and does not take it as an input: fitting it would have no "
                    f"effect. Fix {name} at {stored}, or train an emulator that varies it")
            elif dep is not None:
                continue  # compared by dependency_problems
            elif stored is None:
                notes.append(f"{name}: the training model's description has no value; not compared")
            else:
                verdict = same_as_stored(stored, params[name])
                if verdict is False:
                    problems.append(f"{name} = {_show(params[name])} in the fit model, but the "
                                    f"emulator was trained with {name} = {stored} (and does not "
                                    f"take {name} as an input)")
                elif verdict is None:
                    unsure.append(f"{name}: fit model {_show(params[name])}, training model "
                                  f"{stored} (could not compare)")
        elif train is not None:  # the fit model lacks it
            if train.get("isfree", False) or "init" not in train:
                continue
            stored = train["init"]
            if name in FSPS_DEFAULTS:
                verdict = same_as_stored(stored, FSPS_DEFAULTS[name])
                if verdict is False:
                    problems.append(
                        f"the fit model lacks {name}, so FSPS would use its default {name} = "
                        f"{FSPS_DEFAULTS[name]!r}, but the emulator was trained with {name} = "
                        f"{stored}: add {name} to the model, fixed at {stored}")
                elif verdict is None:
                    unsure.append(f"{name}: missing from the fit model, training model {stored}")
            elif name in PROSPECTOR_SED_PARAMS:
                problems.append(f"the fit model lacks {name}, which the emulator's training model "
                                f"had ({name} = {stored}): add it, fixed at that value")
            else:
                notes.append(f"{name}: in the training model ({stored}) but not in the fit model; "
                             "not an FSPS or Prospector SED parameter, so not compared")
        else:  # the fit model has it, the training model did not
            varies = name in free or dep is not None
            if name in FSPS_DEFAULTS:
                default = FSPS_DEFAULTS[name]
                if varies:
                    how = "free" if name in free else "computed by depends_on"
                    problems.append(
                        f"{name} is {how} in the fit model, but the emulator's training model "
                        f"did not have {name} (its SEDs used FSPS's default {name} = {default!r}) "
                        "and the emulator does not take it as an input")
                else:
                    verdict = values_equal(params[name], default)
                    if verdict is False:
                        problems.append(
                            f"{name} = {_show(params[name])} in the fit model, but the emulator's "
                            f"training model did not have {name}, so its SEDs used FSPS's default "
                            f"{name} = {default!r}")
                    elif verdict is None:
                        unsure.append(f"{name}: fit model {_show(params[name])}, not in the "
                                      f"training model (FSPS default {default!r})")
            elif spectral:
                problems.append(f"{name} = {_show(params[name])} in the fit model changes the SED, "
                                "but the emulator's training model did not have it")
            else:
                notes.append(f"{name}: not in the training model; not an FSPS or Prospector SED "
                             "parameter, so it can change the SED only through depends_on")
    if problems:
        raise ConfigurationError(
            "the fit model is not the model the emulator was trained on:\n  - " +
            "\n  - ".join(problems) +
            "\nFit with the training model's settings (only the emulator's inputs "
            f"{list(emulator.input_names)}, mass and lumdist may differ), fit with FSPS, or "
            "train an emulator on this model")
    flagged = unsure
    if flagged:
        warnings.warn("prospect-emu could not check every parameter of the fit model against "
                      "the emulator's training model:\n  - " + "\n  - ".join(flagged),
                      stacklevel=user_stacklevel())
    return flagged + notes


#: emulators (by id of their metadata) already warned about missing depends_on fingerprints
_WARNED_NO_FINGERPRINTS: set[str] = set()


def dependency_problems(model, desc: dict[str, dict[str, Any]], emulator=None
                        ) -> tuple[list[str], list[str]]:
    """Compare the fit model's ``depends_on`` functions with the training model's.

    Parameters
    ----------
    model : prospect.models.ProspectorParams
    desc : dict
        The training model's description (:func:`training_description`).
    emulator : optional
        For the one-time warning about an older emulator without fingerprints.

    Returns
    -------
    (problems, unsure) : lists of str
        Refusals (a function whose content differs, a parameter tied in one model
        only) and parameters that could not be compared.
    """
    cd = model.config_dict
    deps = {name: info["depends_on"] for name, info in cd.items()
            if callable(info.get("depends_on")) and name not in LIKELIHOOD_ONLY}
    stored = {name: d["depends_on"] for name, d in desc.items()
              if isinstance(d, dict) and isinstance(d.get("depends_on"), dict)}
    problems: list[str] = []
    unsure: list[str] = []
    fingerprinted = any(isinstance(d, dict) and "depends_on" in d for d in desc.values())
    if not fingerprinted:
        if deps:
            meta = getattr(emulator, "meta", None) or {}
            key = repr(((meta.get("training_set") or {}).get("path"), meta.get("created"),
                        sorted(deps)))
            if key not in _WARNED_NO_FINGERPRINTS:
                _WARNED_NO_FINGERPRINTS.add(key)
                warnings.warn(
                    "this emulator was trained before prospect-emu stored the content of "
                    "depends_on functions, so the fit model's "
                    f"({', '.join(f'{n}: {function_name(f)}' for n, f in sorted(deps.items()))}) "
                    "could not be compared with the training model's; retrain the emulator "
                    "with this prospect-emu to enable the check (said once per emulator)",
                    stacklevel=user_stacklevel())
        return problems, unsure
    for name in sorted(set(deps) | set(stored)):
        func, fp = deps.get(name), stored.get(name)
        if func is not None and fp is not None:
            verdict = same_function(fp, func)
            if verdict is False:
                problems.append(
                    f"{name} is computed by depends_on {function_name(func)}, whose code differs "
                    f"from the function the emulator was trained with ({fp.get('name')}): the "
                    "emulator learned the old function's SEDs. Restore the function, or train "
                    "an emulator with the new one")
            elif verdict is None:
                unsure.append(f"{name}: depends_on {function_name(func)} could not be compared "
                              "with the training model's (no source, another Python version)")
        elif func is not None:
            if name in desc or name in FSPS_DEFAULTS or name in PROSPECTOR_SED_PARAMS:
                problems.append(
                    f"{name} is computed by depends_on {function_name(func)} in the fit model, "
                    "but not in the emulator's training model")
        elif name in cd or name in model.params:
            problems.append(
                f"{name} was computed by depends_on {fp.get('name')} in the emulator's training "
                "model, but not in the fit model: add the same depends_on")
    return problems, unsure
