"""The retriever contract: top-K items of a catalog for a batch of queries, with exclusions.

Modelled on TFRS's ``factorized_top_k.TopK``: a retriever is built over a catalog with
:meth:`TopK.index` and then called on queries::

    retriever = ExactTopK(k=100).index(candidates)          # [V, d], row = item index
    scores, ids = retriever(users, exclude=seen)            # [B, d] -> [B, k], [B, k]

``exclude`` is a ``[B, n]`` ragged tensor of item indices never returned to each user (the
user's seen items); rows 0/1 (padding/OOV) are never returned. Slots a user cannot fill
(fewer than k eligible items) have score ``-inf`` and index 0. The same retrievers serve the
Keras validation metric, :class:`~sessionrec_tf.evaluation.Evaluator`, the most-popular
baseline, the exported SavedModels and batch scoring.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


class TopK(tf.Module):
    """Base class of the retrievers (:class:`~sessionrec_tf.retrieval.exact.ExactTopK`,
    :class:`~sessionrec_tf.retrieval.scann.ScannTopK`).

    Args:
      k: results per query.
      name: module name.
    """

    exact: bool = True

    def __init__(self, k: int, name: str) -> None:
        super().__init__(name=name)
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = int(k)

    def index(self, candidates: Any) -> TopK:
        """Build over ``[V, d]`` candidate embeddings (row = item index); returns self."""
        raise NotImplementedError

    def call(self, queries: tf.Tensor, exclude: tf.RaggedTensor | None = None
             ) -> tuple[tf.Tensor, tf.Tensor]:
        """``(scores [B, k], item indices [B, k] int64)``, best first."""
        raise NotImplementedError

    def __call__(self, queries: tf.Tensor, exclude: tf.RaggedTensor | None = None
                 ) -> tuple[tf.Tensor, tf.Tensor]:
        return self.call(queries, exclude)

    def query_with_exclusions(self, queries: tf.Tensor, exclusions: tf.RaggedTensor
                              ) -> tuple[tf.Tensor, tf.Tensor]:
        """TFRS's name for a call with exclusions (here ragged ``[B, n]`` item indices)."""
        return self.call(queries, exclusions)
