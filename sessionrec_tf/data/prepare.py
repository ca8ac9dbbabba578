"""Raw log -> prepared dataset: the whole data path of ``sessionrec prepare``.

load (source -> contract; a glob of files is read file by file) -> de-duplicate -> sort ->
sessionize -> filters to a fixed point (+ history cap) -> vocabularies -> encode -> item
feature table -> split cut points -> TFRecord shards, written into a temporary directory that
is renamed into place only when everything is written, so a half-written output never looks
complete. The same steps run as an Apache Beam pipeline with ``runner="beam"``
(:mod:`sessionrec_tf.data.beam_prepare`, which reuses this module's pieces).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessionrec_tf.data import splits as splits_mod
from sessionrec_tf.data.contract import FeatureSpec
from sessionrec_tf.data.dataset import (
    FORMAT,
    FORMAT_VERSION,
    METADATA,
    PreparedDataset,
    fingerprint_files,
)
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.filters import FilterOptions, apply_filters
from sessionrec_tf.data.report import DataReport
from sessionrec_tf.data.sessions import DEFAULT_GAP_SECONDS, sessionize
from sessionrec_tf.data.sources import LoadedLog
from sessionrec_tf.data.sources.inputs import input_signature, load_files
from sessionrec_tf.data.tfrecord import shard_names, write_shards
from sessionrec_tf.data.vocab import NUM_RESERVED, Vocabulary

TARGET_INTERACTIONS_PER_SHARD = 1_000_000
RUNNERS = ("local", "beam")


@dataclass(frozen=True)
class PrepareOptions:
    """Everything ``prepare`` does besides reading the source.

    Args:
      session_gap_seconds: inactivity gap that starts a new session (logs without session ids).
      filters: the paper's filters and the history cap (:class:`FilterOptions`).
      temporal_split_time: T of the temporal split (Unix seconds); default from the quantile.
      temporal_quantile: quantile of session start times used as T by default.
      num_shards: TFRecord files; default about one per million interactions (at least 2).
      overwrite: replace an output directory that holds a different dataset.
    """

    session_gap_seconds: float = DEFAULT_GAP_SECONDS
    filters: FilterOptions = field(default_factory=FilterOptions)
    temporal_split_time: float | None = None
    temporal_quantile: float = 0.9
    num_shards: int | None = None
    overwrite: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("overwrite")
        return d

    def check(self) -> None:
        """Refuse out-of-range options (DataError naming the option)."""
        if not 0.0 < self.temporal_quantile < 1.0:
            raise DataError(f"temporal_quantile must be between 0 and 1 (exclusive), got "
                            f"{self.temporal_quantile}")
        if self.session_gap_seconds <= 0:
            raise DataError(f"session gap must be positive, got {self.session_gap_seconds}s")
        if self.num_shards is not None and self.num_shards < 1:
            raise DataError(f"num_shards must be >= 1, got {self.num_shards}")


def _option_signature(value: Any) -> str:
    """A source option as it affects the output: an option naming a file (a column map) is
    identified by the file's content, so editing the file in place changes the request."""
    text = str(value)
    try:
        path = Path(text)
        if path.is_file() and path.stat().st_size <= 16 * 2**20:
            return f"{text} sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    except OSError:
        pass
    return text


