"""Mean full-catalog ranking metrics over users, as one Keras metric.

    top_ids [B, K] (a retriever's item indices, best first), targets [B, T] ragged
        -> {"recall@10": mean over users, "ndcg@10": ..., ...}

Per-user values come from :func:`~sessionrec_tf.metrics.ranking.ranking_metrics`; a user with
an empty target set has nothing to measure: it is skipped and counted (:attr:`skipped`).
Sums are float64, so a split of millions of users averages without float32 round-off. The
same metric object serves the Keras validation (``model.evaluate``), the
:class:`~sessionrec_tf.evaluation.Evaluator` and the most-popular baseline.

Example::

    ranking = CatalogRanking(ks=(10, 100))
    _, top = ExactTopK(100).index(candidates)(users, exclude=seen)
    ranking.update_state(top, targets)
    ranking.result()  # {"recall@10": ..., "ndcg@10": ..., "recall@100": ..., "ndcg@100": ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from sessionrec_tf.data.batch_ops import boolean_mask, select_rows
from sessionrec_tf.metrics.ranking import METRIC_NAMES, ranking_metrics


class CatalogRanking(tf.keras.metrics.Metric):
    """Recall/NDCG/HR/MRR@K averaged over the users that have a target.

    Args:
      ks: cut-offs (the top-K lists must be at least ``max(ks)`` long).
      metrics: which of :data:`~sessionrec_tf.metrics.ranking.METRIC_NAMES`.
      name: metric name.
    """

    def __init__(self, ks: Sequence[int], metrics: Sequence[str] = ("recall", "ndcg"),
                 name: str = "catalog_ranking", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        unknown = [m for m in metrics if m not in METRIC_NAMES]
        if unknown or not metrics:
            raise ValueError(f"unknown ranking metric(s) {list(unknown)}; valid: "
                             f"{list(METRIC_NAMES)}")
        if not ks or any(int(k) < 1 for k in ks):
            raise ValueError(f"cut-offs must be positive integers, got {list(ks)}")
        self.ks = tuple(int(k) for k in ks)
        self.metric_names = tuple(metrics)
        self.names = tuple(f"{m}@{k}" for k in self.ks for m in self.metric_names)
        self.sums = self.add_weight(name="sums", shape=[len(self.names)], dtype=tf.float64,
                                    initializer="zeros")
        self.users = self.add_weight(name="users", shape=[], dtype=tf.float64,
                                     initializer="zeros")
        self.skipped = self.add_weight(name="skipped", shape=[], dtype=tf.float64,
                                       initializer="zeros")

    def update_state(self, top_ids: tf.Tensor, targets: tf.RaggedTensor,
                     sample_weight: None = None) -> None:
        """Add a batch: ``top_ids [B, K]`` against ``targets [B, T]`` (empty rows skipped)."""
        has = targets.row_lengths() > 0
        per_user = ranking_metrics(boolean_mask(top_ids, has), select_rows(targets, has),
                                   self.ks)
        self.sums.assign_add(tf.stack([tf.reduce_sum(tf.cast(per_user[n], tf.float64))
                                       for n in self.names]))
        measured = tf.reduce_sum(tf.cast(has, tf.float64))
        self.users.assign_add(measured)
        self.skipped.assign_add(tf.cast(tf.size(has), tf.float64) - measured)

    def reset_state(self) -> None:
        for v in self.variables:
            v.assign(tf.zeros_like(v))

    def result(self) -> dict[str, tf.Tensor]:
        """Means over the measured users (0 before any)."""
        means = self.sums / tf.maximum(self.users, 1.0)
        return {n: means[i] for i, n in enumerate(self.names)}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ks": list(self.ks), "metrics": list(self.metric_names)}
