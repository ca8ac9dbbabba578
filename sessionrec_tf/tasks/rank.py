"""Session rank task (paper Eq. 9): each next-session positive against that session's negatives.

For row ``r`` (a positive ``v_r`` of target session ``g``) with negatives ``N_g`` (items shown
in session ``g`` but not engaged):

    loss_r = -log softmax([s(q_r, v_r), s(q_r, n) for n in N_g])[0]      if N_g is not empty
    loss_r = 0                                                          otherwise

A "negative" whose item is also a positive of the same session (shown twice, engaged once)
is contradictory and is not in ``N_g`` (:func:`~sessionrec_tf.tasks.targets.next_session_targets`
leaves it out).

The loss is the mean over *all* rows (rows of sessions without negatives count as zeros), so
``alpha`` in ``L = L_retrieval + alpha * L_rank`` (Eq. 10) weighs comparable quantities; with
``reduction="query"``, the mean over queries of their rows' mean (as the retrieval task's).

The rows of a group share its query and its negatives, so the negatives are scored once per
group on the ragged (group, negative) pairs (nothing padded), reduced to their log-sum-exp
``N_g``, and ``loss_r = softplus(N_g - s(q_g, v_r))``: O(R + sum_g |N_g|) work, not
O(sum_r |N_g(r)|).

Controls (``negatives``; diagnostics of where the rank loss's effect comes from, issue 17):
each keeps the loss, the rows and every group's NUMBER of negatives and changes only which
items they are:

- ``session`` (Eq. 9, default): the target session's own negatives;
- ``other_user``: the negatives of the group half a batch away (group ``(g + G // 2) mod G``):
  the same population of shown-but-not-engaged items, but another user's (unless one user
  holds more than half of the batch's groups), so no personal signal;
- ``uniform``: ids uniform over the catalogue (stateless draws keyed by a step counter, like
  the retrieval sampler's): neither the personal signal nor the shown-item population.

In every mode an id that is a positive of the group's own target session is left out.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_recommenders as tfrs

from sessionrec_tf.data.batch_ops import row_ids
from sessionrec_tf.layers.interests import max_match_rows
from sessionrec_tf.tasks.distribute import check_reduction, global_sum, rows_mean
from sessionrec_tf.tasks.registry import RANK_NEGATIVES
from sessionrec_tf.tasks.samplers import UniformSampler
from sessionrec_tf.tasks.similarity import Similarity
from sessionrec_tf.tasks.targets import TargetRows, group_queries, without_positives


class SessionRank(tf.keras.layers.Layer, tfrs.tasks.Task):
    """Softmax of each positive against its own session's negatives (see module docstring).

    Args:
      similarity: scoring (must match the retrieval task's).
      negatives: ``session`` (Eq. 9), or a control: ``other_user``, ``uniform`` (module
        docstring).
      num_items: catalogue size (vocabulary size), for ``uniform``.
      seed: seed of the ``uniform`` draws (stateless, keyed by a step counter).
      reduction: ``row`` (mean over rows) or ``query`` (mean over queries of their rows'
        mean).

    Example::

        rank = SessionRank(Similarity(temperature=0.05))
        loss = rank(queries, next_session_targets(item_ids, labels), item_embedding_fn)
    """

    def __init__(self, similarity: Similarity | None = None, negatives: str = "session",
                 num_items: int | None = None, seed: int = 0, reduction: str = "row",
                 name: str = "rank") -> None:
        super().__init__(name=name)
        self.reduction = check_reduction(reduction)
        if negatives not in RANK_NEGATIVES:
            raise ValueError(f"rank negatives: unknown value {negatives!r}; valid values: "
                             f"{list(RANK_NEGATIVES)}")
        if negatives == "uniform" and num_items is None:
            raise ValueError("rank negatives 'uniform' need num_items (the catalogue size)")
        self.similarity = similarity or Similarity()
        self.negatives = negatives
        self.sampler = UniformSampler(num_items) if negatives == "uniform" else None
        self.seed = int(seed)
        self.loss_tracker = tf.keras.metrics.Mean(name=f"{name}_loss")

    def build(self, input_shape: object = None) -> None:
        if self.sampler is not None:  # only this mode has a stream (checkpoints unchanged)
            self.counter = self.add_weight(name="step", shape=(), dtype=tf.int64,
                                           trainable=False, initializer="zeros")
        super().build(input_shape)

    def group_negatives(self, targets: TargetRows, training: bool | None = None
                        ) -> tf.RaggedTensor:
        """``[G, Q]`` the negatives each group is scored against (by ``self.negatives``);
        advances the ``uniform`` stream when ``training``."""
        own = targets.group_negatives
        if self.negatives == "session":
            return own
        if self.negatives == "other_user":
            groups = own.nrows(out_type=tf.int64)
            partner = (tf.range(groups) + groups // 2) % tf.maximum(groups, 1)
            swapped = tf.gather(own, partner)
        else:
            step = self.counter.assign_add(1) if training else tf.constant(-1, tf.int64)
            ids = self.sampler.sample(tf.size(own.flat_values),
                                      tf.stack([tf.constant(self.seed, tf.int64), step]))
            swapped = own.with_flat_values(ids)
        return without_positives(swapped, targets.group_positives)

    def call(self, query_embeddings: tf.Tensor, targets: TargetRows,
             candidate_fn: Callable[[tf.Tensor], tf.Tensor],
             training: bool | None = None) -> tf.Tensor:
        """Scalar mean rank loss over the batch's rows (or queries: ``reduction``); ``[G, d]``
        (or ``[G, k, d]``) queries, one per group."""
        sim = self.similarity
        q = sim.embed(group_queries(query_embeddings, targets))
        pos = sim.scale(max_match_rows(tf.gather(q, targets.row_group),
                                       sim.embed(candidate_fn(targets.positive_ids))))  # [R]
        negatives = self.group_negatives(targets, training)  # [G, Q]
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
        loss = rows_mean(per_row, targets.row_group, groups, self.reduction)
        self.loss_tracker.update_state(global_sum(loss))
        return loss

    def get_config(self) -> dict:
        return {"name": self.name, "l2_normalize": self.similarity.l2_normalize,
                "temperature": self.similarity.temperature, "negatives": self.negatives,
                "num_items": None if self.sampler is None else self.sampler.num_items,
                "seed": self.seed, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> SessionRank:
        config = dict(config)
        similarity = Similarity(config.pop("l2_normalize"), config.pop("temperature"))
        return cls(similarity, **config)
