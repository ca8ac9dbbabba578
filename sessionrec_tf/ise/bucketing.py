"""Run a padded sequence encoder over ragged sessions, one length bucket at a time.

Sequence ISEs (GRU, Transformer) need dense ``[n, length, d]`` input. Instead of padding every
session to the batch's longest one, sessions are grouped into buckets by length (1, 2, 4, ...,
``max_items``) and each bucket is padded to its own bound, so padding is at most 2x the real
length. Sessions longer than ``max_items`` keep their most recent ``max_items`` items. The
bucketing itself is :mod:`sessionrec_tf.layers.bucketing`, shared with the SSE.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from sessionrec_tf.layers.bucketing import bucket_bounds, gather_padded, length_buckets, stitch


def encode_in_buckets(
    tokens: tf.RaggedTensor,
    encoder: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
    max_items: int,
) -> tf.RaggedTensor:
    """Apply ``encoder(dense [n, L, d], mask [n, L]) -> [n, d]`` per length bucket.

    Args:
      tokens: ``[batch, sessions, items, d]`` ragged (ragged_rank 2).
      encoder: pools one padded bucket of sessions into one vector per session.
      max_items: longest session the encoder sees (longer ones keep their last items).

    Returns:
      ``[batch, sessions, d]`` ragged (ragged_rank 1).
    """
    sessions = tokens.values  # [S, None, d]
    lengths = sessions.row_lengths()
    starts = sessions.row_splits[:-1]
    dim = tokens.flat_values.shape[-1]
    indices, outputs = [], []
    for rows, upper in length_buckets(lengths, bucket_bounds(max_items), overflow=False):
        dense, mask, _ = gather_padded(tokens.flat_values, starts, lengths, rows, upper)
        dense.set_shape([None, upper, dim])
        outputs.append(encoder(dense, mask))
        indices.append(rows)
    pooled = stitch(indices, outputs)  # [S, d_out], row i = session i
    return tf.RaggedTensor.from_row_splits(pooled, tokens.row_splits, validate=False)
