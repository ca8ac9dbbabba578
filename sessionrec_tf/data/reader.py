"""TFRecord -> ragged batches: a ``tf.data.Dataset`` of ``[batch, sessions, items]`` histories.

Each element is a dict:

====================  ====================  ================================================
key                   shape                 content
====================  ====================  ================================================
user_id               [B] string            original user id
item_id               [B, S, I] int64       item vocabulary indices (ragged_rank 2)
label                 [B, S, I] int64       1 positive / 0 negative
timestamp             [B, S, I] int64       Unix seconds
<feature>             [B, S, I] int64       one key per side feature (vocabulary indices)
session_timestamp     [B, S] int64          first interaction's time of each session
target_item_id        [B, T] int64          valid/test splits only: the split's targets
====================  ====================  ================================================

Records are batched *before* parsing (``tf.io.parse_example`` on a batch of serialized
records gives the ragged_rank-2 tensors directly), then the split's cut is applied to the whole
batch at once (:class:`~sessionrec_tf.data.session_batch.SessionBatch`). Sessions are never
padded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.session_batch import SessionBatch
from sessionrec_tf.data.splits import PROTOCOLS, SPLITS
from sessionrec_tf.data.tfrecord import interaction_keys, parse_spec

SHARD_BY = ("users", "files")


@dataclass(frozen=True)
class InputShard:
    """One input pipeline's share of the training data under ``tf.distribute``.

    With ``by="users"`` a pipeline reads every file and keeps the users at positions
    ``[index * g / count, (index + 1) * g / count)`` of each block of ``g =
    global_batch_size`` users of the (shuffled) stream, so the ``count`` pipelines' batches
    of one step together are exactly the batch a single process with batch size ``g`` reads:
    a multi-worker step is the single-process step (each worker reads all the data).
    With ``by="files"`` a pipeline reads only its files (``files[index::count]`` of the
    epoch's shuffled file order): input I/O scales with the workers; the global batches
    differ from a single process's (same distribution, another composition).

    Attributes:
      index: this pipeline (``tf.distribute.InputContext.input_pipeline_id``).
      count: number of pipelines (``InputContext.num_input_pipelines``).
      global_batch_size: users per training step over all replicas.
      by: ``users`` or ``files``.
    """

    index: int
    count: int
    global_batch_size: int
    by: str = "users"

    def __post_init__(self) -> None:
        if self.by not in SHARD_BY:
            raise DataError(f"input sharding {self.by!r} is unknown; valid: {list(SHARD_BY)}")
        if not 0 <= self.index < self.count:
            raise DataError(f"input pipeline {self.index} out of range for {self.count} "
                            "pipelines")
        if self.global_batch_size % self.count:
            raise DataError(f"global batch size {self.global_batch_size} is not divisible by "
                            f"the {self.count} input pipelines")


def _split_fn(protocol: str, split: str, keys: tuple[str, ...]):  # noqa: ANN202
    """The batch -> batch function that applies ``protocol``/``split``."""

    def apply(parsed: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        batch = SessionBatch({k: parsed[k] for k in keys}, {"user_id": parsed["user_id"]})
        n_sessions = batch.num_sessions
        user_mask = None
        target = None
        if split == "full":
            keep = tf.fill(tf.shape(n_sessions), tf.int64.max)
        elif protocol == "loso":
            cut = n_sessions - (1 if split == "test" else 2)
            keep = batch.session_start(cut)
            if split != "train":
                target = batch.session_positives(cut)
        elif protocol == "loio":
            keep = parsed["loio_test_cut" if split == "test" else "loio_valid_cut"]
            user_mask = keep >= 0
            if split != "train":
                target = batch.interaction_at(keep)
        else:  # temporal
            tc = parsed["temporal_cut"]
            cut = tc if split == "test" else tc - 1
            if split == "test":
                user_mask = tf.logical_and(tc >= 1, tc < n_sessions)
            else:
                user_mask = tc >= 2
            keep = batch.session_start(cut)
            if split != "train":
                target = batch.session_positives(cut)
        out = batch.take_prefix(keep)
        if target is not None:
            out = out.with_extras(target_item_id=target)
        if user_mask is not None:
            out = out.select_users(user_mask)
        return out.to_dict()

    return apply


@functools.lru_cache(maxsize=64)
def _parse_fn(feature_names: tuple[str, ...], protocol: str, split: str
              ) -> tf.types.experimental.GenericFunction:
    """Serialized records ``[n]`` -> the split's batch, traced once per process.

    ``tf.data`` traces a map function every time a pipeline is built (every epoch of training
    builds one, for its shuffle order): with the parsing and the split's cut inside one
    ``tf.function`` of fixed signature, that trace is a single call op (~1.5 s less per epoch
    on KuaiRand, one thread) instead of re-tracing the ragged ops.
    """
    spec = parse_spec(feature_names)
    apply_split = _split_fn(protocol, split, interaction_keys(feature_names))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def parse(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        return apply_split(tf.io.parse_example(serialized, spec))

    return parse


def read_dataset(
    data: str | Path | PreparedDataset,
    split: str = "train",
    protocol: str = "loso",
    batch_size: int = 64,
    *,
    shuffle: bool | None = None,
    seed: int = 0,
    epoch: int | None = None,
    deterministic: bool = False,
    repeat: bool = False,
    drop_remainder: bool = False,
    shuffle_buffer: int = 10_000,
    num_parallel_reads: int | None = None,
    prefetch: bool = True,
    shard: InputShard | None = None,
) -> tf.data.Dataset:
    """Batches of ragged user histories for one split of a prepared dataset.

    Args:
      data: a prepared dataset directory (``tfrecords/NAME``) or a :class:`PreparedDataset`.
      split: ``train`` (input = validation input, no targets), ``valid``, ``test`` (with
        ``target_item_id``) or ``full`` (whole histories, no targets).
      protocol: ``loso``, ``loio`` or ``temporal`` (see :mod:`sessionrec_tf.data.splits`).
      batch_size: users per batch (the last batch may be smaller unless ``drop_remainder``;
        temporal/loio batches may be smaller where users have no target in the split).
      shuffle: shuffle users (default: only for ``train``).
      seed: shuffle seed.
      epoch: if given, the shuffle order is a pure function of ``(seed, epoch)`` (used for
        exactly reproducible, resumable training); otherwise it changes every iteration.
      deterministic: read files in order and keep element order (tests, evaluation).
      repeat: repeat forever.
      drop_remainder: drop the last partial batch.
      shuffle_buffer: users held in the shuffle buffer.
      num_parallel_reads: files read in parallel (default AUTOTUNE; 1 if deterministic).
      prefetch: prefetch batches.
      shard: read only this input pipeline's share (:class:`InputShard`; tf.distribute).
    """
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}; valid protocols: {list(PROTOCOLS)}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits: {list(SPLITS)}")
    if batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    ds_info = PreparedDataset.load(data)
    if shuffle is None:
        shuffle = split == "train"
    files = ds_info.files
    if shuffle:
        file_seed = seed if epoch is None else seed * 1_000_003 + epoch
        files_ds = tf.data.Dataset.from_tensor_slices(files).shuffle(
            len(files), seed=file_seed, reshuffle_each_iteration=epoch is None)
    else:
        files_ds = tf.data.Dataset.from_tensor_slices(files)
    if shard is not None and shard.by == "files":
        if len(files) < shard.count:
            raise DataError(f"{ds_info.path}: {len(files)} shard file(s) cannot be split over "
                            f"{shard.count} input pipelines; shard by users, or prepare the "
                            "dataset with more shards")
        files_ds = files_ds.shard(shard.count, shard.index)
    if deterministic:
        num_parallel_reads = 1
    ds = tf.data.TFRecordDataset(
        files_ds, num_parallel_reads=num_parallel_reads or tf.data.AUTOTUNE)
    if shuffle:
        record_seed = seed if epoch is None else seed * 1_000_003 + epoch
        ds = ds.shuffle(shuffle_buffer, seed=record_seed,
                        reshuffle_each_iteration=epoch is None)
    if repeat:
        ds = ds.repeat()
    if shard is not None and shard.by == "users":
        g, n, i = shard.global_batch_size, shard.count, shard.index
        ds = ds.enumerate().filter(lambda pos, _: (pos % g) * n // g == i).map(
            lambda _, record: record)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(_parse_fn(tuple(ds_info.feature_names), protocol, split),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True if (deterministic or epoch is not None) else not shuffle
    ds = ds.with_options(options)
    return ds


def train_item_counts(data: PreparedDataset, protocol: str = "loso") -> np.ndarray:
    """``[num_items]`` positives per item in the training split (no validation/test data)."""
    counts = np.zeros(data.num_items, dtype=np.int64)
    for batch in read_dataset(data, "train", protocol, batch_size=512, shuffle=False):
        items = batch["item_id"].flat_values.numpy()
        pos = batch["label"].flat_values.numpy() == 1
        counts += np.bincount(items[pos], minlength=data.num_items)
    return counts
