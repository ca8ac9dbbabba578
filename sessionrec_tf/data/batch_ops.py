"""Index arithmetic of ragged history batches ``[batch, sessions, items]``.

The low-level layer of :class:`~sessionrec_tf.data.session_batch.SessionBatch` (which owns a
batch's partition and its operations): :class:`Layout` (the partition's per-session and
per-interaction indices), :func:`repeat_range`, :func:`session_timestamps`. Nothing is padded
and nothing loops over users in Python.
"""

from __future__ import annotations

import tensorflow as tf


def repeat_range(counts: tf.Tensor) -> tf.Tensor:
    """``[0]*counts[0] + [1]*counts[1] + ...`` (int64), in O(total * log n).

    ``tf.repeat`` tiles to the largest count and masks, O(n * max(counts)): too slow and too
    large for 1,000-item sessions.
    """
    counts = tf.cast(counts, tf.int64)
    ends = tf.cumsum(counts)
    total = tf.reduce_sum(counts)
    return tf.searchsorted(ends, tf.range(total), side="right", out_type=tf.int64)


class Layout:
    """Index arithmetic of a ``[B, S, I]`` ragged tensor's partition."""

    def __init__(self, rt: tf.RaggedTensor) -> None:
        self.outer = rt.row_splits  # [B + 1] sessions per user
        self.inner = rt.values.row_splits  # [S_total + 1] interactions per session
        self.num_users = rt.nrows(out_type=tf.int64)
        self.sessions_per_user = self.outer[1:] - self.outer[:-1]
        self.session_lengths = self.inner[1:] - self.inner[:-1]
        n_sessions = self.outer[-1]
        self.session_user = repeat_range(self.sessions_per_user)
        self.session_index = tf.range(n_sessions) - tf.gather(self.outer, self.session_user)
        self.user_start = tf.gather(self.inner, self.outer[:-1])  # [B] first interaction
        self.interactions_per_user = tf.gather(self.inner, self.outer[1:]) - self.user_start
        self.inter_session = repeat_range(self.session_lengths)
        self.inter_user = tf.gather(self.session_user, self.inter_session)
        total = self.inner[-1]
        self.pos_in_user = tf.range(total) - tf.gather(self.user_start, self.inter_user)

    def session_offset(self, session: tf.Tensor) -> tf.Tensor:
        """Position (in the user's flat history) where session ``session[b]`` starts."""
        session = tf.clip_by_value(session, 0, self.sessions_per_user)
        return tf.gather(self.inner, self.outer[:-1] + session) - self.user_start


def session_timestamps(timestamp: tf.RaggedTensor) -> tf.RaggedTensor:
    """``[B, S]`` time of each session's first interaction, from ``[B, S, I]`` timestamps."""
    first = tf.gather(timestamp.flat_values, timestamp.values.row_splits[:-1])
    return tf.RaggedTensor.from_row_splits(first, timestamp.row_splits, validate=False)
