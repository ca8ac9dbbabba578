"""The index registry: the top-K retrievers an evaluation, export or scorer can use."""

from __future__ import annotations

from sessionrec_tf.registry import Registry

INDEXES = Registry("index", {
    "exact": "sessionrec_tf.retrieval.exact:ExactTopK",
    "scann": "sessionrec_tf.retrieval.scann:ScannTopK",
})
INDEX_NAMES = INDEXES.names()
# An export can hold both: the exact model and the ScaNN model.
EXPORT_INDEX_CHOICES = (*INDEX_NAMES, "both")
