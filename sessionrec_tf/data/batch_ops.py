"""Index arithmetic of ragged history batches ``[batch, sessions, items]``.

The low-level layer of :class:`~sessionrec_tf.data.session_batch.SessionBatch` (which owns a
batch's partition and its operations): :class:`Layout` (the partition's per-session and
per-interaction indices), :func:`repeat_range`, :func:`row_ids`,
:func:`row_ids_from_splits`, :func:`from_row_splits_with_ids`, :func:`boolean_mask`,
:func:`mask_innermost`, :func:`select_rows`, :func:`splits_from_lengths`, :func:`true_indices`,
:func:`session_timestamps`. Nothing is padded and nothing loops over users in Python.

``row_ids``, ``boolean_mask`` and ``mask_innermost`` are ``RaggedTensor.value_rowids``,
``tf.boolean_mask`` and ``tf.ragged.boolean_mask`` (values-shaped mask) in 3-6 graph ops:
TensorFlow's own build ~70, ~27 and ~120 (shape bookkeeping, segment ids, validation
asserts), and tracing a training step costs about a millisecond per op.
"""

from __future__ import annotations

from functools import cached_property

import tensorflow as tf
from tensorflow.python.ops.ragged.row_partition import RowPartition as _RowPartition
from tensorflow.python.ops.ragged.row_partition import (
    _row_partition_factory_key as _PARTITION_KEY,
)

from sessionrec_tf._autograph import skip_library_code

skip_library_code()  # the data path's base module: imported before anything is traced


def repeat_range(counts: tf.Tensor) -> tf.Tensor:
    """``[0]*counts[0] + [1]*counts[1] + ...`` (int64), in O(total * log n).

    ``tf.repeat`` tiles to the largest count and masks, O(n * max(counts)): too slow and too
    large for 1,000-item sessions.
    """
    return row_ids_from_splits(splits_from_lengths(counts))


def row_ids(rt: tf.RaggedTensor) -> tf.Tensor:
    """``rt.value_rowids()``: the row of each of ``rt.values`` (the cached ids if ``rt``
    was built from them)."""
    if rt._row_partition._has_precomputed_value_rowids():  # noqa: SLF001 (TF's own check)
        return rt.value_rowids()
    return row_ids_from_splits(rt.row_splits)


def row_ids_from_splits(splits: tf.Tensor) -> tf.Tensor:
    """The row of each value of a partition given by its row splits (empty rows allowed).

    A 1 at each row's start (summed where empty rows share one), then a running sum:
    0.70-0.78x the time of a binary search of every position in the splits
    (``tf.searchsorted``) for 512k values in 22.8k rows, about the same for 51k values
    (benchmarks/RESULTS.md, "Per-interaction batch operations"). Same dtype as ``splits``."""
    starts = splits[1:-1]
    marks = tf.tensor_scatter_nd_add(tf.zeros(tf.reshape(splits[-1] + 1, [1]), splits.dtype),
                                     starts[:, None], tf.ones_like(starts))
    return tf.cumsum(marks[:-1])


def from_row_splits_with_ids(values: tf.Tensor, splits: tf.Tensor, ids: tf.Tensor
                             ) -> tf.RaggedTensor:
    """``tf.RaggedTensor.from_row_splits(values, splits)`` that also caches ``ids`` (the row
    of each value, ``row_splits_to_segment_ids`` of ``splits``, same dtype), so that
    :func:`row_ids` of it is free. ``from_value_rowids`` caches them too but recomputes the
    splits with a bincount over every value; TensorFlow's private ``RowPartition``
    constructor takes both (pinned TF 2.20.0; tests/data/test_session_batch.py checks the
    cache is read)."""
    partition = _RowPartition(row_splits=splits, value_rowids=ids,
                              nrows=tf.size(splits, out_type=splits.dtype) - 1,
                              internal=_PARTITION_KEY)
    return tf.RaggedTensor._from_row_partition(values, partition, validate=False)  # noqa: SLF001


def true_indices(mask: tf.Tensor) -> tf.Tensor:
    """``[n]`` int64 indices where the ``[N]`` bool ``mask`` is true, in order."""
    return tf.reshape(tf.where(mask), [-1])


