"""Input views: what the sequence encoder sees as its tokens.

- :class:`SessionView` (SessionRec): one token per session, the most recent ``max_len``
  sessions, ``[batch, sessions, items]`` unchanged otherwise.
- :class:`ItemView` (item-level baselines): "each item is its own session": the history is
  flattened and every interaction becomes a session of one item, ``[batch, items, 1]``; the
  most recent ``max_len`` interactions are kept. With ``include_negatives=False`` (HSTU,
  SASRec, GRU4Rec) negatives are removed first; with ``True`` (HSTU+) they stay in the input.

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
        items = batch["item_id"]
        per_user = items.row_splits  # sessions per user
        inter_per_user = tf.gather(items.values.row_splits, per_user)
        counts = inter_per_user[1:] - inter_per_user[:-1]
        keep = (tf.ones_like(items.flat_values, tf.bool) if self.include_negatives
                else tf.equal(batch["label"].flat_values, 1))
        user_of = repeat_range(counts)
        kept = true_indices(keep)  # boolean_mask, shared by the fields
        kept_user = tf.gather(user_of, kept)
        n_users = tf.size(counts, out_type=tf.int64)
        per_user_kept = tf.math.bincount(kept_user, minlength=n_users, maxlength=n_users,
                                         dtype=tf.int64)
        splits = [splits_from_lengths(per_user_kept),
                  tf.range(tf.size(kept_user, out_type=tf.int64) + 1)]  # one item per session
        flat = SessionBatch({k: tf.RaggedTensor.from_nested_row_splits(
            tf.gather(batch[k].flat_values, kept), splits, validate=False)
            for k in self.keys})
        return flat.keep_last_sessions(self.max_len + extra)


def make_view(paradigm: str, max_len: int, keys: Sequence[str],
              item_input: str = "all") -> SessionView | ItemView:
    if paradigm == "session":
        return SessionView(max_len, keys)
    if paradigm == "item":
        if item_input not in ("all", "positives"):
            raise ValueError(f"item_input must be 'all' or 'positives', got {item_input!r}")
        return ItemView(max_len, keys, include_negatives=item_input == "all")
    raise ValueError(f"unknown paradigm {paradigm!r}; valid: ['session', 'item']")
