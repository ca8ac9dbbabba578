"""Export and serving: TF Serving SavedModels, a ScaNN index, batch scoring.

- :mod:`request` the serving request (named flat tensors) and :mod:`encode` the client side
  (reader batch -> request -> TF Serving REST JSON)
- :mod:`tables` vocabularies as SavedModel assets; :mod:`parser` request -> ragged batch
- top-K inside the graph: :mod:`sessionrec_tf.retrieval` (exact and ScaNN retrievers)
- :mod:`query_module` the saved module and its signatures; :mod:`exporter` the export with its
  versioned layout (:mod:`versions`); :mod:`loaded` loading an export back
- :mod:`scorer` batch scoring into Parquet with resume (:mod:`manifest`)
- :mod:`cli` ``sessionrec export`` / ``sessionrec score``

Names below are imported lazily, so ``import sessionrec_tf.export`` does not load TensorFlow.
"""

from __future__ import annotations

from sessionrec_tf._lazy import lazy_exports

_EXPORTS = {
    "Exporter": "sessionrec_tf.export.exporter",
    "ExportOptions": "sessionrec_tf.export.exporter",
    "ExportResult": "sessionrec_tf.export.exporter",
    "ScannOptions": "sessionrec_tf.retrieval.scann_options",
    "RequestSpec": "sessionrec_tf.export.request",
    "RequestEncoder": "sessionrec_tf.export.encode",
    "rest_body": "sessionrec_tf.export.encode",
    "ExportedModel": "sessionrec_tf.export.loaded",
    "BatchScorer": "sessionrec_tf.export.scorer",
    "ScoreOptions": "sessionrec_tf.export.scorer",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
