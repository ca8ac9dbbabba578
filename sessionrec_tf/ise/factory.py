"""Build an ISE by its registered name (:data:`~sessionrec_tf.ise.registry.ISES`)."""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.ise.registry import ISES, POOLING_ISES


def make_ise(name: str, dim: int, num_layers: int = 1, num_heads: int = 1,
             dropout: float = 0.0, max_items: int = 256, seed: int = 0,
             label_split: bool = False, positives_only: bool = False
             ) -> tf.keras.layers.Layer:
    """Build the ISE called ``name`` (one of ``ISES``); ``label_split`` and
    ``positives_only`` only for the pooling ISEs (:class:`~sessionrec_tf.ise.pooling.PoolingISE`).

    ``[batch, sessions, items, d]`` ragged item tokens -> ``[batch, sessions, d]``.
    """
    cls = ISES.load(name)
    if name in POOLING_ISES:
        return cls(name, label_split=label_split, positives_only=positives_only,
                   name=f"ise_{name}")
    for option, on in (("label_split", label_split), ("positives_only", positives_only)):
        if on:
            raise ValueError(f"{option} is only for the pooling ISEs {list(POOLING_ISES)}, "
                             f"not {name!r}")
    if name == "gru":
        return cls(dim, num_layers=num_layers, max_items=max_items, name="ise_gru")
    return cls(dim, num_layers=num_layers, num_heads=num_heads, dropout=dropout,
               max_items=max_items, seed=seed, name=f"ise_{name}")
