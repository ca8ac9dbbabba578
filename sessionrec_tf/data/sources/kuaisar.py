"""KuaiSAR recommendation interactions (``rec_inter.csv``, Kuaishou search-and-recommendation).

Format: comma-separated with a header; columns user_id, item_id, playing_time (ms),
duration_ms, time (Beijing time, text), timestamp (Unix ms, written as a float), click,
forward, like, follow, search, search_item_related (0/1 flags). The loader needs user_id,
item_id, timestamp, click, like, follow, forward and duration_ms; the others are ignored.
A directory path is searched for ``rec_inter.csv``.

Item id = ``item_id``; timestamp = ``timestamp`` (milliseconds, converted to seconds); ids must
be integers.

Positive/negative rule: positive = ``click`` or ``like`` or ``follow`` or ``forward`` is 1;
a row with none of them is a negative (an exposure without engagement). ``search`` is not an
engagement with the item and is ignored. No row is dropped.

Features:

- ``duration`` (item): ``duration_ms`` in the buckets shared with KuaiRand
  (:data:`sessionrec_tf.data.sources.kuairand.DURATION_BINS_MS`); 0, negative or missing =
  unknown (last bucket); static per item (the item's first known duration).
- ``action`` (interaction, text): the strongest action of the row, in the order
  ``forward`` > ``follow`` > ``like`` > ``click`` > ``none`` (sharing the video with others
  commits more than following its author, which commits more than a like, then a click).
  ``none`` marks exactly the negatives. On by default; option ``interaction_features=false``
  leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sessionrec_tf.data.contract import ColumnMapping, FeatureSpec, to_canonical
from sessionrec_tf.data.sources.base import LoadedLog, parse_options
from sessionrec_tf.data.sources.kuairand import duration_spec, static_duration
from sessionrec_tf.data.sources.tabular import (
    binary_flags,
    label_counts,
    read_delimited,
    require_columns,
    resolve_input,
)

#: Engagement actions from strongest to weakest; the ``action`` feature is the first one set.
ACTIONS = ("forward", "follow", "like", "click")
NO_ACTION = "none"
REQUIRED_COLUMNS = ("user_id", "item_id", "timestamp", *ACTIONS, "duration_ms")


@dataclass(frozen=True)
class KuaiSAROptions:
    """Options of :func:`load_kuaisar`.

    Attributes:
      interaction_features: add the ``action`` interaction feature (default on).
    """

    interaction_features: bool = True


def load_kuaisar(path: str | None, **options: object) -> LoadedLog:
    """Load KuaiSAR ``rec_inter.csv``; see the module docstring for the rule and features."""
    opts = parse_options(KuaiSAROptions, options, "kuaisar")
    file = resolve_input(path, "kuaisar", ("rec_inter.csv",))
    source = str(file)
    dtypes = {"user_id": "int64", "item_id": "int64", "timestamp": "float64",
              "duration_ms": "float64"}
    raw = read_delimited(file, "KuaiSAR rec_inter.csv (comma-separated with a header)",
                         sep=",", dtypes=dtypes)
    require_columns(raw, REQUIRED_COLUMNS, source, "KuaiSAR rec_inter.csv")

    flags = {a: binary_flags(raw, a, source) for a in ACTIONS}
    engaged = np.zeros(len(raw), dtype=bool)
    action = np.full(len(raw), NO_ACTION, dtype=object)
    for name in reversed(ACTIONS):  # weakest first, so stronger actions overwrite
        engaged |= flags[name]
        action[flags[name]] = name
    raw["label"] = engaged.astype(np.int8)
    raw["action"] = action
    raw["duration_ms"], duration_info = static_duration(raw, "item_id", source)

    features = [duration_spec()]
    if opts.interaction_features:
        features.append(FeatureSpec(name="action", column="action", kind="interaction"))
    mapping = ColumnMapping(
        user_id="user_id", item_id="item_id", timestamp="timestamp", label="label",
        timestamp_unit="ms", integer_ids=True, features=tuple(features),
    )
    frame = to_canonical(raw, mapping, source)
    info: dict[str, Any] = {
        "format": "rec_inter",
        "rows_read": len(raw),
        "rows_kept": len(frame),
        **label_counts(frame),
        "label_rule": "positive = click or like or follow or forward; else negative exposure",
        **{f"rows_action_{a}": int((action == a).sum()) for a in (*ACTIONS, NO_ACTION)},
        **duration_info,
    }
    return LoadedLog(
        frame=frame,
        mapping=mapping,
        description=f"KuaiSAR rec_inter log {file} ({info['label_rule']})",
        info=info,
    )
