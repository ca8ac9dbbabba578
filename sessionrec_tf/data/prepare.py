"""Raw log -> prepared dataset: the whole data path of ``sessionrec prepare``.

load (source -> contract) -> de-duplicate -> sort -> sessionize -> filters to a fixed point
(+ history cap) -> vocabularies -> encode -> item feature table -> split cut points ->
TFRecord shards, written into a temporary directory that is renamed into place only when
everything is written, so a half-written output never looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessionrec_tf.data import splits as splits_mod
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
from sessionrec_tf.data.sources import LoadedLog, load_source
from sessionrec_tf.data.tfrecord import shard_names, write_shards
from sessionrec_tf.data.vocab import NUM_RESERVED, Vocabulary

TARGET_INTERACTIONS_PER_SHARD = 1_000_000


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


def _input_signature(path: str | None) -> dict[str, Any]:
    if not path:
        return {"path": None}
    p = Path(path)
    if not p.exists():
        raise DataError(f"input {path} does not exist")
    st = p.stat()
    return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


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
        {"source": source, "input": _input_signature(path),
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


def _encode(df: pd.DataFrame, features: tuple[str, ...]) -> tuple[pd.DataFrame,
                                                                    dict[str, Vocabulary]]:
    vocabs = {"item_id": Vocabulary.build("item_id", df["item_id"])}
    for f in features:
        vocabs[f] = Vocabulary.build(f, df[f])
    enc = pd.DataFrame({
        "user_id": pd.factorize(df["user_id"], sort=False)[0].astype(np.int64),
        "session": df["session"].to_numpy(),
        "item_id": vocabs["item_id"].lookup(df["item_id"].to_numpy()),
        "label": df["label"].to_numpy().astype(np.int64),
        "timestamp": np.floor(df["timestamp"].to_numpy()).astype(np.int64),
    })
    for f in features:
        enc[f] = vocabs[f].lookup(df[f].to_numpy())
    return enc, vocabs


def _item_feature_table(enc: pd.DataFrame, item_features: tuple[str, ...], num_items: int,
                        report: DataReport) -> dict[str, np.ndarray]:
    """Per item index, its (most frequent) value of each static item feature."""
    table: dict[str, np.ndarray] = {}
    conflicts: dict[str, int] = {}
    for f in item_features:
        pairs = enc.groupby(["item_id", f], sort=False).size().reset_index(name="n")
        pairs = pairs.sort_values(["item_id", "n", f], ascending=[True, False, True])
        per_item = pairs.groupby("item_id", sort=False)
        conflicts[f] = int((per_item.size() > 1).sum())
        best = pairs.drop_duplicates("item_id", keep="first")
        col = np.zeros(num_items, dtype=np.int64)
        col[best["item_id"].to_numpy()] = best[f].to_numpy()
        table[f] = col
    report.notes["item_feature_conflicts"] = conflicts
    return table


def prepare_dataset(
    source: str,
    input_path: str | None,
    output: str | Path,
    source_options: Mapping[str, Any] | None = None,
    options: PrepareOptions | None = None,
    name: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
) -> PreparedDataset:
    """Prepare ``input_path`` (read by ``source``) into ``output``; see the module docstring.

    Returns the prepared dataset. If ``output`` already holds the dataset of this exact
    request it is returned as is; if it holds anything else, DataError (unless overwrite).
    """
    options = options or PrepareOptions()
    options.check()
    source_options = dict(source_options or {})
    output = Path(output)
    say = log or (lambda _msg: None)
    fingerprint = request_fingerprint(source, input_path, source_options, options)
    if _check_output(output, fingerprint, options.overwrite):
        say(f"{output} already holds this dataset (request {fingerprint}); nothing to do")
        return PreparedDataset.load(output)
    check_writable(output)
    loaded = load_source(source, input_path, source_options, progress=progress)
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
    enc, vocabs = _encode(df, features)
    split_time = options.temporal_split_time
    if split_time is None:
        split_time = splits_mod.default_split_time(df, options.temporal_quantile)
    cuts = splits_mod.user_cut_points(enc, split_time)
    split_summary = splits_mod.summarize(enc, cuts, split_time)
    item_table = _item_feature_table(enc, item_features, vocabs["item_id"].size, report)
    del df

    num_shards = options.num_shards or max(2, -(-len(enc) // TARGET_INTERACTIONS_PER_SHARD))
    num_shards = min(num_shards, len(cuts))
    parent = output.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{output.name}.tmp-{os.getpid()}-{int(time.time())}"
    try:
        tmp.mkdir()
        write_shards(enc, cuts, user_ids, features, tmp, num_shards, progress=progress)
        vocab_files = [v.save(tmp / "vocab") for v in vocabs.values()]
        if item_table:
            np.savez(tmp / "item_features.npz", **item_table)
        (tmp / "splits.json").write_text(json.dumps(split_summary, indent=2) + "\n")
        report.notes["seconds"] = round(time.time() - t0, 2)
        report.save(tmp / "data_report.json")
        counts = report.steps[-1]
        metadata = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": name or output.name,
            "source": source,
            "input": input_path,
            "description": loaded.description,
            "source_options": {k: str(v) for k, v in source_options.items()},
            "prepare_options": options.to_dict(),
            "request_fingerprint": fingerprint,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "features": [f.to_dict() for f in loaded.mapping.features],
            "vocab": {k: {"size": v.size, "dtype": v.dtype, "file": f"vocab/{k}.tsv"}
                      for k, v in vocabs.items()},
            "num_reserved_indices": NUM_RESERVED,
            "vocab_fingerprint": fingerprint_files(vocab_files),
            "shards": shard_names(num_shards),
            "temporal_split_time": split_time,
            "counts": {k: counts[k] for k in ("users", "items", "rows", "sessions",
                                              "positives", "negatives", "avg_session_length")},
        }
        (tmp / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
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
    say(report.table())
    say(f"prepared {output} in {time.time() - t0:.1f}s")
    return PreparedDataset.load(output)
