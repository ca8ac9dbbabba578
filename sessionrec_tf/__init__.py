"""sessionrec_tf: generative next-session recommendation (SessionRec) on TensorFlow/Keras 2.

Importing this package sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported (TFRS needs
Keras 2). The data path, in folders: ``data`` (raw log -> sessions -> TFRecord -> ragged batch),
``embedding`` -> ``ise`` -> ``sse`` -> ``tasks`` -> ``metrics`` -> ``export``.

The public API below is re-exported lazily: ``import sessionrec_tf`` is cheap and does not
import TensorFlow until a name that needs it is used.
"""

from __future__ import annotations

from sessionrec_tf._keras_env import ensure_legacy_keras
from sessionrec_tf._lazy import lazy_exports

ensure_legacy_keras()

__version__ = "0.1.0"

_EXPORTS = {
    # data
    "ColumnMapping": "sessionrec_tf.data.contract",
    "FeatureSpec": "sessionrec_tf.data.contract",
    "DataError": "sessionrec_tf.data.errors",
    "FilterOptions": "sessionrec_tf.data.filters",
    "PrepareOptions": "sessionrec_tf.data.prepare",
    "prepare_dataset": "sessionrec_tf.data.prepare",
    "prepare_log": "sessionrec_tf.data.prepare",
    "PreparedDataset": "sessionrec_tf.data.dataset",
    "read_dataset": "sessionrec_tf.data.reader",
    "load_source": "sessionrec_tf.data.sources",
    # model stack
    "ItemEmbedding": "sessionrec_tf.embedding",
    "make_ise": "sessionrec_tf.ise",
    "PoolingISE": "sessionrec_tf.ise",
    "GruISE": "sessionrec_tf.ise",
    "TransformerISE": "sessionrec_tf.ise",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
