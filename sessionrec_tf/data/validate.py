"""Check a prepared dataset against its own metadata: ``sessionrec validate tfrecords/NAME``.

Every check names the file it is about and says what is wrong:

- ``dataset.json`` loads and lists shard files that exist (:meth:`PreparedDataset.load`);
- every shard's records pass TFRecord's CRC checks (a truncated or bit-flipped shard is named
  with the record where reading failed) and parse with the dataset's feature spec;
- the users and interactions in the shards match ``counts`` in ``dataset.json``; every item
  index is inside the item vocabulary; session lengths add up to the interactions;
- each vocabulary file exists, has as many tokens as ``dataset.json`` says, and together they
  hash to the recorded ``vocab_fingerprint``;
- ``item_features.npz`` holds one row per item for every static item feature;
- ``splits.json`` and ``data_report.json`` are valid JSON, and no split has more users than
  the dataset.

    report = validate_dataset("tfrecords/kuairand_30m")
    report.ok, report.problems   # [] when the dataset is intact
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sessionrec_tf.data.dataset import PreparedDataset, fingerprint_files
from sessionrec_tf.data.tfrecord import parse_spec
from sessionrec_tf.data.vocab import NUM_RESERVED

PARSE_BATCH = 256


@dataclass
class ValidationReport:
    """What :func:`validate_dataset` found: ``problems`` (one line each) and counts."""

    path: Path
    problems: list[str] = field(default_factory=list)
    users: int = 0
    rows: int = 0
    shards: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ShardDamage:
    """A shard that cannot be read: ``file``, the record where reading failed, the error."""

    file: str
    record: int
    message: str


def first_error_line(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err)
    text = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    # TensorFlow wraps op errors: "{{function_node ...}} what [Op:IteratorGetNext] name: "
    return text.split("}} ", 1)[-1].split(" [Op:", 1)[0].strip()


def _failing_record(file: str) -> int:
    """Index of the first record of ``file`` that cannot be read (record by record)."""
    import tensorflow as tf

    n = 0
    try:
        for _ in tf.data.TFRecordDataset(file):
            n += 1
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError):
        pass
    return n


def scan_shard(file: str, spec: dict[str, object] | None = None
               ) -> tuple[int, int, int, ShardDamage | None]:
    """Read one shard whole: ``(users, rows, max item index, damage or None)``; with ``spec``
    the records are also parsed."""
    import tensorflow as tf

    users = rows = 0
    max_item = -1
    records = tf.data.TFRecordDataset(file).batch(PARSE_BATCH)
    try:
        for serialized in records:
            if spec is not None:
                batch = tf.io.parse_example(serialized, spec)
                lengths = batch["session_lengths"].flat_values.numpy()
                items = batch["item_id"].flat_values.numpy()
                rows += int(items.size)
                if int(lengths.sum()) != items.size:
                    return users, rows, max_item, ShardDamage(
                        file, users, "session lengths do not add up to the interactions")
                if items.size:
                    max_item = max(max_item, int(items.max()))
            users += int(serialized.shape[0])
    except tf.errors.DataLossError as err:
        damage = ShardDamage(file, _failing_record(file), first_error_line(err))
        return users, rows, max_item, damage
    except tf.errors.InvalidArgumentError as err:  # records readable but not our examples
        return users, rows, max_item, ShardDamage(file, users, first_error_line(err))
    return users, rows, max_item, None


def damaged_shards(data: PreparedDataset,
                   progress: Callable[[str], None] | None = None) -> list[ShardDamage]:
    """The shards of ``data`` that fail TFRecord's checks (no parsing: fast)."""
    out = []
    for file in data.files:
        if progress is not None:
            progress(file)
        damage = scan_shard(file)[3]
        if damage is not None:
            out.append(damage)
    return out


def _check_vocabularies(data: PreparedDataset, report: ValidationReport) -> None:
    files = []
    for name, info in data.metadata["vocab"].items():
        path = data.path / info.get("file", f"vocab/{name}.tsv")
        files.append(path)
        if not path.exists():
            report.problems.append(f"{path}: vocabulary file is missing")
            continue
        with path.open("rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        size = lines - 1  # header line; the reserved rows are listed in the file
        if size != int(info["size"]):
            report.problems.append(
                f"{path}: {size} entries but dataset.json says vocabulary {name!r} has "
                f"{info['size']} (reserved indices included)")
    if all(f.exists() for f in files) and fingerprint_files(files) != data.vocab_fingerprint:
        report.problems.append(
            f"{data.path / 'vocab'}: the vocabulary files do not match dataset.json's "
            f"vocab_fingerprint {data.vocab_fingerprint} (edited or replaced after prepare)")


def _check_json(data: PreparedDataset, report: ValidationReport) -> None:
    for name in ("splits.json", "data_report.json"):
        path = data.path / name
        if not path.exists():
            report.problems.append(f"{path}: file is missing")
            continue
        try:
            content = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            report.problems.append(f"{path}: not valid JSON ({err})")
            continue
        if name == "splits.json":
            users = int(data.counts.get("users", 0))
            for protocol, splits in content.items():
                for split, info in splits.items():
                    n = info.get("users", 0) if isinstance(info, dict) else 0
                    if n > users:
                        report.problems.append(
                            f"{path}: {protocol}/{split} has {n} users, more than the "
                            f"dataset's {users}")


def _check_item_features(data: PreparedDataset, report: ValidationReport) -> None:
    names = data.item_feature_names
    if not names:
        return
    path = data.path / "item_features.npz"
    if not path.exists():
        report.problems.append(f"{path}: file is missing (item features {list(names)})")
        return
    try:
        with np.load(path) as npz:
            for name in names:
                if name not in npz:
                    report.problems.append(f"{path}: no array for item feature {name!r}")
                elif len(npz[name]) != data.num_items:
                    report.problems.append(
                        f"{path}: item feature {name!r} has {len(npz[name])} rows, the item "
                        f"vocabulary {data.num_items}")
    except (OSError, ValueError) as err:
        report.problems.append(f"{path}: cannot be read ({first_error_line(err)})")


def validate_dataset(path: str | Path,
                     progress: Callable[[str], None] | None = None) -> ValidationReport:
    """Every check of the module docstring; raises DataError only if ``path`` is not a
    dataset at all (no readable ``dataset.json``, shards missing)."""
    data = PreparedDataset.load(path)
    report = ValidationReport(data.path)
    _check_json(data, report)
    _check_vocabularies(data, report)
    _check_item_features(data, report)
    spec = parse_spec(data.feature_names)
    max_item = -1
    damaged = False
    for file in data.files:
        if progress is not None:
            progress(file)
        users, rows, top, damage = scan_shard(file, spec)
        report.users += users
        report.rows += rows
        report.shards += 1
        max_item = max(max_item, top)
        if damage is not None:
            damaged = True
            report.problems.append(f"{damage.file}: unreadable at record {damage.record} "
                                   f"({damage.message})")
    counts = data.counts
    if not damaged:  # counts of a partly read shard say nothing more
        for key, got in (("users", report.users), ("rows", report.rows)):
            if key in counts and int(counts[key]) != got:
                report.problems.append(
                    f"{data.path}: the shards hold {got} {'interactions' if key == 'rows' else key}"
                    f" but dataset.json counts {counts[key]}")
    if max_item >= data.num_items:
        report.problems.append(
            f"{data.path}: item index {max_item} in the shards is outside the item vocabulary "
            f"({data.num_items} entries, {NUM_RESERVED} reserved)")
    return report
