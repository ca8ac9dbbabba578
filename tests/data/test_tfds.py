"""TFDS builders: ``tfds.load`` gives the reader's users and values, offline, for every split."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import sessionrec_tf  # noqa: F401  (Keras 2 before TensorFlow Datasets touches tf.keras)
from sessionrec_tf.data import (
    DataError,
    FilterOptions,
    PreparedDataset,
    PrepareOptions,
    prepare_dataset,
    read_dataset,
)
from sessionrec_tf.data.tfds_builders import (
    RAW_SOURCES,
    SPLITS,
    SessionRecRawLog,
    SessionRecSimulator,
    raw_log_config,
    session_features,
    simulator_config,
)

# The fixtures are tiny: keep every user and item with >= 3 sessions.
FIXTURE_OPTIONS = PrepareOptions(
    filters=FilterOptions(min_item_interactions=1, min_user_interactions=1))
NESTED = ("item_id", "label", "timestamp")


def _per_user(ds: tf.data.Dataset) -> dict[str, dict[str, Any]]:
    """user id -> {key: (nested) python lists} from a dataset of one element per user."""
    out: dict[str, dict[str, Any]] = {}
    for element in ds:
        user = element["user_id"].numpy().decode()
        assert user not in out, f"user {user} appears twice"
        out[user] = {k: v.to_list() if isinstance(v, tf.RaggedTensor) else v.numpy().tolist()
                     for k, v in element.items() if k != "user_id"}
    return out


def _reader_users(prepared: PreparedDataset, split: str, protocol: str = "loso") -> dict:
    """Our reader's users: its ragged batches un-batched by tf.data."""
    return _per_user(read_dataset(prepared, split=split, protocol=protocol, batch_size=16,
                                  deterministic=True).unbatch())


def _assert_same_as_reader(splits: dict[str, tf.data.Dataset], prepared: PreparedDataset,
                           protocol: str = "loso") -> None:
    assert set(splits) == set(SPLITS)
    keys = (*NESTED, *prepared.feature_names, "session_timestamp")
    for tfds_split, reader_split in SPLITS.items():
        got = _per_user(splits[tfds_split])
        want = _reader_users(prepared, reader_split, protocol)
        assert got.keys() == want.keys(), tfds_split
        for user, w in want.items():
            g = got[user]
            assert set(g) == {*keys, "target_item_id"}, (tfds_split, user)
            for key in keys:
                assert g[key] == w[key], (tfds_split, user, key)
            assert g["target_item_id"] == w.get("target_item_id", []), (tfds_split, user)
            if reader_split in ("valid", "test"):
                assert g["target_item_id"], (tfds_split, user)


def _assert_metadata(info: Any, prepared: PreparedDataset) -> None:
    meta = info.metadata
    assert meta["vocab_sizes"] == prepared.vocab_sizes
    assert meta["feature_names"] == list(prepared.feature_names)
    for name in prepared.vocab_sizes:
        assert meta["vocabularies"][name] == prepared.vocabulary(name).token_list()
    assert meta["item_features"] == {k: v.tolist() for k, v in prepared.item_features.items()}
    assert meta["counts"] == prepared.counts


def _manual_dir(tmp_path: Path, files: dict[str, Path]) -> Path:
    manual = tmp_path / "manual"
    manual.mkdir()
    for name, src in files.items():
        shutil.copy(src, manual / name)
    return manual


def _load_raw(config: Any, data_dir: Path, manual_dir: Path) -> tuple[dict, Any]:
    return tfds.load(
        "session_rec_raw_log", data_dir=str(data_dir), split=None, with_info=True,
        builder_kwargs={"config": config},
        download_and_prepare_kwargs={
            "download_config": tfds.download.DownloadConfig(manual_dir=str(manual_dir))},
    )


# --------------------------------------------------------------------------------------------
# simulator


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Any, PreparedDataset]:
    """``session_rec_simulator/tiny`` through tfds.load, and the same data prepared directly."""
    root = tmp_path_factory.mktemp("tfds_sim")
    work = root / "tmp"
    work.mkdir()
    old_tempdir = tempfile.tempdir
    tempfile.tempdir = str(work)  # the builder's temporary preparation lands here
    try:
        splits, info = tfds.load("session_rec_simulator/tiny", data_dir=str(root / "data"),
                                 split=None, with_info=True)
    finally:
        tempfile.tempdir = old_tempdir
    leftovers = [p.name for p in work.iterdir() if p.name.startswith("sessionrec-tfds-")]
    assert leftovers == [], "the temporary prepared dataset was not removed"
    prepared = prepare_dataset("synthetic", None, root / "reference", {"size": "tiny", "seed": 0},
                               PrepareOptions(), progress=False, log=None)
    return splits, info, prepared


