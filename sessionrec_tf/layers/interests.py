"""Several user vectors per position (multi-interest), scored by their best match.

    states [..., d] --UserVectors(k)--> [..., k, d];  score(user, item) = max_j <u_j, item>

A session's positives can come from several intents, which one vector may not cover. With
``k`` vectors per position, an item is scored by the vector closest to it (as in MIND and
ComiRec), in training (every task) and at serving (top-K over the max score). Vector ``j`` is
``h + W_j h`` with ``W_j`` small at start, so the vectors begin near the single-vector model
and separate as they learn.

    heads = UserVectors(4)
    users = heads(states)                            # [B, L, 4, d]
    scores = max_match(users[:, -1], candidates)     # [B, num_items]
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


class UserVectors(tf.keras.layers.Layer):
    """``[..., d] -> [..., k, d]``: ``k`` user vectors ``h + W_j h`` per state.

    Args:
      k: vectors per position (>= 2; with 1 the model uses the state itself).
      init_scale: standard deviation of the ``W_j`` initial values.
      seed: seed of those values.
    """

    def __init__(self, k: int, init_scale: float = 0.02, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if k < 2:
            raise ValueError(f"UserVectors needs k >= 2, got {k}")
        self.k = int(k)
        self.init_scale = float(init_scale)
        self.seed = int(seed)

    def build(self, input_shape: tf.TensorShape) -> None:
        dim = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(self.k, dim, dim),
            initializer=tf.keras.initializers.RandomNormal(stddev=self.init_scale,
                                                         seed=self.seed))
        super().build(input_shape)

    def call(self, states: tf.Tensor) -> tf.Tensor:
        # one [N, d] x [d, k * d] matmul: the equivalent einsum "...d,kde->...ke" has a
        # gradient ~5x slower than the whole single-vector training step (bench_options.py)
        dim = tf.shape(states)[-1]
        flat = tf.reshape(states, [-1, dim])
        kernel = tf.reshape(tf.transpose(self.kernel, [1, 0, 2]), [dim, self.k * dim])
        moved = tf.reshape(tf.matmul(flat, kernel),
                           tf.concat([tf.shape(states)[:-1], [self.k, dim]], axis=0))
        moved.set_shape(states.shape[:-1].concatenate([self.k, states.shape[-1]]))
        return states[..., None, :] + moved

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k, "init_scale": self.init_scale,
                "seed": self.seed}


def max_match(users: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
    """``[B, C]`` scores of ``users`` ``[B, d]`` or ``[B, k, d]`` against ``[C, d]``
    candidates: the dot product, or its max over the ``k`` vectors."""
    if len(users.shape) == 2:
        return tf.matmul(users, candidates, transpose_b=True)
    batch, k, dim = tf.unstack(tf.shape(users))
    scores = tf.matmul(tf.reshape(users, [batch * k, dim]), candidates, transpose_b=True)
    return tf.reduce_max(tf.reshape(scores, [batch, k, tf.shape(candidates)[0]]), axis=1)


def max_match_rows(users: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
    """``[R]`` scores of row ``r``'s user (``[R, d]`` or ``[R, k, d]``) and item ``[R, d]``."""
    if len(users.shape) == 2:
        return tf.reduce_sum(users * items, axis=-1)
    return tf.reduce_max(tf.reduce_sum(users * items[:, None, :], axis=-1), axis=1)
