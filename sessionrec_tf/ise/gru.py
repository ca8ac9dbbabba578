"""GRU session encoder: a session's token sequence through stacked GRUs, last state out."""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.ise.bucketing import encode_in_buckets


class GruISE(tf.keras.layers.Layer):
    """``[batch, sessions, items, d]`` (ragged) -> ``[batch, sessions, d]``.

    Args:
      dim: output size (GRU units).
      num_layers: stacked GRU layers (the paper tries 1 and 2).
      max_items: longest session encoded; longer ones keep their most recent items.
    """

    def __init__(self, dim: int, num_layers: int = 1, max_items: int = 256,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        if num_layers < 1:
            raise ValueError(f"GRU ISE needs at least one layer, got {num_layers}")
        self.dim, self.num_layers, self.max_items = dim, num_layers, max_items
        self.grus = [
            tf.keras.layers.GRU(dim, return_sequences=i < num_layers - 1, name=f"gru_{i}")
            for i in range(num_layers)
        ]

    def _encode(self, dense: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        x = dense
        for gru in self.grus:
            x = gru(x, mask=mask)
        return x

    def call(self, tokens: tf.RaggedTensor, training: bool | None = None) -> tf.RaggedTensor:
        return encode_in_buckets(tokens, self._encode, self.max_items)

    def get_config(self) -> dict:
        return {**super().get_config(), "dim": self.dim, "num_layers": self.num_layers,
                "max_items": self.max_items}
