"""Raw log -> sessions: de-duplicate, sort each user's interactions in time, cut into sessions.

A session is either the log's own ``session_id`` or, when the log has none, a run of a user's
interactions in which no two consecutive ones are more than ``gap_seconds`` apart (default
30 minutes). The output frame is sorted by (user, session, time) and gains a ``session``
column: the 0-based, chronological index of the session within its user.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sessionrec_tf.data.layout import FrameLayout
from sessionrec_tf.data.report import DataReport

DEFAULT_GAP_SECONDS = 30 * 60
DEDUPLICATE_REASON = "exact duplicate row (every column equal)"


def session_rule(has_session_id: bool, gap_seconds: float) -> str:
    """How sessions were cut, as the data report says it."""
    return "log session_id" if has_session_id else f"gap > {gap_seconds} s"


def drop_exact_duplicates(df: pd.DataFrame, report: DataReport | None = None) -> pd.DataFrame:
    """Drop rows identical in every contract column (the first occurrence is kept; counted)."""
    cols = [c for c in df.columns if c != "_row"]
    dup = df.duplicated(subset=cols, keep="first").to_numpy()
    if report is not None:
        report.removed("deduplicate", DEDUPLICATE_REASON, int(dup.sum()))
    return df.loc[~dup].reset_index(drop=True) if dup.any() else df


def _user_codes(df: pd.DataFrame) -> np.ndarray:
    codes, _ = pd.factorize(df["user_id"], sort=False)
    return codes.astype(np.int64)


def sort_by_user_time(df: pd.DataFrame, report: DataReport | None = None) -> pd.DataFrame:
    """Sort by (user, timestamp, source row): stable, so equal timestamps keep file order.

    Users appear in order of their first row in the source. The number of rows that were not
    in time order within their user (their position among the user's rows changed) is
    recorded in the report (nothing is removed); it is the same whether the log is sorted as
    a whole or user by user.
    """
    codes = _user_codes(df)
    order = np.lexsort((df["_row"].to_numpy(), df["timestamp"].to_numpy(), codes))
    if report is not None:
        before = pd.Series(codes).groupby(codes, sort=False).cumcount().to_numpy()
        after = pd.Series(codes[order]).groupby(codes[order], sort=False).cumcount().to_numpy()
        report.notes["rows_reordered_by_time_sort"] = int(np.sum(before[order] != after))
    if np.array_equal(order, np.arange(len(order))):
        return df
    return df.iloc[order].reset_index(drop=True)


def assign_sessions(
    df: pd.DataFrame, gap_seconds: float = DEFAULT_GAP_SECONDS
) -> pd.DataFrame:
    """Add the ``session`` column (0-based within user) to a frame sorted by user and time.

    With a ``session_id`` column the log's sessions are used (ordered by their first
    interaction; rows re-sorted so each session is contiguous). Otherwise a new session starts
    whenever the gap to the user's previous interaction is strictly greater than
    ``gap_seconds``.
    """
    if gap_seconds <= 0 and "session_id" not in df.columns:
        raise ValueError(f"session gap must be positive, got {gap_seconds} seconds")
    codes = _user_codes(df)
    n = len(df)
    if "session_id" in df.columns:
        key = pd.DataFrame({"u": codes, "s": df["session_id"].to_numpy()})
        sess_codes = key.groupby(["u", "s"], sort=False).ngroup().to_numpy()
        ts = df["timestamp"].to_numpy()
        start = pd.Series(ts).groupby(sess_codes).transform("min").to_numpy()
        first_row = pd.Series(df["_row"].to_numpy()).groupby(sess_codes).transform("min")
        order = np.lexsort((df["_row"].to_numpy(), ts, sess_codes, first_row.to_numpy(), start,
                            codes))
        df = df.iloc[order].reset_index(drop=True)
        codes = codes[order]
        sess_codes = sess_codes[order]
        new = np.ones(n, dtype=bool)
        new[1:] = sess_codes[1:] != sess_codes[:-1]
    else:
        ts = df["timestamp"].to_numpy()
        new = np.ones(n, dtype=bool)
        new[1:] = (ts[1:] - ts[:-1]) > gap_seconds
    session = FrameLayout.of(df, new).session_in_user  # a new user also starts a session
    df = df.copy() if "session" not in df.columns else df
    df["session"] = session.astype(np.int32)
    return df


def sessionize(
    df: pd.DataFrame,
    gap_seconds: float = DEFAULT_GAP_SECONDS,
    report: DataReport | None = None,
) -> pd.DataFrame:
    """De-duplicate, sort, and assign sessions (see module docstring)."""
    df = drop_exact_duplicates(df, report)
    df = sort_by_user_time(df, report)
    df = assign_sessions(df, gap_seconds)
    if report is not None:
        report.notes["session_rule"] = session_rule("session_id" in df.columns, gap_seconds)
    return df
