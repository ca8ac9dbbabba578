"""The most-popular-items baseline: everyone gets the training split's most liked items.

Popularity is the number of positives per item in the *training* split of the protocol (so
no validation or test target leaks into it), and the same seen-item policy and metric code as
the models are used, so its numbers sit next to a model's on equal terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.reader import read_dataset
from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.metrics.ranking import ranking_metrics
from sessionrec_tf.metrics.topk import chunked_top_k
from sessionrec_tf.models.sessionrec import seen_items


class MostPopular:
    """Scores every item by its training positives (ties: lower item index first).

    Args:
      counts: ``[num_items]`` positives per item index in the training split.
    """

    def __init__(self, counts: np.ndarray) -> None:
        counts = np.asarray(counts, dtype=np.float32).copy()
        counts[:NUM_RESERVED] = 0.0
        self.counts = counts

    def top_k(self, batch: dict[str, tf.Tensor], k: int, exclude_seen: str = "positives"
              ) -> tf.Tensor:
        """``[B, k]`` recommendations for a batch (seen items excluded per policy)."""
        users = tf.ones([tf.shape(batch["user_id"])[0], 1], tf.float32)
        scores = tf.constant(self.counts)[:, None]
        _, ids = chunked_top_k(users, scores, k, exclude=seen_items(batch, exclude_seen))
        return ids

    def evaluate(self, data: PreparedDataset, split: str = "valid", protocol: str = "loso",
                 ks: Sequence[int] = (10, 100), exclude_seen: str = "positives",
                 batch_size: int = 512) -> dict[str, float]:
        """Mean Recall/NDCG/HR/MRR@K over the users of ``split``."""
        sums: dict[str, float] = {}
        users = 0
        for batch in read_dataset(data, split, protocol, batch_size, deterministic=True):
            has = batch["target_item_id"].row_lengths() > 0
            top = self.top_k(batch, max(ks), exclude_seen)
            per_user = ranking_metrics(tf.boolean_mask(top, has),
                                       tf.ragged.boolean_mask(batch["target_item_id"], has), ks)
            for name, values in per_user.items():
                sums[name] = sums.get(name, 0.0) + float(tf.reduce_sum(values))
            users += int(tf.reduce_sum(tf.cast(has, tf.int32)))
        return {name: total / max(users, 1) for name, total in sums.items()}
