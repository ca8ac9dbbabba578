"""A learned marker on the token of a session that is still going on.

    tokens [N, d] --OpenSessionMarker--> [N, d]:  tokens + where[:, None] * v

A partial-session training query (``task.prefix_weight``) ends with the token of a session cut
in the middle; a next-session request ends with the token of a session that is over. Pooled,
a one-item prefix and a one-item session are the same token, so without a marker the same
input is asked to predict the rest of its session in one query and the next session in
another. The marker (``task.prefix_marker``) adds one learned vector ``v`` to the tokens of
open sessions, so the SSE can tell the two requests apart; closed sessions are unchanged.

    marker = OpenSessionMarker()
    tokens = marker(tokens)                           # every row open: [N, d]
    tokens = marker(tokens, where=last_of_open_rows)  # [N] bool: only those rows
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from sessionrec_tf.data.batch_ops import boolean_mask


class OpenSessionMarker(tf.keras.layers.Layer):
    """``[N, d] -> [N, d]``: adds a learned vector to the rows ``where`` is true (all rows
    without ``where``).

    Args:
      initializer: of the vector (zeros: the model starts as if no session were marked).
    """

    def __init__(self, initializer: str = "zeros", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initializer = initializer

    def build(self, input_shape: tf.TensorShape) -> None:
        self.vector = self.add_weight(name="vector", shape=(int(input_shape[-1]),),
                                      initializer=self.initializer)
        super().build(input_shape)

    def call(self, tokens: tf.Tensor, where: tf.Tensor | None = None) -> tf.Tensor:
        if where is None:
            return tokens + self.vector
        return tokens + tf.cast(where, tokens.dtype)[:, None] * self.vector

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initializer": self.initializer}


def last_token_of_rows(sessions: tf.RaggedTensor, first_row: tf.Tensor | int) -> tf.Tensor:
    """``[N]`` bool over the flat tokens of ``sessions`` ``[B, S, d]``: the last token of each
    row from ``first_row`` on (rows without tokens have none)."""
    splits = sessions.row_splits
    rows = tf.range(sessions.nrows(out_type=splits.dtype), dtype=splits.dtype)
    keep = tf.logical_and(rows >= tf.cast(first_row, splits.dtype), splits[1:] > splits[:-1])
    last = boolean_mask(splits[1:] - 1, keep)
    return tf.scatter_nd(last[:, None], tf.ones_like(last, tf.int32),
                         tf.reshape(splits[-1], [1])) > 0
