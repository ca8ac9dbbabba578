"""The paper's filters, applied until nothing changes, then the per-user history cap.

Filters (each threshold configurable, defaults from the paper, section 4.1.1):

1. items with fewer than ``min_item_interactions`` interactions are removed;
   with ``count_negatives_in_item_filter=False`` only positives are counted and only positive
   rows are removed by this filter (negative rows are exempt: on real logs most dislikes are
   long-tail items and a 5-core on all feedback would remove them);
2. users with fewer than ``min_user_interactions`` interactions;
3. sessions with fewer than ``min_session_positives`` positives;
4. users with fewer than ``min_user_sessions`` sessions;
5. per user, only the most recent sessions holding at most ``max_positives`` positives are
   kept (whole sessions; a user whose last session alone exceeds the cap is removed);
6. likewise at most ``max_interactions`` interactions (off by default; used to give every
   user about the same history length, e.g. RecFlow's ~800, in efficiency comparisons).

Removing rows for one rule can break another, so the rules are repeated until a pass removes
nothing (a fixed point). Rule 1 is the only one that needs the whole dataset (item counts);
rules 2-6 look at one user at a time, so a pass can run user by user given the item counts
(:func:`filter_pass`, used by the Beam pipeline). Every removed row is counted under the rule
that removed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.layout import FrameLayout
from sessionrec_tf.data.report import DataReport


@dataclass(frozen=True)
class FilterOptions:
    min_item_interactions: int = 5
    min_user_interactions: int = 5
    min_session_positives: int = 1
    min_user_sessions: int = 3
    count_negatives_in_item_filter: bool = True
    max_positives: int | None = 200
    max_interactions: int | None = None
    max_passes: int = 100


RULES = (
    ("item_min_interactions", "item has fewer than {min_item_interactions} {item_unit}"),
    ("user_min_interactions", "user has fewer than {min_user_interactions} interactions"),
    ("session_min_positives", "session has fewer than {min_session_positives} positives"),
    ("user_min_sessions", "user has fewer than {min_user_sessions} sessions"),
    ("max_positives", "session older than the user's most recent {max_positives} positives"),
    ("max_interactions",
     "session older than the user's most recent {max_interactions} interactions"),
)


def filter_params(options: FilterOptions) -> dict[str, object]:
    """The thresholds by name, as the rules' reasons and the report show them."""
    return {
        "min_item_interactions": options.min_item_interactions,
        "min_user_interactions": options.min_user_interactions,
        "min_session_positives": options.min_session_positives,
        "min_user_sessions": options.min_user_sessions,
        "max_positives": options.max_positives,
        "max_interactions": options.max_interactions,
        "item_unit": "interactions" if options.count_negatives_in_item_filter else "positives",
    }


def counted_by_item_filter(label: np.ndarray, options: FilterOptions) -> np.ndarray:
    """``[n]`` rows that count towards their item's interactions (rule 1)."""
    return np.ones(len(label), dtype=bool) if options.count_negatives_in_item_filter else label


def empty_error(rule: str, rows: int, options: FilterOptions) -> DataError:
    """The error of a rule that removed the last ``rows`` rows of the dataset."""
    reason = dict(RULES)[rule].format(**filter_params(options))
    return DataError(
        f"the dataset is empty after filtering: rule {rule!r} ({reason}) removed the "
        f"last {rows} rows. Relax that threshold (see `sessionrec prepare --help`)."
    )


def filter_pass(df: pd.DataFrame, keep: np.ndarray, item_count: np.ndarray,
                options: FilterOptions, drop: Callable[[str, np.ndarray], int]) -> None:
    """One pass of rules 1-6 over a sessionized frame (all users, or some whole users).

    Args:
      df: sessionized frame (sorted by user and session).
      keep: ``[n]`` rows still kept when the pass starts (rules read it; ``drop`` updates it).
      item_count: ``[n]`` the row's item count over the WHOLE dataset at the start of the
        pass (rows counted by :func:`counted_by_item_filter`), so that a pass over one user's
        frame applies rule 1 exactly as a pass over all users does.
      drop: ``drop(rule, mask)`` removes the rows of ``mask`` for ``rule`` (updating ``keep``).
    """
    lay = FrameLayout.of(df)
    user_code, session_code, session_user = lay.user_code, lay.session_code, lay.session_user
    label = df["label"].to_numpy().astype(bool)
    n_users, n_sessions = lay.num_users, len(session_user)
    # 1. items
    rare = item_count < options.min_item_interactions
    if not options.count_negatives_in_item_filter:
        rare &= label
    drop("item_min_interactions", rare)
    # 2. users by interactions
    user_counts = np.bincount(user_code[keep], minlength=n_users)
    drop("user_min_interactions", user_counts[user_code] < options.min_user_interactions)
    # 3. sessions by positives
    sess_pos = np.bincount(session_code[keep & label], minlength=n_sessions)
    drop("session_min_positives", sess_pos[session_code] < options.min_session_positives)
    # 4. users by sessions
    live = np.bincount(session_code[keep], minlength=n_sessions) > 0
    user_sessions = np.bincount(session_user[live], minlength=n_users)
    drop("user_min_sessions", user_sessions[user_code] < options.min_user_sessions)
    # 5./6. most recent sessions holding at most max_positives positives / interactions,
    # both counted on the rows kept before rule 5 (``drop`` updates ``keep`` in place)
    for rule, cap, counted_rows in (("max_positives", options.max_positives, keep & label),
                                    ("max_interactions", options.max_interactions, keep.copy())):
        if cap is not None:
            per_session = np.bincount(session_code[counted_rows], minlength=n_sessions)
            too_old = _older_than_cap(per_session, session_user, n_users, cap)
            drop(rule, too_old[session_code])


