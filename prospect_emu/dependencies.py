"""``depends_on`` functions: content fingerprints, and Prospector's array-``zred`` fault.

A Prospector parameter computed by ``depends_on`` is part of the model an emulator
learns: ``dust1 = to_dust1(dust2=..., dust1_fraction=...)`` edited to return half its
value is another model, although every parameter value stays the same.  So the
training set (and then the emulator) stores a fingerprint of each tied parameter's
function (:func:`function_fingerprint`), and a fit compares the fit model's functions
with those (:func:`same_function`).

A fingerprint holds two SHA-256 digests:

* ``source``: of the function's source text (``inspect.getsource``, dedented), where
  Python can find it (a function defined in a file); None otherwise (a parameter file
  executed from text, as ``prospect.io.read_results.results_from`` does);
* ``code``: of its compiled code: bytecode, constants (nested functions recursively),
  names, argument names and defaults, and the values of the simple module-level
  constants (numbers, strings, tuples of these) it reads.  Independent of comments and
  layout, but of the Python version too (``python`` is stored with it).

Two functions are the same when either digest matches (the code digest only on the
same Python minor version); they differ when the digests that can be compared all
differ.  A function wrapped by :func:`scalar_zred` is fingerprinted as the original.

Prospector 1.4.1's own ``prospect.models.transforms.zred_to_agebins`` fails when
``zred`` is an array (``np.linspace`` with an array end point), and Prospector sets
every free parameter as a length-1 array (``set_parameters``), so every model with a
free or sampled ``zred`` and age bins tied to it fails on every row.
:func:`fix_known_transforms` replaces such functions in a model's ``config_dict`` by a
wrapper that passes a length-1 ``zred`` as a scalar; :data:`SCALAR_ZRED_TRANSFORMS`
lists them.

Prospector computes ``depends_on`` parameters in ``config_dict`` order;
:func:`order_dependencies` puts each after those it reads, and
:func:`lagged_dependencies` says where Prospector's own order computed one from the
previous call (a training set written so is refused by ``generate --resume``).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import platform
import textwrap
import types
from collections.abc import Callable
from typing import Any

import numpy as np

#: version of the fingerprint layout stored in training sets and emulators
FINGERPRINT_VERSION = 1

#: Prospector transforms (module, name) that fail on a length-1 array ``zred``
SCALAR_ZRED_TRANSFORMS = (("prospect.models.transforms", "zred_to_agebins"),)

_SIMPLE = (int, float, complex, str, bytes, bool, type(None))


def original_function(func: Callable) -> Callable:
    """The function behind prospect-emu's wrappers (:func:`scalar_zred`)."""
    while getattr(func, "_prospect_emu_wrapped", None) is not None:
        func = func._prospect_emu_wrapped
    return func


def function_name(func: Any) -> str:
    """``module.qualname`` of a function (its repr for other callables)."""
    func = original_function(func)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if name is None:
        return repr(func)
    module = getattr(func, "__module__", None) or ""
    if module.startswith("_prospect_emu_paramfile_"):
        module = "<parameter file>"
    return f"{module}.{name}" if module else name


def _simple(value: Any) -> bool:
    if isinstance(value, _SIMPLE):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_simple(v) for v in value)
    return False


