"""sessionrec_tf: generative next-session recommendation (SessionRec) on TensorFlow/Keras 2.

Importing this package sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported (TFRS needs
Keras 2). The data path, in folders: ``data`` (raw log -> sessions -> TFRecord -> ragged batch),
``embedding`` -> ``ise`` -> ``sse`` -> ``tasks`` -> ``metrics`` -> ``export``.
"""

from sessionrec_tf._keras_env import ensure_legacy_keras

ensure_legacy_keras()

from sessionrec_tf.data import (  # noqa: E402
    ColumnMapping,
    DataError,
    FeatureSpec,
    PreparedDataset,
    PrepareOptions,
    prepare_dataset,
    read_dataset,
)

__version__ = "0.1.0"

__all__ = [
    "ColumnMapping",
    "DataError",
    "FeatureSpec",
    "PrepareOptions",
    "PreparedDataset",
    "prepare_dataset",
    "read_dataset",
]
