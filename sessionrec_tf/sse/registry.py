"""The SSE registry (``model.sse``): name -> causal encoder class."""

from __future__ import annotations

from sessionrec_tf.registry import Registry

SSES = Registry("SSE", {
    "hstu": "sessionrec_tf.sse.hstu:HSTUEncoder",
    "transformer": "sessionrec_tf.sse.transformer:TransformerEncoder",
    "gru": "sessionrec_tf.sse.gru:GRUEncoder",
})
SSE_NAMES = SSES.names()
# HSTU's attention (``model.sse_attention``): pointwise SiLU (the reference) or softmax.
HSTU_ATTENTIONS = ("silu", "softmax")
# HSTU's relative attention bias (``model.sse_relative_bias``): which learned tables exist.
HSTU_RELATIVE_BIASES = ("position_time", "position", "time", "none")
