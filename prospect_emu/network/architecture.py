"""Keras network builders and activations (training only; inference is numpy).

Written with ``keras.ops`` and ``keras.layers`` only, so that any Keras 3 backend
(TensorFlow, JAX, PyTorch) trains it.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="prospect_emu")
class AlsingActivation(layers.Layer):
    """a(x) = [beta + (1 - beta) sigmoid(alpha x)] x, trainable alpha and beta per unit
    (Alsing et al. 2020, speculator)."""

    def build(self, input_shape):
        n = input_shape[-1]
        self.alpha = self.add_weight(shape=(n,), name="alpha",
                                     initializer=keras.initializers.RandomNormal(1.0, 0.1))
        self.beta = self.add_weight(shape=(n,), name="beta",
                                    initializer=keras.initializers.RandomNormal(0.0, 0.1))

    def call(self, x):
        return (self.beta + (1.0 - self.beta) * ops.sigmoid(self.alpha * x)) * x


@keras.saving.register_keras_serializable(package="prospect_emu")
class GeluActivation(layers.Layer):
    """GELU with the form pinned: ``approximate=True`` is the tanh form, False the erf form."""

    def __init__(self, approximate: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.approximate = bool(approximate)

    def call(self, x):
        return ops.gelu(x, approximate=self.approximate)

    def get_config(self):
        return {**super().get_config(), "approximate": self.approximate}


#: name -> (layer factory, JSON spec of the numpy twin, without weights)
ACTIVATIONS: dict[str, Any] = {
    "alsing": lambda: AlsingActivation(),
    "gelu": lambda: GeluActivation(approximate=False),
    "gelu_tanh": lambda: GeluActivation(approximate=True),
    "relu": lambda: layers.Activation("relu"),
    "tanh": lambda: layers.Activation("tanh"),
    "silu": lambda: layers.Activation("silu"),
}


def build_network(n_in: int, n_out: int, width: int = 128, depth: int = 4,
                  activation: str = "alsing") -> keras.Model:
    """An MLP: ``depth`` hidden layers of ``width`` units, then a linear output layer."""
    if activation not in ACTIVATIONS:
        from ..errors import ConfigurationError

        raise ConfigurationError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    inp = keras.Input(shape=(n_in,), name="params")
    x = inp
    for i in range(depth):
        x = layers.Dense(width, name=f"dense_{i}")(x)
        act = ACTIVATIONS[activation]()
        act.name = f"act_{i}"  # noqa: B010 - rename for stable export names
        x = act(x)
    out = layers.Dense(n_out, name="output")(x)
    return keras.Model(inp, out, name="sed_emulator")


def export_layers(model: keras.Model) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The layer list and float32 weights of a network, for :class:`~prospect_emu.emulator.artifact.Emulator`."""
    import numpy as np

    spec: list[dict[str, Any]] = []
    weights: dict[str, Any] = {}
    k = 0
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, layers.Dense):
            w, b = (np.asarray(v, dtype=np.float32) for v in layer.get_weights())
            weights[f"W{k}"], weights[f"b{k}"] = w, b
            spec.append({"type": "dense", "W": f"W{k}", "b": f"b{k}"})
        elif isinstance(layer, AlsingActivation):
            a, b = (np.asarray(v, dtype=np.float32) for v in layer.get_weights())
            weights[f"alpha{k}"], weights[f"beta{k}"] = a, b
            spec.append({"type": "alsing", "alpha": f"alpha{k}", "beta": f"beta{k}"})
        elif isinstance(layer, GeluActivation):
            spec.append({"type": "gelu", "approximate": layer.approximate})
        elif isinstance(layer, layers.Activation):
            spec.append({"type": keras.activations.serialize(layer.activation)
                         if not isinstance(layer.activation, str) else layer.activation})
        else:
            raise TypeError(f"cannot export layer {layer.name} of type {type(layer).__name__}")
        k += 1
    for s in spec:  # keras.activations.serialize gives a name or a dict
        if isinstance(s["type"], dict):
            s["type"] = s["type"].get("config", {}).get("name", s["type"].get("class_name"))
    return spec, weights


def build_spectral_trainer(core: keras.Model, projection, offset) -> keras.Model:
    """The training model of the spectral kind: ``core`` (an MLP from :func:`build_network`
    with K + 1 outputs: standardised PCA coefficients, then standardised log10 mfrac),
    followed by two fixed (non-trainable) dense layers, so that the loss is taken in
    spectrum space.

    Parameters
    ----------
    core : keras.Model
        The network that is exported.
    projection : array (K, W)
        ``diag(coeff_std) @ basis``, each column times its pixel's loss weight:
        standardised coefficients to the (weighted) standardised log10 spectrum.
    offset : array (W,)
        ``coeff_mean @ basis``, times the same weights.

    Returns
    -------
    keras.Model
        Outputs ``[(weighted) standardised log10 spectrum (W), standardised log10 mfrac (1)]``.
    """
    import numpy as np

    k, n_w = np.shape(projection)
    inp = keras.Input(shape=core.input_shape[1:], name="params")
    z = core(inp)
    spec = layers.Dense(n_w, trainable=False, name="pca_basis")
    mfrac = layers.Dense(1, trainable=False, name="log10_mfrac")
    out_spec, out_mfrac = spec(z), mfrac(z)
    full = np.zeros((k + 1, n_w), dtype="float32")
    full[:k] = projection
    spec.set_weights([full, np.asarray(offset, dtype="float32")])
    pick = np.zeros((k + 1, 1), dtype="float32")
    pick[k, 0] = 1.0
    mfrac.set_weights([pick, np.zeros(1, dtype="float32")])
    return keras.Model(inp, [out_spec, out_mfrac], name="spectral_trainer")
