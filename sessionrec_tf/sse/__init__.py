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
             dropout: float = 0.2, seed: int = 0, input_scale: bool = False,
             position_embedding: bool = False) -> tf.keras.layers.Layer:
    """Build the SSE called ``name`` (one of :data:`SSE_NAMES`); ``input_scale`` and
    ``position_embedding`` are HSTU options (:class:`HSTUEncoder`)."""
    if name == "hstu":
        return HSTUEncoder(dim, num_layers, num_heads, max_len, dropout, seed=seed,
                           input_scale=input_scale, position_embedding=position_embedding,
                           name="sse_hstu")
    if input_scale or position_embedding:
        raise ValueError(f"input_scale and position_embedding are options of the hstu SSE, "
                         f"not {name!r}")
    if name == "transformer":
        return TransformerEncoder(dim, num_layers, num_heads, max_len, dropout, seed=seed,
                                  name="sse_transformer")
    if name == "gru":
        return GRUEncoder(dim, num_layers, dropout, seed=seed, name="sse_gru")
    raise ValueError(f"unknown SSE {name!r}; valid SSEs: {list(SSE_NAMES)}")


__all__ = ["SSE_NAMES", "GRUEncoder", "HSTUEncoder", "TransformerEncoder", "make_sse"]
