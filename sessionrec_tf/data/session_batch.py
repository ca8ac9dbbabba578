"""``SessionBatch``: one batch of user histories ``[batch, sessions, items]``, jagged.

Like torchrec's ``KeyedJaggedTensor``: the interaction-level fields (``item_id``, ``label``,
``timestamp``, side features) are ragged tensors that share ONE nested row partition, which
the batch owns; its index arithmetic (:class:`~sessionrec_tf.data.batch_ops.Layout`) is
computed once per batch and reused by every operation. Operations return a new batch whose
fields share the new partition. Nothing is padded and nothing loops over users in Python, so
it works inside ``tf.data`` maps and inside the model's ``tf.function``. Per-user values
(``user_id [B]``, ``target_item_id [B, T]``, split cuts) ride along as ``extras``; a batch is a
read-only mapping of all of them, plus ``session_timestamp [B, S]`` (each session's first
interaction time) when ``timestamp`` is a field.

Example::

    batch = SessionBatch.from_dict(parsed, keys=("item_id", "label", "timestamp"))
    inputs = batch.take_prefix(batch.session_start(batch.num_sessions - 1))  # LOSO input
    seen = batch.seen_items("positives")                                  # [B, n] ragged
    model_input = inputs.to_dict()
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import tensorflow as tf

from sessionrec_tf.config import EXCLUDE_SEEN as SEEN_POLICIES
from sessionrec_tf.data.batch_ops import (
    Layout,
    boolean_mask,
    from_row_splits_with_ids,
    mask_innermost,
    repeat_range,
    row_ids_from_splits,
    select_rows,
    session_timestamps,
    splits_from_lengths,
    true_indices,
)
from sessionrec_tf.tasks.registry import CUT_DRAWS


class SessionBatch(Mapping[str, "tf.Tensor | tf.RaggedTensor"]):
    """A ragged ``[B, S, I]`` batch: ``fields`` share one partition; ``extras`` are per user.

    Args:
      fields: interaction-level ragged tensors (ragged_rank 2), one shared partition.
      extras: per-user tensors (first dimension ``B``), kept or masked with the users.
    """

    def __init__(self, fields: Mapping[str, tf.RaggedTensor],
                 extras: Mapping[str, tf.Tensor | tf.RaggedTensor] | None = None) -> None:
        if not fields:
            raise ValueError("a SessionBatch needs at least one interaction-level field")
        self.fields = dict(fields)
        self.extras = {k: v for k, v in (extras or {}).items()
                       if k not in self.fields and k != "session_timestamp"}
        self._layout: Layout | None = None

    @classmethod
    def from_dict(cls, batch: Mapping[str, tf.Tensor | tf.RaggedTensor],
                  keys: Sequence[str]) -> SessionBatch:
        """Split a batch dict into the fields ``keys`` and the rest (``session_timestamp`` is
        derived, not carried)."""
        if isinstance(batch, SessionBatch) and tuple(batch.keys_) == tuple(keys):
            return batch
        return cls({k: batch[k] for k in keys},  # type: ignore[misc]
                   {k: v for k, v in batch.items() if k not in keys})

    @classmethod
    def concat(cls, batches: Sequence[SessionBatch]) -> SessionBatch:
        """The users of ``batches`` one after another: ``[B_1 + ... + B_n, S, I]``. Every
        batch has the same fields and extras; the partition is concatenated once."""
        if not batches:
            raise ValueError("SessionBatch.concat needs at least one batch")
        if len(batches) == 1:
            return batches[0]
        first = batches[0]
        key = next(iter(first.fields))
        per_user = tf.concat([b.fields[key].row_lengths() for b in batches], 0)
        lengths = tf.concat([b.fields[key].values.row_lengths() for b in batches], 0)
        splits = [splits_from_lengths(per_user), splits_from_lengths(lengths)]
        fields = {k: tf.RaggedTensor.from_nested_row_splits(
            tf.concat([b.fields[k].flat_values for b in batches], 0), splits, validate=False)
            for k in first.fields}
        extras = {k: tf.concat([b.extras[k] for b in batches], 0) for k in first.extras}
        return cls(fields, extras)

    # ------------------------------------------------------------------ mapping
    @property
    def keys_(self) -> tuple[str, ...]:
        """The interaction-level field names, in order."""
        return tuple(self.fields)

    def __getitem__(self, key: str) -> tf.Tensor | tf.RaggedTensor:
        if key in self.fields:
            return self.fields[key]
        if key == "session_timestamp" and "timestamp" in self.fields:
            return session_timestamps(self.fields["timestamp"])
        return self.extras[key]

    def __iter__(self) -> Iterator[str]:
        yield from self.fields
        if "timestamp" in self.fields:
            yield "session_timestamp"
        yield from self.extras

    def __len__(self) -> int:
        return len(self.fields) + len(self.extras) + ("timestamp" in self.fields)

    def to_dict(self) -> dict[str, tf.Tensor | tf.RaggedTensor]:
        """Every field, ``session_timestamp`` and every extra, as a plain dict."""
        return {k: self[k] for k in self}

    # ------------------------------------------------------------------ partition
    @property
    def layout(self) -> Layout:
        """The partition's index arithmetic, computed once."""
        if self._layout is None:
            self._layout = Layout(next(iter(self.fields.values())))
        return self._layout

    @property
    def num_users(self) -> tf.Tensor:
        return self.layout.num_users

    @property
    def num_sessions(self) -> tf.Tensor:
        """``[B]`` sessions per user."""
        return self.layout.sessions_per_user

    def _take_sessions(self, sessions: tf.Tensor, lengths: tf.Tensor, per_user: tf.Tensor
                       ) -> SessionBatch:
        """The sessions ``sessions`` (``[S']`` flat indices, ascending), new session ``j``
        keeping the first ``lengths[j]`` interactions of session ``sessions[j]``, ``per_user``
        (``[B]``) of them for each user, in every field.

        Each new session is one run of the flat values, so the values are gathered by run
        offsets (no mask, ``Where`` or per-value gather over the whole batch); the new
        interactions' session ids, which the new partition needs anyway, are cached in its
        ragged tensors (``row_ids`` and ``Layout.inter_session`` read them)."""
        inner = splits_from_lengths(lengths)
        session_of = row_ids_from_splits(inner)  # [N'] the new session of each interaction
        start = tf.gather(self.layout.inner, sessions)  # old flat start of each kept session
        index = tf.range(inner[-1]) + tf.gather(start - inner[:-1], session_of)
        values = {k: tf.gather(v.flat_values, index) for k, v in self.fields.items()}
        first = tf.RaggedTensor.from_row_splits(
            from_row_splits_with_ids(next(iter(values.values())), inner, session_of),
            splits_from_lengths(per_user), validate=False)  # the others share its partition
        return SessionBatch({k: first.with_flat_values(v) for k, v in values.items()},
                            self.extras)

    # ------------------------------------------------------------------ cuts
    def take_prefix(self, keep: tf.Tensor) -> SessionBatch:
        """The first ``keep[b]`` interactions of each user (``[B]`` int64, clipped to the
        history); sessions left empty disappear."""
        lay = self.layout
        keep = tf.cast(keep, tf.int64)
        start_in_user = lay.inner[:-1] - tf.gather(lay.user_start, lay.session_user)
        new_len = tf.clip_by_value(tf.gather(keep, lay.session_user) - start_in_user, 0,
                                   lay.session_lengths)
        live = new_len > 0
        per_user = tf.math.unsorted_segment_sum(tf.cast(live, tf.int64), lay.session_user,
                                                lay.num_users)
        kept = true_indices(live)
        return self._take_sessions(kept, tf.gather(new_len, kept), per_user)

    def keep_last_sessions(self, max_sessions: int) -> SessionBatch:
        """Each user's most recent ``max_sessions`` sessions (whole sessions)."""
        lay = self.layout
        kept = true_indices(lay.session_index >= tf.gather(lay.sessions_per_user - max_sessions,
                                                           lay.session_user))
        return self._take_sessions(kept, tf.gather(lay.session_lengths, kept),
                                   tf.minimum(lay.sessions_per_user, max_sessions))

    def drop_last_session(self) -> tuple[SessionBatch, tf.Tensor]:
        """Each user's history without its last session, and ``[S]`` the new flat index of
        every session of this batch (``-1`` for the removed ones), to re-address flat
        positions."""
        lay = self.layout
        is_last = tf.equal(lay.session_index,
                           tf.gather(lay.sessions_per_user - 1, lay.session_user))
        removed_before = tf.cumsum(tf.cast(is_last, tf.int64), exclusive=True)
        new_index = tf.where(is_last, tf.constant(-1, tf.int64),
                             tf.range(tf.size(is_last, out_type=tf.int64)) - removed_before)
        return self.take_prefix(self.session_start(lay.sessions_per_user - 1)), new_index

    def select_users(self, mask: tf.Tensor) -> SessionBatch:
        """The users (batch rows) where ``mask [B]`` is true, in every field and extra."""
        lay = self.layout
        mask = tf.convert_to_tensor(mask, tf.bool)
        sessions = true_indices(tf.gather(mask, lay.session_user))
        kept = self._take_sessions(sessions, tf.gather(lay.session_lengths, sessions),
                                   boolean_mask(lay.sessions_per_user, mask))

        def keep(v: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
            return select_rows(v, mask) if isinstance(v, tf.RaggedTensor) else \
                boolean_mask(v, mask)
        return SessionBatch(kept.fields, {k: keep(v) for k, v in self.extras.items()})

    def with_extras(self, **extras: tf.Tensor | tf.RaggedTensor) -> SessionBatch:
        """The same fields with ``extras`` added or replaced (the layout is shared)."""
        out = SessionBatch(self.fields, {**self.extras, **extras})
        out._layout = self._layout
        return out

    # ------------------------------------------------------------------ lookups
    def session_start(self, session: tf.Tensor) -> tf.Tensor:
        """``[B]`` position in the flat history where session ``session[b]`` starts."""
        return self.layout.session_offset(tf.cast(session, tf.int64))

    def session_positives(self, session: tf.Tensor) -> tf.RaggedTensor:
        """``[B, T]`` items with label 1 in session ``session[b]`` of each user (empty row if
        none)."""
        lay = self.layout
        items, labels = self.fields["item_id"], self.fields["label"]
        target_session = tf.equal(lay.session_index,
                                  tf.gather(tf.cast(session, tf.int64), lay.session_user))
        mask = tf.logical_and(tf.gather(target_session, lay.inter_session),
                              tf.equal(labels.flat_values, 1))
        return tf.RaggedTensor.from_value_rowids(
            boolean_mask(items.flat_values, mask), boolean_mask(lay.inter_user, mask),
            nrows=lay.num_users, validate=False)

    def interaction_at(self, position: tf.Tensor) -> tf.RaggedTensor:
        """``[B, 1]`` item at flat history position ``position[b]`` (``[B, 0]`` row if < 0)."""
        lay = self.layout
        position = tf.cast(position, tf.int64)
        valid = tf.logical_and(position >= 0, position < lay.interactions_per_user)
        index = boolean_mask(lay.user_start + position, valid)
        rows = boolean_mask(tf.range(lay.num_users), valid)
        return tf.RaggedTensor.from_value_rowids(
            tf.gather(self.fields["item_id"].flat_values, index), rows, nrows=lay.num_users,
            validate=False)

    def seen_items(self, policy: str) -> tf.RaggedTensor | None:
        """``[B, n]`` items of each user's history to exclude from recommendations:
        ``positives`` (liked), ``all`` (every shown item) or ``none`` (None)."""
        if policy not in SEEN_POLICIES:
            raise ValueError(f"exclude_seen must be one of {list(SEEN_POLICIES)}, "
                             f"got {policy!r}")
        if policy == "none":
            return None
        lay = self.layout  # merge_dims(1, 2), without its validation ops
        items = tf.RaggedTensor.from_row_splits(self.fields["item_id"].flat_values,
                                                tf.gather(lay.inner, lay.outer), validate=False)
        if policy == "all":
            return items
        return mask_innermost(items, tf.equal(self.fields["label"].flat_values, 1))

    def first_shown(self) -> tf.Tensor:
        """``[N]`` int64: for each interaction, the position (in its user's flat history) of
        that user's first interaction with the same item; equal to the interaction's own
        position when the item was not shown to the user before it."""
        lay = self.layout
        key = lay.inter_user * tf.constant(2**32, tf.int64) + self.fields["item_id"].flat_values
        unique, index = tf.unique(key, out_idx=tf.int64)
        first = tf.math.unsorted_segment_min(lay.pos_in_user, index, tf.size(unique))
        return tf.gather(first, index)

    def shown_before_session(self) -> tf.Tensor:
        """``[N]`` bool: the interaction's item was shown to its user in an earlier session."""
        lay = self.layout
        session_start = tf.gather(lay.inner[:-1], lay.inter_session)  # flat position
        return self.first_shown() < tf.gather(lay.pos_in_user, session_start)

    def random_session_cut(self, seed: tf.Tensor, offset: tf.Tensor | int = 0,
                           max_sessions: int | None = None, min_length: int = 2,
                           draw: str = "position") -> tuple[tf.Tensor, tf.Tensor]:
        """A random cut inside one session of each user, with a positive after it.

        The candidates of user ``b`` are the flat history positions ``c`` that are not the
        first interaction of their session and have a positive at ``c`` or later in the same
        session (and, with ``max_sessions``, lie in one of the user's first ``max_sessions``
        sessions, so that the history up to the cut has at most ``max_sessions`` sessions;
        with ``min_length`` > 2, lie in a session of at least ``min_length`` interactions).
        ``draw="position"``: one candidate is drawn uniformly, so a session is cut in
        proportion to its candidates (long sessions more often); ``draw="session"``: first a
        session uniformly among the user's sessions with a candidate, then a candidate of it
        uniformly. Stateless, from ``seed`` (a ``[2]`` int64 tensor): user ``b`` uses uniform
        number ``offset + b`` of the seed's stream (``session``: numbers ``2 (offset + b)``
        and ``2 (offset + b) + 1``), so a replica holding rows ``[offset, offset + B)`` of a
        global batch draws what one device draws for them.

        Returns:
          ``cut`` ``[B]`` int64: the drawn position in the user's flat history, ``-1`` for a
          user without candidates; ``rest`` ``[N]`` bool over the batch's interactions: the
          interactions of the cut session at or after the cut.
        """
        lay = self.layout
        labels = self.fields["label"]
        total = lay.inner[-1]
        pos_in_session = tf.range(total) - tf.gather(lay.inner[:-1], lay.inter_session)
        positive = tf.cast(tf.equal(labels.flat_values, 1), tf.int64)
        before = tf.cumsum(positive, exclusive=True)  # positives before each interaction
        session_end = tf.gather(tf.concat([before, [tf.reduce_sum(positive)]], 0),
                                lay.inner[1:])
        positives_from_here = tf.gather(session_end, lay.inter_session) - before
        candidate = tf.logical_and(pos_in_session >= 1, positives_from_here >= 1)
        if max_sessions is not None:
            candidate = tf.logical_and(
                candidate, tf.gather(lay.session_index, lay.inter_session) < max_sessions)
        if min_length > 2:  # a candidate's session has >= 2 interactions already
            length = lay.inner[1:] - lay.inner[:-1]
            candidate = tf.logical_and(
                candidate, tf.gather(length, lay.inter_session) >= min_length)
        if draw not in CUT_DRAWS:
            raise ValueError(f"draw must be one of {list(CUT_DRAWS)}, got {draw!r}")
        offset = tf.cast(offset, tf.int64)
        per_user = 1 if draw == "position" else 2
        # a stateless stream's first n numbers do not depend on its length (Philox counters)
        u = tf.reshape(tf.random.stateless_uniform(
            tf.reshape(per_user * (offset + lay.num_users), [1]), seed, dtype=tf.float64),
            [-1, per_user])[offset:]
        if draw == "session":
            sessions = tf.size(lay.inner, out_type=tf.int64) - 1
            cuttable = tf.math.unsorted_segment_max(
                tf.cast(candidate, tf.int64), lay.inter_session, sessions) > 0
            picked, _ = _pick_one(cuttable, lay.session_user, lay.num_users, u[:, 1])
            candidate = tf.logical_and(candidate, tf.gather(picked, lay.inter_session))
        chosen, count = _pick_one(candidate, lay.inter_user, lay.num_users, u[:, 0])
        cut = tf.math.unsorted_segment_max(tf.where(chosen, lay.pos_in_user, -1),
                                           lay.inter_user, lay.num_users)
        cut = tf.where(count > 0, cut, tf.constant(-1, tf.int64))
        cut_session = tf.math.unsorted_segment_max(tf.where(chosen, lay.inter_session, -1),
                                                   lay.inter_user, lay.num_users)
        rest = tf.logical_and(
            tf.equal(lay.inter_session, tf.gather(cut_session, lay.inter_user)),
            lay.pos_in_user >= tf.gather(cut, lay.inter_user))
        rest = tf.logical_and(rest, tf.gather(count > 0, lay.inter_user))
        return cut, rest


def _pick_one(mask: tf.Tensor, owner: tf.Tensor, owners: tf.Tensor, u: tf.Tensor
              ) -> tuple[tf.Tensor, tf.Tensor]:
    """One true element of ``mask`` ``[n]`` per owner, the ``floor(u * count)``-th in order
    (``u`` ``[owners]`` uniform in [0, 1); ``owner`` ``[n]`` sorted). Returns the chosen
    ``[n]`` bool and each owner's count of true elements ``[owners]``."""
    as_int = tf.cast(mask, tf.int64)
    count = tf.math.unsorted_segment_sum(as_int, owner, owners)
    rank = tf.cumsum(as_int, exclusive=True) - tf.gather(tf.cumsum(count, exclusive=True),
                                                         owner)
    pick = tf.minimum(tf.cast(tf.floor(u * tf.cast(count, tf.float64)), tf.int64),
                      tf.maximum(count - 1, 0))
    return tf.logical_and(mask, tf.equal(rank, tf.gather(pick, owner))), count


__all__ = ["SEEN_POLICIES", "SessionBatch", "repeat_range"]
