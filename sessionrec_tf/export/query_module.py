"""The exported module: the model's user tower behind named flat-tensor signatures.

Signatures (see :mod:`sessionrec_tf.export.request` for the inputs):

``serving_default`` (the request) ->

=================  ===============  ========================================================
output             shape            content
=================  ===============  ========================================================
user_embedding     [B, d] float32   the user embedding (L2-normalised with cosine similarity);
                                    [B, k, d] with ``model.user_vectors = k > 1`` (an item's
                                    score is its best match among the k)
oov_count          [B] int64        the user's item ids not in the vocabulary (mapped to OOV)
top_k_ids          [B, k]           with an index: original item ids, best first, never an
                                    item the run's ``exclude_seen`` policy removes
top_k_scores       [B, k] float32   with an index: dot product of user and item embeddings
num_results        [B] int32        with an index: how many of the k slots are filled
=================  ===============  ========================================================

A user with fewer than k eligible items (k close to the catalog size, many seen items) gets
``num_results < k``: the slots from ``num_results`` on hold the padding token (-1 for integer
ids, empty text for string ids) with score ``-inf``; they are never a real item.

``item_embeddings`` (``item_ids [n]``) -> ``item_embedding [n, d]`` (the candidate embedding
the index scores against; zeros for an unknown id) and ``is_oov [n]`` bool.

Inside ``serving_default``: the request is validated and turned into the model's ragged batch
(:class:`~sessionrec_tf.export.parser.RequestParser`), the model is called on it exactly as in
training code (its view keeps the most recent ``max_len`` sessions, or items for item-level
models), and the candidate matrix is a variable computed at export time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import tensorflow as tf

from sessionrec_tf.export.parser import RequestParser
from sessionrec_tf.export.request import ITEM_IDS, RequestSpec
from sessionrec_tf.export.tables import VocabularyTable
from sessionrec_tf.metrics.topk import num_filled
from sessionrec_tf.models.sessionrec import EXCLUDE_SEEN, seen_items

USER_EMBEDDING = "user_embedding"
OOV_COUNT = "oov_count"
TOP_K_IDS = "top_k_ids"
TOP_K_SCORES = "top_k_scores"
NUM_RESULTS = "num_results"
ITEM_EMBEDDING = "item_embedding"
IS_OOV = "is_oov"
SERVING_SIGNATURE = "serving_default"
ITEMS_SIGNATURE = "item_embeddings"


class QueryModule(tf.Module):
    """What ``tf.saved_model.save`` writes for one export.

    Args:
      model: a built :class:`~sessionrec_tf.models.sessionrec.SessionRec` (its variables are
        tracked here; the Keras model object itself is not saved).
      spec: the request inputs.
      tables: vocabulary tables (``item_id`` and each interaction feature).
      candidates: ``[V, d]`` candidate-embedding variable.
      retriever: an indexed :class:`~sessionrec_tf.retrieval.TopK` (exact or ScaNN), or
        None for embeddings only.
      exclude_seen: ``positives``, ``all`` or ``none`` (the run's ``train.exclude_seen``).
      extra_variables: more variables the traced functions read (the export-time token
        tables), tracked so that they are saved.
    """

    def __init__(self, model: tf.keras.Model, spec: RequestSpec,
                 tables: Mapping[str, VocabularyTable], candidates: tf.Variable,
                 retriever: Any | None, exclude_seen: str = "positives",
                 extra_variables: list[tf.Variable] | None = None) -> None:
        super().__init__(name="sessionrec_serving")
        if exclude_seen not in EXCLUDE_SEEN:
            raise ValueError(f"exclude_seen must be one of {list(EXCLUDE_SEEN)}, "
                             f"got {exclude_seen!r}")
        self.model_variables = list(model.variables)
        self.extra_variables = list(extra_variables or [])
        self.tables = dict(tables)
        self.parser = RequestParser(spec, self.tables)
        self.candidates = candidates
        self.retriever = retriever
        self.exclude_seen = exclude_seen
        self.spec = spec
        self._user_tower: Callable[[Mapping[str, tf.RaggedTensor]], tf.Tensor] = (
            lambda batch: model(batch, training=False))

    def _serve(self, **inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        batch, oov_count = self.parser.parse(inputs)
        users = self._user_tower(batch)
        out = {USER_EMBEDDING: users, OOV_COUNT: oov_count}
        if self.retriever is not None:
            scores, indices = self.retriever(users, seen_items(batch, self.exclude_seen))
            out[TOP_K_IDS] = self.tables["item_id"].tokens(indices)
            out[TOP_K_SCORES] = scores
            out[NUM_RESULTS] = num_filled(scores)
        return out

    def _item_embeddings(self, item_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        index, is_oov = self.tables["item_id"].lookup(item_ids)
        emb = tf.gather(self.candidates, index)
        emb = tf.where(is_oov[:, None], tf.zeros_like(emb), emb)
        return {ITEM_EMBEDDING: emb, IS_OOV: is_oov}

    def signatures(self) -> dict[str, Any]:
        """The concrete functions to save, by signature name (each traced once, here).

        The ``tf.function`` objects are not attributes of the module: ``tf.saved_model.save``
        lists every function attribute and traces it again to save it as an object method
        (seconds per export, for a method nothing calls: clients use the signatures)."""
        items_spec = tf.TensorSpec([None], self.spec.tensor_specs()[ITEM_IDS].dtype,
                                   name=ITEM_IDS)
        serve, items = tf.function(self._serve), tf.function(self._item_embeddings)
        return {
            SERVING_SIGNATURE: serve.get_concrete_function(**self.spec.tensor_specs()),
            ITEMS_SIGNATURE: items.get_concrete_function(item_ids=items_spec),
        }
