"""Ranking metrics over full-catalog top-K lists, per user, in TensorFlow.

Targets are a *set* per user (a repeated positive counts once). With ``hits[b, k]`` = the
k-th recommended item of user b is a target and ``T_b`` = number of distinct targets:

- Recall@K = sum_{k<K} hits / T_b
- NDCG@K   = (sum_{k<K} hits_k / log2(k + 2)) / (sum_{k < min(T_b, K)} 1 / log2(k + 2))
- HR@K     = 1 if any hit in the first K
- MRR@K    = 1 / (1 + position of the first hit in the first K), 0 if none

A user with no target is refused (there is nothing to measure): the caller must filter them.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from sessionrec_tf.data.batch_ops import boolean_mask, row_ids

METRIC_NAMES = ("recall", "ndcg", "hr", "mrr")


def unique_targets(targets: tf.RaggedTensor) -> tf.RaggedTensor:
    """Per-row distinct ids of a ``[B, T]`` ragged tensor (sorted)."""
    rows = row_ids(targets)
    vals = targets.flat_values
    order = tf.argsort(vals, stable=True)
    order = tf.gather(order, tf.argsort(tf.gather(rows, order), stable=True))
    rows_s, vals_s = tf.gather(rows, order), tf.gather(vals, order)
    # the first element of every run of equal (row, id); [:1] keeps it empty for no targets
    first = tf.concat([tf.ones_like(rows_s[:1], tf.bool),
                       tf.logical_or(rows_s[1:] != rows_s[:-1], vals_s[1:] != vals_s[:-1])],
                      axis=0)
    return tf.RaggedTensor.from_value_rowids(boolean_mask(vals_s, first),
                                             boolean_mask(rows_s, first),
                                             nrows=targets.nrows(out_type=tf.int64),
                                             validate=False)


def hits_matrix(top_ids: tf.Tensor, targets: tf.RaggedTensor) -> tf.Tensor:
    """``[B, K]`` bool: ``top_ids[b, k]`` is one of user b's targets."""
    dense = targets.to_tensor(default_value=-1)
    eq = tf.equal(top_ids[:, :, None], tf.cast(dense, top_ids.dtype)[:, None, :])
    return tf.reduce_any(tf.logical_and(eq, dense[:, None, :] >= 0), axis=-1)


def ranking_metrics(top_ids: tf.Tensor, targets: tf.RaggedTensor,
                    ks: Sequence[int]) -> dict[str, tf.Tensor]:
    """Per-user ``[B]`` metrics ``{"recall@10": ..., "ndcg@10": ..., ...}`` for each K.

    Args:
      top_ids: ``[B, K_max]`` recommended item ids, best first (K_max >= max(ks)).
      targets: ``[B, T]`` ragged target ids; every row must be non-empty.
      ks: cut-offs.
    """
    targets = unique_targets(targets)
    n_targets = tf.cast(targets.row_lengths(), tf.float32)
    tf.debugging.assert_positive(
        n_targets, message="every user needs at least one target (empty target set)")
    hits = tf.cast(hits_matrix(top_ids, targets), tf.float32)
    k_max = tf.shape(top_ids)[1]
    discount = 1.0 / (tf.math.log(tf.cast(tf.range(k_max), tf.float32) + 2.0) / tf.math.log(2.0))
    out: dict[str, tf.Tensor] = {}
    for k in ks:
        h = hits[:, :k]
        d = discount[:k]
        out[f"recall@{k}"] = tf.reduce_sum(h, axis=1) / n_targets
        ideal_len = tf.minimum(n_targets, float(k))
        ideal = tf.reduce_sum(d[None, :] * tf.cast(
            tf.range(k, dtype=tf.float32)[None, :] < ideal_len[:, None], tf.float32), axis=1)
        out[f"ndcg@{k}"] = tf.reduce_sum(h * d[None, :], axis=1) / ideal
        out[f"hr@{k}"] = tf.cast(tf.reduce_any(h > 0, axis=1), tf.float32)
        first = tf.argmax(h, axis=1, output_type=tf.int32)
        out[f"mrr@{k}"] = tf.where(tf.reduce_any(h > 0, axis=1),
                                   1.0 / tf.cast(first + 1, tf.float32), 0.0)
    return out
