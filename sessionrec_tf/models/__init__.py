"""Models: :class:`SessionRec` and the item-level baselines (same class, item view)."""

from sessionrec_tf.models.builder import (
    MODEL_NAMES,
    build_model,
    build_with_dummy_batch,
    compile_model,
)
from sessionrec_tf.models.sessionrec import SessionRec
from sessionrec_tf.models.views import ItemView, SessionView, make_view

__all__ = ["MODEL_NAMES", "ItemView", "SessionRec", "SessionView", "build_model",
           "build_with_dummy_batch", "compile_model", "make_view"]
