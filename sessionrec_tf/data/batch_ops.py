"""Vectorised operations on ragged history batches ``[batch, sessions, items]``.

All interaction-level fields of a batch (``item_id``, ``label``, ``timestamp``, side features)
share one nested row partition; these functions compute the new partition once and apply it to
every field. Nothing is padded and nothing loops over users in Python, so they run inside
``tf.data`` maps and inside the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

Batch = Mapping[str, tf.Tensor | tf.RaggedTensor]


def repeat_range(counts: tf.Tensor) -> tf.Tensor:
    """``[0]*counts[0] + [1]*counts[1] + ...`` (int64), in O(total * log n).

    ``tf.repeat`` tiles to the largest count and masks, O(n * max(counts)): too slow and too
    large for 1,000-item sessions.
    """
    counts = tf.cast(counts, tf.int64)
    ends = tf.cumsum(counts)
    total = tf.reduce_sum(counts)
    return tf.searchsorted(ends, tf.range(total), side="right", out_type=tf.int64)


class _Layout:
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


def _reference(batch: Batch, keys: Sequence[str]) -> tf.RaggedTensor:
    return batch[keys[0]]  # type: ignore[return-value]


def _rebuild(batch: Batch, keys: Sequence[str], inter_mask: tf.Tensor, per_user: tf.Tensor,
             lengths: tf.Tensor) -> dict[str, tf.RaggedTensor]:
    """Keep the interactions in ``inter_mask`` under a new partition, for every field."""
    out: dict[str, tf.RaggedTensor] = {}
    for k in keys:
        flat = tf.boolean_mask(batch[k].flat_values, inter_mask)
        out[k] = tf.RaggedTensor.from_nested_row_lengths(flat, [per_user, lengths],
                                                         validate=False)
    if "timestamp" in out:
        out["session_timestamp"] = session_timestamps(out["timestamp"])
    return out


def take_prefix(batch: Batch, keys: Sequence[str], keep: tf.Tensor) -> dict[str, tf.RaggedTensor]:
    """First ``keep[b]`` interactions of each user; sessions left empty disappear.

    Args:
      batch: fields ``keys`` are ``[B, S, I]`` ragged tensors with one shared partition.
      keys: the interaction-level fields to cut.
      keep: ``[B]`` int64, interactions to keep per user (clipped to the history).

    Returns:
      The cut fields (``[B, S', I]``) and ``session_timestamp`` ``[B, S']`` if ``timestamp`` is
      among ``keys`` (the first interaction's time of each kept session).
    """
    lay = _Layout(_reference(batch, keys))
    keep = tf.cast(keep, tf.int64)
    start_in_user = lay.inner[:-1] - tf.gather(lay.user_start, lay.session_user)
    new_len = tf.clip_by_value(tf.gather(keep, lay.session_user) - start_in_user, 0,
                               lay.session_lengths)
    live = new_len > 0
    inter_mask = lay.pos_in_user < tf.gather(keep, lay.inter_user)
    per_user = tf.math.unsorted_segment_sum(tf.cast(live, tf.int64), lay.session_user,
                                            lay.num_users)
    lengths = tf.boolean_mask(new_len, live)
    return _rebuild(batch, keys, inter_mask, per_user, lengths)


def keep_last_sessions(
    batch: Batch, keys: Sequence[str], max_sessions: int
) -> dict[str, tf.RaggedTensor]:
    """Keep each user's most recent ``max_sessions`` sessions (whole sessions)."""
    lay = _Layout(_reference(batch, keys))
    live = lay.session_index >= tf.gather(lay.sessions_per_user - max_sessions,
                                          lay.session_user)
    inter_mask = tf.gather(live, lay.inter_session)
    per_user = tf.minimum(lay.sessions_per_user, max_sessions)
    lengths = tf.boolean_mask(lay.session_lengths, live)
    return _rebuild(batch, keys, inter_mask, per_user, lengths)


def drop_last_session(batch: Batch, keys: Sequence[str]
                      ) -> tuple[dict[str, tf.RaggedTensor], tf.Tensor]:
    """Remove each user's last session.

    Returns:
      The cut fields (and ``session_timestamp``), and ``[S]`` the new flat index of every
      session of the input (``-1`` for the removed ones), to re-address flat positions.
    """
    lay = _Layout(_reference(batch, keys))
    is_last = tf.equal(lay.session_index, tf.gather(lay.sessions_per_user - 1, lay.session_user))
    removed_before = tf.cumsum(tf.cast(is_last, tf.int64), exclusive=True)
    new_index = tf.where(is_last, tf.constant(-1, tf.int64),
                         tf.range(tf.size(is_last, out_type=tf.int64)) - removed_before)
    keep = lay.session_offset(lay.sessions_per_user - 1)
    return take_prefix(batch, keys, keep), new_index


def random_session_cut(items: tf.RaggedTensor, labels: tf.RaggedTensor, seed: tf.Tensor
                       ) -> tuple[tf.Tensor, tf.Tensor]:
    """A random cut inside one session of each user, with a positive after it.

    The candidates of user ``b`` are the flat history positions ``c`` that are not the first
    interaction of their session and have a positive at ``c`` or later in the same session;
    one is drawn uniformly (stateless, from ``seed``, a ``[2]`` int64 tensor).

    Returns:
      ``cut`` ``[B]`` int64: the drawn position in the user's flat history, ``-1`` for a user
      without candidates; ``rest`` ``[N]`` bool over the batch's interactions: the
      interactions of the cut session at or after the cut.
    """
    lay = _Layout(items)
    total = lay.inner[-1]
    pos_in_session = tf.range(total) - tf.gather(lay.inner[:-1], lay.inter_session)
    positive = tf.cast(tf.equal(labels.flat_values, 1), tf.int64)
    before = tf.cumsum(positive, exclusive=True)  # positives before each interaction
    session_end = tf.gather(tf.concat([before, [tf.reduce_sum(positive)]], 0), lay.inner[1:])
    positives_from_here = tf.gather(session_end, lay.inter_session) - before
    candidate = tf.logical_and(pos_in_session >= 1, positives_from_here >= 1)
    as_int = tf.cast(candidate, tf.int64)
    count = tf.math.unsorted_segment_sum(as_int, lay.inter_user, lay.num_users)
    rank = tf.cumsum(as_int, exclusive=True) - tf.gather(
        tf.cumsum(count, exclusive=True), lay.inter_user)
    u = tf.random.stateless_uniform(tf.reshape(lay.num_users, [1]), seed, dtype=tf.float64)
    pick = tf.minimum(tf.cast(tf.floor(u * tf.cast(count, tf.float64)), tf.int64),
                      tf.maximum(count - 1, 0))
    chosen = tf.logical_and(candidate, tf.equal(rank, tf.gather(pick, lay.inter_user)))
    cut = tf.math.unsorted_segment_max(tf.where(chosen, lay.pos_in_user, -1), lay.inter_user,
                                       lay.num_users)
    cut = tf.where(count > 0, cut, tf.constant(-1, tf.int64))
    cut_session = tf.math.unsorted_segment_max(tf.where(chosen, lay.inter_session, -1),
                                               lay.inter_user, lay.num_users)
    rest = tf.logical_and(
        tf.equal(lay.inter_session, tf.gather(cut_session, lay.inter_user)),
        lay.pos_in_user >= tf.gather(cut, lay.inter_user))
    rest = tf.logical_and(rest, tf.gather(count > 0, lay.inter_user))
    return cut, rest


def session_start(batch: Batch, keys: Sequence[str], session: tf.Tensor) -> tf.Tensor:
    """``[B]`` position in the flat history where session ``session[b]`` starts."""
    return _Layout(_reference(batch, keys)).session_offset(tf.cast(session, tf.int64))


def session_positives(
    items: tf.RaggedTensor, labels: tf.RaggedTensor, session: tf.Tensor
) -> tf.RaggedTensor:
    """``[B, T]`` items with label 1 in session ``session[b]`` of each user (empty if none)."""
    lay = _Layout(items)
    target_session = tf.equal(lay.session_index,
                              tf.gather(tf.cast(session, tf.int64), lay.session_user))
    mask = tf.logical_and(tf.gather(target_session, lay.inter_session),
                          tf.equal(labels.flat_values, 1))
    return tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(items.flat_values, mask), tf.boolean_mask(lay.inter_user, mask),
        nrows=lay.num_users, validate=False)


def interaction_at(items: tf.RaggedTensor, position: tf.Tensor) -> tf.RaggedTensor:
    """``[B, 1]`` item at flat history position ``position[b]`` (``[B, 0]`` row if < 0)."""
    lay = _Layout(items)
    position = tf.cast(position, tf.int64)
    valid = tf.logical_and(position >= 0, position < lay.interactions_per_user)
    index = tf.boolean_mask(lay.user_start + position, valid)
    rows = tf.boolean_mask(tf.range(lay.num_users), valid)
    return tf.RaggedTensor.from_value_rowids(tf.gather(items.flat_values, index), rows,
                                             nrows=lay.num_users, validate=False)


def session_timestamps(timestamp: tf.RaggedTensor) -> tf.RaggedTensor:
    """``[B, S]`` time of each session's first interaction, from ``[B, S, I]`` timestamps."""
    first = tf.gather(timestamp.flat_values, timestamp.values.row_splits[:-1])
    return tf.RaggedTensor.from_row_splits(first, timestamp.row_splits, validate=False)


def select_users(batch: Batch, mask: tf.Tensor) -> dict[str, tf.Tensor | tf.RaggedTensor]:
    """Keep the users (batch rows) where ``mask`` is true, in every field."""
    out: dict[str, tf.Tensor | tf.RaggedTensor] = {}
    for k, v in batch.items():
        out[k] = tf.ragged.boolean_mask(v, mask) if isinstance(v, tf.RaggedTensor) else \
            tf.boolean_mask(v, mask)
    return out
