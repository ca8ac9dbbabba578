"""Input views: what the sequence encoder sees as its tokens.

- :class:`SessionView` (SessionRec): one token per session, the most recent ``max_len``
  sessions, ``[batch, sessions, items]`` unchanged otherwise.
- :class:`ItemView` (item-level baselines): "each item is its own session": the history is
  flattened and every interaction becomes a session of one item, ``[batch, items, 1]``; the
  most recent ``max_len`` interactions are kept. With ``include_negatives=False`` (HSTU,
  SASRec, GRU4Rec) negatives are removed first; with ``True`` (HSTU+) they stay in the input.
  :meth:`ItemView.session_rows` maps each original session to the item position whose state
  has read the history up to that session's end (``task.item_targets: next_session``).

Both take a batch dict (or a :class:`~sessionrec_tf.data.session_batch.SessionBatch`) and
return a ``SessionBatch`` of the same fields, so the rest of the stack (embedding, ISE, SSE,
tasks) is shared: an item-level model is the same model with a different view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from sessionrec_tf.data.batch_ops import repeat_range, splits_from_lengths, true_indices
from sessionrec_tf.data.session_batch import SessionBatch


class SessionView:
    """Most recent ``max_len`` sessions as the sequence (session-level paradigm)."""

    paradigm = "session"

    def __init__(self, max_len: int, keys: Sequence[str]) -> None:
        self.max_len = max_len
        self.keys = tuple(keys)

    def __call__(self, batch: Mapping[str, tf.Tensor], extra: int = 0) -> SessionBatch:
        """The last ``max_len + extra`` sessions."""
        return SessionBatch.from_dict(batch, self.keys).keep_last_sessions(self.max_len + extra)


class ItemView:
    """Every interaction its own session; the most recent ``max_len`` of them."""

    paradigm = "item"

    def __init__(self, max_len: int, keys: Sequence[str], include_negatives: bool) -> None:
        self.max_len = max_len
        self.keys = tuple(keys)
        self.include_negatives = include_negatives

    def __call__(self, batch: Mapping[str, tf.Tensor], extra: int = 0) -> SessionBatch:
        """The last ``max_len + extra`` interactions, each its own session."""
        kept, per_user_kept = self._kept(batch)
        splits = [splits_from_lengths(per_user_kept),
                  tf.range(tf.size(kept, out_type=tf.int64) + 1)]  # one item per session
        flat = SessionBatch({k: tf.RaggedTensor.from_nested_row_splits(
            tf.gather(batch[k].flat_values, kept), splits, validate=False)
            for k in self.keys})
        return flat.keep_last_sessions(self.max_len + extra)

    def session_rows(self, batch: Mapping[str, tf.Tensor], extra: int = 0) -> tf.Tensor:
        """``[S]`` int64: for each session of ``batch`` (its flat ``[batch, sessions]``
        list), the flat row of ``self(batch, extra)`` (user after user, oldest first) that
        holds the user's last kept interaction at or before that session's end: its state has
        read the history up to the end of that session. -1 when there is none (no kept
        interaction yet, or it fell out of the ``max_len + extra`` window)."""
        kept, per_user_kept = self._kept(batch)
        items = batch["item_id"]
        ends = items.values.row_splits[1:]  # [S] flat end (exclusive) of each session
        count = tf.searchsorted(kept, ends, side="left", out_type=tf.int64)  # kept before it
        session_user = repeat_range(items.row_lengths())
        window = tf.minimum(per_user_kept, self.max_len + extra)
        first = tf.gather(splits_from_lengths(per_user_kept), session_user)
        dropped = tf.gather(per_user_kept - window, session_user)
        position = count - 1 - first - dropped  # in the user's window
        row = tf.gather(splits_from_lengths(window), session_user) + position
        return tf.where(position >= 0, row, tf.constant(-1, tf.int64))

    def _kept(self, batch: Mapping[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """``(kept [K], per_user [B])``: the flat indices of the interactions the view keeps
        (before the window; negatives removed unless ``include_negatives``), sorted, and
        how many each user has."""
        items = batch["item_id"]
        user_splits = tf.cast(tf.gather(items.values.row_splits, items.row_splits), tf.int64)
        if self.include_negatives:
            kept = tf.range(user_splits[-1])
            return kept, user_splits[1:] - user_splits[:-1]
        kept = true_indices(tf.equal(batch["label"].flat_values, 1))  # shared by the fields
        # kept interactions before each user's first: a search of B + 1 splits, no per-value
        # user ids
        before = tf.searchsorted(kept, user_splits, side="left", out_type=tf.int64)
        return kept, before[1:] - before[:-1]


def make_view(paradigm: str, max_len: int, keys: Sequence[str],
              item_input: str = "all") -> SessionView | ItemView:
    if paradigm == "session":
        return SessionView(max_len, keys)
    if paradigm == "item":
        if item_input not in ("all", "positives"):
            raise ValueError(f"item_input must be 'all' or 'positives', got {item_input!r}")
        return ItemView(max_len, keys, include_negatives=item_input == "all")
    raise ValueError(f"unknown paradigm {paradigm!r}; valid: ['session', 'item']")
