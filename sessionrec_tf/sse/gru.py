"""GRU sequence encoder (GRU4Rec-style): stacked GRUs, causal by construction."""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.layers.dropout import SeededDropout


class GRUEncoder(tf.keras.layers.Layer):
    """``[B, L, d]`` tokens -> ``[B, L, d]`` states; state i has read tokens 0..i only.

    ``mask [B, L]`` must be a prefix mask (valid tokens first); states at padded positions
    are unspecified.

    Args:
      dim: hidden size d; num_layers: stacked GRUs; dropout: between layers; seed: dropout seed.
    """

    def __init__(self, dim: int, num_layers: int = 1, dropout: float = 0.2, seed: int = 0,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.grus = [tf.keras.layers.GRU(dim, return_sequences=True, name=f"gru_{i}")
                     for i in range(num_layers)]
        self.drops = [SeededDropout(dropout, seed=seed * 1000 + i, name=f"dropout_{i}")
                      for i in range(num_layers)]
        self.final_norm = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")

    def call(self, x: tf.Tensor, mask: tf.Tensor, timestamps: tf.Tensor | None = None,
             training: bool | None = None) -> tf.Tensor:
        # The GRUs run unmasked: every caller's mask is a prefix (tokens left-aligned, padding
        # after each user's last token), so the state at a valid position never reads padding
        # and equals the masked GRU's; only padded positions differ, and nothing reads them.
        # Skipping the per-step mask select saves time (benchmarks/RESULTS.md, bench_options).
        del mask
        for gru, drop in zip(self.grus, self.drops):
            x = drop(gru(x), training=training)
        return self.final_norm(x)
