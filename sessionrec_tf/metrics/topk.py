"""Exact top-K over a whole catalog in chunks, with per-user exclusions.

``scores = users @ candidates^T`` is never materialised for the whole catalog: candidates are
scored ``chunk_size`` at a time and a running top-K is merged with each chunk's top-K, so
memory is ``O(batch * (chunk_size + K))`` whatever the catalog size (1.5M items included).
Excluded items (padding/OOV indices, the user's seen items) get ``-inf`` before selection.

When a user has fewer than K eligible items (K close to the catalog size, many seen items),
the slots past the last eligible item are *unfilled*: score ``-inf`` and item index 0
(padding), never an excluded item (:func:`unfilled_to_padding`). Index 0 matches no target,
the serving signature turns it into the padding token and reports ``num_results``, and the
batch scorer writes only the filled slots.
"""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.layers.interests import max_match

NEG_INF = float("-inf")
PAD_INDEX = 0


def unfilled_to_padding(scores: tf.Tensor, ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``(scores, ids)`` with the id of every ``-inf`` slot replaced by :data:`PAD_INDEX`."""
    return scores, tf.where(scores > NEG_INF, ids, tf.zeros_like(ids) + PAD_INDEX)


def num_filled(scores: tf.Tensor) -> tf.Tensor:
    """``[B]`` int32: the filled (finite-score) slots of each row of ``[B, k]`` scores."""
    return tf.reduce_sum(tf.cast(scores > NEG_INF, tf.int32), axis=1)


def exclusion_indices(exclude: tf.RaggedTensor) -> tf.Tensor:
    """``[n, 2]`` (user, item) pairs of a ``[B, n]`` ragged tensor of item ids to exclude."""
    return tf.stack([exclude.value_rowids(), tf.cast(exclude.flat_values, tf.int64)], axis=1)


def chunked_top_k(
    users: tf.Tensor,
    candidates: tf.Tensor,
    k: int,
    exclude: tf.RaggedTensor | None = None,
    chunk_size: int = 65_536,
    first_item: int = NUM_RESERVED,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Top-``k`` items by dot product.

    Args:
      users: ``[B, d]`` query embeddings, or ``[B, k, d]`` (k user vectors: an item's score
        is its best match, :func:`~sessionrec_tf.layers.interests.max_match`).
      candidates: ``[V, d]`` candidate embeddings, row = item index.
      k: how many items (must be <= the number of eligible items).
      exclude: ``[B, n]`` ragged item indices that must not be recommended to each user.
      chunk_size: candidates scored at once.
      first_item: indices below this (padding, OOV) are never recommended.

    Returns:
      ``(scores [B, k], ids [B, k] int64)``, best first; ties go to the lower item index;
      unfilled slots (fewer than k eligible items) have score ``-inf`` and id 0.
    """
    num = tf.shape(candidates, out_type=tf.int64)[0]
    batch = tf.shape(users)[0]
    pairs = exclusion_indices(exclude) if exclude is not None else tf.zeros([0, 2], tf.int64)
    best_scores = tf.fill([batch, k], NEG_INF)
    best_ids = tf.zeros([batch, k], tf.int64)
    start = tf.constant(0, tf.int64)

    def body(start: tf.Tensor, best_scores: tf.Tensor, best_ids: tf.Tensor
             ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        stop = tf.minimum(start + chunk_size, num)
        chunk = candidates[start:stop]
        scores = max_match(users, chunk)  # [B, c]
        ids = tf.range(start, stop)
        scores = tf.where((ids < first_item)[None, :], NEG_INF, scores)
        in_chunk = tf.logical_and(pairs[:, 1] >= start, pairs[:, 1] < stop)
        local = tf.boolean_mask(pairs, in_chunk) - tf.stack([0, start])[None, :]
        scores = tf.tensor_scatter_nd_update(
            scores, local, tf.fill([tf.shape(local)[0]], NEG_INF))
        kk = tf.minimum(k, tf.cast(stop - start, tf.int32))
        top_s, top_i = tf.math.top_k(scores, k=kk)
        merged_s = tf.concat([best_scores, top_s], axis=1)
        merged_i = tf.concat([best_ids, tf.gather(ids, top_i)], axis=1)
        # top_k keeps the earlier column among equal scores: running best (lower ids) first
        sel_s, sel = tf.math.top_k(merged_s, k=k)
        return stop, sel_s, tf.gather(merged_i, sel, batch_dims=1)

    _, best_scores, best_ids = tf.while_loop(
        lambda s, *_: s < num, body, [start, best_scores, best_ids],
        shape_invariants=[start.shape, tf.TensorShape([None, k]), tf.TensorShape([None, k])])
    return unfilled_to_padding(best_scores, best_ids)
