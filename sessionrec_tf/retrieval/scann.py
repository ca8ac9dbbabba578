"""Approximate top-K in the serving graph with a ScaNN index (needs ScaNN's custom ops).

The index is a ``tfrs.layers.factorized_top_k.ScaNN`` layer built over the candidate
embeddings of every real item (rows 2.. of the candidate matrix; identifiers = vocabulary
indices). A SavedModel holding it must be saved with ``namespace_whitelist=["Scann"]`` and
loads only in a process that has imported ``scann`` (or in a TF Serving built with ScaNN's
ops); stock TF Serving refuses it with ``Op type not registered 'Scann>TensorsToScann'``.

Seen-item exclusion over-fetches: ``k + (most excluded items of any user in the batch)``
neighbours are retrieved (re-scoring at least that many), the excluded ones dropped, and the
best ``k`` kept, so exclusion never costs recall. The layer's own ``query_with_exclusions``
compares every result with every exclusion (``[B, k + n, n]``), too slow for 8K-item
histories; here membership is a sorted search.

:func:`build_pybind_index` saves the same configuration as a standalone
``scann.scann_ops_pybind`` index (no TensorFlow needed to search it) with the original item
ids as document ids.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from sessionrec_tf.data.batch_ops import row_ids
from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.metrics.topk import unfilled_to_padding
from sessionrec_tf.retrieval.base import TopK
from sessionrec_tf.retrieval.scann_options import ScannOptions


def unit_norm(rows: np.ndarray) -> bool:
    """Whether every row has L2 norm 1 (cosine-similarity candidates)."""
    return bool(np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-3))


def configure_builder(builder: object, options: ScannOptions) -> object:
    """Apply ``options`` (resolved, ``spherical`` decided) to a ScaNN builder (TF or pybind)."""
    return (builder
            .tree(num_leaves=options.num_leaves,
                  num_leaves_to_search=options.num_leaves_to_search,
                  training_iterations=options.training_iterations,
                  training_sample_size=options.training_sample_size,
                  spherical=bool(options.spherical))
            .score_ah(options.dimensions_per_block,
                      anisotropic_quantization_threshold=(
                          options.anisotropic_quantization_threshold),
                      training_sample_size=options.training_sample_size)
            .reorder(options.num_reordering_candidates))


def _sorted_search(sorted_keys: tf.Tensor, keys: tf.Tensor) -> tf.Tensor:
    """``keys`` (any shape, int64) found in the sorted 1-D ``sorted_keys``."""
    guard = tf.concat([sorted_keys, tf.constant([np.iinfo(np.int64).max], tf.int64)], 0)
    flat = tf.reshape(keys, [-1])
    pos = tf.searchsorted(guard, flat, side="left", out_type=tf.int64)
    found = tf.equal(tf.gather(guard, pos), flat)
    return tf.reshape(found, tf.shape(keys))


class ScannTopK(TopK):
    """Top-``k`` from a TFRS ScaNN index over ``candidates[2:]``.

    Args:
      k: results per user.
      options: ScaNN parameters (resolved against the catalog at :meth:`index`).

    Example::

        retriever = ScannTopK(100, ScannOptions(num_leaves_to_search=400)).index(candidates)
        scores, ids = retriever(users, exclude=seen)
    """

    exact = False

    def __init__(self, k: int, options: ScannOptions | None = None, name: str = "scann_top_k"
                 ) -> None:
        super().__init__(k, name=name)
        import scann  # noqa: F401  (registers the Scann ops)

        self.options = options or ScannOptions()
        self.num_candidates = 0

    def index(self, candidates: np.ndarray) -> ScannTopK:
        """Build the index over ``[V, d]`` candidate embeddings (row = item index)."""
        import tensorflow_recommenders as tfrs
        from scann.scann_ops.py import scann_ops

        rows = np.ascontiguousarray(np.asarray(candidates)[NUM_RESERVED:], dtype=np.float32)
        self.num_candidates = int(rows.shape[0])
        self.options = self.options.resolved(self.num_candidates, self.k)
        if self.options.spherical is None:
            self.options = replace(self.options, spherical=unit_norm(rows))
        opts = self.options
        layer = tfrs.layers.factorized_top_k.ScaNN(
            k=self.k, distance_measure="dot_product", num_leaves=opts.num_leaves,
            num_leaves_to_search=opts.num_leaves_to_search,
            training_iterations=opts.training_iterations,
            dimensions_per_block=opts.dimensions_per_block,
            num_reordering_candidates=opts.num_reordering_candidates, name="scann")

        def build_searcher(db: tf.Tensor) -> object:  # the layer's builder + AH threshold
            builder = scann_ops.builder(db=db, num_neighbors=self.k,
                                        distance_measure="dot_product")
            # unique resource name: two indexes in one process must not share a searcher
            return configure_builder(builder, opts).build(
                shared_name=f"{layer.name}/{uuid.uuid4()}")

        layer._build_searcher = build_searcher
        ids = np.arange(NUM_RESERVED, NUM_RESERVED + self.num_candidates, dtype=np.int64)
        layer.index(tf.constant(rows), tf.constant(ids))
        # Save the index's state (searcher tensors, identifiers), not the Keras layer object.
        self.scann_state = layer._serialized_searcher
        self.identifiers = layer._identifiers
        return self

    def searching(self, num_leaves_to_search: int | None = None,
                  num_reordering_candidates: int | None = None) -> ScannTopK:
        """A retriever over the SAME built index with other query-time parameters (partitions
        searched, candidates re-scored): no rebuild, e.g. to trade recall for speed."""
        if not self.num_candidates:
            raise ValueError("ScannTopK: call index(candidates) before searching()")
        out = copy.copy(self)  # shares the index's state (searcher tensors, identifiers)
        changes = {k: v for k, v in (("num_leaves_to_search", num_leaves_to_search),
                                     ("num_reordering_candidates", num_reordering_candidates))
                   if v is not None}
        out.options = replace(self.options, **changes).resolved(self.num_candidates, self.k)
        return out

    def call(self, queries: tf.Tensor, exclude: tf.RaggedTensor | None = None
             ) -> tuple[tf.Tensor, tf.Tensor]:
        """``(scores [B, k], item indices [B, k])``, best first; ``exclude`` ``[B, n]``.

        ``queries`` ``[B, d]``, or ``[B, v, d]`` for several user vectors per user
        (``model.user_vectors``): an item's score is then its best vector's, as in exact
        scoring. Each vector's own top-k is searched and the ``v`` lists are merged (an item
        found by several vectors keeps its best score): the exact top-k of the best-vector
        score lies in the union of the per-vector exact top-k lists (an item in it is, for
        its best vector, beaten by fewer than k items), so with an exhaustive index the
        merge equals exact scoring.
        """
        from scann.scann_ops.py import scann_ops

        if not self.num_candidates:
            raise ValueError("ScannTopK: call index(candidates) before querying")

        k = tf.constant(self.k, tf.int32)
        extra = (tf.cast(tf.reduce_max(tf.concat([exclude.row_lengths(), [0]], 0)), tf.int32)
                 if exclude is not None else tf.constant(0, tf.int32))
        fetch = tf.minimum(k + extra, self.num_candidates)
        reorder = tf.maximum(fetch, self.options.num_reordering_candidates)
        searcher = scann_ops.searcher_from_module(self.scann_state)
        batch = tf.shape(queries)[0]
        flat = tf.reshape(queries, [-1, tf.shape(queries)[-1]])  # [B * v, d]
        result = searcher.search_batched_parallel(
            flat, final_num_neighbors=fetch, pre_reorder_num_neighbors=reorder,
            leaves_to_search=self.options.num_leaves_to_search)
        scores = tf.reshape(result.distances, [batch, -1])  # [B, v * fetch]
        ids = tf.gather(self.identifiers, tf.reshape(result.indices, [batch, -1]))
        width = tf.constant(self.num_candidates + NUM_RESERVED, tf.int64)  # > any index
        rows = tf.range(tf.cast(batch, tf.int64))[:, None]
        if queries.shape.rank == 3:
            scores, ids = _best_per_item(scores, ids, rows * width + ids, width)
        if exclude is not None:
            excluded = tf.sort(row_ids(exclude) * width
                               + tf.cast(exclude.flat_values, tf.int64))
            drop = _sorted_search(excluded, rows * width + ids)
            scores = tf.where(drop, tf.constant(float("-inf")), scores)
        # Fewer than k neighbours (k + exclusions beyond the catalog): pad to k unfilled slots
        short = k - tf.shape(scores)[1]
        scores = tf.pad(scores, [[0, 0], [0, tf.maximum(short, 0)]],
                        constant_values=float("-inf"))
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(short, 0)]])
        top_scores, pos = tf.math.top_k(scores, k=k)
        return unfilled_to_padding(top_scores, tf.gather(ids, pos, batch_dims=1))


def _best_per_item(scores: tf.Tensor, ids: tf.Tensor, keys: tf.Tensor, width: tf.Tensor
                   ) -> tuple[tf.Tensor, tf.Tensor]:
    """Merge per-vector result lists ``[B, m]``: each (user, item) once, with its best
    score; rows padded with ``-inf`` / index 0 to the longest row. ``keys`` = row * width +
    item."""
    unique, slot = tf.unique(tf.reshape(keys, [-1]), out_idx=tf.int64)
    best = tf.math.unsorted_segment_max(tf.reshape(scores, [-1]), slot,
                                        tf.size(unique, tf.int64))
    rowids, nrows = unique // width, tf.cast(tf.shape(scores)[0], tf.int64)
    merged = tf.RaggedTensor.from_value_rowids(best, rowids, nrows=nrows)
    items = tf.RaggedTensor.from_value_rowids(unique % width, rowids, nrows=nrows)
    return (merged.to_tensor(default_value=float("-inf")),
            tf.cast(items.to_tensor(default_value=0), ids.dtype))


def build_pybind_index(candidates: np.ndarray, item_tokens: Sequence[str], k: int,
                       options: ScannOptions, directory: Path) -> Path:
    """Build and serialize a ``scann_ops_pybind`` index over ``candidates[2:]``.

    Args:
      candidates: ``[V, d]`` candidate embeddings (row = vocabulary index).
      item_tokens: ``V - 2`` original item ids (as text), the index's document ids.
      k: default number of neighbours.
      options: resolved ScaNN options (``spherical`` decided, as ``ScannTopK.options``).
      directory: created; receives ScaNN's files (``scann_assets.pbtxt``, docids, ...).

    Load it with ``scann.scann_ops_pybind.load_searcher(directory)``; ``search`` then returns
    item ids directly.
    """
    from scann import scann_ops_pybind

    rows = np.ascontiguousarray(candidates[NUM_RESERVED:], dtype=np.float32)
    if len(item_tokens) != rows.shape[0]:
        raise ValueError(f"build_pybind_index: {len(item_tokens)} item ids for "
                         f"{rows.shape[0]} candidate rows")
    builder = scann_ops_pybind.builder(rows, k, "dot_product")
    searcher = configure_builder(builder, options).build(docids=[str(t) for t in item_tokens])
    directory.mkdir(parents=True, exist_ok=True)
    searcher.serialize(str(directory), relative_path=True)  # movable (staging -> version)
    return directory
