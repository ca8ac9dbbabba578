"""Generic building blocks shared by the encoders: seeded dropout, MLP."""

from sessionrec_tf.layers.dropout import SeededDropout
from sessionrec_tf.layers.mlp import MLP

__all__ = ["MLP", "SeededDropout"]
