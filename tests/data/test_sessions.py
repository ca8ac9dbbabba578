"""Sessionization: property tests (hypothesis) and the log-session-id path."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionrec_tf.data import ColumnMapping, to_canonical
from sessionrec_tf.data.report import DataReport
from sessionrec_tf.data.sessions import sessionize

rows = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 9), st.integers(0, 20_000), st.integers(0, 1)),
    min_size=1, max_size=80,
)


def _canon(data) -> pd.DataFrame:
    raw = pd.DataFrame(data, columns=["user_id", "item_id", "timestamp", "label"])
    return to_canonical(raw, ColumnMapping(), "h")


@settings(max_examples=150, deadline=None)
@given(data=rows, gap=st.sampled_from([1, 60, 1800, 5000]))
def test_gap_sessionization_properties(data, gap):
    canon = _canon(data)
    report = DataReport("h")
    out = sessionize(canon, gap, report)
    dup_removed = report.removals[0]["rows"]
    # every interaction lands in exactly one session: rows kept = rows - exact duplicates
    assert dup_removed == int(canon.drop(columns="_row").duplicated().sum())
    assert len(out) == len(canon) - dup_removed
    assert out["_row"].is_unique
    assert set(out["_row"]).issubset(set(canon["_row"]))
    for _, g in out.groupby("user_id", sort=False):
        ts = g["timestamp"].to_numpy()
        sess = g["session"].to_numpy()
        rows_ = g["_row"].to_numpy()
        # order is preserved: time-sorted, ties in source order
        assert np.all(np.diff(ts) >= 0)
        ties = np.diff(ts) == 0
        assert np.all(np.diff(rows_)[ties] > 0)
        # sessions numbered 0.. in order, contiguous
        assert sess[0] == 0 and np.all(np.diff(sess) >= 0) and np.all(np.diff(sess) <= 1)
        # gap rule: a new session iff the gap is > gap
        gaps = np.diff(ts)
        new = np.diff(sess) == 1
        assert np.all(gaps[new] > gap)
        assert np.all(gaps[~new] <= gap)


@settings(max_examples=60, deadline=None)
@given(data=rows)
def test_given_session_ids_are_respected(data):
    raw = pd.DataFrame(data, columns=["user_id", "item_id", "timestamp", "label"])
    raw["sid"] = (raw["timestamp"] // 5000).astype(str) + "-" + raw["item_id"].mod(2).astype(str)
    canon = to_canonical(raw, ColumnMapping(session_id="sid"), "h")
    out = sessionize(canon.drop_duplicates(subset=[c for c in canon if c != "_row"]))
    # rows of one (user, session id) form exactly one session, and vice versa
    pairs = out.groupby(["user_id", "session_id"])["session"].nunique()
    assert (pairs == 1).all()
    back = out.groupby(["user_id", "session"])["session_id"].nunique()
    assert (back == 1).all()
    # sessions ordered by their first interaction
    first = out.groupby(["user_id", "session"])["timestamp"].min().reset_index()
    for _, g in first.groupby("user_id"):
        assert np.all(np.diff(g.sort_values("session")["timestamp"].to_numpy()) >= 0)


def test_unsorted_input_is_sorted_and_duplicates_counted():
    raw = pd.DataFrame({
        "user_id": [1, 1, 1, 1, 2],
        "item_id": [5, 6, 5, 7, 1],
        "timestamp": [300, 100, 300, 5000, 10],
        "label": [1, 1, 1, 0, 1],
    })
    report = DataReport("t")
    out = sessionize(_canon_raw(raw), 1800, report)
    assert out["item_id"].tolist() == [6, 5, 7, 1]
    assert out["session"].tolist() == [0, 0, 1, 0]
    assert report.removals[0] == {"step": "deduplicate",
                                  "reason": "exact duplicate row (every column equal)", "rows": 1}
    # user 1 after de-duplication: 5@300, 6@100, 7@5000 -> 6, 5, 7: two rows changed place
    assert report.notes["rows_reordered_by_time_sort"] == 2


def test_interleaved_users_in_time_order_count_no_reordered_rows():
    raw = pd.DataFrame({"user_id": [1, 2, 1, 2], "item_id": [5, 6, 7, 8],
                        "timestamp": [10, 20, 30, 40], "label": [1, 1, 1, 1]})
    report = DataReport("t")
    out = sessionize(_canon_raw(raw), 1800, report)
    assert out["item_id"].tolist() == [5, 7, 6, 8]
    assert report.notes["rows_reordered_by_time_sort"] == 0


def _canon_raw(raw: pd.DataFrame) -> pd.DataFrame:
    return to_canonical(raw, ColumnMapping(), "t")
