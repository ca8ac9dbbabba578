"""A small MLP: hidden Dense layers with an activation, then a linear output layer."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


class MLP(tf.keras.layers.Layer):
    """``[..., d_in] -> [..., units[-1]]``; activation between layers, none after the last.

    Args:
      units: sizes of the layers; the last is the output size.
      activation: activation of the hidden layers.
    """

    def __init__(self, units: Sequence[int], activation: str = "gelu",
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        if not units:
            raise ValueError("MLP needs at least one layer size")
        self.units = [int(u) for u in units]
        self.activation = activation
        self.layers_ = [
            tf.keras.layers.Dense(u, activation=activation if i < len(units) - 1 else None,
                                  name=f"dense_{i}")
            for i, u in enumerate(self.units)
        ]

    def call(self, x: tf.Tensor) -> tf.Tensor:
        for layer in self.layers_:
            x = layer(x)
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": self.activation}
