"""The bad-input corpus: realistic user mistakes across the command line, one row each.

Every :class:`Case` is a ``sessionrec`` command (run in-process through ``cli.main``) that must
end with exit code ``code`` and a one-line ``sessionrec <command>: error: ...`` naming the
culprit (every string of ``expect`` appears in stderr), without a traceback, and without
writing or changing any file (checked by the test on the whole workspace).

Arguments are templates: ``{data}`` the good prepared dataset, ``{run}`` a trained run,
``{export}`` its export version directory, ``{csv}``/``{map}`` a good raw log and its column
map, ``{tmp}`` the case's own empty directory. ``setup(tmp, ws)`` may create bad files in
``tmp`` first (they are part of the snapshot, so the command must not change them either).

:data:`SERVING_CASES` are bad requests sent to the exported SavedModel's signature.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HEADER = "user_id,item_id,timestamp,label\n"
# A directory nobody can write in, root included (sysfs refuses new entries).
UNWRITABLE = "/sys/fs"
MAP = "user_id: user_id\nitem_id: item_id\ntimestamp: timestamp\nlabel: label\n"


@dataclass(frozen=True)
class Case:
    id: str
    stage: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    code: int = 2
    setup: Callable[[Path, dict[str, Path]], None] | None = None
    stdout: bool = False  # the message is a report on stdout (validate), not an error line


@dataclass(frozen=True)
class ServingCase:
    id: str
    change: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    expect: tuple[str, ...] = field(default_factory=tuple)


# ----------------------------------------------------------------------------- raw logs

def good_log(rows: int = 4) -> pd.DataFrame:
    """40 users x 4 sessions x 4 interactions, integer ids (the good raw log)."""
    rng = np.random.default_rng(0)
    out = []
    for u in range(40):
        t = 1_700_000_000
        for _ in range(4):
            t += 86_400
            for k in range(rows):
                out.append((u, int(rng.integers(100, 130)), t + 60 * k,
                            int(rng.random() < 0.6)))
    return pd.DataFrame(out, columns=["user_id", "item_id", "timestamp", "label"])


def _csv(name: str, edit: Callable[[pd.DataFrame], pd.DataFrame]
         ) -> Callable[[Path, dict[str, Path]], None]:
    def setup(tmp: Path, _ws: dict[str, Path]) -> None:
        edit(good_log()).to_csv(tmp / name, index=False)
        (tmp / "map.yaml").write_text(MAP)
    return setup


def _parquet(name: str, edit: Callable[[pd.DataFrame], pd.DataFrame]
             ) -> Callable[[Path, dict[str, Path]], None]:
    def setup(tmp: Path, _ws: dict[str, Path]) -> None:
        edit(good_log()).to_parquet(tmp / name)
        (tmp / "map.yaml").write_text(MAP)
    return setup


def _text(name: str, text: str, with_map: bool = True
          ) -> Callable[[Path, dict[str, Path]], None]:
    def setup(tmp: Path, _ws: dict[str, Path]) -> None:
        (tmp / name).write_text(text)
        if with_map:
            (tmp / "map.yaml").write_text(MAP)
    return setup


def _set(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame
    return edit


def _truncated_gz(tmp: Path, _ws: dict[str, Path]) -> None:
    raw = gzip.compress(good_log().to_csv(index=False).encode())
    (tmp / "log.csv.gz").write_bytes(raw[: len(raw) // 2])
    (tmp / "map.yaml").write_text(MAP)


def _map_edited_in_place(tmp: Path, ws: dict[str, Path]) -> None:
    """A dataset prepared with map.yaml, then map.yaml edited (label column renamed)."""
    from sessionrec_tf.cli import main

    frame = good_log()
    frame["clicked"] = frame["label"]
    frame.to_csv(tmp / "log.csv", index=False)
    (tmp / "map.yaml").write_text(MAP)
    assert main(["prepare", "--source", "csv", "--input", str(tmp / "log.csv"),
                 "--column-map", str(tmp / "map.yaml"), "--output", str(tmp / "out"),
                 "--min-item-interactions", "1", "--quiet"]) == 0
    (tmp / "map.yaml").write_text(MAP.replace("label: label", "label: clicked"))


# ----------------------------------------------------------------------------- prepared data

def _copy_data(edit: Callable[[Path], None]) -> Callable[[Path, dict[str, Path]], None]:
    def setup(tmp: Path, ws: dict[str, Path]) -> None:
        shutil.copytree(ws["data"], tmp / "data")
        edit(tmp / "data")
    return setup


def _truncate_shard(data: Path) -> None:
    shard = sorted(data.glob("users-*.tfrecord"))[0]
    raw = shard.read_bytes()
    shard.write_bytes(raw[: len(raw) - 300])


def _flip_byte(data: Path) -> None:
    shard = sorted(data.glob("users-*.tfrecord"))[-1]
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    shard.write_bytes(bytes(raw))


def _edit_meta(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(data: Path) -> None:
        meta = json.loads((data / "dataset.json").read_text())
        change(meta)
        (data / "dataset.json").write_text(json.dumps(meta))
    return edit


def _other_vocab(tmp: Path, _ws: dict[str, Path]) -> None:
    from sessionrec_tf.data import PrepareOptions, prepare_dataset

    prepare_dataset("synthetic", None, tmp / "other", {"size": "tiny", "seed": 1,
                                                        "num_items": 300},
                    PrepareOptions(), progress=False, log=None)


def _run_without_best(tmp: Path, ws: dict[str, Path]) -> None:
    shutil.copytree(ws["run"], tmp / "run")
    shutil.rmtree(tmp / "run" / "best")


def _non_scoring_dir(tmp: Path, _ws: dict[str, Path]) -> None:
    (tmp / "out").mkdir()
    (tmp / "out" / "notes.txt").write_text("mine\n")


def _file(name: str, text: str = "x\n") -> Callable[[Path, dict[str, Path]], None]:
    def setup(tmp: Path, _ws: dict[str, Path]) -> None:
        (tmp / name).write_text(text)
    return setup


PREP = ("prepare", "--source", "csv", "--column-map", "{tmp}/map.yaml", "--output",
        "{tmp}/out", "--quiet", "--input")
TRAIN = ("train", "--config", "sessionrec_hstu", "--data", "{data}", "--verbose", "0")


def _train(*extra: str, output: str = "{tmp}/run") -> tuple[str, ...]:
    return (*TRAIN, "--output", output, *extra)


CASES: list[Case] = [
    # ------------------------------------------------------------------ prepare: raw logs
    Case("prepare-input-missing", "prepare", (*PREP, "{tmp}/nope.csv"), ("nope.csv",),
         setup=_text("unused.txt", "")),
    Case("prepare-input-empty", "prepare", (*PREP, "{tmp}/log.csv"), ("log.csv", "empty"),
         setup=_text("log.csv", "")),
    Case("prepare-header-only", "prepare", (*PREP, "{tmp}/log.csv"), ("no rows",),
         setup=_text("log.csv", HEADER)),
    Case("prepare-column-missing", "prepare", (*PREP, "{tmp}/log.csv"), ("'timestamp'",),
         setup=_csv("log.csv", lambda f: f.drop(columns=["timestamp"]))),
    Case("prepare-label-text", "prepare", (*PREP, "{tmp}/log.csv"),
         ("'label'", "data row 8"), setup=_csv("log.csv", _set("label", 7, "yes"))),
    Case("prepare-label-out-of-range", "prepare", (*PREP, "{tmp}/log.csv"),
         ("'label'", "data row 3"), setup=_csv("log.csv", _set("label", 2, 7))),
    Case("prepare-id-fractional", "prepare", (*PREP, "{tmp}/log.csv"),
         ("'item_id'", "data row 6", "101.5", "fractional"),
         setup=_csv("log.csv", _set("item_id", 5, 101.5))),
    Case("prepare-id-missing", "prepare", (*PREP, "{tmp}/log.csv"),
         ("'user_id'", "data row 4", "missing"), setup=_csv("log.csv", _set("user_id", 3, None))),
    Case("prepare-id-carriage-return", "prepare", (*PREP, "{tmp}/log.parquet"),
         ("'item_id'", "data row 6", "control character"),
         setup=_parquet("log.parquet", lambda f: _set("item_id", 5, "1\r01")(
             f.astype({"item_id": str})))),
    Case("prepare-id-tab", "prepare", (*PREP, "{tmp}/log.parquet"),
         ("'user_id'", "data row 2", "control character"),
         setup=_parquet("log.parquet", lambda f: _set("user_id", 1, "u\t1")(
             f.astype({"user_id": str})))),
    Case("prepare-id-nul", "prepare", (*PREP, "{tmp}/log.parquet"),
         ("'item_id'", "data row 1", "control character"),
         setup=_parquet("log.parquet", lambda f: _set("item_id", 0, "a\x00b")(
             f.astype({"item_id": str})))),
    Case("prepare-timestamp-text", "prepare", (*PREP, "{tmp}/log.csv"),
         ("'timestamp'", "data row 10"), setup=_csv("log.csv", _set("timestamp", 9, "noon"))),
    Case("prepare-truncated-gzip", "prepare", (*PREP, "{tmp}/log.csv.gz"),
         ("log.csv.gz", "truncated or corrupt"), setup=_truncated_gz),
    Case("prepare-unknown-extension", "prepare", (*PREP, "{tmp}/log.xyz"),
         ("log.xyz", "extension"), setup=_text("log.xyz", HEADER + "1,2,3,1\n")),
    Case("prepare-not-parquet", "prepare", (*PREP, "{tmp}/log.parquet"),
         ("log.parquet", "Parquet"), setup=_text("log.parquet", "not parquet\n")),
    Case("prepare-map-missing", "prepare",
         ("prepare", "--source", "csv", "--input", "{csv}", "--column-map", "{tmp}/none.yaml",
          "--output", "{tmp}/out", "--quiet"), ("none.yaml",)),
    Case("prepare-map-invalid-yaml", "prepare",
         ("prepare", "--source", "csv", "--input", "{csv}", "--column-map", "{tmp}/bad.yaml",
          "--output", "{tmp}/out", "--quiet"), ("bad.yaml",),
         setup=_file("bad.yaml", "user_id: [unclosed\n")),
    Case("prepare-map-unknown-key", "prepare",
         ("prepare", "--source", "csv", "--input", "{csv}", "--column-map", "{tmp}/m.yaml",
          "--output", "{tmp}/out", "--quiet"), ("user_idd",),
         setup=_file("m.yaml", MAP + "user_idd: x\n")),
    Case("prepare-map-names-absent-column", "prepare",
         ("prepare", "--source", "csv", "--input", "{csv}", "--column-map", "{tmp}/m.yaml",
          "--output", "{tmp}/out", "--quiet"), ("'when'",),
         setup=_file("m.yaml", MAP.replace("timestamp: timestamp", "timestamp: when"))),
    Case("prepare-map-edited-in-place", "prepare",
         ("prepare", "--source", "csv", "--input", "{tmp}/log.csv", "--column-map",
          "{tmp}/map.yaml", "--output", "{tmp}/out", "--min-item-interactions", "1",
          "--quiet"), ("{tmp}/out", "different"), setup=_map_edited_in_place),
    Case("prepare-integer-ids-text", "prepare",
         ("prepare", "--source", "kuairand", "--input", "{tmp}/k.tsv", "--output",
          "{tmp}/out", "--quiet"), ("k.tsv", "'video_id'", "'v-2'"),
         setup=_file("k.tsv", "user_id\tvideo_id\ttime_ms\tduration_ms\tlabel\n"
                               "111\t3892024\t1649581149287\t45916\t1\n"
                               "111\tv-2\t1649581149999\t45916\t0\n")),
    Case("prepare-no-input", "prepare",
         ("prepare", "--source", "csv", "--output", "{tmp}/out", "--quiet"), ("--input",)),
    Case("prepare-simulator-flag-on-csv", "prepare",
         ("prepare", "--source", "csv", "--input", "{csv}", "--column-map", "{map}",
          "--output", "{tmp}/out", "--num-users", "5", "--quiet"),
         ("--num-users", "synthetic")),
    Case("prepare-simulator-unknown-option", "prepare",
         ("prepare", "--source", "synthetic", "--source-option", "colour=red", "--output",
          "{tmp}/out", "--quiet"), ("colour",)),
    Case("prepare-simulator-bad-size", "prepare",
         ("prepare", "--source", "synthetic", "--size", "huge", "--output", "{tmp}/out",
          "--quiet"), ("huge",)),
    Case("prepare-negative-gap", "prepare",
         ("prepare", "--source", "synthetic", "--size", "tiny", "--session-gap", "-5m",
          "--output", "{tmp}/out", "--quiet"), ("--session-gap",)),
    Case("prepare-bad-quantile", "prepare",
         ("prepare", "--source", "synthetic", "--size", "tiny", "--temporal-quantile", "1.5",
          "--output", "{tmp}/out", "--quiet"), ("quantile",)),
    Case("prepare-everything-filtered", "prepare",
         ("prepare", "--source", "csv", "--input", "{csv}", "--column-map", "{map}",
          "--output", "{tmp}/out", "--min-user-interactions", "1000", "--quiet"),
         ("empty after filtering", "user_min_interactions")),
    Case("prepare-output-is-a-file", "prepare",
         ("prepare", "--source", "synthetic", "--size", "tiny", "--output", "{tmp}/f",
          "--quiet"), ("{tmp}/f", "not a directory"), setup=_file("f")),
    Case("prepare-output-holds-other-data", "prepare",
         ("prepare", "--source", "synthetic", "--size", "tiny", "--seed", "5", "--output",
          "{data}", "--quiet"), ("overwrite",)),
    Case("prepare-output-unwritable", "prepare",
         ("prepare", "--source", "csv", "--input", "{csv}", "--column-map", "{map}",
          "--output", f"{UNWRITABLE}/out", "--quiet"),
         (f"{UNWRITABLE}/out", "cannot write")),
    # ------------------------------------------------------------------ prepared data
    Case("data-missing", "data", ("train", "--config", "sessionrec_hstu", "--data",
                                  "{tmp}/none", "--output", "{tmp}/run"),
         ("none", "does not exist")),
    Case("data-not-a-dataset", "data",
         ("evaluate", "--run", "{run}", "--data", "{tmp}", "--k", "10"), ("dataset.json",)),
    Case("data-metadata-not-json", "data",
         ("evaluate", "--run", "{run}", "--data", "{tmp}/data", "--k", "10"),
         ("dataset.json", "JSON"), setup=_copy_data(
             lambda d: (d / "dataset.json").write_text("{broken"))),
    Case("data-shard-deleted", "data",
         ("evaluate", "--run", "{run}", "--data", "{tmp}/data", "--k", "10"),
         ("users-00000", "missing"), setup=_copy_data(
             lambda d: sorted(d.glob("users-*.tfrecord"))[0].unlink())),
    Case("data-vocab-deleted", "data",
         ("evaluate", "--run", "{run}", "--data", "{tmp}/data", "--k", "10"),
         ("vocab/item_id.tsv", "missing"), setup=_copy_data(
             lambda d: (d / "vocab" / "item_id.tsv").unlink())),
    Case("data-format-version", "data",
         ("evaluate", "--run", "{run}", "--data", "{tmp}/data", "--k", "10"),
         ("format version",), setup=_copy_data(
             _edit_meta(lambda m: m.update(format_version=99)))),
    Case("data-metadata-vocab-size-edited", "data",
         ("evaluate", "--run", "{run}", "--data", "{tmp}/data", "--k", "10"),
         ("dataset.json", "edited or is damaged", "validate"), setup=_copy_data(
             _edit_meta(lambda m: m["vocab"]["item_id"].update(size=900)))),
    Case("data-truncated-shard-train", "data",
         ("train", "--config", "sessionrec_hstu", "--data", "{tmp}/data", "--verbose", "0",
          "--output", "{tmp}/run", "--set", "train.epochs=1", "--set",
          "model.embedding_dim=8", "--set", "model.num_layers=1", "--set", "model.max_len=16",
          "--set", "task.prefix_weight=0.0", "--set", "model.user_vectors=1"),
         ("users-00000-of-00002.tfrecord", "corrupt TFRecord shard", "record"),
         setup=_copy_data(_truncate_shard)),
    Case("data-flipped-byte-evaluate", "data",
         ("evaluate", "--run", "{run}", "--data", "{tmp}/data", "--k", "10"),
         ("users-00001-of-00002.tfrecord", "corrupt TFRecord shard"),
         setup=_copy_data(_flip_byte)),
    Case("data-truncated-shard-score", "data",
         ("score", "--model", "{export}", "--data", "{tmp}/data", "--output", "{tmp}/recs",
          "--k", "5", "--quiet"), ("users-00000-of-00002.tfrecord", "corrupt TFRecord shard"),
         setup=_copy_data(_truncate_shard)),
    Case("validate-truncated-shard", "data", ("validate", "{tmp}/data", "--quiet"),
         ("users-00000-of-00002.tfrecord", "unreadable at record"), code=1, stdout=True,
         setup=_copy_data(_truncate_shard)),
    Case("validate-vocab-edited", "data", ("validate", "{tmp}/data", "--quiet"),
         ("data/vocab", "vocab_fingerprint"), code=1, stdout=True, setup=_copy_data(
             lambda d: (d / "vocab" / "item_id.tsv").write_text(
                 (d / "vocab" / "item_id.tsv").read_text().replace("\t1", "\t7", 1)))),
    Case("validate-counts-edited", "data", ("validate", "{tmp}/data", "--quiet"),
         ("dataset.json counts",), code=1, stdout=True, setup=_copy_data(
             _edit_meta(lambda m: m["counts"].update(users=5)))),
    Case("validate-not-a-dataset", "data", ("validate", "{tmp}"), ("dataset.json",)),
    Case("negatives-not-a-dataset", "data", ("negatives", "{tmp}"), ("dataset.json",)),
    Case("negatives-truncated-shard", "data", ("negatives", "{tmp}/data", "--quiet"),
         ("users-00000-of-00002.tfrecord", "corrupt TFRecord shard"),
         setup=_copy_data(_truncate_shard)),
    # ------------------------------------------------------------------ train
    Case("train-epochs-negative", "train", _train("--set", "train.epochs=-1"),
         ("train.epochs", ">= 1")),
    Case("train-batch-size-zero", "train", _train("--set", "train.batch_size=0"),
         ("train.batch_size",)),
    Case("train-embedding-dim-zero", "train", _train("--set", "model.embedding_dim=0"),
         ("model.embedding_dim",)),
    Case("train-dropout-above-one", "train", _train("--set", "model.dropout=1.5"),
         ("model.dropout",)),
    Case("train-learning-rate-zero", "train", _train("--set", "train.learning_rate=0"),
         ("train.learning_rate", "> 0")),
    Case("train-temperature-negative", "train", _train("--set", "task.temperature=-0.1"),
         ("task.temperature",)),
    Case("train-negatives-zero", "train", _train("--set", "task.num_negatives=0"),
         ("task.num_negatives",)),
    Case("train-metric-not-computed", "train",
         _train("--set", "train.early_stopping_metric=recall@50"),
         ("train.early_stopping_metric", "recall@50")),
    Case("train-unknown-key", "train", _train("--set", "train.epoch=3"), ("train.epoch",)),
    Case("train-unknown-section", "train", _train("--set", "trian.epochs=3"), ("trian",)),
    Case("train-wrong-type", "train", _train("--set", "train.epochs=many"),
         ("train.epochs", "many")),
    Case("train-set-without-equals", "train", _train("--set", "train.epochs"),
         ("key=value",)),
    Case("train-unknown-choice", "train", _train("--set", "model.sse=lstm"),
         ("model.sse", "lstm")),
    Case("train-unknown-config", "train",
         ("train", "--config", "nosuchmodel", "--data", "{data}", "--output", "{tmp}/run"),
         ("nosuchmodel",)),
    Case("train-config-invalid-yaml", "train",
         ("train", "--config", "{tmp}/c.yaml", "--data", "{data}", "--output", "{tmp}/run"),
         ("c.yaml", "YAML"), setup=_file("c.yaml", "model: [oops\n")),
    Case("train-output-is-a-file", "train", _train(output="{tmp}/f"), ("{tmp}/f",),
         setup=_file("f")),
    Case("train-output-glob-characters", "train", _train(output="{tmp}/run[1]"),
         ("run[1]", "[]"),),
    Case("train-output-unwritable", "train", _train(output=f"{UNWRITABLE}/run"),
         (f"{UNWRITABLE}/run",)),
    Case("train-existing-run-other-config", "train",
         (*TRAIN, "--output", "{run}", "--set", "model.sse=gru"),
         ("different config", "model.sse")),
    Case("train-hstu-option-on-gru", "train",
         _train("--set", "model.sse=gru", "--set", "model.sse_input_scale=true"),
         ("model.sse_input_scale",)),
    # ------------------------------------------------------------------ export
    Case("export-not-a-run", "export",
         ("export", "--run", "{tmp}", "--output", "{tmp}/exp", "--quiet"),
         ("not a run directory",)),
    Case("export-run-without-weights", "export",
         ("export", "--run", "{tmp}/run", "--output", "{tmp}/exp", "--quiet"),
         ("no weights yet",), setup=_run_without_best),
    Case("export-k-zero", "export",
         ("export", "--run", "{run}", "--output", "{tmp}/exp", "--k", "0", "--quiet"),
         ("--k", "positive integer, got 0")),
    Case("export-k-above-catalog", "export",
         ("export", "--run", "{run}", "--output", "{tmp}/exp", "--k", "100000", "--quiet"),
         ("k=100000", "number of items")),
    Case("export-output-is-a-file", "export",
         ("export", "--run", "{run}", "--output", "{tmp}/f", "--quiet"), ("{tmp}/f",),
         setup=_file("f")),
    Case("export-output-unwritable", "export",
         ("export", "--run", "{run}", "--output", f"{UNWRITABLE}/exp", "--quiet"),
         (f"{UNWRITABLE}/exp",)),
    Case("export-other-vocabularies", "export",
         ("export", "--run", "{run}", "--data", "{tmp}/other", "--output", "{tmp}/exp",
          "--quiet"), ("different vocabularies",), setup=_other_vocab),
    # ------------------------------------------------------------------ score
    Case("score-not-an-export", "score",
         ("score", "--model", "{tmp}", "--data", "{data}", "--output", "{tmp}/recs",
          "--quiet"), ("{tmp}",)),
    Case("score-k-above-export", "score",
         ("score", "--model", "{export}", "--data", "{data}", "--output", "{tmp}/recs",
          "--k", "50", "--quiet"), ("k=50", "export again")),
    Case("score-batch-size-zero", "score",
         ("score", "--model", "{export}", "--data", "{data}", "--output", "{tmp}/recs",
          "--batch-size", "0", "--quiet"), ("--batch-size",)),
    Case("score-other-vocabularies", "score",
         ("score", "--model", "{export}", "--data", "{tmp}/other", "--output",
          "{tmp}/recs", "--quiet"), ("other", "vocabularies"), setup=_other_vocab),
    Case("score-output-not-a-scoring-dir", "score",
         ("score", "--model", "{export}", "--data", "{data}", "--output", "{tmp}/out",
          "--quiet"), ("{tmp}/out", "not a scoring output"), setup=_non_scoring_dir),
    Case("score-output-is-a-file", "score",
         ("score", "--model", "{export}", "--data", "{data}", "--output", "{tmp}/f",
          "--quiet"), ("{tmp}/f",), setup=_file("f")),
    Case("score-output-unwritable", "score",
         ("score", "--model", "{export}", "--data", "{data}", "--output",
          f"{UNWRITABLE}/recs", "--quiet"), (f"{UNWRITABLE}/recs",)),
    # ------------------------------------------------------------------ evaluate
    Case("evaluate-run-missing", "evaluate", ("evaluate", "--run", "{tmp}/none", "--k", "10"),
         ("{tmp}/none",)),
    Case("evaluate-k-zero", "evaluate", ("evaluate", "--run", "{run}", "--k", "0"),
         ("K must be positive",)),
    Case("evaluate-k-above-catalog", "evaluate",
         ("evaluate", "--run", "{run}", "--k", "10", "100000"),
         ("K=[100000]", "catalog")),
    Case("evaluate-unknown-protocol", "evaluate",
         ("evaluate", "--run", "{run}", "--protocol", "next", "--k", "10"), ("'next'",)),
    Case("evaluate-other-vocabularies", "evaluate",
         ("evaluate", "--run", "{run}", "--data", "{tmp}/other", "--k", "10"),
         ("different vocabularies",), setup=_other_vocab),
    Case("evaluate-output-unwritable", "evaluate",
         ("evaluate", "--run", "{run}", "--k", "10", "--output", f"{UNWRITABLE}/m.json"),
         (f"{UNWRITABLE}/m.json",)),
    Case("evaluate-output-is-a-directory", "evaluate",
         ("evaluate", "--run", "{run}", "--k", "10", "--output", "{tmp}/d"), ("{tmp}/d",),
         setup=lambda tmp, _ws: (tmp / "d").mkdir()),
]


# ----------------------------------------------------------------------------- serving

def _with(key: str, fn: Callable[[np.ndarray], np.ndarray]
          ) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    return lambda req: {**req, key: fn(req[key])}


SERVING_CASES: list[ServingCase] = [
    ServingCase("lengths-do-not-sum", _with("session_lengths", lambda v: v + 1),
                ("sum(session_lengths)",)),
    ServingCase("zero-session-length", _with("session_lengths",
                                             lambda v: np.concatenate([[0], v[1:]])),
                ("session_lengths",)),
    ServingCase("user-without-sessions", _with("user_session_counts",
                                               lambda v: np.concatenate([[0], v[1:]])),
                ("user_session_counts",)),
    ServingCase("labels-length", _with("labels", lambda v: v[:-1]), ("len(labels)",)),
    ServingCase("label-not-binary", _with("labels", lambda v: np.where(
        np.arange(len(v)) == 0, 2, v)), ("labels",)),
    ServingCase("timestamps-per-session", _with("session_timestamps", lambda v: v[:-1]),
                ("session_timestamps",)),
    ServingCase("float-timestamps", _with("session_timestamps",
                                          lambda v: v.astype(np.float32)),
                ("input #3", "int64")),
    ServingCase("string-item-ids", _with("item_ids", lambda v: v.astype(str)),
                ("input #0",)),
]
