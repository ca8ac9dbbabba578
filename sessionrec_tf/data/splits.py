"""Evaluation splits, defined per user by *cut points* into the user's history.

Every split is "the input is a prefix of the user's history; the target is what follows":

========  =========================================  ======================================
protocol  test (input -> target)                     validation (one step earlier)
========  =========================================  ======================================
loso      sessions[:-1] -> positives of session -1   sessions[:-2] -> positives of session -2
loio      history before the last positive ->        history before the 2nd-to-last
          that positive item                         positive -> that item
temporal  sessions starting <= T -> positives of     sessions[:c-1] -> positives of the
          the first session after T (c = sessions    last session starting <= T
          starting <= T)
========  =========================================  ======================================

The training input is the validation input (so neither the validation nor the test target is
ever seen in training). Cut points are computed once at preparation time and stored in each
user's record (``loio_valid_cut``, ``loio_test_cut``: positions of the 2nd-to-last and last
positive in the user's flat history; ``temporal_cut``: number of sessions starting at or before
T); :mod:`sessionrec_tf.data.reader` applies them to ragged batches. For loso and loio every
user who passed the filters (>= 3 sessions, each with a positive) has a target; for temporal
only users with a session on each side of T do (others are left out of that split and counted
in ``splits.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from sessionrec_tf.data.layout import FrameLayout

PROTOCOLS = ("loso", "loio", "temporal")
SPLITS = ("train", "valid", "test", "full")


@dataclass(frozen=True)
class SplitOptions:
    """``temporal_split_time``: T in Unix seconds; default: the ``temporal_quantile`` of all
    session start times (0.9: the last ~10% of sessions are after T)."""

    temporal_split_time: float | None = None
    temporal_quantile: float = 0.9


def user_cut_points(df: pd.DataFrame, split_time: float) -> pd.DataFrame:
    """Per-user cut points of an encoded frame sorted by (user, session, time).

    Returns one row per user, in the frame's user order, with columns ``num_sessions``,
    ``num_interactions``, ``loio_valid_cut``, ``loio_test_cut`` and ``temporal_cut``.
    """
    lay = FrameLayout.of(df)
    user_code, lengths, pos_in_user = lay.user_code, lay.user_lengths, lay.pos_in_user
    label = df["label"].to_numpy().astype(bool)
    num_users = lay.num_users
    last = np.full(num_users, -1, dtype=np.int64)
    np.maximum.at(last, user_code[label], pos_in_user[label])
    before_last = label & (pos_in_user < last[user_code])
    second = np.full(num_users, -1, dtype=np.int64)
    np.maximum.at(second, user_code[before_last], pos_in_user[before_last])
    session_user = lay.session_user
    session_start = df["timestamp"].to_numpy()[lay.session_starts]
    num_sessions = lay.sessions_per_user
    temporal = np.bincount(session_user, weights=session_start <= split_time,
                           minlength=num_users).astype(np.int64)
    return pd.DataFrame({
        "num_sessions": num_sessions.astype(np.int64),
        "num_interactions": lengths.astype(np.int64),
        "loio_valid_cut": second,
        "loio_test_cut": last,
        "temporal_cut": temporal,
    })


def quantile_position(n: int, quantile: float) -> tuple[int, float]:
    """``(k, g)``: the ``quantile`` of ``n`` sorted values is ``x[k] + g * (x[k+1] - x[k])``
    (linear interpolation, numpy's default method)."""
    h = (n - 1) * quantile
    k = int(np.floor(h))
    return k, float(h - k)


def interpolate(low: float, high: float, fraction: float) -> float:
    """``low + fraction * (high - low)``; ``low`` itself when ``fraction`` is 0."""
    return float(low) if fraction == 0 else float(low + fraction * (high - low))


def default_split_time(df: pd.DataFrame, quantile: float) -> float:
    """The ``quantile`` of the session start times of a sessionized frame: computed from two
    order statistics (:func:`quantile_position`), as the Beam preparation does without
    sorting all values in one place (equal to ``np.quantile`` up to the last bits; no session
    start lies strictly between the two statistics, so the split is the same)."""
    starts = np.sort(df["timestamp"].to_numpy()[FrameLayout.of(df).session_starts])
    k, fraction = quantile_position(len(starts), quantile)
    return interpolate(starts[k], starts[min(k + 1, len(starts) - 1)], fraction)


def add_summaries(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two :func:`summarize` results of disjoint users as one: counts (ints) added, anything
    else (split time, input descriptions) taken from ``a``."""
    out: dict[str, Any] = {}
    for key, value in a.items():
        other = b.get(key)
        if isinstance(value, dict):
            out[key] = add_summaries(value, other or {})
        elif isinstance(value, int) and not isinstance(value, bool) and isinstance(other, int):
            out[key] = value + other
        else:
            out[key] = value
    return out


def summarize(df: pd.DataFrame, cuts: pd.DataFrame, split_time: float) -> dict[str, Any]:
    """Users and targets per protocol and split, for ``splits.json``."""
    label = df["label"].to_numpy().astype(np.int64)
    user_code = FrameLayout.of(df).user_code
    sess = df["session"].to_numpy()
    ns = cuts["num_sessions"].to_numpy()
    tc = cuts["temporal_cut"].to_numpy()

    def session_positives(index_per_user: np.ndarray) -> int:
        hit = sess == index_per_user[user_code]
        return int(label[hit].sum())

    users = len(cuts)
    out: dict[str, Any] = {
        "loso": {
            "train": {"users": users, "input": "sessions[:-2]"},
            "valid": {"users": users, "targets": session_positives(ns - 2)},
            "test": {"users": users, "targets": session_positives(ns - 1)},
        },
        "loio": {
            "train": {"users": users, "input": "history before the 2nd-to-last positive"},
            "valid": {"users": int((cuts["loio_valid_cut"] >= 0).sum()),
                      "targets": int((cuts["loio_valid_cut"] >= 0).sum())},
            "test": {"users": int((cuts["loio_test_cut"] >= 0).sum()),
                     "targets": int((cuts["loio_test_cut"] >= 0).sum())},
        },
    }
    test_ok = (tc >= 1) & (tc < ns)
    valid_ok = tc >= 2
    out["temporal"] = {
        "split_time": split_time,
        "split_time_utc": datetime.fromtimestamp(split_time, UTC).isoformat(),
        "train": {"users": int(valid_ok.sum()), "input": "sessions[:c-1], c = sessions <= T"},
        "valid": {"users": int(valid_ok.sum()),
                  "targets": session_positives(np.where(valid_ok, tc - 1, -1))},
        "test": {"users": int(test_ok.sum()),
                 "targets": session_positives(np.where(test_ok, tc, -1))},
        "users_left_out_of_test": {
            "no_session_after_T": int((tc >= ns).sum()),
            "no_session_before_T": int((tc < 1).sum()),
        },
    }
    return out
