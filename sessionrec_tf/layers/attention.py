"""Multi-head attention whose score and combine steps are batched matrix products."""

from __future__ import annotations

import math

import tensorflow as tf


class MatmulMultiHeadAttention(tf.keras.layers.MultiHeadAttention):
    """``tf.keras.layers.MultiHeadAttention`` over ``[B, T, d]`` with a faster core.

    Keras computes ``softmax(QK^T / sqrt(d_k)) V`` with two ``tf.einsum`` calls
    (``"aecd,abcd->acbe"`` and ``"acbe,aecd->abcd"``) that take TensorFlow's generic einsum
    path on CPU (transposes around a loop of small products): on the SASRec baseline they
    were half of all op time. Here the heads are moved next to the batch axis once and the
    two products are ``tf.linalg.matmul`` on ``[B, N, T, d_k]``. Weights, variable names and
    results are the same as the parent's (checkpoints load either way); only rank-3 inputs
    with the default attention axis are supported.
    """

    def _compute_attention(self, query: tf.Tensor, key: tf.Tensor, value: tf.Tensor,
                           attention_mask: tf.Tensor | None = None,
                           training: bool | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        # query [B, T, N, dk], key [B, S, N, dk], value [B, S, N, dv] (projected)
        if query.shape.rank != 4 or self._attention_axes not in (None, (1,)):
            raise ValueError("MatmulMultiHeadAttention supports [batch, length, dim] inputs "
                             "attending over the length axis only; got projected query shape "
                             f"{query.shape} and attention_axes {self._attention_axes}")
        q = tf.transpose(query, [0, 2, 1, 3]) * (1.0 / math.sqrt(float(self._key_dim)))
        k = tf.transpose(key, [0, 2, 1, 3])
        v = tf.transpose(value, [0, 2, 1, 3])
        scores = tf.linalg.matmul(q, k, transpose_b=True)           # [B, N, T, S]
        scores = self._masked_softmax(scores, attention_mask)
        dropped = self._dropout_layer(scores, training=training)
        output = tf.linalg.matmul(dropped, v)                       # [B, N, T, dv]
        return tf.transpose(output, [0, 2, 1, 3]), scores
