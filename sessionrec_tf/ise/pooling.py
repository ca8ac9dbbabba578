"""Pooling session encoders: mean, max, and max after ReLU over a session's item tokens."""

from __future__ import annotations

import tensorflow as tf

MODES = ("mean", "max", "max_relu")


class PoolingISE(tf.keras.layers.Layer):
    """``[batch, sessions, items, d]`` (ragged) -> ``[batch, sessions, d]`` (ragged_rank 1).

    Reduces over the ragged item dimension with segment ops on the flat values: no session is
    padded. ``mean`` is the paper's best ISE (Table 4).

    Args:
      mode: ``mean``, ``max`` or ``max_relu``.
    """

    def __init__(self, mode: str = "mean", **kwargs: object) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"unknown pooling mode {mode!r}; valid: {list(MODES)}")
        self.mode = mode

    def call(self, tokens: tf.RaggedTensor, training: bool | None = None) -> tf.RaggedTensor:
        values = tokens.flat_values
        session_of_item = tokens.values.value_rowids()
        n_sessions = tokens.values.nrows()
        if self.mode == "mean":
            pooled = tf.math.unsorted_segment_mean(values, session_of_item, n_sessions)
        else:
            if self.mode == "max_relu":
                values = tf.nn.relu(values)
            pooled = tf.math.unsorted_segment_max(values, session_of_item, n_sessions)
        return tf.RaggedTensor.from_row_splits(pooled, tokens.row_splits, validate=False)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}