class RowDropper:
    """``keep`` and the rows removed per rule, for :func:`filter_pass`.

    ``dropper(rule, mask)`` removes the kept rows of ``mask`` and counts them under ``rule``;
    with ``options`` given, removing the last kept row raises :func:`empty_error` (the whole
    dataset is empty; a dropper over one user's rows gives no options: a user may vanish).
    """

    def __init__(self, n: int, options: FilterOptions | None = None) -> None:
        self.keep = np.ones(n, dtype=bool)
        self.removed = {name: 0 for name, _ in RULES}
        self.options = options

    def __call__(self, rule: str, mask: np.ndarray) -> int:
        hit = self.keep & mask
        k = int(hit.sum())
        if k:
            self.keep &= ~mask
            self.removed[rule] += k
            if self.options is not None and not self.keep.any():
                raise empty_error(rule, k, self.options)
        return k


def report_filters(report: DataReport, options: FilterOptions, removed: dict[str, int],
                   passes: int) -> None:
    """The rules' removals and the pass count, in the data report."""
    params = filter_params(options)
    for rule, template in RULES:
        report.removed(f"filter:{rule}", template.format(**params), removed[rule])
    report.notes["filter_passes_to_fixed_point"] = passes
    report.notes["filters"] = {k: v for k, v in params.items() if k != "item_unit"} | {
        "count_negatives_in_item_filter": options.count_negatives_in_item_filter
    }


def apply_filters(
    df: pd.DataFrame, options: FilterOptions, report: DataReport | None = None
) -> pd.DataFrame:
    """Apply the rules to a fixed point. ``df`` must be sessionized (sorted, ``session``).

    Returns the kept rows with sessions renumbered 0..k-1 within each user.

    Raises:
      DataError: if a rule removes the last remaining row (the message names the rule).
    """
    item_code = pd.factorize(df["item_id"], sort=False)[0]
    counted = counted_by_item_filter(df["label"].to_numpy().astype(bool), options)
    dropper = RowDropper(len(df), options)
    passes = 0
    for passes in range(1, options.max_passes + 1):  # noqa: B007
        before = sum(dropper.removed.values())
        counts = np.bincount(item_code[dropper.keep & counted],
                             minlength=int(item_code.max()) + 1 if len(df) else 0)
        filter_pass(df, dropper.keep, counts[item_code], options, dropper)
        if sum(dropper.removed.values()) == before:
            break
    else:
        raise DataError(f"filters did not reach a fixed point in {options.max_passes} passes")
    if report is not None:
        report_filters(report, options, dropper.removed, passes)
    out = df.loc[dropper.keep].reset_index(drop=True)
    return renumber_sessions(out)


def _older_than_cap(per_session: np.ndarray, session_user: np.ndarray, n_users: int,
                    cap: int) -> np.ndarray:
    """Sessions whose count, summed from the user's most recent session back, exceeds cap."""
    user_total = np.bincount(session_user, weights=per_session, minlength=n_users)
    prefix_incl = np.cumsum(per_session)
    user_first = np.searchsorted(session_user, np.arange(n_users), side="left")
    before_user = np.concatenate([[0], prefix_incl])[user_first]
    prefix_excl_in_user = prefix_incl - per_session - before_user[session_user]
    suffix_incl = user_total[session_user] - prefix_excl_in_user
    return suffix_incl > cap


def renumber_sessions(df: pd.DataFrame) -> pd.DataFrame:
    """Renumber ``session`` to 0..k-1 within each user (frame sorted by user, session)."""
    if len(df) == 0:
        return df
    df["session"] = FrameLayout.of(df).session_in_user.astype(np.int32)
    return df
