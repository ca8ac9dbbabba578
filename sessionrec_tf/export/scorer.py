"""Batch scoring: stream every user of a split through an exported SavedModel into Parquet.

    reader batches [B, S, I] --RequestEncoder--> request (raw ids) --SavedModel--> top-K
        --> rows (user_id, rank, item_id, score) --> part-NNNNN.parquet per chunk of users

Users go through the same ``serving_default`` signature an online client calls. Memory is
bounded by one chunk of users (``chunk_users``) whatever the number of users. The output
directory and resume rules are described in :mod:`sessionrec_tf.export.manifest`: a killed
run started again with the same command continues after the last completed part.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf
from tqdm.auto import tqdm

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.reader import read_dataset
from sessionrec_tf.data.session_batch import SessionBatch
from sessionrec_tf.data.splits import PROTOCOLS, SPLITS
from sessionrec_tf.data.tfrecord import interaction_keys
from sessionrec_tf.export.encode import RequestEncoder
from sessionrec_tf.export.loaded import ExportedModel
from sessionrec_tf.export.manifest import Part, ScoreManifest
from sessionrec_tf.export.query_module import TOP_K_IDS, TOP_K_SCORES


@dataclass(frozen=True)
class ScoreOptions:
    """Attributes:
      k: recommendations per user (at most the export's k; None = the export's k).
      split: ``test`` (default), ``valid``, ``train`` or ``full`` (whole histories).
      protocol: the split protocol (``loso``, ``loio``, ``temporal``).
      batch_size: users per request.
      chunk_users: users per Parquet part (the memory bound and the resume granularity).
      scann: use the export's ScaNN model instead of exact top-K.
    """

    k: int | None = None
    split: str = "test"
    protocol: str = "loso"
    batch_size: int = 256
    chunk_users: int = 50_000
    scann: bool = False

    def check(self) -> None:
        problems = []
        if self.split not in SPLITS:
            problems.append(f"split must be one of {list(SPLITS)}, got {self.split!r}")
        if self.protocol not in PROTOCOLS:
            problems.append(f"protocol must be one of {list(PROTOCOLS)}, "
                            f"got {self.protocol!r}")
        for name in ("k", "batch_size", "chunk_users"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                problems.append(f"--{name.replace('_', '-')} must be >= 1")
        if problems:
            raise DataError("; ".join(problems))


def batch_request(batch: dict[str, Any], encoder: RequestEncoder,
                  feature_names: Sequence[str]) -> tuple[np.ndarray, dict[str, Any] | None]:
    """A reader batch -> ``(user ids [n] str, serving request)`` for its users with a history
    (users with an empty history are left out; the request is ``None`` if none is left)."""
    has = batch["item_id"].row_lengths() > 0
    if not bool(tf.reduce_all(has)):
        batch = SessionBatch.from_dict(batch, interaction_keys(tuple(feature_names))
                                       ).select_users(has).to_dict()
    users = np.char.decode(batch["user_id"].numpy().astype(bytes), "utf-8")
    return users, (encoder.encode(batch) if len(users) else None)


def rows_table(users: np.ndarray, outputs: Mapping[str, np.ndarray], k: int
               ) -> tuple[pa.Table, int]:
    """``(user_id, rank, item_id, score)`` rows of the top ``k`` of each user, and how many
    users have fewer than ``k`` rows.

    Only filled slots are written: a user with fewer than k eligible items gets fewer rows
    (unfilled slots have score -inf and the padding token; counted as short users).
    """
    ids = outputs[TOP_K_IDS][:, :k]
    scores = outputs[TOP_K_SCORES][:, :k].astype(np.float32)
    if ids.dtype == object:
        ids = np.char.decode(ids.astype(bytes), "utf-8")
    filled = np.isfinite(scores)
    short = int(np.sum(~filled.all(axis=1)))
    ranks = np.broadcast_to(np.arange(1, k + 1, dtype=np.int32), scores.shape)
    return pa.table({
        "user_id": pa.array(np.broadcast_to(users[:, None], scores.shape)[filled]),
        "rank": pa.array(ranks[filled]),
        "item_id": pa.array(ids[filled]),
        "score": pa.array(scores[filled]),
    }), short


def rows_schema(item_dtype: str) -> pa.Schema:
    """The Parquet schema of the scorer's rows (item ids as the export returns them)."""
    return pa.schema([("user_id", pa.string()), ("rank", pa.int32()),
                      ("item_id", pa.string() if item_dtype == "string" else pa.int64()),
                      ("score", pa.float32())])


def score_settings(model_dir: Path, metadata: Mapping[str, Any], dataset: PreparedDataset,
                   options: ScoreOptions) -> dict[str, Any]:
    """What identifies a scoring output (a resumed or repeated run must share it)."""
    return {"model": str(Path(model_dir).resolve()), "export_created": metadata["created"],
            "data": str(dataset.path.resolve()),
            "vocab_fingerprint": dataset.vocab_fingerprint, **asdict(options)}


def check_compatible(model_dir: Path, metadata: Mapping[str, Any], options: ScoreOptions,
                     dataset: PreparedDataset) -> None:
    """Refuse an export that cannot score ``options`` on ``dataset`` (from its metadata)."""
    if options.scann and not metadata.get("scann_model"):
        raise DataError(f"{model_dir} was exported without a ScaNN model (export it with the "
                        "scann index, or both)")
    if not (options.scann or metadata.get("exact_top_k")):
        raise DataError(f"{model_dir} has no exact top-K (exported with the scann "
                        "index only): score with its ScaNN model (scann=True), or export "
                        "with the exact index (exact or both)")
    if options.k is not None and options.k > int(metadata["k"]):
        raise DataError(f"k={options.k} is more than the export's k ({metadata['k']}); "
                        f"export again with k={options.k}")
    want = metadata["dataset"]["vocab_fingerprint"]
    if want != dataset.vocab_fingerprint:
        raise DataError(f"{dataset.path} has other vocabularies than the dataset "
                        f"{model_dir} was exported from ({metadata['dataset']['path']}; "
                        f"fingerprint {dataset.vocab_fingerprint} vs {want})")


