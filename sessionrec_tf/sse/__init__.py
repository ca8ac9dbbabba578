"""Session-based sequence encoders (SSE, paper Eq. 6), causal, selectable by name.

All take ``x [B, L, d]``, ``mask [B, L]`` (right-padded) and ``timestamps [B, L]`` and return
``[B, L, d]``: position i is the user state after token i (it never sees tokens > i).
"""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.config import SSE_NAMES
from sessionrec_tf.sse.gru import GRUEncoder
from sessionrec_tf.sse.hstu import HSTUEncoder
from sessionrec_tf.sse.transformer import TransformerEncoder


def make_sse(name: str, dim: int, num_layers: int = 4, num_heads: int = 2, max_len: int = 200,
             dropout: float = 0.2, seed: int = 0) -> tf.keras.layers.Layer:
    """Build the SSE called ``name`` (one of :data:`SSE_NAMES`)."""
    if name == "hstu":
        return HSTUEncoder(dim, num_layers, num_heads, max_len, dropout, seed=seed,
                           name="sse_hstu")
    if name == "transformer":
        return TransformerEncoder(dim, num_layers, num_heads, max_len, dropout, seed=seed,
                                  name="sse_transformer")
    if name == "gru":
        return GRUEncoder(dim, num_layers, dropout, seed=seed, name="sse_gru")
    raise ValueError(f"unknown SSE {name!r}; valid SSEs: {list(SSE_NAMES)}")


__all__ = ["SSE_NAMES", "GRUEncoder", "HSTUEncoder", "TransformerEncoder", "make_sse"]
