"""A pre-LayerNorm Transformer block, shared by the Transformer ISE and SSE."""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.layers.attention import MatmulMultiHeadAttention
from sessionrec_tf.layers.dropout import SeededDropout


class TransformerBlock(tf.keras.layers.Layer):
    """``x + Drop(MHA(LN(x)))`` then ``x + Drop(FFN(LN(x)))`` over ``[B, L, d]``.

    Args:
      dim: model width (divisible by ``num_heads``); num_heads: attention heads;
      dropout: rate of both residual branches; seed: seed of the two dropout streams.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0, seed: int = 0,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.ln1 = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="ln1")
        self.mha = MatmulMultiHeadAttention(num_heads, dim // num_heads, name="mha")
        self.drop1 = SeededDropout(dropout, seed=2 * seed, name="drop1")
        self.ln2 = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="ln2")
        self.ff1 = tf.keras.layers.Dense(4 * dim, activation="gelu", name="ff1")
        self.ff2 = tf.keras.layers.Dense(dim, name="ff2")
        self.drop2 = SeededDropout(dropout, seed=2 * seed + 1, name="drop2")

    def __getitem__(self, name: str) -> tf.keras.layers.Layer:
        """``block["ln1"]`` etc.: the sublayers by name."""
        return getattr(self, name)

    def call(self, x: tf.Tensor, attention_mask: tf.Tensor,
             training: bool | None = None) -> tf.Tensor:
        h = self.ln1(x)
        x = x + self.drop1(self.mha(h, h, attention_mask=attention_mask), training=training)
        h = self.ln2(x)
        return x + self.drop2(self.ff2(self.ff1(h)), training=training)
