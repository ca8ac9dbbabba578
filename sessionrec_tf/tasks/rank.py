"""Session rank task (paper Eq. 9): each next-session positive against that session's negatives.

For row ``r`` (a positive ``v_r`` of target session ``g``) with negatives ``N_g`` (items shown
in session ``g`` but not engaged):

    loss_r = -log softmax([s(q_r, v_r), s(q_r, n) for n in N_g])[0]      if N_g is not empty
    loss_r = 0                                                          otherwise

A "negative" whose item is also a positive of the same session (shown twice, engaged once)
is contradictory and is not in ``N_g`` (:func:`~sessionrec_tf.tasks.targets.next_session_targets`
leaves it out).

The loss is the mean over *all* rows (rows of sessions without negatives count as zeros), so
``alpha`` in ``L = L_retrieval + alpha * L_rank`` (Eq. 10) weighs comparable quantities.
Computed on the ragged (row, negative) pairs: nothing is padded to the longest session.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_recommenders as tfrs

from sessionrec_tf.layers.interests import max_match_rows
from sessionrec_tf.tasks.similarity import Similarity
from sessionrec_tf.tasks.targets import TargetRows


class SessionRank(tf.keras.layers.Layer, tfrs.tasks.Task):
    """Softmax of each positive against its own session's negatives (see module docstring).

    Args:
      similarity: scoring (must match the retrieval task's).
    """

    def __init__(self, similarity: Similarity | None = None, name: str = "rank") -> None:
        super().__init__(name=name)
        self.similarity = similarity or Similarity()
        self.loss_tracker = tf.keras.metrics.Mean(name=f"{name}_loss")

    def call(self, query_embeddings: tf.Tensor, targets: TargetRows,
             candidate_fn: Callable[[tf.Tensor], tf.Tensor],
             training: bool | None = None) -> tf.Tensor:
        """Scalar mean rank loss over the batch's rows (``[R, d]`` queries)."""
        sim = self.similarity
        q = sim.embed(query_embeddings)
        pos = sim.scale(max_match_rows(q, sim.embed(candidate_fn(targets.positive_ids))))
        negatives = targets.group_negatives  # [G, Q]
        neg_emb = sim.embed(candidate_fn(negatives.flat_values))  # [Q_total, d]
        starts = tf.gather(negatives.row_splits[:-1], targets.row_group)
        limits = tf.gather(negatives.row_splits[1:], targets.row_group)
        pairs = tf.ragged.range(starts, limits)  # [R, Q_r] indices into neg_emb
        pair_row = pairs.value_rowids()
        pair_scores = sim.scale(max_match_rows(tf.gather(q, pair_row),
                                               tf.gather(neg_emb, pairs.flat_values)))
        rows = tf.shape(q)[0]
        has_neg = pairs.row_lengths() > 0
        # logsumexp over {pos_r} and the pair scores of row r, stabilised by the row max
        neg_max = tf.math.unsorted_segment_max(pair_scores, pair_row, rows)
        top = tf.where(has_neg, tf.maximum(pos, neg_max), pos)
        neg_sum = tf.math.unsorted_segment_sum(
            tf.exp(pair_scores - tf.gather(top, pair_row)), pair_row, rows)
        lse = top + tf.math.log(tf.exp(pos - top) + neg_sum)
        per_row = tf.where(has_neg, lse - pos, tf.zeros_like(pos))
        loss = tf.reduce_sum(per_row) / tf.cast(tf.maximum(rows, 1), per_row.dtype)
        self.loss_tracker.update_state(loss)
        return loss
