"""Next-session retrieval task (paper Eq. 8): sampled softmax of each next-session positive.

One row per (position, positive of its target session). Row ``r`` scores its positive
against ``C`` negatives drawn for the whole batch (uniform, or by popularity with log-Q
correction) and, optionally, against every other row's positive (in-batch negatives):

    loss_r = -log softmax([s(q_r, v_r), s(q_r, n_1), ..., s(q_r, n_C), (in-batch ...)])[0]

Masked out of a row's negatives: the other positives of the same target session (by row, and
by id when ``remove_accidental_hits``: any candidate whose id is one of those positives).
The loss is the mean over rows (``reduction="row"``), or over queries (``"query"``: each
query's rows averaged first, so a target session with many positives weighs as much as one
with a single positive, as in the per-user Recall@K).

The task takes one query per *group* (a position and its target session), ``[G, d]``:
every row of a group shares its query, its sampled negatives and its accidental-hit mask.
Two code paths compute the loss:

- sampled negatives only (default): the negative logits once per group, ``[G, C]``, and
  their masked log-sum-exp ``N_g``; then ``loss_r = softplus(N_g - s(q_g, v_r))``, which is
  ``-log softmax`` of the row's ``[1 + C]`` logits (O(G * C) work instead of O(R * C));
- with in-batch negatives: :class:`tfrs.tasks.Retrieval` over candidates ``[positives;
  sampled]`` with a ``score_mask`` (its scores are ``[R, R + C]``, inherent to in-batch).

The tests check that the fast path equals ``tfrs.tasks.Retrieval`` with in-batch columns
masked, and both against a per-row numpy reference.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_recommenders as tfrs

from sessionrec_tf.layers.interests import max_match, max_match_rows
from sessionrec_tf.tasks.distribute import (
    check_reduction,
    global_mean,
    global_sum,
    row_weights,
    rows_mean,
)
from sessionrec_tf.tasks.registry import LOSSES
from sessionrec_tf.tasks.samplers import PopularitySampler, UniformSampler
from sessionrec_tf.tasks.similarity import Similarity
from sessionrec_tf.tasks.targets import TargetRows, group_queries

MIN_LOGIT = tfrs.layers.loss.MIN_FLOAT


def _group_hits(targets: TargetRows, candidate_ids: tf.Tensor) -> tf.Tensor:
    """``[G, M]`` bool: candidate m's id is a positive of group g's target session."""
    eq = tf.cast(tf.equal(targets.positive_ids[:, None], candidate_ids[None, :]), tf.int32)
    groups = tf.shape(targets.group_position)[0]
    return tf.math.unsorted_segment_max(eq, targets.row_group, groups) > 0


def _in_group_positives(targets: TargetRows, candidate_ids: tf.Tensor) -> tf.Tensor:
    """``[R, M]`` bool: candidate m's id is a positive of row r's target session."""
    return tf.gather(_group_hits(targets, candidate_ids), targets.row_group)


class NextSessionRetrieval(tf.keras.layers.Layer, tfrs.tasks.Task):
    """Sampled-softmax (or SASRec-style BCE) loss over next-session positives.

    Args:
      sampler: negative sampler (:mod:`sessionrec_tf.tasks.samplers`).
      num_negatives: C, negatives per step shared by all rows (paper: 128); for ``bce``, one
        negative is drawn per row instead.
      similarity: scoring (dot / cosine, temperature).
      loss: ``softmax`` (Eq. 8) or ``bce`` (SASRec: one negative per row, sigmoid loss).
      in_batch_negatives: add every other row's positive as a negative (TFRS path).
      remove_accidental_hits: mask candidates whose id is a positive of the row's session.
      logq_correction: subtract log Q of each candidate (default: on for the popularity
        sampler, where it matters; a no-op for uniform sampling).
      seed: seed of the negative-sampling stream (stateless, keyed by a step counter).
      reduction: ``row`` (mean over (query, positive) rows, Eq. 8) or ``query`` (mean over
        queries of their rows' mean).
    """

    def __init__(
        self,
        sampler: UniformSampler | PopularitySampler,
        num_negatives: int = 128,
        similarity: Similarity | None = None,
        loss: str = "softmax",
        in_batch_negatives: bool = False,
        remove_accidental_hits: bool = True,
        logq_correction: bool | None = None,
        seed: int = 0,
        reduction: str = "row",
        name: str = "retrieval",
    ) -> None:
        super().__init__(name=name)
        LOSSES.check(loss)
        self.reduction = check_reduction(reduction)
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
        if loss == "bce" and in_batch_negatives:
            raise ValueError("in-batch negatives need the softmax loss, not bce")
        self.sampler = sampler
        self.num_negatives = int(num_negatives)
        self.similarity = similarity or Similarity()
        self.loss_kind = loss
        self.in_batch_negatives = in_batch_negatives
        self.remove_accidental_hits = remove_accidental_hits
        self.logq_correction = (isinstance(sampler, PopularitySampler)
                                if logq_correction is None else logq_correction)
        self.seed = int(seed)
        self.tfrs_retrieval = tfrs.tasks.Retrieval(
            temperature=self.similarity.temperature, name=f"{name}_tfrs")
        self.loss_tracker = tf.keras.metrics.Mean(name=f"{name}_loss")

    def build(self, input_shape: object = None) -> None:
        self.counter = self.add_weight(name="step", shape=(), dtype=tf.int64, trainable=False,
                                       initializer="zeros")
        super().build(input_shape)

    def _seed(self, training: bool | None) -> tf.Tensor:
        step = self.counter.assign_add(1) if training else tf.constant(-1, tf.int64)
        return tf.stack([tf.constant(self.seed, tf.int64), step])

    def call(
        self,
        query_embeddings: tf.Tensor,
        targets: TargetRows,
        candidate_fn: Callable[[tf.Tensor], tf.Tensor],
        training: bool | None = None,
        negative_ids: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """Loss for one batch.

        Args:
          query_embeddings: ``[G, d]`` user state of each group's position (``[G, k, d]``
            with several user vectors); rows of a group share it.
          targets: the batch's rows (:class:`TargetRows`).
          candidate_fn: item ids ``[n]`` -> candidate embeddings ``[n, d]``.
          training: draws fresh negatives (and advances the sampling stream) when true.
          negative_ids: use these ``[C]`` (``[R]`` for bce) negatives instead of sampling.

        Returns:
          Scalar mean loss over rows or queries (``reduction``; 0 when the batch has no
          rows).
        """
        if not self.built:
            self.build()
        sim = self.similarity
        q = sim.embed(group_queries(query_embeddings, targets))
        pos_emb = sim.embed(candidate_fn(targets.positive_ids))
        seed = self._seed(training)
        if self.loss_kind == "bce":
            loss = self._bce(tf.gather(q, targets.row_group), pos_emb, targets, candidate_fn,
                             seed, negative_ids)
        else:
            if negative_ids is None:
                negative_ids = self.sampler.sample(self.num_negatives, seed)
            neg_emb = sim.embed(candidate_fn(negative_ids))
            if self.in_batch_negatives:
                loss = self.tfrs_loss(tf.gather(q, targets.row_group), pos_emb, neg_emb,
                                      targets, negative_ids)
            else:
                loss = self.sampled_softmax_loss(q, pos_emb, neg_emb, targets, negative_ids)
        self.loss_tracker.update_state(global_sum(loss))
        return loss

    def _log_q(self, ids: tf.Tensor) -> tf.Tensor:
        return self.sampler.log_q(ids, self.num_negatives)

    def sampled_softmax_loss(self, q: tf.Tensor, pos_emb: tf.Tensor, neg_emb: tf.Tensor,
                             targets: TargetRows, negative_ids: tf.Tensor) -> tf.Tensor:
        """The fast path (``q``: ``[G, (k,) d]`` embedded group queries): the negatives'
        log-sum-exp ``N_g`` once per group, then ``softplus(N_g - pos_r)`` per row, equal to
        ``logsumexp([pos_r, neg_g]) - pos_r``."""
        sim = self.similarity
        pos = sim.scale(max_match_rows(tf.gather(q, targets.row_group), pos_emb))  # [R]
        neg = sim.scale(max_match(q, neg_emb))  # [G, C]
        if self.logq_correction:
            pos = pos - self._log_q(targets.positive_ids)
            neg = neg - self._log_q(negative_ids)[None, :]
        if self.remove_accidental_hits:
            neg = tf.where(_group_hits(targets, negative_ids), MIN_LOGIT, neg)
        group_lse = tf.reduce_logsumexp(neg, axis=1)  # [G]
        per_row = tf.nn.softplus(tf.gather(group_lse, targets.row_group) - pos)
        return self._mean(per_row, targets)

    def _mean(self, per_row: tf.Tensor, targets: TargetRows) -> tf.Tensor:
        """Mean of ``per_row`` by ``reduction`` (over the global batch under tf.distribute:
        :mod:`~sessionrec_tf.tasks.distribute`); 0 for a batch without rows."""
        return rows_mean(per_row, targets.row_group, tf.shape(targets.group_position)[0],
                         self.reduction)

    def score_mask(self, targets: TargetRows, negative_ids: tf.Tensor,
                   in_batch: bool) -> tf.Tensor:
        """``[R, R + C]`` mask for ``tfrs.tasks.Retrieval`` over ``[positives; sampled]``."""
        rows = tf.shape(targets.positive_ids)[0]
        diagonal = tf.eye(rows, dtype=tf.bool)
        if in_batch:
            same_group = tf.equal(targets.row_group[:, None], targets.row_group[None, :])
            blocked = same_group
            if self.remove_accidental_hits:
                blocked = tf.logical_or(blocked,
                                        _in_group_positives(targets, targets.positive_ids))
            block = tf.logical_or(diagonal, tf.logical_not(blocked))
        else:
            block = diagonal
        if self.remove_accidental_hits:
            sampled = tf.logical_not(_in_group_positives(targets, negative_ids))
        else:
            sampled = tf.ones([rows, tf.shape(negative_ids)[0]], tf.bool)
        return tf.concat([block, sampled], axis=1)

    def tfrs_loss(self, q: tf.Tensor, pos_emb: tf.Tensor, neg_emb: tf.Tensor,
                  targets: TargetRows, negative_ids: tf.Tensor,
                  in_batch: bool | None = None) -> tf.Tensor:
        """The same loss through ``tfrs.tasks.Retrieval`` (in-batch capable, O(R^2));
        ``q``: ``[R, d]``, each row's query."""
        in_batch = self.in_batch_negatives if in_batch is None else in_batch
        if q.shape.rank != 2:
            raise ValueError("the TFRS loss takes one user vector per row; several user "
                             "vectors need the sampled-softmax loss (no in-batch negatives)")
        candidates = tf.concat([pos_emb, neg_emb], axis=0)
        if self.logq_correction:
            # Exact log-Q correction folded into the embeddings: TFRS scores are
            # [q, 1] . [c, -tau log Q(c)] / tau = q.c / tau - log Q(c). (Passing Q as
            # candidate_sampling_probability would clip it to >= 1e-6, wrong for rare items.)
            ids = tf.concat([targets.positive_ids, negative_ids], axis=0)
            tau = self.similarity.temperature
            q = tf.concat([q, tf.ones_like(q[:, :1])], axis=1)
            candidates = tf.concat([candidates, -tau * self._log_q(ids)[:, None]], axis=1)
        weights, count = row_weights(targets.row_group, tf.shape(targets.group_position)[0],
                                     self.reduction, q.dtype)
        summed = self.tfrs_retrieval(
            q, candidates, sample_weight=weights,
            score_mask=self.score_mask(targets, negative_ids, in_batch),
            compute_metrics=False, compute_batch_metrics=False)
        return global_mean(summed, count)

    def _bce(self, q: tf.Tensor, pos_emb: tf.Tensor, targets: TargetRows,
             candidate_fn: Callable[[tf.Tensor], tf.Tensor], seed: tf.Tensor,
             negative_ids: tf.Tensor | None) -> tf.Tensor:
        """SASRec's loss: positive vs one sampled negative per row, sigmoid cross-entropy."""
        sim = self.similarity
        rows = tf.shape(q)[0]
        if negative_ids is None:
            negative_ids = self.sampler.sample(rows, seed)
        neg_emb = sim.embed(candidate_fn(negative_ids))
        pos = sim.scale(max_match_rows(q, pos_emb))
        neg = sim.scale(max_match_rows(q, neg_emb))
        weight = tf.ones_like(neg)
        if self.remove_accidental_hits:
            own = tf.gather(targets.group_positives, targets.row_group)  # [R, P]
            hit = tf.reduce_any(tf.equal(own, negative_ids[:, None]), axis=1)
            weight = 1.0 - tf.cast(hit, neg.dtype)
        per_row = tf.nn.softplus(-pos) + weight * tf.nn.softplus(neg)
        return self._mean(per_row, targets)
