"""Loss normalisation that is the same on one device and on N replicas (tf.distribute).

A task's loss is a mean over (position, positive) rows, and the number of rows differs from
replica to replica. Under a ``tf.distribute`` strategy the replicas' gradients are SUMMED, so
each replica must divide its row sum by the GLOBAL row count (all-reduced), not its own: the
summed gradient is then exactly the gradient of the mean over all rows of the global batch
(tensorflow/recommenders#222). Outside a strategy (or with one replica) this is the plain
mean. :func:`global_sum` gives the value to report (the replicas' partial losses added up).

With ``reduction="query"`` (:func:`rows_mean`) the mean is over the global batch's queries
instead: each row weighs ``1 / (rows of its query)`` and the weighted sum is divided by the
global number of queries that have rows.

Example::

    loss = global_mean(tf.reduce_sum(per_row), tf.shape(per_row)[0])
    tracker.update_state(global_sum(loss))
"""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.tasks.registry import REDUCTIONS


def _replicas() -> tf.distribute.ReplicaContext | None:
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync <= 1:
        return None
    return ctx


def global_mean(total: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """``total / max(global count, 1)``: this replica's share of the global mean."""
    count = tf.cast(count, total.dtype)
    ctx = _replicas()
    if ctx is not None:
        count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return total / tf.maximum(count, tf.ones([], total.dtype))


def global_sum(value: tf.Tensor) -> tf.Tensor:
    """The sum of ``value`` over the replicas (itself outside a strategy)."""
    ctx = _replicas()
    return value if ctx is None else ctx.all_reduce(tf.distribute.ReduceOp.SUM, value)


def replica_share(value: tf.Tensor) -> tf.Tensor:
    """``value / replicas``: for a term every replica adds in full (regularisation), so that
    the summed gradient counts it once."""
    ctx = _replicas()
    return value if ctx is None else value / float(ctx.num_replicas_in_sync)


def replica_offset(count: tf.Tensor) -> tf.Tensor:
    """The number of rows (``count`` per replica) held by the replicas before this one: this
    replica's first row in the global batch (0 outside a strategy). Replica ``r`` holds the
    global batch's rows after those of replicas ``0..r-1`` (one input pipeline feeding its
    replicas in order; several workers sharding users, ``train.input_sharding: users``)."""
    ctx = _replicas()
    count = tf.cast(count, tf.int64)
    if ctx is None:
        return tf.zeros([], tf.int64)
    replica = tf.cast(ctx.replica_id_in_sync_group, tf.int64)
    n = ctx.num_replicas_in_sync
    counts = ctx.all_reduce(tf.distribute.ReduceOp.SUM,
                            tf.one_hot(replica, n, dtype=tf.int64) * count)
    return tf.reduce_sum(tf.where(tf.range(n, dtype=tf.int64) < replica, counts, 0))


def check_reduction(reduction: str) -> str:
    """``reduction`` if it is one of :data:`~sessionrec_tf.tasks.registry.REDUCTIONS`."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
    return reduction


def row_weights(row_group: tf.Tensor, num_groups: tf.Tensor, reduction: str,
                dtype: tf.DType = tf.float32) -> tuple[tf.Tensor | None, tf.Tensor]:
    """``(weights [R] or None, count)`` of a mean over rows: ``row``, every row alike (no
    weights, count = rows); ``query``, every query (group) alike: row ``r`` weighs
    ``1 / n_g(r)`` (its group's rows) and count = the groups that have a row. The loss is
    ``global_mean(sum(weights * per_row), count)``."""
    if check_reduction(reduction) == "row":
        return None, tf.shape(row_group)[0]
    counts = tf.math.unsorted_segment_sum(tf.ones_like(row_group, dtype), row_group,
                                          num_groups)  # [G]
    weights = 1.0 / tf.gather(counts, row_group)  # every gathered group has >= 1 row
    return weights, tf.math.count_nonzero(counts > 0)


def rows_mean(per_row: tf.Tensor, row_group: tf.Tensor, num_groups: tf.Tensor,
              reduction: str = "row") -> tf.Tensor:
    """This replica's share of the global mean of ``per_row [R]`` by ``reduction``
    (:func:`row_weights`); 0 for a batch without rows (no NaN gradient)."""
    weights, count = row_weights(row_group, num_groups, reduction, per_row.dtype)
    total = tf.reduce_sum(per_row if weights is None else weights * per_row)
    return global_mean(total, count)
