"""Generic building blocks shared by the encoders: seeded dropout, MLP, attention, and the
multi-interest user vectors, the open-session marker."""

from sessionrec_tf.layers.attention import MatmulMultiHeadAttention
from sessionrec_tf.layers.dropout import SeededDropout
from sessionrec_tf.layers.interests import UserVectors
from sessionrec_tf.layers.mlp import MLP
from sessionrec_tf.layers.open_session import OpenSessionMarker
from sessionrec_tf.layers.transformer_block import TransformerBlock

__all__ = ["MLP", "MatmulMultiHeadAttention", "OpenSessionMarker", "SeededDropout",
           "TransformerBlock", "UserVectors"]
