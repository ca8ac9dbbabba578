"""Sessions -> TFRecord: one ``tf.train.Example`` per user, sessions as flat values + lengths.

Record layout (all int64 unless said otherwise):

=====================  ===============  ===================================================
key                    shape            meaning
=====================  ===============  ===================================================
user_id                [] bytes         the user's original id, as text
item_id                [interactions]   item vocabulary index, flat over the whole history
label                  [interactions]   1 positive, 0 negative
timestamp              [interactions]   Unix seconds (floored)
<feature>              [interactions]   side-feature vocabulary index, one key per feature
session_lengths        [sessions]       interactions per session (sums to interactions)
loio_valid_cut         []               position of the 2nd-to-last positive (-1: none)
loio_test_cut          []               position of the last positive
temporal_cut           []               number of sessions starting at or before T
=====================  ===============  ===================================================

Histories come back as ``[sessions, items]`` ragged tensors through ``tf.io.RaggedFeature``
with a ``RowLengths("session_lengths")`` partition, so parsing a *batch* of records gives
``[batch, sessions, items]`` with ragged_rank 2 directly, without per-example work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sessionrec_tf.data.layout import FrameLayout

INTERACTION_KEYS = ("item_id", "label", "timestamp")
SCALAR_KEYS = ("loio_valid_cut", "loio_test_cut", "temporal_cut")
SHARD_PREFIX, SHARD_SUFFIX = "users", ".tfrecord"
SHARD_PATTERN = SHARD_PREFIX + "-{index:05d}-of-{count:05d}" + SHARD_SUFFIX


def interaction_keys(feature_names: Sequence[str]) -> tuple[str, ...]:
    return (*INTERACTION_KEYS, *feature_names)


def shard_names(count: int) -> list[str]:
    return [SHARD_PATTERN.format(index=i, count=count) for i in range(count)]


def write_shards(
    encoded: pd.DataFrame,
    cuts: pd.DataFrame,
    user_ids: Sequence[str],
    feature_names: Sequence[str],
    directory: Path,
    num_shards: int,
    progress: bool = True,
) -> list[str]:
    """Write one record per user into ``num_shards`` files (contiguous blocks of users).

    Args:
      encoded: interactions sorted by (user, session, time) with int64 columns ``item_id``,
        ``label``, ``timestamp`` and one per feature, and the ``session`` index.
      cuts: per-user cut points, one row per user in the same order
        (:func:`sessionrec_tf.data.splits.user_cut_points`).
      user_ids: original user ids as text, same order.
      feature_names: side features to store.
      directory: output directory (must exist).
      num_shards: number of files.

    Returns:
      The file names written, in order.
    """
    import tensorflow as tf

    lay = FrameLayout.of(encoded)
    starts = lay.user_starts
    ends = starts + lay.user_lengths
    session_lengths = lay.session_lengths
    sessions_per_user = lay.sessions_per_user
    session_offsets = np.r_[0, np.cumsum(sessions_per_user)]
    columns = {k: encoded[k].to_numpy(dtype=np.int64) for k in interaction_keys(feature_names)}
    scalars = {k: cuts[k].to_numpy(dtype=np.int64) for k in SCALAR_KEYS}
    names = shard_names(num_shards)
    bounds = np.linspace(0, len(starts), num_shards + 1).round().astype(int)
    bar = tqdm(total=len(starts), desc="write TFRecords", unit="user", disable=not progress)
    for shard, name in enumerate(names):
        with tf.io.TFRecordWriter(str(directory / name)) as writer:
            for u in range(bounds[shard], bounds[shard + 1]):
                s, e = starts[u], ends[u]
                writer.write(user_example(
                    user_ids[u], session_lengths[session_offsets[u]:session_offsets[u + 1]],
                    {k: col[s:e] for k, col in columns.items()},
                    {k: int(col[u]) for k, col in scalars.items()}))
            bar.update(bounds[shard + 1] - bounds[shard])
    bar.close()
    return names


def user_example(user_id: object, session_lengths: np.ndarray,
                 columns: Mapping[str, np.ndarray], scalars: Mapping[str, int]) -> bytes:
    """One user's serialized ``tf.train.Example`` (the layout of the module docstring).

    Args:
      user_id: the original id (stored as text).
      session_lengths: ``[sessions]`` interactions per session.
      columns: ``[interactions]`` int64 values per interaction key.
      scalars: the cut points (:data:`SCALAR_KEYS`).
    """
    import tensorflow as tf

    feature = tf.train.Feature
    int_list = tf.train.Int64List
    feats = {
        "user_id": feature(bytes_list=tf.train.BytesList(value=[str(user_id).encode()])),
        "session_lengths": feature(int64_list=int_list(value=session_lengths.tolist())),
    }
    for k, col in columns.items():
        feats[k] = feature(int64_list=int_list(value=col.tolist()))
    for k, value in scalars.items():
        feats[k] = feature(int64_list=int_list(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def parse_spec(feature_names: Sequence[str]) -> dict[str, object]:
    """``tf.io.parse_example`` spec giving ``[batch, sessions, items]`` ragged features."""
    import tensorflow as tf

    partition = [tf.io.RaggedFeature.RowLengths("session_lengths")]
    spec: dict[str, object] = {
        "user_id": tf.io.FixedLenFeature([], tf.string),
        "session_lengths": tf.io.RaggedFeature(tf.int64, row_splits_dtype=tf.int64),
    }
    for key in interaction_keys(feature_names):
        spec[key] = tf.io.RaggedFeature(tf.int64, value_key=key, partitions=partition,
                                        row_splits_dtype=tf.int64)
    for key in SCALAR_KEYS:
        spec[key] = tf.io.FixedLenFeature([], tf.int64)
    return spec
