"""Do a dataset's negatives say "never this item"? Data-only statistics that tell whether
SessionRec's rank loss (``task.alpha``) is likely to help or hurt, before training anything.

The rank loss (Eq. 9) pushes each target session's negatives below its positives. That is
right when a negative is a lasting dislike, and wrong when a skip is noise and the item comes
back: the loss then demotes items the user is about to engage with. Measured (issue 17,
``benchmarks/RESULTS.md``): with 4.8-8.6% of the LOSO targets skipped before (simulator),
SessionRec-HSTU without the rank loss was 4.7-8.9% ahead at N@10 on validation; with
0.0-1.2% (the simulator with skips never re-shown, KuaiRand) the rank loss was neutral or
helped (KuaiRand-2h R@100 +5.7%).

For each prepared dataset (histories in time order, every session):

- ``negative_share``: share of interactions that are negative;
- ``shown_again_share``: share of (user, item) pairs with a negative that are shown to the
  user again later;
- ``positive_after_negative``: positive rate of those later exposures, and its ``lift`` over
  the dataset's positive rate (1 = a skip says nothing about the item for this user; well
  below 1 = a lasting dislike; None = negatives are never shown again);
- ``skipped_target_share``: share of the last session's positive items (the LOSO test
  targets, mean over users) that were negatives and never positives in the input: the
  targets the rank loss teaches the model to demote;
- ``never_engaged_negatives``: share of negatives whose item is a positive of no user (in any
  session), and ``never_engaged_catalog``: those items' share of the catalogue (the share of
  a uniform sampler's negatives spent on them);
- ``rank_negatives_shown_before``: of the rank loss's next-session negatives (the negatives of
  every session after a user's first that holds a positive, without items that are also
  positives of that session), the share whose item was shown to the user in an earlier
  session: what ``task.rank_drop_shown`` leaves out.

Example::

    stats = negative_signal(PreparedDataset.load("tfrecords/demo"))
    print(alpha_hint(stats))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.vocab import NUM_RESERVED

# Above this share of LOSO targets skipped before, alpha 0 won on every dataset measured.
SKIPPED_TARGETS_HINT = 0.02


def user_histories(data: PreparedDataset, feature: str | None = None
                   ) -> Iterator[tuple[list[list[int]], list[list[int]], Any]]:
    """Yield ``(sessions, labels, values)`` per user: lists of int lists, one per session
    (``values`` are the feature's vocabulary indices, or ``None`` without a feature)."""
    import tensorflow as tf

    from sessionrec_tf.data.tfrecord import parse_spec

    if feature is not None and feature not in data.feature_names:
        raise DataError(f"feature {feature!r}: {data.path} has features "
                        f"{list(data.feature_names)}")
    spec = parse_spec(data.feature_names)
    for raw in tf.data.TFRecordDataset(data.files).batch(512):
        batch = tf.io.parse_example(raw, spec)
        items = batch["item_id"].to_list()
        labels = batch["label"].to_list()
        values = batch[feature].to_list() if feature else [None] * len(items)
        yield from zip(items, labels, values)


def user_signal(sessions: list[list[int]], labels: list[list[int]]) -> dict[str, Any]:
    """Counts of one user's history (sessions in time order, items in time order within)."""
    first_negative: dict[int, int] = {}
    last_seen: dict[int, int] = {}
    seen_pos: set[int] = set()  # items engaged / skipped before the last session
    seen_neg: set[int] = set()
    after = after_pos = positives = rank_negatives = rank_shown = 0
    position = 0
    shown: set[int] = set()  # items of the sessions before s
    for s, (items, ys) in enumerate(zip(sessions, labels)):
        before_last = s < len(sessions) - 1
        liked = {i for i, y in zip(items, ys) if y == 1}
        if s and liked:
            negatives = [i for i, y in zip(items, ys) if y != 1 and i not in liked]
            rank_negatives += len(negatives)
            rank_shown += sum(i in shown for i in negatives)
        for item, y in zip(items, ys):
            start = first_negative.get(item)
            if start is not None and start < position:
                after += 1
                after_pos += int(y == 1)
            if y == 0 and item not in first_negative:
                first_negative[item] = position
            if before_last:
                (seen_pos if y == 1 else seen_neg).add(item)
            last_seen[item] = position
            positives += int(y == 1)
            position += 1
        shown.update(items)
    shown_again = sum(last_seen[i] > p for i, p in first_negative.items())
    target = {i for i, y in zip(sessions[-1], labels[-1]) if y == 1} if sessions else set()
    skipped = len(target & (seen_neg - seen_pos)) / len(target) if target else None
    return {"rows": position, "positives": positives,
            "negative_pairs": len(first_negative), "shown_again": shown_again,
            "after": after, "after_pos": after_pos, "skipped_target_share": skipped,
            "rank_negatives": rank_negatives, "rank_negatives_shown": rank_shown}


def negative_signal(data: PreparedDataset,
                    histories: Callable[[PreparedDataset], Iterator] = user_histories,
                    progress: bool = True) -> dict[str, Any]:
    """The statistics of the module docstring for one prepared dataset (``histories``: where
    the users' histories come from)."""
    from tqdm.auto import tqdm

    totals = {"rows": 0, "positives": 0, "negative_pairs": 0, "shown_again": 0, "after": 0,
              "after_pos": 0, "rank_negatives": 0, "rank_negatives_shown": 0}
    skipped: list[float] = []
    users = 0
    item_pos = np.zeros(data.num_items, np.int64)
    item_neg = np.zeros(data.num_items, np.int64)
    for sessions, labels, _ in tqdm(histories(data), desc=data.name, unit="user",
                                    total=data.counts.get("users"), disable=not progress):
        for items, ys in zip(sessions, labels):
            items, ys = np.asarray(items, np.int64), np.asarray(ys)
            np.add.at(item_pos, items[ys == 1], 1)
            np.add.at(item_neg, items[ys == 0], 1)
        one = user_signal(sessions, labels)
        users += 1
        for key in totals:
            totals[key] += one[key]
        if one["skipped_target_share"] is not None:
            skipped.append(one["skipped_target_share"])
    base = totals["positives"] / max(totals["rows"], 1)
    after = totals["after_pos"] / totals["after"] if totals["after"] else None
    never = item_pos[NUM_RESERVED:] == 0  # catalogue items that are nobody's positive
    return {"never_engaged_negatives": (float(item_neg[NUM_RESERVED:][never].sum()
                                               / item_neg.sum()) if item_neg.sum() else None),
            "never_engaged_catalog": float(never.mean()),
            "users": users, **totals, "negative_share": 1 - base, "positive_rate": base,
            "shown_again_share": totals["shown_again"] / max(totals["negative_pairs"], 1),
            "positive_after_negative": after,
            "lift": after / base if after is not None and base else None,
            "skipped_target_share": float(np.mean(skipped)) if skipped else None,
            "rank_negatives_shown_before": (totals["rank_negatives_shown"]
                                            / totals["rank_negatives"]
                                            if totals["rank_negatives"] else None)}


def alpha_hint(stats: dict[str, Any]) -> str:
    """One line on the rank loss for a dataset with these statistics (the evidence behind it
    is in the module docstring; a hint for what to validate, not a verdict)."""
    if not stats["rows"] or stats["negative_share"] == 0:
        return "no negatives: the rank loss (task.alpha) has nothing to work on"
    share = stats["skipped_target_share"] or 0.0
    if share >= SKIPPED_TARGETS_HINT:
        return (f"{100 * share:.1f}% of the LOSO targets were skipped before: skipped items "
                "come back as targets, where the rank loss hurt (simulator): validate "
                "task.alpha=0 against the default 0.2 (the shipped task.rank_drop_shown=true "
                "already leaves out the negatives shown before: a partial repair)")
    return (f"{100 * share:.1f}% of the LOSO targets were skipped before: skipped items rarely "
            "come back, where the rank loss was neutral or helped (KuaiRand): the default "
            "task.alpha=0.2 is a sound start")
