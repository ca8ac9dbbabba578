"""The shared length-bucketing helpers (layers/bucketing.py) against plain Python."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sessionrec_tf.layers.bucketing import (
    bucket_bounds,
    gather_padded,
    length_buckets,
    stitch,
)


def test_bounds_and_buckets_partition_the_rows():
    assert bucket_bounds(200, 16) == [16, 32, 64, 128, 200]
    assert bucket_bounds(5) == [1, 2, 4, 5] and bucket_bounds(10, 16) == [10]
    lengths = tf.constant([1, 3, 9, 2, 40, 5], tf.int64)
    got = [(r.numpy().tolist(), u) for r, u in length_buckets(lengths, [2, 4, 8], True)]
    assert got == [([0, 3], 2), ([1], 4), ([5], 8), ([2, 4], None)]
    got = [(r.numpy().tolist(), u) for r, u in length_buckets(lengths, [2, 4, 8], False)]
    assert got == [([0, 3], 2), ([1], 4), ([2, 4, 5], 8)]  # overlong rows join the last


def test_gather_padded_keeps_the_last_entries_and_stitch_restores_order():
    rows_py = [[1.0, 2.0, 3.0], [4.0], [5.0, 6.0, 7.0, 8.0, 9.0]]
    rt = tf.ragged.constant(rows_py, tf.float32)
    values, starts, lengths = rt.flat_values, rt.row_splits[:-1], rt.row_lengths()
    rows = tf.constant([2, 0], tf.int64)
    dense, mask, at = gather_padded(values, starts, lengths, rows, width=3)
    want = [[7.0, 8.0, 9.0], [1.0, 2.0, 3.0]]  # row 2 truncated to its last 3 items
    np.testing.assert_array_equal(dense.numpy(), want)
    assert mask.numpy().all() and at.numpy().tolist() == [[6, 7, 8], [0, 1, 2]]
    dense, mask, _ = gather_padded(values, starts, lengths, tf.constant([1, 0], tf.int64))
    np.testing.assert_array_equal(dense.numpy(), [[4.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    assert mask.numpy().tolist() == [[True, False, False], [True, True, True]]
    d2, _, _ = gather_padded(tf.reshape(tf.range(8.0), [4, 2]), tf.constant([0, 1], tf.int64),
                             tf.constant([1, 3], tf.int64), tf.constant([0, 1], tf.int64))
    np.testing.assert_array_equal(d2.numpy(), [[[0, 1], [0, 0], [0, 0]],
                                               [[2, 3], [4, 5], [6, 7]]])
    out = stitch([tf.constant([2, 0], tf.int64), tf.constant([1], tf.int64)],
                 [tf.constant([20.0, 0.0]), tf.constant([10.0])])
    assert out.numpy().tolist() == [0.0, 10.0, 20.0]
