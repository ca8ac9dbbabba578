"""Exact top-K over a whole catalog in chunks, with per-user exclusions.

``scores = users @ candidates^T`` is never materialised for the whole catalog: candidates are
scored ``chunk_size`` at a time and a running top-K is merged with each chunk's top-K, so
memory is ``O(batch * (chunk_size + K))`` whatever the catalog size (1.5M items included).
The reserved rows (padding/OOV) are never returned; the user's seen items get ``-inf`` before
selection (a per-user bitmap or a scatter, whichever is cheaper: :func:`exclude_scores`).
Inside a chunk the top-K is selected through block maxima (:func:`block_top_k`: one pass over
the scores, then a top-K over K blocks) instead of ``tf.math.top_k`` over the whole chunk;
both give the same ids in the same order.

When a user has fewer than K eligible items (K close to the catalog size, many seen items),
the slots past the last eligible item are *unfilled*: score ``-inf`` and item index 0
(padding), never an excluded item (:func:`unfilled_to_padding`). Index 0 matches no target,
the serving signature turns it into the padding token and reports ``num_results``, and the
batch scorer writes only the filled slots.
"""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.data.batch_ops import boolean_mask, row_ids
from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.layers.interests import max_match

NEG_INF = float("-inf")
PAD_INDEX = 0
# block width of the selection by block maxima (block_top_k); rows narrower than
# BLOCK_MIN_BLOCKS blocks use tf.math.top_k directly
BLOCK = 128
BLOCK_MIN_BLOCKS = 16
# exclusions: a bitmap when more than one (user, item) cell of the scores in this many is
# excluded, else a scatter (exclude_scores)
BITMAP_DENSITY = 128


