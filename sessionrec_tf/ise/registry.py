"""The ISE registry (``model.ise``): name -> class; pooling ISEs are tagged ``pooling``."""

from __future__ import annotations

from sessionrec_tf.registry import Registry

ISES = Registry("ISE", {
    "mean": "sessionrec_tf.ise.pooling:PoolingISE",
    "max": "sessionrec_tf.ise.pooling:PoolingISE",
    "max_relu": "sessionrec_tf.ise.pooling:PoolingISE",
    "gru": "sessionrec_tf.ise.gru:GruISE",
    "transformer": "sessionrec_tf.ise.transformer:TransformerISE",
}, tags={"mean": ("pooling",), "max": ("pooling",), "max_relu": ("pooling",)})
ISE_NAMES = ISES.names()
POOLING_ISES = ISES.names("pooling")