def test_simulator_splits_equal_reader(simulator):
    splits, info, prepared = simulator
    _assert_same_as_reader(splits, prepared)
    for name in SPLITS:
        assert info.splits[name].num_examples == prepared.counts["users"]


def test_simulator_metadata_maps_indices_back(simulator):
    _, info, prepared = simulator
    _assert_metadata(info, prepared)
    assert info.metadata["source"] == "synthetic"
    assert info.metadata["vocab_dtypes"]["item_id"] == "int64"
    assert info.metadata["vocabularies"]["item_id"][:2] == ["[PAD]", "[OOV]"]


def test_declared_features_match_yielded(simulator):
    splits, info, prepared = simulator
    declared = info.features.get_tensor_spec()
    assert info.features.get_tensor_spec() == session_features(("category",)).get_tensor_spec()
    for name, ds in splits.items():
        assert ds.element_spec == declared, name
        for key in (*NESTED, "category"):
            spec = ds.element_spec[key]
            assert isinstance(spec, tf.RaggedTensorSpec) and spec.ragged_rank == 1, key
            assert spec.dtype == tf.int64 and spec.shape.as_list() == [None, None]
        assert ds.element_spec["session_timestamp"] == tf.TensorSpec([None], tf.int64)
        assert ds.element_spec["target_item_id"] == tf.TensorSpec([None], tf.int64)
        assert ds.element_spec["user_id"] == tf.TensorSpec([], tf.string)
        # ragged_batch gives the reader's batch structure exactly
        reader_spec = read_dataset(prepared, split=SPLITS[name], batch_size=4).element_spec
        batched = ds.ragged_batch(4).element_spec
        assert {k: v for k, v in batched.items() if k in reader_spec} == reader_spec, name
    batch = next(iter(splits["test"].ragged_batch(5)))
    assert batch["item_id"].ragged_rank == 2 and batch["item_id"].shape.as_list() == [5, None,
                                                                                       None]
    assert batch["target_item_id"].shape.as_list() == [5, None]


def test_registered_configs():
    assert {"tiny", "demo"} <= set(SessionRecSimulator.builder_configs)
    tiny = SessionRecSimulator.builder_configs["tiny"]
    assert tiny.source_options == {"size": "tiny", "seed": 0}
    assert tiny.prepare_options == PrepareOptions() and tiny.side_features == ("category",)
    raw = SessionRecRawLog.builder_configs
    assert set(raw) == set(RAW_SOURCES) == {"kuairand", "kuaisar", "movielens", "csv"}
    assert raw["kuaisar"].manual_files == ("rec_inter.csv",)
    assert raw["kuairand"].manual_files == ("interactions.tsv",)
    assert set(raw["movielens"].manual_files) == {"u.data", "ratings.dat", "ratings.csv"}
    assert raw["csv"].manual_files[0] == "log.csv"
    for name in ("rec_inter.csv", "u.data", "ratings.dat", "log.csv", "column_map.yaml"):
        assert name in SessionRecRawLog.MANUAL_DOWNLOAD_INSTRUCTIONS
    # custom configs get distinct names from their options
    a, b = simulator_config("tiny", seed=1), simulator_config("tiny", seed=2)
    assert a.name != b.name and a.name.startswith("tiny_")
    assert simulator_config("tiny", seed=1).name == a.name
    gap = raw_log_config("kuaisar", prepare_options=PrepareOptions(session_gap_seconds=600))
    assert gap.name != raw_log_config("kuaisar").name
    with pytest.raises(DataError, match="unknown protocol 'nope'"):
        raw_log_config("kuaisar", protocol="nope")
    with pytest.raises(DataError, match="unknown raw-log source 'synthetic'"):
        raw_log_config("synthetic")
    with pytest.raises(DataError, match="reserved key"):
        raw_log_config("csv", side_features=("label",))


