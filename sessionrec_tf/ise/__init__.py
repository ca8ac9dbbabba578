"""Item-based session encoders (ISE, paper Eq. 5), selectable by name.

``[batch, sessions, items, d]`` ragged item tokens -> ``[batch, sessions, d]`` session tokens.
The names live in :mod:`~sessionrec_tf.ise.registry`; the classes are imported lazily (reading
the registry does not import TensorFlow).
"""

from __future__ import annotations

from sessionrec_tf._lazy import lazy_exports
from sessionrec_tf.ise.registry import ISE_NAMES, ISES, POOLING_ISES

_EXPORTS = {
    "GruISE": "sessionrec_tf.ise.gru",
    "PoolingISE": "sessionrec_tf.ise.pooling",
    "TransformerISE": "sessionrec_tf.ise.transformer",
    "make_ise": "sessionrec_tf.ise.factory",
}

__all__ = ["ISES", "ISE_NAMES", "POOLING_ISES", "GruISE", "PoolingISE", "TransformerISE",
           "make_ise"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
