"""Generic building blocks shared by the encoders: seeded dropout, MLP."""

from sessionrec_tf.layers.dropout import SeededDropout
from sessionrec_tf.layers.mlp import MLP
from sessionrec_tf.layers.transformer_block import TransformerBlock

__all__ = ["MLP", "SeededDropout", "TransformerBlock"]
