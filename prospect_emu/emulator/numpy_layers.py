"""The numpy side of a stored network: activation functions, the layer-chain check run
at load, and the layer list the forward pass walks.  No Keras."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigurationError


def np_activation(spec: dict[str, Any], weights: Mapping[str, np.ndarray]):
    """A numpy function ``f(x) -> y`` for one activation layer of the stored list."""
    kind = spec["type"]
    if kind == "alsing":
        # a(x) = [beta + (1 - beta) sigmoid(alpha x)] x
        #      = x * (c0 + c1 tanh(h x)),  c0 = (1 + beta)/2, c1 = (1 - beta)/2, h = alpha/2
        alpha = weights[spec["alpha"]].astype(np.float32)
        beta = weights[spec["beta"]].astype(np.float32)
        h, c0, c1 = alpha / 2, (1 + beta) / 2, (1 - beta) / 2

        def alsing(x):
            t = h * x
            np.tanh(t, out=t)
            t *= c1
            t += c0
            t *= x
            return t
        return alsing
    if kind == "gelu":
        if spec.get("approximate", False):
            k = np.float32(np.sqrt(2.0 / np.pi))

            def gelu_tanh(x):
                return np.float32(0.5) * x * (np.float32(1.0) + np.tanh(k * (x + np.float32(0.044715) * x ** 3)))
            return gelu_tanh
        from scipy.special import erf

        def gelu_erf(x):
            return (np.float32(0.5) * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)
        return gelu_erf
    if kind == "relu":
        return lambda x: np.maximum(x, np.float32(0.0))
    if kind == "tanh":
        return np.tanh
    if kind == "silu":
        return lambda x: x / (np.float32(1.0) + np.exp(-x))
    raise ConfigurationError(f"unknown activation {kind!r} in emulator metadata")


def check_layer_chain(layers: list[dict[str, Any]], weights: Mapping[str, np.ndarray], n_in: int,
                      n_out: int, out_desc: str) -> None:
    """Validate a stored layer list against its weights: ``n_in`` inputs to ``n_out``
    outputs (``out_desc`` names them), so that a damaged or mismatched artifact fails at
    load with the layer and shapes named, not inside every likelihood call."""
    where = "the emulator's weights.npz does not match its emulator.json"
    fix = "the artifact is damaged or its files come from different trainings: export or train it again"
    if not layers or layers[0].get("type") != "dense" or layers[-1].get("type") != "dense":
        raise ConfigurationError(f"{where}: the layer list must start and end with a dense "
                                 f"layer, got {[sp.get('type') for sp in layers]}; {fix}")
    width = n_in
    for i, spec in enumerate(layers):
        keys = ("W", "b") if spec["type"] == "dense" else \
            tuple(k for k in ("alpha", "beta") if k in spec)
        missing = [spec[k] for k in keys if spec[k] not in weights]
        if missing:
            raise ConfigurationError(f"weights.npz lacks {missing} (layer {i}, "
                                     f"{spec['type']}): the artifact is incomplete; {fix}")
        if spec["type"] == "dense":
            w, b = weights[spec["W"]], weights[spec["b"]]
            if w.ndim != 2 or w.shape[0] != width or b.shape != w.shape[1:]:
                raise ConfigurationError(
                    f"{where}: layer {i} (dense) has W {spec['W']!r} of shape {w.shape} and "
                    f"b {spec['b']!r} of shape {b.shape}, but its input width is {width} "
                    f"(expected W ({width}, n) and b (n,)); {fix}")
            width = w.shape[1]
        else:
            for k in keys:
                a = weights[spec[k]]
                if a.shape not in ((width,), (1,), ()):
                    raise ConfigurationError(
                        f"{where}: layer {i} ({spec['type']}) has {k} {spec[k]!r} of shape "
                        f"{a.shape}, expected ({width},) for width {width}; {fix}")
    if width != n_out:
        raise ConfigurationError(f"{where}: the last layer has {width} outputs, expected "
                                 f"{n_out} ({out_desc}); {fix}")


def build_layers(meta: dict[str, Any], weights: Mapping[str, np.ndarray]) -> list:
    """("dense", W, b) or ("act", f, None) per stored layer, for the numpy forward pass."""
    out = []
    for spec in meta["layers"]:
        if spec["type"] == "dense":
            out.append(("dense", weights[spec["W"]], weights[spec["b"]]))
        else:
            out.append(("act", np_activation(spec, weights), None))
    return out