def request_fingerprint(source: str, path: str | None, source_options: Mapping[str, Any],
                        options: PrepareOptions) -> str:
    """Identity of a preparation request: same source, input file, options -> same dataset."""
    blob = json.dumps(
        {"source": source, "input": input_signature(path),
         "source_options": {k: _option_signature(v) for k, v in sorted(source_options.items())},
         "options": options.to_dict(), "format_version": FORMAT_VERSION},
        sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_writable(output: Path, flag: str = "--output") -> None:
    """Fail fast (before any work) when ``output`` cannot be created: probe its nearest
    existing ancestor with a temporary directory, removed at once."""
    ancestor = output.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DataError(f"{flag} {output}: {ancestor} is not a directory")
    try:
        probe = Path(tempfile.mkdtemp(prefix=f".{output.name}.probe-", dir=ancestor))
        probe.rmdir()
    except OSError as err:
        raise DataError(f"{flag} {output}: cannot write in {ancestor} "
                        f"({err.strerror or err})") from None


def _check_output(output: Path, fingerprint: str, overwrite: bool) -> bool:
    """True if ``output`` already holds exactly this request's dataset (nothing to do)."""
    if not output.exists():
        return False
    if not output.is_dir():
        raise DataError(f"output {output} exists and is not a directory")
    meta = output / METADATA
    if meta.exists():
        try:
            existing = json.loads(meta.read_text()).get("request_fingerprint")
        except json.JSONDecodeError:
            existing = None
        if existing == fingerprint and not overwrite:
            return True
        if not overwrite:
            raise DataError(
                f"output {output} already holds a different dataset (prepared from another "
                "source, input or options). Choose another output directory or replace it "
                "(overwrite)."
            )
    elif any(output.iterdir()) and not overwrite:
        raise DataError(
            f"output {output} is a non-empty directory that is not a prepared dataset; "
            "refusing to write into it (choose another output directory or replace it: "
            "overwrite)"
        )
    return False


def build_vocabs(df: pd.DataFrame, features: tuple[str, ...]) -> dict[str, Vocabulary]:
    """Vocabularies of ``item_id`` and each side feature of a filtered frame."""
    return {name: Vocabulary.build(name, df[name]) for name in ("item_id", *features)}


def encode(df: pd.DataFrame, vocabs: Mapping[str, Vocabulary],
           features: tuple[str, ...]) -> pd.DataFrame:
    """The int64 frame the records are written from (vocabulary indices, floored seconds)."""
    enc = pd.DataFrame({
        "user_id": pd.factorize(df["user_id"], sort=False)[0].astype(np.int64),
        "session": df["session"].to_numpy(),
        "item_id": vocabs["item_id"].lookup(df["item_id"].to_numpy()),
        "label": df["label"].to_numpy().astype(np.int64),
        "timestamp": np.floor(df["timestamp"].to_numpy()).astype(np.int64),
    })
    for f in features:
        enc[f] = vocabs[f].lookup(df[f].to_numpy())
    return enc


def item_feature_pairs(enc: pd.DataFrame, feature: str) -> pd.DataFrame:
    """Interactions per (item index, feature index) pair: columns item_id, value, n."""
    pairs = enc.groupby(["item_id", feature], sort=False).size().reset_index(name="n")
    return pairs.rename(columns={feature: "value"})


def item_feature_table(pairs: Mapping[str, pd.DataFrame], num_items: int,
                       report: DataReport) -> dict[str, np.ndarray]:
    """Per item index, its most frequent value of each static item feature (ties: the lower
    index); ``pairs``: :func:`item_feature_pairs` per feature (summed over workers)."""
    table: dict[str, np.ndarray] = {}
    conflicts: dict[str, int] = {}
    for f, counts in pairs.items():
        counts = counts.sort_values(["item_id", "n", "value"], ascending=[True, False, True])
        conflicts[f] = int((counts.groupby("item_id", sort=False).size() > 1).sum())
        best = counts.drop_duplicates("item_id", keep="first")
        col = np.zeros(num_items, dtype=np.int64)
        col[best["item_id"].to_numpy()] = best["value"].to_numpy()
        table[f] = col
    report.notes["item_feature_conflicts"] = conflicts
    return table


def default_num_shards(options: PrepareOptions, rows: int, users: int) -> int:
    """``options.num_shards``, else about one per million interactions (at least 2); never
    more than the users."""
    num_shards = options.num_shards or max(2, -(-rows // TARGET_INTERACTIONS_PER_SHARD))
    return max(1, min(num_shards, users))


def publish(output: Path, fill: Callable[[Path], None]) -> None:
    """Run ``fill(tmp)`` on a fresh sibling directory of ``output`` and rename it into place
    only when it returns: a failed or interrupted preparation leaves no half-written output
    (and an existing output, being replaced, is kept until the new one is complete)."""
    parent = output.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{output.name}.tmp-{os.getpid()}-{int(time.time())}"
    try:
        tmp.mkdir()
        fill(tmp)
        if output.exists():
            trash = parent / f".{output.name}.old-{os.getpid()}"
            output.rename(trash)
            tmp.rename(output)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass
class PreparedParts:
    """Everything of a prepared dataset but its shards, as both preparations compute it."""

    name: str
    source: str
    input_path: str | None
    description: str
    source_options: Mapping[str, Any]
    options: PrepareOptions
    fingerprint: str
    features: tuple[FeatureSpec, ...]
    vocabs: Mapping[str, Vocabulary]
    item_table: Mapping[str, np.ndarray]
    split_time: float
    split_summary: dict[str, Any]
    num_shards: int
    report: DataReport

    def write(self, directory: Path, started: float) -> None:
        """Vocabularies, item features, splits, data report and ``dataset.json``."""
        vocab_files = [v.save(directory / "vocab") for v in self.vocabs.values()]
        if self.item_table:
            np.savez(directory / "item_features.npz", **self.item_table)
        (directory / "splits.json").write_text(json.dumps(self.split_summary, indent=2) + "\n")
        self.report.notes["seconds"] = round(time.time() - started, 2)
        self.report.save(directory / "data_report.json")
        counts = self.report.steps[-1]
        metadata = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "source": self.source,
            "input": self.input_path,
            "description": self.description,
            "source_options": {k: str(v) for k, v in self.source_options.items()},
            "prepare_options": self.options.to_dict(),
            "request_fingerprint": self.fingerprint,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "features": [f.to_dict() for f in self.features],
            "vocab": {k: {"size": v.size, "dtype": v.dtype, "file": f"vocab/{k}.tsv"}
                      for k, v in self.vocabs.items()},
            "num_reserved_indices": NUM_RESERVED,
            "vocab_fingerprint": fingerprint_files(vocab_files),
            "shards": shard_names(self.num_shards),
            "temporal_split_time": self.split_time,
            "counts": {k: counts[k] for k in ("users", "items", "rows", "sessions",
                                              "positives", "negatives", "avg_session_length")},
        }
        (directory / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")


def prepare_dataset(
    source: str,
    input_path: str | None,
    output: str | Path,
    source_options: Mapping[str, Any] | None = None,
    options: PrepareOptions | None = None,
    name: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    runner: str = "local",
    beam_options: Sequence[str] | Mapping[str, str] = (),
) -> PreparedDataset:
    """Prepare ``input_path`` (read by ``source``; a file or a glob of files) into ``output``;
    see the module docstring.

    ``runner="beam"`` runs the same preparation as an Apache Beam pipeline
    (:mod:`sessionrec_tf.data.beam_prepare`; ``beam_options``: pipeline options such as
    ``runner=DirectRunner``); its output is the same dataset.

    Returns the prepared dataset. If ``output`` already holds the dataset of this exact
    request it is returned as is; if it holds anything else, DataError (unless overwrite).
    """
    options = options or PrepareOptions()
    options.check()
    if runner not in RUNNERS:
        raise DataError(f"unknown runner {runner!r}; valid runners: {list(RUNNERS)}")
    source_options = dict(source_options or {})
    output = Path(output)
    say = log or (lambda _msg: None)
    fingerprint = request_fingerprint(source, input_path, source_options, options)
    if _check_output(output, fingerprint, options.overwrite):
        say(f"{output} already holds this dataset (request {fingerprint}); nothing to do")
        return PreparedDataset.load(output)
    check_writable(output)
    if runner == "beam":
        from sessionrec_tf.data.beam_prepare import BeamPreparation

        BeamPreparation(source, input_path, source_options, options, beam_options,
                        progress=progress, log=log).run(
            output, name=name or output.name, fingerprint=fingerprint)
        return PreparedDataset.load(output)
    loaded = load_files(source, input_path, source_options, progress=progress)
    return prepare_log(loaded, output, options, name=name, progress=progress, log=log,
                       fingerprint=fingerprint, source=source, input_path=input_path,
                       source_options=source_options)


def prepare_log(
    loaded: LoadedLog,
    output: str | Path,
    options: PrepareOptions | None = None,
    name: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    fingerprint: str | None = None,
    source: str = "frame",
    input_path: str | None = None,
    source_options: Mapping[str, Any] | None = None,
) -> PreparedDataset:
    """Prepare an already loaded log (a :class:`LoadedLog`) into ``output``."""
    options = options or PrepareOptions()
    options.check()
    source_options = dict(source_options or {})
    output = Path(output)
    say = log or (lambda _msg: None)
    if fingerprint is None:
        content = pd.util.hash_pandas_object(loaded.frame, index=False).to_numpy()
        blob = json.dumps({"options": options.to_dict(),
                           "mapping": loaded.mapping.to_dict()}, sort_keys=True, default=str)
        fingerprint = hashlib.sha256(content.tobytes() + blob.encode()).hexdigest()[:16]
        if _check_output(output, fingerprint, options.overwrite):
            say(f"{output} already holds this dataset (request {fingerprint}); nothing to do")
            return PreparedDataset.load(output)
    t0 = time.time()
    report = DataReport(source=loaded.description)
    report.notes["source_info"] = loaded.info
    df = loaded.frame
    report.step("loaded", df)
    df = sessionize(df, options.session_gap_seconds, report)
    report.step("deduplicated+sessionized", df)
    df = apply_filters(df, options.filters, report)
    report.step("filtered", df)
    features = tuple(f.name for f in loaded.mapping.features)
    item_features = tuple(f.name for f in loaded.mapping.features if f.kind == "item")
    user_ids = pd.unique(df["user_id"]).astype(str)
    vocabs = build_vocabs(df, features)
    enc = encode(df, vocabs, features)
    split_time = options.temporal_split_time
    if split_time is None:
        split_time = splits_mod.default_split_time(df, options.temporal_quantile)
    del df
    cuts = splits_mod.user_cut_points(enc, split_time)
    parts = PreparedParts(
        name=name or output.name, source=source, input_path=input_path,
        description=loaded.description, source_options=source_options, options=options,
        fingerprint=fingerprint, features=loaded.mapping.features, vocabs=vocabs,
        item_table=item_feature_table({f: item_feature_pairs(enc, f) for f in item_features},
                                      vocabs["item_id"].size, report),
        split_time=split_time, split_summary=splits_mod.summarize(enc, cuts, split_time),
        num_shards=default_num_shards(options, len(enc), len(cuts)), report=report)

    def fill(tmp: Path) -> None:
        write_shards(enc, cuts, user_ids, features, tmp, parts.num_shards, progress=progress)
        parts.write(tmp, t0)

    publish(output, fill)
    say(report.table())
    say(f"prepared {output} in {time.time() - t0:.1f}s")
    return PreparedDataset.load(output)
