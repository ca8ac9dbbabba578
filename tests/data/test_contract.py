"""The raw-log contract: column mapping, normalisation and every bad-input error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sessionrec_tf.data import ColumnMapping, DataError, FeatureSpec, to_canonical
from sessionrec_tf.data.contract import bin_values


def _raw() -> pd.DataFrame:
    return pd.DataFrame({
        "uid": [1, 1, 2, 2],
        "vid": ["a", "b", "a", "c"],
        "t_ms": [1_000, 2_500, 3_000, 4_000],
        "y": [1, 0, 1, 1],
        "cat": [3, 4, 3, np.nan],
        "watch": [1.0, 12.0, np.nan, 400.0],
    })


MAPPING = ColumnMapping(
    user_id="uid", item_id="vid", timestamp="t_ms", label="y", timestamp_unit="ms",
    features=(FeatureSpec("cat", kind="item"),
              FeatureSpec("watch", kind="interaction", bins=(10.0, 100.0))),
)


def test_mapping_renames_and_normalises():
    out = to_canonical(_raw(), MAPPING, "log.csv")
    assert list(out.columns) == ["user_id", "item_id", "timestamp", "label", "cat", "watch",
                                 "_row"]
    assert out["user_id"].dtype == np.int64
    assert out["item_id"].tolist() == ["a", "b", "a", "c"]
    np.testing.assert_allclose(out["timestamp"], [1.0, 2.5, 3.0, 4.0])
    assert out["label"].tolist() == [1, 0, 1, 1]
    # cat has a NaN: integer-valued text with the missing token
    assert out["cat"].tolist() == ["3", "4", "3", "missing"]
    # bins (10, 100): 1 -> 0, 12 -> 1, NaN -> missing bucket 3, 400 -> 2
    assert out["watch"].tolist() == [0, 1, 3, 2]


def test_bin_edges_follow_documented_rule():
    edges = (0.0, 1.0, 2.0)
    vals = pd.Series([-1.0, 0.0, 0.5, 1.0, 2.0, 7.0, np.nan])
    expected = [0, 1, 1, 2, 3, 3, 4]  # bucket i: edges[i-1] <= x < edges[i]; NaN -> len+1
    assert bin_values(vals, edges).tolist() == expected


def test_datetime_timestamps():
    raw = pd.DataFrame({"user_id": [1], "item_id": [2], "label": [1],
                        "timestamp": ["2024-01-01T00:00:10Z"]})
    out = to_canonical(raw, ColumnMapping(timestamp_unit="datetime"), "x")
    assert out["timestamp"].iloc[0] == pd.Timestamp("2024-01-01T00:00:10Z").timestamp()


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (lambda d: d.drop(columns=["y"]), r"log\.csv: column 'y' \('label'\) is a required"),
        (lambda d: d.iloc[:0], r"log\.csv: the input has no rows"),
        (lambda d: d.assign(t_ms=[1.0, np.nan, 3.0, np.nan]),
         r"log\.csv, column 't_ms', data row 2 \(first of 2 bad rows\): timestamp is NaN"),
        (lambda d: d.assign(t_ms=[1, 2, -5, 4]),
         r"log\.csv, column 't_ms', data row 3: timestamp -5 is negative"),
        (lambda d: d.assign(y=[1, 0, 2, 1]),
         r"log\.csv, column 'y', data row 3: label 2 is not 0 or 1"),
        (lambda d: d.assign(y=[1, 0, 1, "yes"]),
         r"log\.csv, column 'y', data row 4: label 'yes' is not 0 or 1"),
        (lambda d: d.assign(uid=[1, None, 2, 2]),
         r"log\.csv, column 'uid', data row 2: id is missing"),
        (lambda d: d.assign(t_ms=[1, 2, "soon", 4]),
         r"log\.csv, column 't_ms', data row 3: timestamp 'soon' is not a number"),
    ],
)
def test_bad_input_names_file_column_row(mutate, pattern):
    with pytest.raises(DataError, match=pattern):
        to_canonical(mutate(_raw()), MAPPING, "log.csv")


def test_integer_ids_required():
    mapping = ColumnMapping(user_id="uid", item_id="vid", timestamp="t_ms", label="y",
                            integer_ids=True)
    with pytest.raises(DataError, match=r"column 'vid', data row 1 \(first of 4 bad rows\): "
                                        r"'a' is not an integer id"):
        to_canonical(_raw(), mapping, "log.csv")


def test_mapping_naming_missing_column():
    mapping = ColumnMapping(user_id="uid", item_id="vid", timestamp="t_ms", label="y",
                            features=(FeatureSpec("genre", column="genres"),))
    with pytest.raises(DataError, match=r"column 'genres' \('genre'\) is named by the column "
                                        r"mapping but is not in the input"):
        to_canonical(_raw(), mapping, "log.csv")


def test_mapping_from_dict_refuses_unknown_keys():
    with pytest.raises(DataError, match=r"unknown key\(s\) \['userid'\]"):
        ColumnMapping.from_dict({"userid": "u"})
    m = ColumnMapping.from_dict({"user_id": "u", "features": [
        {"name": "f", "column": "F", "kind": "item", "bins": [1, 2]}]})
    assert m.features[0] == FeatureSpec("f", "F", "item", (1.0, 2.0))
    assert ColumnMapping.from_dict(m.to_dict()) == m


def test_feature_spec_validation():
    with pytest.raises(DataError, match="kind must be"):
        FeatureSpec("x", kind="user")
    with pytest.raises(DataError, match="reserved"):
        FeatureSpec("label")
    with pytest.raises(DataError, match="strictly increasing"):
        FeatureSpec("x", bins=(2.0, 1.0))