def _code_parts(code: types.CodeType, globals_: dict[str, Any], out: list[bytes]) -> None:
    out.append(code.co_code)
    out.append(repr((code.co_names, code.co_varnames, code.co_argcount,
                     code.co_kwonlyargcount)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_parts(const, globals_, out)
        else:
            out.append(repr(const).encode())
    for name in code.co_names:  # module-level constants the function reads
        value = globals_.get(name)
        if _simple(value):
            out.append(f"{name}={value!r}".encode())


def function_fingerprint(func: Callable) -> dict[str, Any]:
    """Content fingerprint of a ``depends_on`` function (see the module notes).

    Returns
    -------
    dict
        ``version``, ``name``, ``source`` (SHA-256 hex or None), ``code`` (SHA-256 hex
        or None for a callable without Python code), ``python`` (major.minor).
    """
    func = original_function(func)
    target = func
    if not isinstance(target, (types.FunctionType, types.MethodType)) and callable(target):
        target = type(target).__call__  # a callable object: its class's __call__
    target = getattr(target, "__func__", target)
    source = None
    try:
        text = textwrap.dedent(inspect.getsource(target))
        source = hashlib.sha256(text.encode()).hexdigest()
    except (OSError, TypeError):
        pass
    code_hash = None
    code = getattr(target, "__code__", None)
    if code is not None:
        parts: list[bytes] = []
        _code_parts(code, getattr(target, "__globals__", {}) or {}, parts)
        parts.append(repr(getattr(target, "__defaults__", None)).encode())
        parts.append(repr(getattr(target, "__kwdefaults__", None)).encode())
        h = hashlib.sha256()
        for p in parts:
            h.update(hashlib.sha256(p).digest())
        code_hash = h.hexdigest()
    py = ".".join(platform.python_version_tuple()[:2])
    return {"version": FINGERPRINT_VERSION, "name": function_name(func), "source": source,
            "code": code_hash, "python": py}


def same_function(stored: dict[str, Any], func: Callable) -> bool | None:
    """Whether ``func`` is the function fingerprinted as ``stored``.

    Returns
    -------
    bool or None
        True when the source or (on the same Python) code digests match; False when
        the digests that can be compared differ; None when nothing can be compared.
    """
    now = function_fingerprint(func)
    comparable = False
    if stored.get("source") and now["source"]:
        comparable = True
        if stored["source"] == now["source"]:
            return True
    if stored.get("code") and now["code"] and stored.get("python") == now["python"]:
        comparable = True
        if stored["code"] == now["code"]:
            return True
    return False if comparable else None


def scalar_zred(func: Callable) -> Callable:
    """``func`` called with a length-1 ``zred`` passed as a Python float."""
    func = original_function(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        z = kwargs.get("zred")
        if z is not None and np.size(z) == 1:
            kwargs["zred"] = float(np.ravel(z)[0])
        return func(*args, **kwargs)

    wrapper._prospect_emu_wrapped = func
    return wrapper


def _known(func: Callable) -> bool:
    func = original_function(func)
    return any(getattr(func, "__module__", None) == mod and getattr(func, "__name__", None) == name
               for mod, name in SCALAR_ZRED_TRANSFORMS)


def fix_known_transforms(model) -> list[str]:
    """Wrap the model's Prospector transforms that fail on an array ``zred``
    (:data:`SCALAR_ZRED_TRANSFORMS`) with :func:`scalar_zred`, and order its ``depends_on``
    parameters (:func:`order_dependencies`), in place.

    Returns
    -------
    list of str
        The parameters whose ``depends_on`` was wrapped.
    """
    fixed = []
    for name, info in model.config_dict.items():
        func = info.get("depends_on")
        if callable(func) and _known(func) and getattr(func, "_prospect_emu_wrapped", None) is None:
            info["depends_on"] = scalar_zred(func)
            fixed.append(name)
    order_dependencies(model)
    return fixed


def _reads(func: Callable, names: set[str]) -> set[str]:
    """Which of ``names`` a ``depends_on`` function reads: its named arguments, and string
    constants in its code (``extras["agebins"]``)."""
    func = original_function(func)
    try:
        args = set(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        args = set()
    code = getattr(func, "__code__", None)
    consts = {c for c in (code.co_consts if code else ()) if isinstance(c, str)}
    return (args | consts) & names


def dependency_order(model) -> list[str]:
    """The ``depends_on`` parameters in the order Prospector computes them."""
    return [k for k, v in model.config_dict.items() if callable(v.get("depends_on"))]


def order_dependencies(model) -> list[str]:
    """Put each ``depends_on`` parameter after the ``depends_on`` parameters it reads, in
    place (``model.config_dict``'s order), and return the new order where it changed.

    Prospector 1.4.1 computes them in ``config_dict`` order, each from ``model.params`` as it
    stands: where ``mass`` (``logsfr_ratios_to_masses``, reading ``agebins``) comes before
    ``agebins`` tied to a free ``zred`` (``zred_to_agebins``), as in
    ``TemplateLibrary["continuity_sfh"]``, every call computes the masses from the previous
    call's age bins, and the spectrum of a row depends on the row before it (a surviving
    mass fraction off by up to 0.07 dex, photometry by magnitudes, in an alpha-class model
    with zred free over [0.5, 6]).  A cycle is left in its order.
    """
    config = model.config_dict
    derived = dependency_order(model)
    reads = {k: _reads(config[k]["depends_on"], set(derived)) - {k} for k in derived}
    order: list[str] = []
    pending = list(derived)
    while pending:
        ready = next((k for k in pending if reads[k] <= set(order)), None)
        if ready is None:   # a cycle: the rest keep their order
            order += pending
            break
        order.append(ready)
        pending.remove(ready)
    if order == derived:
        return []
    for k in order:
        config[k] = config.pop(k)   # to the end, in order; free parameters keep theirs
    return order


def lagged_dependencies(model) -> list[tuple[str, str]]:
    """Where Prospector's order computes a ``depends_on`` parameter from the previous call.

    A pair ``(reader, read)``: ``reader`` reads the derived parameter ``read``, which comes
    after it in ``config_dict`` (Prospector's order) and changes with the free parameters
    (directly or through other derived ones), so every call computes ``reader`` from the
    previous call's ``read``.  Empty once :func:`order_dependencies` has run, and where the
    parameter read is fixed (age bins tied to a fixed ``zred``).
    """
    config = model.config_dict
    derived = dependency_order(model)
    reads = {k: _reads(config[k]["depends_on"], set(config)) - {k} for k in derived}
    varying = set(model.free_params)
    while new := {k for k in derived if k not in varying and reads[k] & varying}:
        varying |= new
    return [(x, y) for i, x in enumerate(derived) for y in derived[i + 1:]
            if y in reads[x] and y in varying]


def dependency_fingerprints(model) -> dict[str, dict[str, Any]]:
    """Fingerprints of every ``depends_on`` function of a model, by parameter name."""
    return {name: function_fingerprint(info["depends_on"])
            for name, info in model.config_dict.items() if callable(info.get("depends_on"))}
