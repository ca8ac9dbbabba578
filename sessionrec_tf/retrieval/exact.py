"""Exact top-K by dot product over the whole catalog (stock TensorFlow ops only).

    users [B, d] (or [B, k', d]) x candidates [V, d]^T -> top-K per user, exclusions removed

:class:`ExactTopK` holds the candidate matrix; :func:`~sessionrec_tf.metrics.topk.
chunked_top_k` does the scoring (one pass when the catalog fits in one chunk, else a running
top-K over chunks). In an export the candidates are a non-trainable variable computed once
(``model.candidate_embeddings()``), so a request costs one ``[B, d] x [d, V]`` product and a
top-K, never the item tower.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sessionrec_tf.metrics.topk import chunked_top_k
from sessionrec_tf.retrieval.base import TopK

DEFAULT_CHUNK = 262_144


def candidate_variable(candidates: np.ndarray) -> tf.Variable:
    """The ``[V, d]`` candidate matrix as the non-trainable variable an export holds."""
    return tf.Variable(np.asarray(candidates, np.float32), trainable=False,
                       name="candidate_embeddings")


class ExactTopK(TopK):
    """Exact top-``k`` over all items (rows 0/1, padding/OOV, never returned).

    Args:
      k: results per user.
      chunk_size: candidates scored at once (memory ``O(batch * chunk_size)``).

    ``index`` takes a ``tf.Variable`` or tensor as is (a tensor inside a ``tf.function``,
    e.g. the current candidate embeddings during validation), and stores an array as a
    non-trainable variable (:func:`candidate_variable`).

    Example::

        scores, ids = ExactTopK(100).index(model.candidate_embeddings())(users, exclude=seen)
    """

    exact = True

    def __init__(self, k: int, chunk_size: int = DEFAULT_CHUNK, name: str = "exact_top_k"
                 ) -> None:
        super().__init__(k, name=name)
        self.chunk_size = int(chunk_size)
        self.candidates: tf.Tensor | tf.Variable | None = None

    def index(self, candidates: tf.Tensor | tf.Variable | np.ndarray) -> ExactTopK:
        self.candidates = (candidate_variable(candidates)
                           if isinstance(candidates, np.ndarray) else candidates)
        return self

    def call(self, queries: tf.Tensor, exclude: tf.RaggedTensor | None = None
             ) -> tuple[tf.Tensor, tf.Tensor]:
        """Same result as :func:`~sessionrec_tf.metrics.topk.chunked_top_k` (ties go to the
        lower item index; unfilled slots are ``-inf`` / index 0)."""
        if self.candidates is None:
            raise ValueError("ExactTopK: call index(candidates) before querying")
        return chunked_top_k(queries, self.candidates, self.k, exclude=exclude,
                             chunk_size=self.chunk_size)