def boolean_mask(x: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """``tf.boolean_mask(x, mask)`` (``mask`` over ``x``'s leading ``mask.rank`` axes)."""
    if mask.shape.rank == 1:  # a gather: its gradient stays sparse (IndexedSlices)
        return tf.gather(x, true_indices(mask))
    return tf.gather_nd(x, tf.where(mask))


def splits_from_lengths(lengths: tf.Tensor) -> tf.Tensor:
    """Row splits ``[n + 1]`` (int64) of row lengths ``[n]``."""
    lengths = tf.cast(lengths, tf.int64)
    return tf.concat([tf.zeros([1], tf.int64), tf.cumsum(lengths)], axis=0)


def mask_innermost(rt: tf.RaggedTensor, mask: tf.Tensor | tf.RaggedTensor) -> tf.RaggedTensor:
    """``tf.ragged.boolean_mask(rt, mask)`` for a mask shaped like ``rt`` (``[.., n]``
    ragged with ``rt``'s partition, or its flat values): keeps the innermost values where
    ``mask`` is true; every outer row is kept (possibly empty).

    The new innermost splits count the kept positions before each old split (a binary
    search of the splits in the kept positions), not a cumulative sum over every value:
    TensorFlow's ``Cumsum`` costs ~14 ns per value on these CPUs (7 ms for the 512k
    interactions of a 64-user serving request): 0.47-0.51x the time at that size
    (benchmarks/RESULTS.md, "Per-interaction batch operations")."""
    keep = mask.flat_values if isinstance(mask, tf.RaggedTensor) else mask
    splits = rt.nested_row_splits
    inner = splits[-1]
    kept = true_indices(keep)
    new_inner = tf.searchsorted(kept, tf.cast(inner, kept.dtype), side="left",
                                out_type=inner.dtype)
    return tf.RaggedTensor.from_nested_row_splits(
        tf.gather(rt.flat_values, kept), [*splits[:-1], new_inner], validate=False)


def select_rows(rt: tf.RaggedTensor, mask: tf.Tensor) -> tf.RaggedTensor:
    """``tf.ragged.boolean_mask(rt, mask)`` for a ``[n]`` row mask of a ``[n, m]`` ragged
    tensor (ragged rank 1; deeper ones take TensorFlow's op)."""
    if rt.ragged_rank != 1:
        return tf.ragged.boolean_mask(rt, mask)
    lengths = rt.row_lengths()
    return tf.RaggedTensor.from_row_splits(
        boolean_mask(rt.values, tf.gather(mask, row_ids(rt))),
        tf.cast(splits_from_lengths(boolean_mask(lengths, mask)), lengths.dtype),
        validate=False)


class Layout:
    """Index arithmetic of a ``[B, S, I]`` ragged tensor's partition.

    Each index is computed on first use (a traced step holds only the ones it uses)."""

    def __init__(self, rt: tf.RaggedTensor) -> None:
        self.outer = tf.cast(rt.row_splits, tf.int64)  # [B + 1] sessions per user
        self.inner = tf.cast(rt.values.row_splits, tf.int64)  # [S_total + 1] per session
        self._sessions = rt.values

    @cached_property
    def num_users(self) -> tf.Tensor:
        return tf.size(self.outer, out_type=tf.int64) - 1

    @cached_property
    def sessions_per_user(self) -> tf.Tensor:
        return self.outer[1:] - self.outer[:-1]

    @cached_property
    def session_lengths(self) -> tf.Tensor:
        return self.inner[1:] - self.inner[:-1]

    @cached_property
    def session_user(self) -> tf.Tensor:
        """``[S_total]`` user of each session."""
        return row_ids_from_splits(self.outer)

    @cached_property
    def session_index(self) -> tf.Tensor:
        """``[S_total]`` index of each session within its user."""
        return (tf.range(self.outer[-1], dtype=tf.int64)
                - tf.gather(self.outer, self.session_user))

    @cached_property
    def user_start(self) -> tf.Tensor:
        """``[B]`` flat position of each user's first interaction."""
        return tf.gather(self.inner, self.outer[:-1])

    @cached_property
    def interactions_per_user(self) -> tf.Tensor:
        return tf.gather(self.inner, self.outer[1:]) - self.user_start

    @cached_property
    def inter_session(self) -> tf.Tensor:
        """``[N]`` session of each interaction (cached by the partition if it has them)."""
        return tf.cast(row_ids(self._sessions), tf.int64)

    @cached_property
    def inter_user(self) -> tf.Tensor:
        """``[N]`` user of each interaction."""
        return tf.gather(self.session_user, self.inter_session)

    @cached_property
    def pos_in_user(self) -> tf.Tensor:
        """``[N]`` position of each interaction in its user's flat history."""
        return (tf.range(self.inner[-1], dtype=tf.int64)
                - tf.gather(self.user_start, self.inter_user))

    def session_offset(self, session: tf.Tensor) -> tf.Tensor:
        """Position (in the user's flat history) where session ``session[b]`` starts."""
        session = tf.clip_by_value(session, 0, self.sessions_per_user)
        return tf.gather(self.inner, self.outer[:-1] + session) - self.user_start


def session_timestamps(timestamp: tf.RaggedTensor) -> tf.RaggedTensor:
    """``[B, S]`` time of each session's first interaction, from ``[B, S, I]`` timestamps."""
    first = tf.gather(timestamp.flat_values, timestamp.values.row_splits[:-1])
    return tf.RaggedTensor.from_row_splits(first, timestamp.row_splits, validate=False)
