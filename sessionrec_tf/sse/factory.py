"""Build an SSE by its registered name (:data:`~sessionrec_tf.sse.registry.SSES`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from sessionrec_tf.sse.registry import SSES


def make_sse(name: str, dim: int, num_layers: int = 4, num_heads: int = 2, max_len: int = 200,
             dropout: float = 0.2, seed: int = 0,
             hstu_options: Mapping[str, Any] | None = None) -> tf.keras.layers.Layer:
    """Build the SSE called ``name`` (one of ``SSES``).

    ``x [batch, L, d]``, ``mask [batch, L]`` -> ``[batch, L, d]`` causal user states.

    ``hstu_options``: keyword options of :class:`~sessionrec_tf.sse.hstu.HSTUEncoder`
    (``input_scale``, ``position_embedding``, ``attention``, ``relative_bias``, ``gating``,
    ``final_norm``)
    that differ from its defaults; any for another SSE is an error.

    >>> sse = make_sse("hstu", 64, hstu_options={"gating": False})
    """
    cls = SSES.load(name)
    options = dict(hstu_options or {})
    if name == "hstu":
        return cls(dim, num_layers, num_heads, max_len, dropout, seed=seed, name="sse_hstu",
                   **options)
    if options:
        raise ValueError(f"{', '.join(sorted(options))}: options of the hstu SSE, not {name!r}")
    if name == "gru":
        return cls(dim, num_layers, dropout, seed=seed, name="sse_gru")
    return cls(dim, num_layers, num_heads, max_len, dropout, seed=seed, name=f"sse_{name}")
