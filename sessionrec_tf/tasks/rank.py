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

The rows of a group share its query and its negatives, so the negatives are scored once per
group on the ragged (group, negative) pairs (nothing padded), reduced to their log-sum-exp
``N_g``, and ``loss_r = softplus(N_g - s(q_g, v_r))``: O(R + sum_g |N_g|) work, not
O(sum_r |N_g(r)|).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_recommenders as tfrs

from sessionrec_tf.data.batch_ops import row_ids
from sessionrec_tf.layers.interests import max_match_rows
from sessionrec_tf.tasks.distribute import global_mean, global_sum
from sessionrec_tf.tasks.similarity import Similarity
from sessionrec_tf.tasks.targets import TargetRows, group_queries


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
        """Scalar mean rank loss over the batch's rows; ``[G, d]`` (or ``[G, k, d]``) queries,
        one per group."""
        sim = self.similarity
        q = sim.embed(group_queries(query_embeddings, targets))
        pos = sim.scale(max_match_rows(tf.gather(q, targets.row_group),
                                       sim.embed(candidate_fn(targets.positive_ids))))  # [R]
        negatives = targets.group_negatives  # [G, Q]
        groups = tf.shape(q)[0]
        pair_group = row_ids(negatives)
        pair_scores = sim.scale(max_match_rows(
            tf.gather(q, pair_group), sim.embed(candidate_fn(negatives.flat_values))))
        has_neg = negatives.row_lengths() > 0  # [G]
        # log-sum-exp of each group's negatives, stabilised by the group max (0 when empty)
        top = tf.stop_gradient(tf.where(
            has_neg, tf.math.unsorted_segment_max(pair_scores, pair_group, groups),
            tf.zeros([groups], pair_scores.dtype)))
        total = tf.math.unsorted_segment_sum(tf.exp(pair_scores - tf.gather(top, pair_group)),
                                             pair_group, groups)
        group_lse = top + tf.math.log(tf.where(has_neg, total, tf.ones_like(total)))
        per_row = tf.where(tf.gather(has_neg, targets.row_group),
                           tf.nn.softplus(tf.gather(group_lse, targets.row_group) - pos),
                           tf.zeros_like(pos))
        loss = global_mean(tf.reduce_sum(per_row), tf.shape(pos)[0])
        self.loss_tracker.update_state(global_sum(loss))
        return loss
