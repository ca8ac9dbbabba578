"""``prepare --runner beam`` writes the same dataset as the pandas path (issue 20 section 2).

Compared order-independently: every user's decoded record, the vocabularies, the item
feature table, the splits summary, the data report (count for count) and the metadata.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import random_log

from sessionrec_tf.data import DataError, FilterOptions, PrepareOptions, prepare_dataset
from sessionrec_tf.data.beam_prepare import bucket, inside, order_statistics

needs_beam = pytest.mark.skipif(find_spec("apache_beam") is None,
                                reason="Apache Beam is not installed (the `beam` extra)")
REPO = Path(__file__).resolve().parents[2]
KUAIRAND_OPTS = PrepareOptions(session_gap_seconds=1800.0,
                               filters=FilterOptions(count_negatives_in_item_filter=False))
# The generic log below: its own column names, an item feature and a binned one.
COLUMN_MAP = """user_id: uid
item_id: iid
timestamp: ts
label: y
features:
  - {name: cat, kind: item}
  - {name: dwell, kind: interaction, bins: [5.0, 30.0, 120.0]}
"""


def _records(directory: Path) -> dict[str, dict[str, list[int]]]:
    """user id -> every key of its record, as python lists."""
    import tensorflow as tf

    out = {}
    files = sorted(str(p) for p in directory.glob("users-*.tfrecord"))
    for raw in tf.data.TFRecordDataset(files).as_numpy_iterator():
        ex = tf.train.Example.FromString(raw)
        feats = {k: (list(v.int64_list.value) if v.HasField("int64_list")
                     else [b.decode() for b in v.bytes_list.value])
                 for k, v in ex.features.feature.items()}
        user = feats.pop("user_id")[0]
        assert user not in out, f"user {user} written twice"
        out[user] = feats
    return out


def assert_same_dataset(a: Path, b: Path) -> None:
    """The two prepared directories hold the same dataset (independent of record order)."""
    ra, rb = _records(a), _records(b)
    assert ra.keys() == rb.keys()
    assert ra == rb
    for vocab in sorted((a / "vocab").glob("*.tsv")):
        assert vocab.read_text() == (b / "vocab" / vocab.name).read_text(), vocab.name
    assert sorted(p.name for p in (a / "vocab").iterdir()) == \
        sorted(p.name for p in (b / "vocab").iterdir())
    if (a / "item_features.npz").exists():
        fa, fb = np.load(a / "item_features.npz"), np.load(b / "item_features.npz")
        assert sorted(fa.files) == sorted(fb.files)
        for k in fa.files:
            np.testing.assert_array_equal(fa[k], fb[k])
    else:
        assert not (b / "item_features.npz").exists()
    assert json.loads((a / "splits.json").read_text()) == json.loads((b / "splits.json")
                                                                     .read_text())
    rep_a, rep_b = (json.loads((d / "data_report.json").read_text()) for d in (a, b))
    for rep in (rep_a, rep_b):
        rep["notes"].pop("seconds")
    assert rep_a == rep_b
    meta_a, meta_b = (json.loads((d / "dataset.json").read_text()) for d in (a, b))
    for meta in (meta_a, meta_b):
        meta.pop("created_utc")
        meta.pop("name")
    assert meta_a == meta_b
    assert sorted(p.name for p in a.glob("users-*")) == sorted(p.name for p in b.glob("users-*"))


def _both(tmp_path: Path, source: str, path: str | None, source_options: dict,
          options: PrepareOptions, beam_options: tuple[str, ...] = ()) -> tuple[Path, Path]:
    local = tmp_path / "local"
    beam = tmp_path / "beam"
    prepare_dataset(source, path, local, source_options, options, progress=False, log=None)
    prepare_dataset(source, path, beam, source_options, options, progress=False, log=None,
                    runner="beam", beam_options=beam_options)
    return local, beam


@needs_beam
def test_beam_equals_pandas_on_the_simulator(tmp_path: Path) -> None:
    local, beam = _both(tmp_path, "synthetic", None, {"size": "tiny", "seed": 3},
                        PrepareOptions(num_shards=3))
    assert_same_dataset(local, beam)
    report = json.loads((beam / "data_report.json").read_text())
    assert report["steps"][-1]["users"] > 100  # a real dataset, not an empty one


@needs_beam
def test_beam_equals_pandas_on_kuairand(tmp_path: Path, kuairand_tsv: Path) -> None:
    local, beam = _both(tmp_path, "kuairand", str(kuairand_tsv), {}, KUAIRAND_OPTS)
    assert_same_dataset(local, beam)
    report = json.loads((beam / "data_report.json").read_text())
    removed = {r["step"]: r["rows"] for r in report["removals"]}
    # the filters did work here (several rules, more than one pass), so the check means something
    assert removed["deduplicate"] > 0 and removed["filter:session_min_positives"] > 0
    assert report["notes"]["filter_passes_to_fixed_point"] >= 2


def _sharded_log(directory: Path) -> tuple[str, Path]:
    """A generic log in 3 CSV files (rows shuffled, duplicates across files, equal timestamps),
    and its column map; returns (glob, column map)."""
    raw = random_log(70, 40, seed=5).rename(columns={"user_id": "uid", "item_id": "iid",
                                                      "timestamp": "ts", "label": "y"})
    raw = pd.concat([raw, raw.iloc[::17]], ignore_index=True)  # exact duplicates
    raw.loc[raw.index[::23], "ts"] = raw["ts"].iloc[0]  # timestamp ties
    raw = raw.sample(frac=1.0, random_state=0).reset_index(drop=True)
    for i, part in enumerate(np.array_split(np.arange(len(raw)), 3)):
        raw.iloc[part].to_csv(directory / f"log-{i}.csv", index=False)
    column_map = directory / "map.yaml"
    column_map.write_text(COLUMN_MAP)
    return str(directory / "log-*.csv"), column_map


@needs_beam
def test_sharded_input_beam_equals_pandas_and_the_concatenated_file(tmp_path: Path) -> None:
    pattern, column_map = _sharded_log(tmp_path)
    options = PrepareOptions(filters=FilterOptions(min_item_interactions=3), num_shards=2)
    local, beam = _both(tmp_path, "csv", pattern, {"column_map": str(column_map)}, options,
                        beam_options=("direct_num_workers=2",
                                      "direct_running_mode=multi_threading"))
    assert_same_dataset(local, beam)
    meta = json.loads((beam / "dataset.json").read_text())
    assert "and 2 more files" in meta["description"]
    # reading the files one by one = reading their concatenation (rows keep file order)
    whole = tmp_path / "whole.csv"
    pd.concat([pd.read_csv(tmp_path / f"log-{i}.csv") for i in range(3)]).to_csv(whole,
                                                                               index=False)
    single = tmp_path / "single"
    prepare_dataset("csv", str(whole), single, {"column_map": str(column_map)}, options,
                    progress=False, log=None)
    assert _records(single) == _records(beam)
    assert (single / "vocab" / "item_id.tsv").read_text() == \
        (beam / "vocab" / "item_id.tsv").read_text()


@needs_beam
def test_a_filter_emptying_the_dataset_fails_alike(tmp_path: Path) -> None:
    options = PrepareOptions(filters=FilterOptions(min_user_sessions=50))
    messages = []
    for runner in ("local", "beam"):
        with pytest.raises(DataError) as err:
            prepare_dataset("synthetic", None, tmp_path / runner, {"size": "tiny"}, options,
                            progress=False, log=None, runner=runner)
        messages.append(str(err.value))
        assert not (tmp_path / runner).exists()
        assert not list(tmp_path.glob(f".{runner}.tmp-*"))  # nothing half-written
    assert messages[0] == messages[1]
    assert "user_min_sessions" in messages[1]


@needs_beam
def test_a_bad_file_among_the_inputs_is_one_clear_line(tmp_path: Path) -> None:
    pattern, column_map = _sharded_log(tmp_path)
    bad = tmp_path / "log-1.csv"
    bad.write_text(bad.read_text().replace("iid", "item", 1))  # a column missing
    proc = subprocess.run(
        [sys.executable, "-m", "sessionrec_tf.cli", "prepare", "--source", "csv", "--input",
         pattern, "--column-map", str(column_map), "--output", str(tmp_path / "out"),
         "--runner", "beam", "--quiet"],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    error = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(error) == 1 and "log-1.csv" in error[0] and "iid" in error[0], proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("max_distinct", [10_000, 50, 3])
def test_order_statistics_equal_numpy_through_histogram_passes(max_distinct: int) -> None:
    rng = np.random.default_rng(0)
    # skewed, with many ties and a far outlier: the ranks sit in a crowded bucket
    values = np.concatenate([rng.exponential(10.0, 400).round(1), np.full(80, 7.0), [1e6]])
    ranks = [0, 137, 138, 250, len(values) - 1]
    passes = []

    def keep(levels):
        return values[inside(values, levels)]

    def histogram(levels, low, high, buckets):
        passes.append(len(levels))
        return np.bincount(bucket(keep(levels), low, high, buckets), minlength=buckets)

    def distinct(levels):
        kept, counts = np.unique(keep(levels), return_counts=True)
        return dict(zip(kept.tolist(), counts.tolist()))

    for r in ranks:
        got = order_statistics([r, min(r + 1, len(values) - 1)], float(values.min()),
                               float(values.max()), len(values), histogram, distinct,
                               max_distinct=max_distinct, buckets=16)
        want = np.sort(values)[[r, min(r + 1, len(values) - 1)]]
        assert got == want.tolist()
    assert (len(passes) > 0) == (max_distinct < len(values))
