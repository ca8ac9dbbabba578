"""Exact top-K in the serving graph: the candidate matrix is a variable, scored by matmul.

    users [B, d] x candidates [V, d]^T -> top-K per user, excluded items removed

The candidate embeddings are computed once at export time (``model.candidate_embeddings()``)
and stored as a non-trainable variable, so a request costs one ``[B, d] x [d, V]`` product
and a top-K, never the item tower. Stock TensorFlow ops only.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.layers.interests import max_match
from sessionrec_tf.metrics.topk import (
    NEG_INF,
    chunked_top_k,
    exclusion_indices,
    unfilled_to_padding,
)

DEFAULT_CHUNK = 262_144


class ExactRetriever(tf.Module):
    """Exact top-``k`` by dot product over all items (rows 0/1, padding/OOV, never returned).

    Args:
      candidates: ``[V, d]`` float32 candidate embeddings, row = item vocabulary index.
      k: results per user.
      chunk_size: candidates scored at once (memory ``O(batch * chunk_size)``).
    """

    exact = True

    def __init__(self, candidates: tf.Variable, k: int, chunk_size: int = DEFAULT_CHUNK
                 ) -> None:
        super().__init__(name="exact_retriever")
        self.candidates = candidates
        self.k = int(k)
        self.chunk_size = int(chunk_size)

    def top_k(self, users: tf.Tensor, exclude: tf.RaggedTensor | None
              ) -> tuple[tf.Tensor, tf.Tensor]:
        """``(scores [B, k], item indices [B, k])``, best first; ``exclude`` ``[B, n]``.

        Same result as :func:`~sessionrec_tf.metrics.topk.chunked_top_k` (ties go to the lower
        item index; unfilled slots are ``-inf`` / index 0); a catalog that fits in one chunk is
        scored in one pass without its loop.
        """
        if self.candidates.shape[0] > self.chunk_size:
            return chunked_top_k(users, self.candidates, self.k, exclude=exclude,
                                 chunk_size=self.chunk_size)
        scores = max_match(users, self.candidates)  # [B, V]
        if exclude is not None:
            pairs = exclusion_indices(exclude)
            scores = tf.tensor_scatter_nd_update(
                scores, pairs, tf.fill([tf.shape(pairs)[0]], NEG_INF))
        # Padding/OOV rows are dropped from a top-(k + 2) instead of masking all [B, V]
        # scores: one pass less over the score matrix, same result and tie order.
        wide_scores, wide_ids = tf.math.top_k(scores, k=self.k + NUM_RESERVED)
        wide_scores = tf.where(wide_ids < NUM_RESERVED, NEG_INF, wide_scores)
        top_scores, pos = tf.math.top_k(wide_scores, k=self.k)
        return unfilled_to_padding(
            top_scores, tf.cast(tf.gather(wide_ids, pos, batch_dims=1), tf.int64))


def candidate_variable(candidates: np.ndarray) -> tf.Variable:
    """The ``[V, d]`` candidate matrix as the non-trainable variable the export holds."""
    return tf.Variable(np.asarray(candidates, np.float32), trainable=False,
                       name="candidate_embeddings")
