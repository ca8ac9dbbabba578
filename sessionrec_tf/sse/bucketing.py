"""Run a causal SSE over a batch of ragged sequences, one length bucket of users at a time.

Padding a batch to its longest sequence wastes most of the work when sequence lengths are
skewed: on KuaiRand a batch of 64 users is padded to ~200 interactions while the mean user has
~47, and attention is quadratic in the padded length. Users are grouped by length into buckets
``(0, b0], (b0, b1], ...`` (powers of two), each bucket is padded to its own longest sequence,
and the states are put back in the batch's order. Because every SSE is causal and right-padded,
a user's states do not depend on how far the sequence is padded, so the result equals the
single padded call (tested); only the work changes. In training every bucket is encoded even
when it is empty, so the number of encoder calls per step (and so every dropout stream) is
fixed; in inference an empty bucket is skipped (``tf.cond``), so a one-user serving request
runs the encoder once instead of once per bucket. The bucketing itself is
:mod:`sessionrec_tf.layers.bucketing`, shared with the sequence ISEs.
"""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.data.batch_ops import boolean_mask
from sessionrec_tf.layers.bucketing import bucket_bounds, gather_padded, length_buckets, stitch
from sessionrec_tf.sse.query_tokens import QueryTokens, encode_with_queries


def length_bucket_bounds(max_len: int, smallest: int = 16) -> list[int]:
    """Upper bounds ``[smallest, 2 * smallest, ..., max_len]`` of the SSE's length buckets."""
    return bucket_bounds(max_len, smallest)


def encode_in_length_buckets(
    sse: tf.keras.layers.Layer,
    tokens: tf.RaggedTensor,
    timestamps: tf.RaggedTensor,
    bounds: list[int],
    training: bool | None = None,
    skip_empty: bool | None = None,
    queries: QueryTokens | None = None,
) -> tuple[tf.Tensor, tf.Tensor] | tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """States of ``sse`` for every user, computed per length bucket.

    Args:
      sse: causal encoder ``(x [n, L, d], mask [n, L], timestamps [n, L]) -> [n, L, d]``.
      tokens: ``[B, L, d]`` session tokens (ragged in L).
      timestamps: ``[B, L]`` session timestamps (same row lengths as ``tokens``).
      bounds: increasing bucket upper bounds; users longer than the last bound join the last
        bucket, padded to their longest (the model's view keeps at most ``max_len`` sessions
        and its last bound is ``max_len``, so a bucket beyond it would always be empty: one
        more encoder copy in every traced training step, for nothing).
      training: passed to the encoder.
      skip_empty: skip the encoder for empty buckets (``tf.cond``); default: unless ``training``
        is ``True``.
      queries: ``[B, Q]`` query tokens encoded with their users
        (:mod:`sessionrec_tf.sse.query_tokens`); their states are returned third.

    Returns:
      ``(states [B, L_max, d], mask [B, L_max])``, padded to the batch's longest sequence as the
      single-call path returns them; with ``queries``, also their states ``[B, Q, d]``.
    """
    lengths = tokens.row_lengths()
    starts = tokens.row_splits[:-1]
    values, time_values = tokens.flat_values, timestamps.flat_values
    dim = values.shape[-1]
    if skip_empty is None:
        skip_empty = training is None or training is False

    def encode(rows: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """States ``[T_b, d]`` of the users ``rows`` and their flat positions ``[T_b]``; with
        ``queries``, also the users' query states ``[n, Q, d]``."""
        # padded to the bucket's longest user; at least one step (a GRU cannot run over zero
        # steps, and the bucket may be empty)
        x, mask, at = gather_padded(values, starts, lengths, rows)
        x.set_shape([None, None, dim])
        times = tf.where(mask, tf.gather(time_values, at), tf.zeros([], time_values.dtype))
        if queries is None:
            states = sse(x, mask=mask, timestamps=times, training=training)
            return boolean_mask(states, mask), tf.cast(boolean_mask(at, mask), tf.int32)
        states, query_states = encode_with_queries(sse, x, mask, times, queries.rows(rows),
                                                   training=training)
        return (boolean_mask(states, mask), tf.cast(boolean_mask(at, mask), tf.int32),
                query_states)

    def nothing() -> tuple[tf.Tensor, ...]:
        empty = (tf.zeros([0, dim], values.dtype), tf.zeros([0], tf.int32))
        if queries is None:
            return empty
        return (*empty, tf.zeros([0, queries.slots, dim], values.dtype))

    indices, outputs, users, query_outputs = [], [], [], []
    # a user without tokens may still have query tokens (a cut in its only session): it joins
    # the first bucket then, so that every user's queries are encoded
    by_length = lengths if queries is None else tf.maximum(lengths, 1)
    for rows, _ in length_buckets(by_length, bounds, overflow=False):
        if skip_empty:
            encoded = tf.cond(tf.size(rows) > 0, lambda rows=rows: encode(rows), nothing)
        else:
            encoded = encode(rows)
        outputs.append(encoded[0])  # [T_b, d]
        indices.append(encoded[1])  # their flat positions
        if queries is not None:
            users.append(rows)
            query_outputs.append(encoded[2])
    flat = stitch(indices, outputs)  # [T, d] in the batch's row order
    ragged = tf.RaggedTensor.from_row_splits(flat, tokens.row_splits, validate=False)
    states = ragged.to_tensor()
    mask = tf.sequence_mask(lengths, maxlen=tf.shape(states, out_type=tf.int64)[1])
    if queries is None:
        return states, mask
    return states, mask, stitch(users, query_outputs)  # [B, Q, d] in row order
