"""Filters reach a fixed point and agree with a slow, independent pandas reference."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import loaded_log, random_log
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionrec_tf.data import DataError, FilterOptions
from sessionrec_tf.data.filters import apply_filters
from sessionrec_tf.data.report import DataReport
from sessionrec_tf.data.sessions import sessionize


def reference_filters(df: pd.DataFrame, o: FilterOptions) -> pd.DataFrame:
    """Row-set semantics of the filters, written directly with groupby (slow, obvious)."""
    df = df.copy()
    while True:
        before = len(df)
        counted = df if o.count_negatives_in_item_filter else df[df.label == 1]
        counts = counted.groupby("item_id").size()
        rare = df.item_id.map(counts).fillna(0) < o.min_item_interactions
        if not o.count_negatives_in_item_filter:
            rare &= df.label == 1
        df = df[~rare]
        df = df[df.groupby("user_id").user_id.transform("size") >= o.min_user_interactions]
        df = df[df.groupby(["user_id", "session"]).label.transform("sum")
                >= o.min_session_positives]
        df = df[df.groupby("user_id").session.transform("nunique") >= o.min_user_sessions]
        for cap, value in ((o.max_positives, "label"), (o.max_interactions, "one")):
            if cap is None:
                continue
            per = df.assign(one=1).groupby(["user_id", "session"])[value].sum().reset_index()
            per = per.sort_values(["user_id", "session"], ascending=[True, False])
            per["suffix"] = per.groupby("user_id")[value].cumsum()
            ok = per[per.suffix <= cap][["user_id", "session"]]
            df = df.merge(ok, on=["user_id", "session"], how="inner")
        if len(df) == before:
            return df


def _sessionized(seed: int, users: int = 25, items: int = 30) -> pd.DataFrame:
    return sessionize(loaded_log(random_log(users, items, seed)).frame)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), min_item=st.integers(1, 8), min_sess=st.integers(1, 4),
       max_pos=st.sampled_from([None, 3, 8, 20]), neg_in_items=st.booleans(),
       max_inter=st.sampled_from([None, 6, 15]))
def test_filters_match_reference_and_reach_fixed_point(seed, min_item, min_sess, max_pos,
                                                       neg_in_items, max_inter):
    df = _sessionized(seed)
    o = FilterOptions(min_item_interactions=min_item, min_user_sessions=min_sess,
                      max_positives=max_pos, count_negatives_in_item_filter=neg_in_items,
                      max_interactions=max_inter)
    try:
        got = apply_filters(df.copy(), o)
    except DataError as err:
        assert "dataset is empty after filtering" in str(err)
        assert len(reference_filters(df, o)) == 0
        return
    want = reference_filters(df, o)
    assert sorted(got["_row"]) == sorted(want["_row"])
    # fixed point: applying again removes nothing
    report = DataReport("again")
    again = apply_filters(got.copy(), o, report)
    assert len(again) == len(got)
    assert report.total_removed() == 0
    # constraints hold on the output
    assert got.groupby(["user_id", "session"]).label.sum().min() >= o.min_session_positives
    assert got.groupby("user_id").session.nunique().min() >= o.min_user_sessions
    # sessions renumbered 0..k-1
    per_user = got.groupby("user_id").session.agg(["min", "max", "nunique"])
    assert (per_user["min"] == 0).all() and (per_user["max"] + 1 == per_user["nunique"]).all()


def test_every_removed_row_is_counted():
    df = _sessionized(3, users=40, items=120)
    report = DataReport("t")
    out = apply_filters(df.copy(), FilterOptions(min_item_interactions=3, max_positives=10),
                        report)
    assert report.total_removed() == len(df) - len(out) > 0
    reasons = {r["step"] for r in report.removals if r["rows"]}
    assert "filter:item_min_interactions" in reasons


def test_negatives_exempt_from_item_filter_when_asked():
    df = _sessionized(5)
    o = FilterOptions(min_item_interactions=1000, count_negatives_in_item_filter=False,
                      min_session_positives=0, min_user_sessions=1, min_user_interactions=1,
                      max_positives=None)
    out = apply_filters(df.copy(), o)
    assert (out.label == 0).all()
    assert len(out) == int((df.label == 0).sum())


def test_filter_that_empties_dataset_is_named():
    df = _sessionized(1)
    with pytest.raises(DataError, match=r"rule 'user_min_sessions' \(user has fewer than 50 "
                                        r"sessions\) removed the last"):
        apply_filters(df, FilterOptions(min_user_sessions=50))
