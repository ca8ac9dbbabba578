"""Transformer session encoder: self-attention within a session, then masked mean pooling."""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.ise.bucketing import encode_in_buckets
from sessionrec_tf.layers.transformer_block import TransformerBlock


class TransformerISE(tf.keras.layers.Layer):
    """``[batch, sessions, items, d]`` (ragged) -> ``[batch, sessions, d]``.

    Pre-LayerNorm blocks (bidirectional within the session: the whole session is input), then
    the mean of the valid positions.

    Args:
      dim: model width d (the input token size).
      num_layers: blocks (paper: 1-2).
      num_heads: attention heads (paper: 1-4); ``dim`` must divide by it.
      dropout: dropout rate inside the blocks.
      max_items: longest session encoded; longer ones keep their most recent items.
      seed: seed of the dropout streams.
    """

    def __init__(self, dim: int, num_layers: int = 1, num_heads: int = 1, dropout: float = 0.0,
                 max_items: int = 256, seed: int = 0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.dim, self.num_layers, self.num_heads = dim, num_layers, num_heads
        self.dropout_rate, self.max_items, self.seed = dropout, max_items, seed
        self.blocks = [TransformerBlock(dim, num_heads, dropout, seed=seed * 100 + i,
                                        name=f"block_{i}") for i in range(num_layers)]
        self.final_ln = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="final_ln")

    def _encode(self, x: tf.Tensor, mask: tf.Tensor, training: bool | None) -> tf.Tensor:
        attn_mask = tf.logical_and(mask[:, :, None], mask[:, None, :])
        for block in self.blocks:
            x = block(x, attn_mask, training=training)
        x = self.final_ln(x)
        w = tf.cast(mask, x.dtype)[..., None]
        return tf.reduce_sum(x * w, axis=1) / tf.maximum(tf.reduce_sum(w, axis=1), 1.0)

    def call(self, tokens: tf.RaggedTensor, training: bool | None = None) -> tf.RaggedTensor:
        return encode_in_buckets(tokens, lambda d, m: self._encode(d, m, training),
                                 self.max_items)

    def get_config(self) -> dict:
        return {**super().get_config(), "dim": self.dim, "num_layers": self.num_layers,
                "num_heads": self.num_heads, "dropout": self.dropout_rate,
                "max_items": self.max_items, "seed": self.seed}
