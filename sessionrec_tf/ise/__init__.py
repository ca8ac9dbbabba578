"""Item-based session encoders (ISE, paper Eq. 5), selectable by name.

``[batch, sessions, items, d]`` ragged item tokens -> ``[batch, sessions, d]`` session tokens.
"""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.config import ISE_NAMES, POOLING_ISES
from sessionrec_tf.ise.gru import GruISE
from sessionrec_tf.ise.pooling import PoolingISE
from sessionrec_tf.ise.transformer import TransformerISE


def make_ise(name: str, dim: int, num_layers: int = 1, num_heads: int = 1,
             dropout: float = 0.0, max_items: int = 256, seed: int = 0,
             label_split: bool = False) -> tf.keras.layers.Layer:
    """Build the ISE called ``name`` (one of :data:`ISE_NAMES`); ``label_split`` only for the
    pooling ISEs (:class:`PoolingISE`)."""
    if name in POOLING_ISES:
        return PoolingISE(name, label_split=label_split, name=f"ise_{name}")
    if label_split:
        raise ValueError(f"label_split is only for the pooling ISEs {list(POOLING_ISES)}, "
                         f"not {name!r}")
    if name == "gru":
        return GruISE(dim, num_layers=num_layers, max_items=max_items, name="ise_gru")
    if name == "transformer":
        return TransformerISE(dim, num_layers=num_layers, num_heads=num_heads, dropout=dropout,
                              max_items=max_items, seed=seed, name="ise_transformer")
    raise ValueError(f"unknown ISE {name!r}; valid ISEs: {list(ISE_NAMES)}")


__all__ = ["ISE_NAMES", "GruISE", "PoolingISE", "TransformerISE", "make_ise"]
