"""Dropout whose randomness is a pure function of (seed, training call count).

Keras' dropout draws from a stateful RNG whose state is not checkpointed, so a run that is
interrupted and resumed draws different masks than an uninterrupted one. ``SeededDropout``
keeps its call counter in a (non-trainable, checkpointed) variable and draws masks with
``tf.random.stateless_uniform(seed=[seed, counter])``: resumed training replays exactly.
"""

from __future__ import annotations

import tensorflow as tf


class SeededDropout(tf.keras.layers.Layer):
    """Inverted dropout ``x * mask / (1 - rate)`` with checkpointed, stateless randomness.

    Args:
      rate: fraction of units dropped during training (0 disables the layer).
      seed: an integer identifying this layer's random stream.
    """

    def __init__(self, rate: float, seed: int = 0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = int(seed)

    def build(self, input_shape: tf.TensorShape) -> None:
        self.counter = self.add_weight(
            name="counter", shape=(), dtype=tf.int64, trainable=False,
            initializer="zeros")
        super().build(input_shape)

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if not training or self.rate == 0.0:
            return x
        step = self.counter.assign_add(1)
        keep = tf.random.stateless_uniform(
            tf.shape(x), seed=tf.stack([tf.constant(self.seed, tf.int64), step]),
            dtype=x.dtype) >= self.rate
        return tf.where(keep, x / (1.0 - self.rate), tf.zeros_like(x))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
