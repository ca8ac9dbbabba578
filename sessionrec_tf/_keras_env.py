"""Make sure TensorFlow resolves ``tf.keras`` to Keras 2 (tf_keras) before anything uses it.

TFRS 0.7.7 and this library need Keras 2. TensorFlow 2.20 picks the Keras implementation the
first time ``tf.keras`` is touched, from the ``TF_USE_LEGACY_KERAS`` environment variable. We set
the variable on import; if ``tf.keras`` was already resolved to Keras 3, it is too late and we
say exactly what to do.
"""

from __future__ import annotations

import os
import sys

_FIX = (
    "sessionrec_tf needs Keras 2 (tf_keras), but TensorFlow was already imported with Keras 3 "
    "as tf.keras. Fix: set the environment variable TF_USE_LEGACY_KERAS=1 before TensorFlow is "
    "imported (e.g. `TF_USE_LEGACY_KERAS=1 python ...`, or os.environ['TF_USE_LEGACY_KERAS'] = "
    "'1' at the very top of the notebook, then restart the kernel), or import sessionrec_tf "
    "before tensorflow / tensorflow_recommenders / keras."
)


def _resolved_keras_name(tf_module: object) -> str | None:
    """Name of the Keras module tf.keras resolved to, or None if not resolved yet."""
    keras_attr = getattr(tf_module, "__dict__", {}).get("keras")
    if keras_attr is None:
        return None
    if type(keras_attr).__name__ == "KerasLazyLoader":
        if not getattr(keras_attr, "_tfll_initialized", False):
            return None
        version = getattr(keras_attr, "_tfll_keras_version", None)
        return "tf_keras" if version == "keras_2" else "keras"
    return getattr(keras_attr, "__name__", None)


def ensure_legacy_keras() -> None:
    """Set TF_USE_LEGACY_KERAS=1, or raise ImportError if tf.keras is already Keras 3."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    tf_module = sys.modules.get("tensorflow")
    if tf_module is None:
        return
    name = _resolved_keras_name(tf_module)
    if name is not None and not name.startswith("tf_keras"):
        raise ImportError(_FIX)
