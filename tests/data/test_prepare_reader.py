"""prepare -> TFRecord -> reader: exact round trip, split correctness, atomic output, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from helpers import loaded_log, random_log

from sessionrec_tf.data import (
    DataError,
    FilterOptions,
    PreparedDataset,
    PrepareOptions,
    prepare_log,
    read_dataset,
)
from sessionrec_tf.data.filters import apply_filters
from sessionrec_tf.data.sessions import sessionize

OPTS = PrepareOptions(filters=FilterOptions(min_item_interactions=2), num_shards=3)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[PreparedDataset, pd.DataFrame]:
    """A prepared dataset and the expected encoded frame computed independently of it."""
    log = loaded_log(random_log(60, 50, seed=11))
    out = tmp_path_factory.mktemp("ds") / "small"
    ds = prepare_log(log, out, OPTS, progress=False, log=None)
    df = apply_filters(sessionize(log.frame), OPTS.filters)
    vocab = ds.vocabulary("item_id")
    expected = pd.DataFrame({
        "user_id": df["user_id"].astype(str),
        "session": df["session"],
        "item_id": vocab.lookup(df["item_id"].to_numpy()),
        "label": df["label"].astype(np.int64),
        "timestamp": np.floor(df["timestamp"]).astype(np.int64),
        "cat": ds.vocabulary("cat").lookup(df["cat"].to_numpy()),
        "dwell": ds.vocabulary("dwell").lookup(df["dwell"].to_numpy()),
    })
    return ds, expected


def _users(batches: list[dict]) -> dict[str, dict]:
    """user id -> {key: nested python lists} from reader batches."""
    out: dict[str, dict] = {}
    for b in batches:
        ids = [u.decode() for u in b["user_id"].numpy()]
        lists = {k: (v.to_list() if isinstance(v, tf.RaggedTensor) else v.numpy().tolist())
                 for k, v in b.items() if k != "user_id"}
        for i, u in enumerate(ids):
            out[u] = {k: v[i] for k, v in lists.items()}
    return out


_CACHE: dict[tuple, dict] = {}


def _read(ds, split, protocol="loso", batch_size=7):
    key = (str(ds.path), split, protocol, batch_size)
    if key not in _CACHE:
        _CACHE[key] = _users(list(read_dataset(ds, split=split, protocol=protocol,
                                               batch_size=batch_size, deterministic=True)))
    return _CACHE[key]


def test_round_trip_equals_prepared_pandas(prepared):
    ds, expected = prepared
    got = _read(ds, "full")
    assert set(got) == set(expected["user_id"])
    for user, g in expected.groupby("user_id", sort=False):
        for key in ("item_id", "label", "timestamp", "cat", "dwell"):
            want = [grp[key].tolist() for _, grp in g.groupby("session", sort=True)]
            assert got[user][key] == want, (user, key)
        want_ts = g.groupby("session", sort=True)["timestamp"].min().tolist()
        assert got[user]["session_timestamp"] == want_ts


def test_ragged_batch_shapes(prepared):
    ds, _ = prepared
    batch = next(iter(read_dataset(ds, split="test", batch_size=5, deterministic=True)))
    for key in ("item_id", "label", "timestamp", "cat", "dwell"):
        assert isinstance(batch[key], tf.RaggedTensor)
        assert batch[key].ragged_rank == 2
        assert batch[key].shape.as_list() == [5, None, None]
        assert batch[key].dtype == tf.int64
    assert batch["session_timestamp"].ragged_rank == 1
    assert batch["session_timestamp"].shape.as_list() == [5, None]
    assert batch["target_item_id"].shape.as_list() == [5, None]
    assert batch["user_id"].dtype == tf.string
    # sessions are not padded: row lengths differ within the batch
    lengths = batch["item_id"].values.row_lengths().numpy()
    assert lengths.min() >= 1 and len(set(lengths.tolist())) > 1


def test_loso_splits_have_no_leak(prepared):
    ds, expected = prepared
    full = _read(ds, "full")
    train, valid, test = _read(ds, "train"), _read(ds, "valid"), _read(ds, "test")
    assert set(train) == set(valid) == set(test) == set(full)
    for u, f in full.items():
        items, labels = f["item_id"], f["label"]
        pos = [[i for i, y in zip(s, ls) if y == 1] for s, ls in zip(items, labels)]
        assert test[u]["item_id"] == items[:-1]
        assert sorted(test[u]["target_item_id"]) == sorted(pos[-1])
        assert valid[u]["item_id"] == items[:-2]
        assert sorted(valid[u]["target_item_id"]) == sorted(pos[-2])
        assert train[u]["item_id"] == items[:-2]
        assert "target_item_id" not in train[u]
        assert len(test[u]["target_item_id"]) >= 1


def test_loio_splits(prepared):
    ds, _ = prepared
    full = _read(ds, "full")
    test, valid, train = (_read(ds, s, "loio") for s in ("test", "valid", "train"))
    for u, f in full.items():
        flat_items = [i for s in f["item_id"] for i in s]
        flat_labels = [y for s in f["label"] for y in s]
        positives = [k for k, y in enumerate(flat_labels) if y == 1]
        last, second = positives[-1], positives[-2]
        assert test[u]["target_item_id"] == [flat_items[last]]
        assert [i for s in test[u]["item_id"] for i in s] == flat_items[:last]
        assert valid[u]["target_item_id"] == [flat_items[second]]
        assert [i for s in valid[u]["item_id"] for i in s] == flat_items[:second]
        assert [i for s in train[u]["item_id"] for i in s] == flat_items[:second]
        # the session structure of the kept prefix is the original one (last may be partial)
        sizes = [len(s) for s in test[u]["item_id"]]
        orig = [len(s) for s in f["item_id"]]
        assert sizes[:-1] == orig[:len(sizes) - 1] and sizes[-1] <= orig[len(sizes) - 1]


def test_temporal_split(prepared):
    ds, _ = prepared
    t_split = ds.metadata["temporal_split_time"]
    full = _read(ds, "full")
    test = _read(ds, "test", "temporal")
    summary = ds.splits["temporal"]
    assert len(test) == summary["test"]["users"] > 0
    for u, f in full.items():
        starts = f["session_timestamp"]
        c = sum(1 for s in starts if s <= t_split)
        if 1 <= c < len(starts):
            assert test[u]["item_id"] == f["item_id"][:c]
            want = [i for i, y in zip(f["item_id"][c], f["label"][c]) if y == 1]
            assert sorted(test[u]["target_item_id"]) == sorted(want)
        else:
            assert u not in test


def test_deterministic_and_epoch_seeded_shuffle(prepared):
    ds, _ = prepared

    def order(**kw):
        return [u for b in read_dataset(ds, split="train", batch_size=8, **kw)
                for u in b["user_id"].numpy().tolist()]

    assert order(deterministic=True) == order(deterministic=True)
    a, b, c = order(seed=3, epoch=1), order(seed=3, epoch=1), order(seed=3, epoch=2)
    assert a == b and a != c and sorted(a) == sorted(c)


def test_pipelines_share_one_traced_parse_function(prepared):
    """Every epoch builds a pipeline; the parse + split function is traced once per process
    (per feature set, protocol and split), not once per pipeline."""
    from sessionrec_tf.data.reader import _parse_fn

    ds, _ = prepared
    for epoch in range(3):
        for batch in read_dataset(ds, "train", "loio", batch_size=8, seed=1, epoch=epoch):
            assert batch["item_id"].ragged_rank == 2
    parse = _parse_fn(tuple(ds.feature_names), "loio", "train")
    assert parse.experimental_get_tracing_count() == 1


def test_written_files_and_report(prepared):
    ds, expected = prepared
    names = sorted(p.name for p in ds.path.iterdir())
    assert names == sorted(["data_report.json", "dataset.json", "item_features.npz",
                            "splits.json", "vocab", *ds.metadata["shards"]])
    assert len(ds.metadata["shards"]) == 3
    report = ds.report
    assert report["steps"][-1]["rows"] == len(expected)
    assert report["steps"][0]["rows"] - report["rows_removed_total"] == len(expected)
    vocab = ds.vocabulary("item_id")
    assert vocab.size == ds.num_items == expected["item_id"].nunique() + 2
    # items are static per category: the table agrees with every interaction
    table = ds.item_features["cat"]
    assert (table[expected["item_id"].to_numpy()] == expected["cat"].to_numpy()).all()


def test_atomic_output_on_failure(tmp_path, monkeypatch):
    import sessionrec_tf.data.prepare as prep

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(prep, "write_shards", boom)
    out = tmp_path / "ds"
    with pytest.raises(RuntimeError, match="disk full"):
        prepare_log(loaded_log(random_log(20, 30, 1)), out, OPTS, progress=False, log=None)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_output_holding_other_dataset_is_refused(tmp_path):
    out = tmp_path / "ds"
    a = loaded_log(random_log(20, 30, 1))
    prepare_log(a, out, OPTS, progress=False, log=None)
    before = (out / "dataset.json").read_text()
    # the identical request is recognised and nothing is rewritten
    prepare_log(a, out, OPTS, progress=False, log=None)
    assert (out / "dataset.json").read_text() == before
    b = loaded_log(random_log(20, 30, 2))
    with pytest.raises(DataError,
                       match=r"already holds a different dataset.*replace it \(overwrite\)"):
        prepare_log(b, out, OPTS, progress=False, log=None)
    over = PrepareOptions(filters=OPTS.filters, num_shards=3, overwrite=True)
    prepare_log(b, out, over, progress=False, log=None)
    assert json.loads((out / "dataset.json").read_text()) != json.loads(before)
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_non_dataset_directories_are_refused(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="non-empty directory that is not a prepared dataset"):
        prepare_log(loaded_log(random_log(20, 30, 1)), other, OPTS, progress=False, log=None)
    with pytest.raises(DataError, match="is not a prepared dataset: it has no dataset.json"):
        read_dataset(other)
    with pytest.raises(DataError, match="does not exist"):
        read_dataset(tmp_path / "nope")
    with pytest.raises(DataError, match="unknown protocol 'lastitem'"):
        read_dataset(Path("."), protocol="lastitem")