def test_builder_rejects_a_config_of_the_other_builder(tmp_path: Path):
    with pytest.raises(DataError,
                       match=r"has source 'kuaisar'; this builder takes \['synthetic'\]"):
        SessionRecSimulator(config=raw_log_config("kuaisar"), data_dir=str(tmp_path))


# --------------------------------------------------------------------------------------------
# raw logs through manual_dir


def test_raw_log_kuaisar_equals_reader(tmp_path: Path, fixtures_dir: Path):
    manual = _manual_dir(tmp_path, {"rec_inter.csv": fixtures_dir / "kuaisar_rec_inter.csv"})
    config = raw_log_config("kuaisar", prepare_options=FIXTURE_OPTIONS)
    assert config.side_features == ("duration", "action")
    splits, info = _load_raw(config, tmp_path / "data", manual)
    prepared = prepare_dataset("kuaisar", str(manual / "rec_inter.csv"), tmp_path / "reference",
                               None, FIXTURE_OPTIONS, progress=False, log=None)
    _assert_same_as_reader(splits, prepared)
    _assert_metadata(info, prepared)
    assert info.features.get_tensor_spec() == session_features(
        ("duration", "action")).get_tensor_spec()
    # reloading the generated dataset restores the metadata (no regeneration, no manual dir)
    builder = SessionRecRawLog(config=config, data_dir=str(tmp_path / "data"))
    assert builder.info.metadata["vocabularies"] == info.metadata["vocabularies"]


def test_raw_log_movielens_with_another_protocol(tmp_path: Path, fixtures_dir: Path):
    manual = _manual_dir(tmp_path, {"u.data": fixtures_dir / "ml100k_u.data"})
    config = raw_log_config("movielens", prepare_options=FIXTURE_OPTIONS, protocol="loio")
    splits, info = _load_raw(config, tmp_path / "data", manual)
    prepared = prepare_dataset("movielens", str(manual / "u.data"), tmp_path / "reference",
                               None, FIXTURE_OPTIONS, progress=False, log=None)
    _assert_same_as_reader(splits, prepared, protocol="loio")
    assert info.metadata["protocol"] == "loio" and info.metadata["feature_names"] == []


def test_raw_log_csv_side_features_must_be_declared(tmp_path: Path, fixtures_dir: Path):
    manual = _manual_dir(tmp_path, {"log.csv": fixtures_dir / "generic_log.csv",
                                    "column_map.yaml": fixtures_dir / "generic_column_map.yaml"})
    # The registered csv config declares no side features; the optional column_map.yaml found
    # in the manual directory maps three, so the prepared data disagrees with the config.
    undeclared = raw_log_config("csv", prepare_options=FIXTURE_OPTIONS)
    with pytest.raises(DataError, match=r"has side features \['price_bucket', 'category', "
                                        r"'device'\] but the builder config declares \[\] "
                                        r".*raw_log_config\('csv', side_features=\("
                                        r"'price_bucket', 'category', 'device'\)"):
        _load_raw(undeclared, tmp_path / "data", manual)
    assert not list((tmp_path / "data").rglob("dataset_info.json")), "no dataset is left"


def test_missing_manual_file_says_what_to_place_where(tmp_path: Path, fixtures_dir: Path):
    empty = tmp_path / "empty"
    with pytest.raises(DataError, match=rf"kuaisar: place rec_inter\.csv in {empty} \(the "
                                        r"directory does not exist or is empty\)\. Expected: "
                                        r"the KuaiSAR recommendation log\..*manual_dir="):
        tfds.load("session_rec_raw_log/kuaisar", data_dir=str(tmp_path / "data"),
                  download_and_prepare_kwargs={
                      "download_config": tfds.download.DownloadConfig(manual_dir=str(empty))})
    wrong = _manual_dir(tmp_path, {"u.data": fixtures_dir / "ml100k_u.data"})
    with pytest.raises(DataError, match=rf"place rec_inter\.csv in the manual directory "
                                        rf"{wrong} \(it holds \['u\.data'\]\).*manual_dir="):
        tfds.load("session_rec_raw_log/kuaisar", data_dir=str(tmp_path / "data"),
                  download_and_prepare_kwargs={
                      "download_config": tfds.download.DownloadConfig(manual_dir=str(wrong))})