def unfilled_to_padding(scores: tf.Tensor, ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``(scores, ids)`` with the id of every ``-inf`` slot replaced by :data:`PAD_INDEX`."""
    return scores, tf.where(scores > NEG_INF, ids, tf.zeros_like(ids) + PAD_INDEX)


def num_filled(scores: tf.Tensor) -> tf.Tensor:
    """``[B]`` int32: the filled (finite-score) slots of each row of ``[B, k]`` scores."""
    return tf.reduce_sum(tf.cast(scores > NEG_INF, tf.int32), axis=1)


def _in_chunk(exclude: tf.RaggedTensor, start: int | tf.Tensor, width: int | tf.Tensor
              ) -> tuple[tf.Tensor, tf.Tensor]:
    """``(local, inside)``: each excluded item's column ``item - start`` (int64 ``[N]``) and
    whether it falls in ``[0, width)``."""
    local = tf.cast(exclude.flat_values, tf.int64) - tf.cast(start, tf.int64)
    return local, tf.logical_and(local >= 0, local < tf.cast(width, tf.int64))


def _mask(exclude: tf.RaggedTensor, local: tf.Tensor, inside: tf.Tensor,
          width: int | tf.Tensor) -> tf.Tensor:
    """:func:`exclusion_mask` given :func:`_in_chunk`."""
    dropped = tf.where(inside, local, tf.cast(width, tf.int64))  # column `width`: ignored
    counts = tf.math.bincount(exclude.with_flat_values(tf.cast(dropped, tf.int32)),
                              minlength=width, maxlength=width, binary_output=True, axis=-1)
    return counts > 0


def _scatter(scores: tf.Tensor, exclude: tf.RaggedTensor, local: tf.Tensor,
             inside: tf.Tensor) -> tf.Tensor:
    """:func:`scatter_exclusions` given :func:`_in_chunk`."""
    pairs = boolean_mask(tf.stack([row_ids(exclude), local], axis=1), inside)
    return tf.tensor_scatter_nd_update(scores, pairs, tf.fill([tf.shape(pairs)[0]], NEG_INF))


def exclusion_mask(exclude: tf.RaggedTensor, start: int | tf.Tensor, width: int | tf.Tensor
                   ) -> tf.Tensor:
    """``[B, width]`` bool: True where item ``start + j`` is among row b's ``exclude`` items.

    A binary per-row bincount of the items in ``[start, start + width)`` (others are ignored;
    repeats count once): one sequential pass per row.
    """
    return _mask(exclude, *_in_chunk(exclude, start, width), width)


def scatter_exclusions(scores: tf.Tensor, exclude: tf.RaggedTensor,
                       start: int | tf.Tensor = 0) -> tf.Tensor:
    """``scores [B, c]`` with ``-inf`` scattered at the excluded (user, item) pairs that fall in
    ``[start, start + c)``."""
    return _scatter(scores, exclude, *_in_chunk(exclude, start, tf.shape(scores)[1]))


def exclude_scores(scores: tf.Tensor, exclude: tf.RaggedTensor | None,
                   start: int | tf.Tensor = 0) -> tf.Tensor:
    """``scores [B, c]`` (items ``start .. start + c - 1``) with the excluded items at ``-inf``.

    Two equal ways, chosen by how dense the exclusions are: TensorFlow's scatter costs ~100 ns
    per excluded (user, item) pair, the bitmap (:func:`exclusion_mask` and a ``tf.where``)
    ~1 ns per cell of the ``[B, c]`` scores. The bitmap is used when more than one cell in
    :data:`BITMAP_DENSITY` is excluded: 64 users x 8,000 seen items over 100k items, 3.1x
    faster than the scatter; 500 seen items over 1.5M, the scatter stays
    (benchmarks/RESULTS.md, "Exact top-100 ... exclusions per query").
    """
    if exclude is None:
        return scores
    width = tf.shape(scores)[1]
    local, inside = _in_chunk(exclude, start, width)
    dense = (tf.reduce_sum(tf.cast(inside, tf.int64)) * BITMAP_DENSITY
             > tf.size(scores, out_type=tf.int64))
    return tf.cond(
        dense,
        lambda: tf.where(_mask(exclude, local, inside, width),
                         tf.constant(NEG_INF, scores.dtype), scores),
        lambda: _scatter(scores, exclude, local, inside))


def block_top_k(scores: tf.Tensor, k: int | tf.Tensor, block: int = BLOCK
                ) -> tuple[tf.Tensor, tf.Tensor]:
    """``tf.math.top_k(scores, k)`` of wide rows, selected through block maxima.

    ``scores [B, n]`` is cut into blocks of ``block`` columns; the ``k`` blocks with the
    largest maxima (ties: lower block) hold the top ``k`` columns (ties: lower column): every
    other block's best column ranks after each chosen block's best. The chosen blocks are
    gathered in column order and a top-k over their ``k * block`` columns gives the result:
    one pass over the scores (the maxima) instead of a selection over all ``n`` columns.

    Returns ``(values [B, k], column indices [B, k] int32)``, exactly as ``tf.math.top_k``
    (same values, same indices, same order; ``k <= n``).
    """
    batch, n = tf.shape(scores)[0], tf.shape(scores)[1]
    blocks_n = (n + block - 1) // block
    padded = tf.pad(scores, [[0, 0], [0, blocks_n * block - n]], constant_values=NEG_INF)
    blocks = tf.reshape(padded, [batch, blocks_n, block])
    _, chosen = tf.math.top_k(tf.reduce_max(blocks, axis=2), k=tf.minimum(k, blocks_n))
    chosen = tf.sort(chosen, axis=1)  # column order, so that top_k's ties go to lower columns
    gathered = tf.reshape(tf.gather(blocks, chosen, batch_dims=1), [batch, -1])
    values, pos = tf.math.top_k(gathered, k=k)
    columns = tf.gather(chosen, pos // block, batch_dims=1) * block + pos % block
    return values, columns


def _select(scores: tf.Tensor, k: int | tf.Tensor, block: int | None
            ) -> tuple[tf.Tensor, tf.Tensor]:
    """Top ``k`` columns of ``scores``: by block maxima on wide rows, else ``top_k``."""
    width = scores.shape[1]
    if block is None or (width is not None and width < BLOCK_MIN_BLOCKS * block):
        return tf.math.top_k(scores, k=k)
    return block_top_k(scores, k, block)


def chunked_top_k(
    users: tf.Tensor,
    candidates: tf.Tensor,
    k: int,
    exclude: tf.RaggedTensor | None = None,
    chunk_size: int = 65_536,
    first_item: int = NUM_RESERVED,
    block: int | None = BLOCK,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Top-``k`` items by dot product.

    Args:
      users: ``[B, d]`` query embeddings, or ``[B, k, d]`` (k user vectors: an item's score
        is its best match, :func:`~sessionrec_tf.layers.interests.max_match`).
      candidates: ``[V, d]`` candidate embeddings, row = item index.
      k: how many items (must be <= the number of eligible items).
      exclude: ``[B, n]`` ragged item indices that must not be recommended to each user.
      chunk_size: candidates scored at once.
      first_item: indices below this (padding, OOV) are never recommended.
      block: the selection inside a chunk goes through maxima of blocks of this many
        candidates (:func:`block_top_k`, same result); None: ``tf.math.top_k`` over the chunk.

    Returns:
      ``(scores [B, k], ids [B, k] int64)``, best first; ties go to the lower item index;
      unfilled slots (fewer than k eligible items) have score ``-inf`` and id 0.
    """
    static = candidates.shape[0]
    if static is not None and static <= chunk_size:
        return _one_pass_top_k(users, candidates, k, exclude, first_item, block)
    num = tf.shape(candidates, out_type=tf.int64)[0]
    batch = tf.shape(users)[0]
    best_scores = tf.fill([batch, k], NEG_INF)
    best_ids = tf.zeros([batch, k], tf.int64)
    start = tf.constant(first_item, tf.int64)  # reserved rows are never scored

    def body(start: tf.Tensor, best_scores: tf.Tensor, best_ids: tf.Tensor
             ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        stop = tf.minimum(start + chunk_size, num)
        chunk = candidates[start:stop]
        scores = exclude_scores(max_match(users, chunk), exclude, start)  # [B, c]
        kk = tf.minimum(k, tf.cast(stop - start, tf.int32))
        top_s, top_i = _select(scores, kk, block)
        merged_s = tf.concat([best_scores, top_s], axis=1)
        merged_i = tf.concat([best_ids, start + tf.cast(top_i, tf.int64)], axis=1)
        # top_k keeps the earlier column among equal scores: running best (lower ids) first
        sel_s, sel = tf.math.top_k(merged_s, k=k)
        return stop, sel_s, tf.gather(merged_i, sel, batch_dims=1)

    _, best_scores, best_ids = tf.while_loop(
        lambda s, *_: s < num, body, [start, best_scores, best_ids],
        shape_invariants=[start.shape, tf.TensorShape([None, k]), tf.TensorShape([None, k])])
    return unfilled_to_padding(best_scores, best_ids)


def _one_pass_top_k(users: tf.Tensor, candidates: tf.Tensor, k: int,
                    exclude: tf.RaggedTensor | None, first_item: int, block: int | None
                    ) -> tuple[tf.Tensor, tf.Tensor]:
    """:func:`chunked_top_k` of a catalog that fits in one chunk, without its loop.

    The reserved rows (below ``first_item``) are dropped from a top-(k + first_item) instead
    of masking all ``[B, V]`` scores: one pass less over the score matrix, same result and
    tie order.
    """
    scores = exclude_scores(max_match(users, candidates), exclude)  # [B, V]
    wide = min(k + first_item, int(candidates.shape[0]))
    wide_scores, wide_ids = _select(scores, wide, block)
    wide_scores = tf.where(wide_ids < first_item, NEG_INF, wide_scores)
    top_scores, pos = tf.math.top_k(wide_scores, k=min(k, wide))
    ids = tf.cast(tf.gather(wide_ids, pos, batch_dims=1), tf.int64)
    short = k - min(k, wide)  # k beyond the catalog: unfilled slots
    if short:
        top_scores = tf.pad(top_scores, [[0, 0], [0, short]], constant_values=NEG_INF)
        ids = tf.pad(ids, [[0, 0], [0, short]])
    return unfilled_to_padding(top_scores, ids)
