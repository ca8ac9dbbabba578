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
from sessionrec_tf.metrics.catalog import CatalogRanking
from sessionrec_tf.metrics.ranking import METRIC_NAMES
from sessionrec_tf.models.sessionrec import seen_items
from sessionrec_tf.retrieval.exact import ExactTopK


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
        retriever = ExactTopK(k).index(tf.constant(self.counts)[:, None])
        _, ids = retriever(users, seen_items(batch, exclude_seen))
        return ids

    def evaluate(self, data: PreparedDataset, split: str = "valid", protocol: str = "loso",
                 ks: Sequence[int] = (10, 100), exclude_seen: str = "positives",
                 batch_size: int = 512) -> dict[str, float]:
        """Mean Recall/NDCG/HR/MRR@K over the users of ``split``."""
        ranking = CatalogRanking(ks, METRIC_NAMES)
        for batch in read_dataset(data, split, protocol, batch_size, deterministic=True):
            ranking.update_state(self.top_k(batch, max(ks), exclude_seen),
                                 batch["target_item_id"])
        return {name: float(v) for name, v in ranking.result().items()}
