"""Length buckets: run a padded encoder over ragged rows, one bucket of similar lengths at a
time, and put the results back in row order.

Shared by the sequence ISEs (sessions of items, :mod:`sessionrec_tf.ise.bucketing`) and the
SSE (users of sessions, :mod:`sessionrec_tf.sse.bucketing`). Rows are grouped by length into
buckets ``(0, b0], (b0, b1], ...`` (doubling bounds), each padded only to its own width, so
padding is at most 2x the real length instead of the batch's longest row.

Example::

    for rows, upper in length_buckets(lengths, bucket_bounds(64), overflow=False):
        dense, mask, at = gather_padded(values, starts, lengths, rows, width=upper)
"""

from __future__ import annotations

from collections.abc import Iterator

import tensorflow as tf


def bucket_bounds(longest: int, smallest: int = 1) -> list[int]:
    """Doubling upper bounds ``[smallest, 2 * smallest, ..., longest]`` (the last is
    ``longest``): ``bucket_bounds(200, 16) == [16, 32, 64, 128, 200]``."""
    bounds = [min(smallest, longest)]
    while bounds[-1] < longest:
        bounds.append(min(bounds[-1] * 2, longest))
    return bounds


def length_buckets(lengths: tf.Tensor, bounds: list[int], overflow: bool
                   ) -> Iterator[tuple[tf.Tensor, int | None]]:
    """``(rows [n] int64, upper)`` of each bucket ``(lower, upper]`` of ``lengths [N]``.

    ``overflow``: rows longer than the last bound form one more bucket (``upper`` None);
    otherwise they join the last bucket (and are truncated by whoever pads them).
    """
    lower = 0
    uppers: list[int | None] = [*bounds, None] if overflow else list(bounds)
    for i, upper in enumerate(uppers):
        last = i == len(uppers) - 1
        in_bucket = lengths > lower if last else (lengths > lower) & (lengths <= upper)
        yield tf.where(in_bucket)[:, 0], upper
        if upper is not None:
            lower = upper


def gather_padded(values: tf.Tensor, starts: tf.Tensor, lengths: tf.Tensor, rows: tf.Tensor,
                  width: int | tf.Tensor | None = None
                  ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Rows ``rows`` of a ragged tensor (flat ``values [T]`` or ``[T, d]``, ``starts``/``lengths``)
    right-padded with zeros to ``width`` (default: their longest, at least 1).

    A row longer than ``width`` keeps its LAST ``width`` entries (the most recent items).

    Returns:
      ``(dense [n, width, ...], mask [n, width], at [n, width])``: ``at`` is each entry's flat
      position in ``values`` (0 where masked).
    """
    n_len = tf.gather(lengths, rows)
    if width is None:
        width = tf.reduce_max(tf.concat([n_len, tf.ones([1], n_len.dtype)], 0))
    n_len = tf.minimum(n_len, tf.cast(width, n_len.dtype))
    first = tf.gather(starts, rows) + tf.gather(lengths, rows) - n_len
    pos = tf.range(width, dtype=tf.int64)
    mask = pos[None, :] < n_len[:, None]
    at = tf.where(mask, first[:, None] + pos[None, :], 0)
    keep = mask if values.shape.rank == 1 else mask[..., None]  # values: [T] or [T, d]
    dense = tf.where(keep, tf.gather(values, at), tf.zeros([], values.dtype))
    return dense, mask, at


def stitch(indices: list[tf.Tensor], outputs: list[tf.Tensor]) -> tf.Tensor:
    """The buckets' outputs back in row order (row ``i`` of the result = row ``i``)."""
    return tf.dynamic_stitch([tf.cast(i, tf.int32) for i in indices], outputs)
