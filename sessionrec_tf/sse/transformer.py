"""Causal Transformer sequence encoder: pre-LayerNorm blocks with learned positions."""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.layers.dropout import SeededDropout
from sessionrec_tf.layers.transformer_block import TransformerBlock


class TransformerEncoder(tf.keras.layers.Layer):
    """``[B, L, d]`` tokens -> ``[B, L, d]`` causal states (SASRec-style, pre-LN).

    Positions are learned absolute positions counted from the first token of the (most
    recent ``max_len``) window, so state i depends on tokens 0..i only. (Counting back from
    the last token would make every state depend on how many tokens follow it.)

    Args:
      dim: model width d; num_layers: blocks (paper: 4); num_heads: heads (paper: 2);
      max_len: longest sequence (size of the position table); dropout: rate (paper: 0.2);
      seed: seed of the dropout streams.
    """

    def __init__(self, dim: int, num_layers: int = 4, num_heads: int = 2, max_len: int = 200,
                 dropout: float = 0.2, seed: int = 0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.max_len = max_len
        self.positions = tf.keras.layers.Embedding(
            max_len, dim, name="positions",
            embeddings_initializer=tf.keras.initializers.TruncatedNormal(stddev=0.02))
        self.input_dropout = SeededDropout(dropout, seed=seed * 1000 + 999, name="input_dropout")
        self.blocks = [TransformerBlock(dim, num_heads, dropout, seed=seed * 1000 + i,
                                        name=f"block_{i}") for i in range(num_layers)]
        self.final_norm = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")

    accepts_query_tokens = True  # positions and attn_mask (sessionrec_tf.sse.query_tokens)

    def call(self, x: tf.Tensor, mask: tf.Tensor, timestamps: tf.Tensor | None = None,
             training: bool | None = None, positions: tf.Tensor | None = None,
             attn_mask: tf.Tensor | None = None) -> tf.Tensor:
        """``positions`` ``[B, L]`` (default ``0 .. L-1``) and ``attn_mask`` ``[B, L, L]``
        (default causal over the valid tokens) place query tokens
        (:mod:`sessionrec_tf.sse.query_tokens`)."""
        length = tf.shape(x)[1]
        if positions is None:
            x = x + self.positions(tf.minimum(tf.range(length), self.max_len - 1))[None]
        else:
            x = x + self.positions(tf.minimum(positions, self.max_len - 1))
        x = self.input_dropout(x, training=training)
        if attn_mask is None:
            causal = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
            attn_mask = tf.logical_and(causal[None], mask[:, None, :])
        for block in self.blocks:
            x = block(x, attn_mask, training=training)
        return self.final_norm(x)
