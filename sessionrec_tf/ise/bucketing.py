"""Run a padded sequence encoder over ragged sessions, one length bucket at a time.

Sequence ISEs (GRU, Transformer) need dense ``[n, length, d]`` input. Instead of padding every
session to the batch's longest one, sessions are grouped into buckets by length (1, 2, 4, ...,
``max_items``) and each bucket is padded to its own bound, so padding is at most 2x the real
length. Sessions longer than ``max_items`` keep their most recent ``max_items`` items.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def bucket_bounds(max_items: int) -> list[int]:
    bounds = [1]
    while bounds[-1] < max_items:
        bounds.append(min(bounds[-1] * 2, max_items))
    return bounds


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
    lower = 0
    for upper in bucket_bounds(max_items):
        last = upper == max_items
        in_bucket = lengths > lower if last else (lengths > lower) & (lengths <= upper)
        idx = tf.cast(tf.where(in_bucket)[:, 0], tf.int64)
        n_len = tf.minimum(tf.gather(lengths, idx), upper)
        # the most recent n_len items of each session in the bucket
        first = tf.gather(starts, idx) + tf.gather(lengths, idx) - n_len
        pos = tf.range(upper, dtype=tf.int64)
        mask = pos[None, :] < n_len[:, None]
        gather_at = tf.where(mask, first[:, None] + pos[None, :], 0)
        dense = tf.gather(tokens.flat_values, gather_at)  # [n, upper, d]
        dense = tf.where(mask[..., None], dense, tf.zeros_like(dense))
        dense.set_shape([None, upper, dim])
        outputs.append(encoder(dense, mask))
        indices.append(tf.cast(idx, tf.int32))
        lower = upper
    pooled = tf.dynamic_stitch(indices, outputs)  # [S, d_out], row i = session i
    return tf.RaggedTensor.from_row_splits(pooled, tokens.row_splits, validate=False)
