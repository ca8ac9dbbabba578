"""Build an SSE by its registered name (:data:`~sessionrec_tf.sse.registry.SSES`)."""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.sse.registry import SSES


def make_sse(name: str, dim: int, num_layers: int = 4, num_heads: int = 2, max_len: int = 200,
             dropout: float = 0.2, seed: int = 0, input_scale: bool = False,
             position_embedding: bool = False, attention: str = "silu",
             relative_bias: str = "position_time", gating: bool = True) -> tf.keras.layers.Layer:
    """Build the SSE called ``name`` (one of ``SSES``); ``input_scale``,
    ``position_embedding``, ``attention``, ``relative_bias`` and ``gating`` are HSTU options
    (:class:`~sessionrec_tf.sse.hstu.HSTUEncoder`).

    ``x [batch, L, d]``, ``mask [batch, L]`` -> ``[batch, L, d]`` causal user states.
    """
    cls = SSES.load(name)
    if name == "hstu":
        return cls(dim, num_layers, num_heads, max_len, dropout, seed=seed,
                   input_scale=input_scale, position_embedding=position_embedding,
                   attention=attention, relative_bias=relative_bias, gating=gating, name="sse_hstu")
    if input_scale or position_embedding or attention != "silu" \
            or relative_bias != "position_time" or not gating:
        raise ValueError(f"input_scale, position_embedding, attention, relative_bias and "
                         f"gating are options of the hstu SSE, not {name!r}")
    if name == "gru":
        return cls(dim, num_layers, dropout, seed=seed, name="sse_gru")
    return cls(dim, num_layers, num_heads, max_len, dropout, seed=seed, name=f"sse_{name}")