class _Chunk:
    """Rows of the users scored since the last part was written."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []
        self.batches = 0
        self.users = 0
        self.skipped = 0
        self.short = 0

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.tables)


class BatchScorer:
    """Scores a split of a prepared dataset with an export.

    Args:
      model_dir: an export version directory (``export/sessionrec/<N>``).
      data: the prepared dataset (same vocabularies as the export).
      options: what to score.
      progress: show a progress bar.
      on_part: called with the manifest after each part is committed (for monitoring).
    """

    def __init__(self, model_dir: str | Path, data: str | Path | PreparedDataset,
                 options: ScoreOptions | None = None, progress: bool = True,
                 on_part: Callable[[ScoreManifest], None] | None = None) -> None:
        self.options = options or ScoreOptions()
        self.options.check()
        self.model_dir = Path(model_dir)
        self.model = ExportedModel(self.model_dir, scann=self.options.scann)
        if self.options.k is None:
            self.options = replace(self.options, k=self.model.k)
        self.dataset = PreparedDataset.load(data)
        self.progress = progress
        self.on_part = on_part
        self._check_compatible()
        self.encoder = RequestEncoder(self.dataset, self.model.spec)

    def _check_compatible(self) -> None:
        check_compatible(self.model_dir, self.model.metadata, self.options, self.dataset)

    def settings(self) -> dict[str, Any]:
        """What a resumed run must share with the interrupted one."""
        return score_settings(self.model_dir, self.model.metadata, self.dataset, self.options)

    def _total_users(self) -> int | None:
        if self.options.split == "full":
            return int(self.dataset.counts["users"])
        info = self.dataset.splits.get(self.options.protocol, {}).get(self.options.split, {})
        return info.get("users")

    def _score_batch(self, batch: dict[str, Any], chunk: _Chunk) -> int:
        """Append the batch's rows to ``chunk``; returns the users it held."""
        chunk.batches += 1
        n = int(batch["user_id"].shape[0])
        users, request = batch_request(batch, self.encoder, self.dataset.feature_names)
        chunk.skipped += n - len(users)
        if request is None:
            return n
        table, short = rows_table(users, self.model.predict(request), self.options.k)
        chunk.tables.append(table)
        chunk.short += short
        chunk.users += len(users)
        return n

    def _commit(self, output: Path, manifest: ScoreManifest, chunk: _Chunk) -> None:
        name = manifest.next_part_name()
        tmp = output / f".{name}.tmp"
        if chunk.tables:
            pq.write_table(pa.concat_tables(chunk.tables), tmp)
        else:
            pq.write_table(self._empty_table(), tmp)
        tmp.replace(output / name)
        manifest.parts.append(Part(name, chunk.batches, chunk.users, chunk.rows,
                                   chunk.skipped, chunk.short))
        manifest.save(output)
        if self.on_part is not None:
            self.on_part(manifest)

    def _empty_table(self) -> pa.Table:
        return rows_schema(self.model.spec.item_dtype).empty_table()

    def run(self, output: str | Path, log: Callable[[str], None] | None = None
            ) -> ScoreManifest:
        """Score into ``output`` (a directory), resuming a previous run of the same settings."""
        say = log or (lambda _m: None)
        output = Path(output)
        created = not output.exists()
        manifest = ScoreManifest.open(output, self.settings())
        try:
            return self._run(output, manifest, say)
        except BaseException:
            if created and not manifest.parts:  # failed before its first part: leave nothing
                shutil.rmtree(output, ignore_errors=True)
            raise

    def _run(self, output: Path, manifest: ScoreManifest, say: Callable[[str], None]
             ) -> ScoreManifest:
        if manifest.complete:
            say(f"{output} is already complete ({manifest.users_done:,} users, "
                f"{manifest.rows_done:,} rows)")
            return manifest
        if manifest.parts:
            say(f"resuming {output} after {len(manifest.parts)} parts "
                f"({manifest.users_done:,} users)")
        opts = self.options
        batches = read_dataset(self.dataset, opts.split, opts.protocol, opts.batch_size,
                               shuffle=False, deterministic=True).skip(manifest.batches_done)
        bar = tqdm(total=self._total_users(), initial=manifest.users_done
                   + manifest.skipped_users, unit="user", desc="score",
                   disable=not self.progress)
        chunk = _Chunk()
        for batch in batches:
            bar.update(self._score_batch(batch, chunk))
            if chunk.users + chunk.skipped >= opts.chunk_users:
                self._commit(output, manifest, chunk)
                chunk = _Chunk()
        if chunk.batches or not manifest.parts:  # an empty split still gets one (empty) part
            self._commit(output, manifest, chunk)
        bar.close()
        manifest.complete = True
        manifest.save(output)
        say(f"wrote {manifest.rows_done:,} rows for {manifest.users_done:,} users to {output} "
            f"({len(manifest.parts)} parts; {manifest.skipped_users} users without history)")
        if manifest.short_users:
            say(f"{manifest.short_users:,} users have fewer than {opts.k} rows: fewer items "
                "than k are left once their seen items are excluded")
        return manifest
