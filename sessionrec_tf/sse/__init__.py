"""Session-based sequence encoders (SSE, paper Eq. 6), causal, selectable by name.

All take ``x [B, L, d]``, ``mask [B, L]`` (right-padded) and ``timestamps [B, L]`` and return
``[B, L, d]``: position i is the user state after token i (it never sees tokens > i). The names
live in :mod:`~sessionrec_tf.sse.registry`; the classes are imported lazily. The attention
SSEs (HSTU, Transformer) also take ``positions`` and an ``attn_mask``, which place query
tokens (:mod:`~sessionrec_tf.sse.query_tokens`).
"""

from __future__ import annotations

from sessionrec_tf._lazy import lazy_exports
from sessionrec_tf.sse.registry import SSE_NAMES, SSES

_EXPORTS = {
    "GRUEncoder": "sessionrec_tf.sse.gru",
    "HSTUEncoder": "sessionrec_tf.sse.hstu",
    "TransformerEncoder": "sessionrec_tf.sse.transformer",
    "make_sse": "sessionrec_tf.sse.factory",
}

__all__ = ["SSES", "SSE_NAMES", "GRUEncoder", "HSTUEncoder", "TransformerEncoder", "make_sse"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
