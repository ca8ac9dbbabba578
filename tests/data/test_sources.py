"""Raw-log sources: KuaiRand, KuaiSAR, MovieLens and generic CSV/Parquet into the contract.

Expected counts are computed independently of the loaders: the fixtures are read with the
``csv`` module and the positive/negative rules applied by hand.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.sources.kuairand import DURATION_BINS_MS, load_kuairand
from sessionrec_tf.data.sources.kuaisar import load_kuaisar
from sessionrec_tf.data.sources.movielens import load_movielens
from sessionrec_tf.data.sources.tabular import load_csv

UNKNOWN_DURATION = len(DURATION_BINS_MS) + 1


def _duration_bucket(ms: float | None) -> int:
    if ms is None or ms <= 0:
        return UNKNOWN_DURATION
    return bisect.bisect_right(DURATION_BINS_MS, ms)


def _variant(src: Path, dst: Path, line: int, column: str, value: str, sep: str = ",") -> Path:
    """Copy a delimited text file with a header, setting ``column`` on 1-based ``line``."""
    lines = src.read_text().splitlines()
    header = lines[0].split(sep)
    fields = lines[line - 1].split(sep)
    fields[header.index(column)] = value
    lines[line - 1] = sep.join(fields)
    dst.write_text("\n".join(lines) + "\n")
    return dst


def _drop_column(src: Path, dst: Path, column: str, sep: str = ",") -> Path:
    rows = [ln.split(sep) for ln in src.read_text().splitlines()]
    i = rows[0].index(column)
    dst.write_text("\n".join(sep.join(r[:i] + r[i + 1:]) for r in rows) + "\n")
    return dst


def _assert_accounted(info: dict[str, object], frame: pd.DataFrame) -> None:
    """Every row read is in the frame or counted under a ``rows_dropped_*`` reason."""
    dropped = sum(int(v) for k, v in info.items() if k.startswith("rows_dropped_"))
    assert info["rows_kept"] == len(frame)
    assert info["rows_read"] == len(frame) + dropped
    assert info["positives"] == int(frame["label"].sum())
    assert info["negatives"] == int((frame["label"] == 0).sum())


# --------------------------------------------------------------------------------------------
# KuaiSAR


@pytest.fixture
def kuaisar_csv(fixtures_dir: Path) -> Path:
    return fixtures_dir / "kuaisar_rec_inter.csv"


def test_kuaisar_labels_actions_and_counts(kuaisar_csv: Path):
    with kuaisar_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    actions = ("forward", "follow", "like", "click")
    expected_label = [int(any(r[a] == "1" for a in actions)) for r in rows]
    expected_action = [next((a for a in actions if r[a] == "1"), "none") for r in rows]
    n_pos = sum(expected_label)
    assert 60 <= len(rows) <= 150 and 0 < n_pos < len(rows)

    log = load_kuaisar(str(kuaisar_csv))
    f = log.frame
    assert len(f) == len(rows)
    assert log.info["rows_read"] == len(rows)
    assert log.info["positives"] == n_pos
    assert log.info["negatives"] == len(rows) - n_pos
    _assert_accounted(log.info, f)
    assert f["label"].tolist() == expected_label
    assert f["action"].tolist() == expected_action
    assert log.info["rows_action_none"] == len(rows) - n_pos
    for a in actions:
        assert log.info[f"rows_action_{a}"] == expected_action.count(a)
    # a like without a click is still a positive
    assert any(r["like"] == "1" and r["click"] == "0" for r in rows)


def test_kuaisar_ids_timestamps_and_features(kuaisar_csv: Path):
    with kuaisar_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    log = load_kuaisar(str(kuaisar_csv))
    f = log.frame
    assert f["user_id"].dtype == np.int64 and f["item_id"].dtype == np.int64
    assert f["user_id"].tolist() == [int(r["user_id"]) for r in rows]
    assert f["item_id"].tolist() == [int(r["item_id"]) for r in rows]
    np.testing.assert_allclose(f["timestamp"].to_numpy(),
                               [float(r["timestamp"]) / 1000.0 for r in rows], rtol=0, atol=1e-6)
    assert f["_row"].tolist() == list(range(len(rows)))

    kinds = {spec.name: spec.kind for spec in log.mapping.features}
    assert kinds == {"duration": "item", "action": "interaction"}
    # duration: the item's first known positive duration, binned; unknown -> last bucket
    first_known: dict[str, float] = {}
    for r in rows:
        if r["duration_ms"] and float(r["duration_ms"]) > 0:
            first_known.setdefault(r["item_id"], float(r["duration_ms"]))
    expected = [_duration_bucket(first_known.get(r["item_id"])) for r in rows]
    assert f["duration"].tolist() == expected
    assert log.info["rows_duration_unknown"] == expected.count(UNKNOWN_DURATION) > 0
    # the fixture has rows with an empty duration for an item whose duration is known
    filled = sum(1 for r in rows if not r["duration_ms"] and r["item_id"] in first_known)
    assert filled > 0 and log.info["rows_duration_from_item"] == filled
    assert (f.groupby("item_id")["duration"].nunique() == 1).all()


def test_kuaisar_without_interaction_features(kuaisar_csv: Path):
    log = load_kuaisar(str(kuaisar_csv), interaction_features="false")
    assert "action" not in log.frame.columns
    assert [s.name for s in log.mapping.features] == ["duration"]


def test_kuaisar_non_integer_id(kuaisar_csv: Path, tmp_path: Path):
    bad = _variant(kuaisar_csv, tmp_path / "rec_inter.csv", line=6, column="item_id",
                   value="abc")
    with pytest.raises(DataError, match=re.escape(str(bad)) +
                       r", column 'item_id', data row 5: 'abc' is not an integer id"):
        load_kuaisar(str(bad))


def test_kuaisar_bad_flag_and_missing_column(kuaisar_csv: Path, tmp_path: Path):
    bad = _variant(kuaisar_csv, tmp_path / "flag.csv", line=4, column="click", value="2")
    with pytest.raises(DataError, match=r"flag\.csv, column 'click', data row 3: flag 2 is not "):
        load_kuaisar(str(bad))
    nolike = _drop_column(kuaisar_csv, tmp_path / "nolike.csv", "like")
    with pytest.raises(DataError, match=r"nolike\.csv: column 'like' is required by the KuaiSAR"):
        load_kuaisar(str(nolike))


def test_kuaisar_directory_input(kuaisar_csv: Path, tmp_path: Path):
    shutil.copy(kuaisar_csv, tmp_path / "rec_inter.csv")
    assert len(load_kuaisar(str(tmp_path)).frame) == len(load_kuaisar(str(kuaisar_csv)).frame)


# --------------------------------------------------------------------------------------------
# MovieLens


def _ml_rows(path: Path, layout: str) -> list[tuple[int, int, float, int]]:
    """(user, item, rating, timestamp) read by hand."""
    text = path.read_text().splitlines()
    if layout == "ratings.csv":
        parts = [ln.split(",") for ln in text[1:]]
    elif layout == "ratings.dat":
        parts = [ln.split("::") for ln in text]
    else:
        parts = [ln.split("\t") for ln in text]
    return [(int(u), int(i), float(r), int(t)) for u, i, r, t in parts]


ML_FIXTURES = [
    ("ml100k_u.data", "u.data"),
    ("ml1m_ratings.dat", "ratings.dat"),
    ("ml_latest_ratings.csv", "ratings.csv"),
]


@pytest.mark.parametrize(("name", "layout"), ML_FIXTURES)
def test_movielens_layouts(fixtures_dir: Path, name: str, layout: str):
    path = fixtures_dir / name
    rows = _ml_rows(path, layout)
    keep = [k for k, r in enumerate(rows) if r[2] >= 4.0 or r[2] <= 2.0]
    n_pos = sum(r[2] >= 4.0 for r in rows)
    n_neg = sum(r[2] <= 2.0 for r in rows)
    n_neutral = len(rows) - n_pos - n_neg
    assert n_pos and n_neg and n_neutral  # the fixtures exercise all three cases

    log = load_movielens(str(path))
    f = log.frame
    assert log.info["format"] == layout
    assert log.info["rows_read"] == len(rows)
    assert log.info["positives"] == n_pos
    assert log.info["negatives"] == n_neg
    assert log.info["rows_dropped_neutral_rating"] == n_neutral
    _assert_accounted(log.info, f)
    assert f["_row"].tolist() == keep  # kept rows keep their file position
    assert f["label"].tolist() == [int(rows[k][2] >= 4.0) for k in keep]
    assert f["user_id"].dtype == np.int64 and f["item_id"].dtype == np.int64
    assert f["user_id"].tolist() == [rows[k][0] for k in keep]
    assert f["item_id"].tolist() == [rows[k][1] for k in keep]
    assert f["timestamp"].tolist() == [float(rows[k][3]) for k in keep]  # already seconds
    assert log.mapping.features == ()


def test_movielens_thresholds_from_text_options(fixtures_dir: Path):
    path = fixtures_dir / "ml_latest_ratings.csv"
    rows = _ml_rows(path, "ratings.csv")
    log = load_movielens(str(path), positive_threshold="3.5", negative_threshold="2.5")
    assert log.info["positives"] == sum(r[2] >= 3.5 for r in rows)
    assert log.info["negatives"] == sum(r[2] <= 2.5 for r in rows)
    assert log.info["rows_dropped_neutral_rating"] == sum(2.5 < r[2] < 3.5 for r in rows)


@pytest.mark.parametrize(("pos", "neg"), [(4.0, 4.0), (3.0, 4.5)])
def test_movielens_refuses_crossed_thresholds(fixtures_dir: Path, pos: float, neg: float):
    with pytest.raises(DataError, match=rf"negative_threshold \({neg}\) must be below "
                                        rf"positive_threshold \({pos}\)"):
        load_movielens(str(fixtures_dir / "ml100k_u.data"), positive_threshold=pos,
                       negative_threshold=neg)


def test_movielens_non_integer_ids(fixtures_dir: Path, tmp_path: Path):
    src = fixtures_dir / "ml100k_u.data"
    bad = tmp_path / "u.data"  # no header: data row 3 is line 3
    lines = src.read_text().splitlines()
    lines[2] = "12a\t" + lines[2].split("\t", 1)[1]
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=re.escape(str(bad)) +
                       r", column 'user_id', data row 3: '12a' is not an integer id"):
        load_movielens(str(bad))

    csv_src = fixtures_dir / "ml_latest_ratings.csv"
    bad_csv = _variant(csv_src, tmp_path / "ratings.csv", line=5, column="movieId", value="7.5")
    with pytest.raises(DataError, match=r"ratings\.csv, column 'movieId', data row 4: .*not an "
                                        r"integer id"):
        load_movielens(str(bad_csv))


def test_movielens_bad_rating_and_unknown_layout(fixtures_dir: Path, tmp_path: Path):
    src = fixtures_dir / "ml1m_ratings.dat"
    lines = src.read_text().splitlines()
    u, i, _, t = lines[6].split("::")
    lines[6] = f"{u}::{i}::::{t}"
    (tmp_path / "ratings.dat").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"ratings\.dat, column 'rating', data row 7: value is "
                                        r"missing"):
        load_movielens(str(tmp_path / "ratings.dat"))

    other = tmp_path / "other.txt"
    other.write_text("1 2 3 4\n")
    with pytest.raises(DataError, match=r"other\.txt: not a MovieLens ratings file"):
        load_movielens(str(other))


def test_movielens_directory_and_all_neutral(fixtures_dir: Path, tmp_path: Path):
    shutil.copy(fixtures_dir / "ml1m_ratings.dat", tmp_path / "ratings.dat")
    assert load_movielens(str(tmp_path)).info["format"] == "ratings.dat"
    neutral = tmp_path / "neutral" / "u.data"
    neutral.parent.mkdir()
    neutral.write_text("1\t2\t3\t881250949\n2\t3\t3\t881250950\n")
    with pytest.raises(DataError, match=r"all 2 rows are neutral"):
        load_movielens(str(neutral))


# --------------------------------------------------------------------------------------------
# KuaiRand


@pytest.mark.realdata
def test_kuairand_real_file(kuairand_tsv: Path):
    log = load_kuairand(str(kuairand_tsv))
    f = log.frame
    assert len(f) == 41_828
    assert f["user_id"].nunique() == 664
    assert f["item_id"].nunique() == 9_359
    assert int((f["label"] == 0).sum()) == 8_083
    assert log.info["negatives"] == 8_083 and log.info["positives"] == 41_828 - 8_083
    assert log.info["format"] == "like/hate"
    _assert_accounted(log.info, f)

    raw = pd.read_csv(kuairand_tsv, sep="\t", usecols=["video_id", "time_ms", "label"])
    np.testing.assert_allclose(f["timestamp"].to_numpy(), raw["time_ms"].to_numpy() / 1000.0,
                               rtol=0, atol=1e-6)
    assert (f["item_id"].to_numpy() == raw["video_id"].to_numpy()).all()
    assert (f["label"].to_numpy() == raw["label"].to_numpy()).all()

    kinds = {s.name: s.kind for s in log.mapping.features}
    assert kinds == {"duration": "item"}
    assert tuple(log.mapping.features[0].bins) == DURATION_BINS_MS
    assert f["duration"].between(0, UNKNOWN_DURATION).all()
    assert (f.groupby("item_id")["duration"].nunique() == 1).all()
    assert log.info["rows_duration_unknown"] == int((f["duration"] == UNKNOWN_DURATION).sum())


@pytest.mark.realdata
def test_kuairand_interaction_features(kuairand_tsv: Path):
    log = load_kuairand(str(kuairand_tsv), interaction_features="true")
    raw = pd.read_csv(kuairand_tsv, sep="\t", usecols=["is_click", "long_view"])
    kinds = {s.name: s.kind for s in log.mapping.features}
    assert kinds == {"duration": "item", "click": "interaction", "long_view": "interaction"}
    assert (log.frame["click"].to_numpy() == raw["is_click"].to_numpy()).all()
    assert (log.frame["long_view"].to_numpy() == raw["long_view"].to_numpy()).all()


def test_kuairand_original_log_format(fixtures_dir: Path):
    path = fixtures_dir / "kuairand_log_standard.csv"
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    engaged = [any(r[c] == "1" for c in ("is_click", "is_like", "is_follow", "is_comment",
                                          "is_forward")) for r in rows]
    hate = [r["is_hate"] == "1" for r in rows]
    expected = [int(e and not h) for e, h in zip(engaged, hate)]
    assert any(e and h for e, h in zip(engaged, hate))  # a hate overrides engagement

    log = load_kuairand(str(path))
    assert log.info["format"] == "original"
    assert log.frame["label"].tolist() == expected
    assert log.info["rows_hate"] == sum(hate)
    assert log.info["rows_engaged_but_hate"] == sum(e and h for e, h in zip(engaged, hate))
    _assert_accounted(log.info, log.frame)
    np.testing.assert_allclose(log.frame["timestamp"].to_numpy(),
                               [int(r["time_ms"]) / 1000.0 for r in rows], rtol=0, atol=1e-6)
    assert log.frame["duration"].tolist() == [_duration_bucket(float(r["duration_ms"]))
                                              for r in rows]

    by_click = load_kuairand(str(path), label_column="is_click")
    assert by_click.frame["label"].tolist() == [int(r["is_click"]) for r in rows]
    with pytest.raises(DataError, match=r"column 'is_liked' \('label'\) is a required column "
                                        r"but is not in the input"):
        load_kuairand(str(path), label_column="is_liked")


def test_kuairand_tab_separated_fixture_and_non_integer_id(fixtures_dir: Path, tmp_path: Path):
    src = fixtures_dir / "kuairand_log_standard.csv"
    tsv = tmp_path / "log.tsv"
    tsv.write_text(src.read_text().replace(",", "\t"))
    assert len(load_kuairand(str(tsv)).frame) == len(load_kuairand(str(src)).frame)
    bad = _variant(src, tmp_path / "log_bad.csv", line=9, column="video_id", value="v17")
    with pytest.raises(DataError, match=r"log_bad\.csv, column 'video_id', data row 8: 'v17' is "
                                        r"not an integer id"):
        load_kuairand(str(bad))


# --------------------------------------------------------------------------------------------
# generic CSV / Parquet


@pytest.fixture
def generic(fixtures_dir: Path) -> tuple[Path, Path]:
    return fixtures_dir / "generic_log.csv", fixtures_dir / "generic_column_map.yaml"


def _expected_generic(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _check_generic_frame(frame: pd.DataFrame, rows: list[dict[str, str]]) -> None:
    assert len(frame) == len(rows)
    assert frame["user_id"].tolist() == [r["uid"] for r in rows]
    assert frame["item_id"].tolist() == [r["product"] for r in rows]
    assert frame["session_id"].tolist() == [r["visit"] for r in rows]
    assert frame["label"].tolist() == [int(r["feedback"]) for r in rows]
    utc = dt.UTC
    seconds = [dt.datetime.strptime(r["event_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=utc)
               .timestamp() for r in rows]
    np.testing.assert_allclose(frame["timestamp"].to_numpy(), seconds, rtol=0, atol=1e-6)
    bins = [5.0, 20.0, 100.0]
    price = [bisect.bisect_right(bins, float(r["price"])) if r["price"] else len(bins) + 1
             for r in rows]
    assert frame["price_bucket"].tolist() == price
    assert set(price) == {0, 1, 2, 3, 4}  # every bucket, the missing one included
    assert frame["category"].tolist() == [r["category"] or "missing" for r in rows]
    assert frame["device"].tolist() == [r["device"] for r in rows]


def test_generic_csv_through_yaml_map(generic: tuple[Path, Path]):
    data, cmap = generic
    rows = _expected_generic(data)
    log = load_csv(str(data), column_map=str(cmap))
    _check_generic_frame(log.frame, rows)
    kinds = {s.name: (s.kind, s.bins) for s in log.mapping.features}
    assert kinds == {"price_bucket": ("item", (5.0, 20.0, 100.0)),
                     "category": ("item", None), "device": ("interaction", None)}
    assert log.info["rows_read"] == len(rows) and log.info["format"] == "csv"
    _assert_accounted(log.info, log.frame)


def test_generic_parquet_gzip_json_and_sep(generic: tuple[Path, Path], tmp_path: Path):
    data, cmap = generic
    rows = _expected_generic(data)
    df = pd.read_csv(data, dtype={"visit": str})
    df["event_time"] = pd.to_datetime(df["event_time"])  # a real datetime column in Parquet
    for name in ("log.parquet", "log.pq"):
        df.to_parquet(tmp_path / name, index=False)
        _check_generic_frame(load_csv(str(tmp_path / name), column_map=str(cmap)).frame, rows)

    df.to_csv(tmp_path / "log.csv.gz", index=False)
    mapping = yaml.safe_load(cmap.read_text())
    (tmp_path / "map.json").write_text(json.dumps(mapping))
    _check_generic_frame(load_csv(str(tmp_path / "log.csv.gz"),
                                  column_map=str(tmp_path / "map.json")).frame, rows)
    (tmp_path / "log.txt").write_text(data.read_text().replace(",", ";"))
    _check_generic_frame(load_csv(str(tmp_path / "log.txt"), column_map=mapping, sep=";").frame,
                         rows)
    (tmp_path / "log.tsv").write_text(data.read_text().replace(",", "\t"))
    _check_generic_frame(load_csv(str(tmp_path / "log.tsv"), column_map=mapping).frame, rows)


def test_generic_default_mapping(tmp_path: Path):
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id,timestamp,label\n1,10,1700000000,1\n1,11,1700000060,0\n")
    log = load_csv(str(path))
    assert log.frame["user_id"].dtype == np.int64
    assert log.frame["timestamp"].tolist() == [1700000000.0, 1700000060.0]
    assert log.mapping.features == ()


SIMPLE_MAP = {"user_id": "u", "item_id": "i", "timestamp": "ts", "label": "y"}


def _simple(tmp_path: Path, body: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text("u,i,ts,y\n" + body)
    return path


def test_generic_missing_required_column(generic: tuple[Path, Path], tmp_path: Path):
    data, cmap = generic
    bad = _drop_column(data, tmp_path / "nouser.csv", "uid")
    with pytest.raises(DataError, match=r"nouser\.csv: column 'uid' \('user_id'\) is a required "
                                        r"column but is not in the input; columns present: "
                                        r"\['product'"):
        load_csv(str(bad), column_map=str(cmap))


def test_generic_mapping_names_missing_column(generic: tuple[Path, Path], tmp_path: Path):
    data, _ = generic
    mapping = {"user_id": "uid", "item_id": "product", "timestamp": "event_time",
               "timestamp_unit": "datetime", "label": "feedback",
               "features": [{"name": "colour", "column": "color", "kind": "item"}]}
    with pytest.raises(DataError, match=r"generic_log\.csv: column 'color' \('colour'\) is named "
                                        r"by the column mapping but is not in the input"):
        load_csv(str(data), column_map=mapping)
    with pytest.raises(DataError, match=r"column 'visit_id' \('session_id'\) is named by the "
                                        r"column mapping"):
        load_csv(str(data), column_map={**mapping, "features": [], "session_id": "visit_id"})


def test_generic_empty_inputs(tmp_path: Path):
    with pytest.raises(DataError, match=r"log\.csv: the input has no rows \(empty input\)"):
        load_csv(str(_simple(tmp_path, "")), column_map=SIMPLE_MAP)
    empty = tmp_path / "zero.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"zero\.csv: the file is empty"):
        load_csv(str(empty))
    df = pd.DataFrame({"u": pd.Series([], dtype="int64"), "i": pd.Series([], dtype="int64"),
                       "ts": pd.Series([], dtype="float64"), "y": pd.Series([], dtype="int8")})
    df.to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(DataError, match=r"empty\.parquet: the input has no rows"):
        load_csv(str(tmp_path / "empty.parquet"), column_map=SIMPLE_MAP)


def test_generic_bad_timestamps_and_labels(tmp_path: Path):
    nan_ts = _simple(tmp_path, "1,10,100,1\n1,11,,0\n", "nan.csv")
    with pytest.raises(DataError, match=r"nan\.csv, column 'ts', data row 2: timestamp is "
                                        r"NaN/missing"):
        load_csv(str(nan_ts), column_map=SIMPLE_MAP)
    neg_ts = _simple(tmp_path, "1,10,100,1\n1,11,200,0\n2,12,-5,1\n", "neg.csv")
    with pytest.raises(DataError, match=r"neg\.csv, column 'ts', data row 3: timestamp .*-5.* is "
                                        r"negative"):
        load_csv(str(neg_ts), column_map=SIMPLE_MAP)
    label2 = _simple(tmp_path, "1,10,100,1\n1,11,200,0\n2,12,300,2\n", "label2.csv")
    with pytest.raises(DataError, match=r"label2\.csv, column 'y', data row 3: label .*2.* is not "
                                        r"0 or 1"):
        load_csv(str(label2), column_map=SIMPLE_MAP)
    text_id = _simple(tmp_path, "1,10,100,1\n1,x11,200,0\n", "textid.csv")
    with pytest.raises(DataError, match=r"textid\.csv, column 'i', data row 2: 'x11' is not an "
                                        r"integer id"):
        load_csv(str(text_id), column_map={**SIMPLE_MAP, "integer_ids": True})
    # without integer_ids, text ids are fine
    assert load_csv(str(text_id), column_map=SIMPLE_MAP).frame["item_id"].tolist() == ["10", "x11"]


def test_generic_bad_column_map_and_format(tmp_path: Path):
    path = _simple(tmp_path, "1,10,100,1\n")
    bad_map = tmp_path / "map.yaml"
    bad_map.write_text("user_id: u\nitemid: i\n")
    with pytest.raises(DataError,
                       match=r"map\.yaml: column mapping: unknown key\(s\) \['itemid'\]"):
        load_csv(str(path), column_map=str(bad_map))
    bad_map.write_text("user_id: [u\n")
    with pytest.raises(DataError, match=r"map\.yaml: cannot parse the file"):
        load_csv(str(path), column_map=str(bad_map))
    with pytest.raises(DataError, match=r"column map .*nomap\.yaml does not exist"):
        load_csv(str(path), column_map=str(tmp_path / "nomap.yaml"))
    xls = tmp_path / "log.xlsx"
    xls.write_text("x")
    with pytest.raises(DataError, match=r"cannot tell the format of .*log\.xlsx"):
        load_csv(str(xls))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("u,i,ts,y\n1,10,100,1\n1,11,200,0,7,8\n")
    with pytest.raises(DataError, match=r"ragged\.csv: cannot parse the file as delimited text"):
        load_csv(str(ragged), column_map=SIMPLE_MAP)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not a parquet file at all")
    with pytest.raises(DataError, match=r"broken\.parquet: cannot parse the file as Parquet"):
        load_csv(str(broken))


# --------------------------------------------------------------------------------------------
# every source: unknown options, missing input


LOADERS = {
    "kuairand": (load_kuairand, "kuairand_log_standard.csv"),
    "kuaisar": (load_kuaisar, "kuaisar_rec_inter.csv"),
    "movielens": (load_movielens, "ml100k_u.data"),
    "csv": (load_csv, "generic_log.csv"),
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_unknown_option(fixtures_dir: Path, name: str):
    load, fixture = LOADERS[name]
    with pytest.raises(DataError, match=rf"source '{name}': unknown option\(s\) \['bogus'\]; "
                                        r"valid options: \["):
        load(str(fixtures_dir / fixture), bogus="1")


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_missing_input(tmp_path: Path, name: str):
    load, _ = LOADERS[name]
    missing = tmp_path / "no_such_file.csv"
    with pytest.raises(DataError, match=rf"source '{name}': input file "
                                        rf"{re.escape(str(missing))} does not exist"):
        load(str(missing))
    with pytest.raises(DataError, match=rf"source '{name}' needs the path of its input file "
                                        r"\(got None\)"):
        load(None)


def test_bad_option_value(fixtures_dir: Path):
    with pytest.raises(DataError, match=r"source 'kuaisar': interaction_features: cannot read "
                                        r"'maybe' as bool"):
        load_kuaisar(str(fixtures_dir / "kuaisar_rec_inter.csv"), interaction_features="maybe")
