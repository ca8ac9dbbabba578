"""KuaiRand (Kuaishou short-video logs): the explicit like/hate subset and the original logs.

Formats (both with a header; the delimiter comes from the extension, ``.tsv`` -> tab,
``.csv`` -> comma, otherwise from the first line; option ``sep`` overrides):

- like/hate subset, ``interactions.tsv`` (``../shared/data/kuairand_likehate``): user_id,
  video_id, date, hourmin, time_ms (Unix ms), is_click, is_follow, is_comment, is_forward,
  long_view, play_time_ms, duration_ms, comment_stay_time, is_profile_enter,
  label (1 = like, 0 = hate), timestamp (text).
- original logs, ``log_standard_*.csv`` / ``log_random_*.csv``: user_id, video_id, date,
  hourmin, time_ms, is_click, is_like, is_follow, is_comment, is_forward, is_hate, long_view,
  play_time_ms, duration_ms, profile_stay_time, comment_stay_time, is_profile_enter, is_rand,
  tab.

Item id = ``video_id``; timestamp = ``time_ms`` (milliseconds, converted to seconds).

Positive/negative rule (the first that applies):

1. option ``label_column=<column>``: that 0/1 column is the label as it is
   (e.g. ``label_column=is_click``: click = positive, unclicked exposure = negative);
2. the file has a ``label`` column (like/hate subset): 1 (like) = positive, 0 (hate) = negative;
3. the file has ``is_click`` (original logs): positive = the user engaged, i.e. any of
   ``is_click``, ``is_like``, ``is_follow``, ``is_comment``, ``is_forward`` (those present) is 1,
   **and** ``is_hate`` is not 1; negative = an exposure without engagement, or a hate (an
   explicit dislike overrides any engagement on the same row).

No row is dropped. ``info`` counts rows read, positives, negatives and, for rule 3, the hate
rows and the engaged-but-hated rows.

Features:

- ``duration`` (item): ``duration_ms`` in buckets with the edges :data:`DURATION_BINS_MS`
  (7.5 s, 15 s, 30 s, 1 min, 2 min, 5 min): bucket 0 = under 7.5 s ... bucket 6 = 5 min or more,
  bucket 7 = unknown. A duration of 0 or less, or missing, is unknown (the like/hate subset
  stores 0 for about 18% of rows, whose videos were still played). The value is made static
  per video: every row of a video gets the video's first known duration (counted in ``info``).
- ``click`` (``is_click``) and ``long_view`` (``long_view``) (interaction, 0/1), only with
  option ``interaction_features=true`` (default off). With rule 3, ``click`` is part of the
  label rule, so it repeats the label's information on the history tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessionrec_tf.data.contract import ColumnMapping, FeatureSpec, to_canonical
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.sources.base import LoadedLog, parse_options
from sessionrec_tf.data.sources.tabular import (
    TEXT_SEPARATORS,
    binary_flags,
    file_extension,
    first_line,
    label_counts,
    normalise_sep,
    numeric_column,
    read_delimited,
    require_columns,
    resolve_input,
)

#: Bucket edges (milliseconds) of the ``duration`` item feature, shared by the Kuaishou
#: sources (KuaiRand, KuaiSAR): 7.5 s, 15 s, 30 s, 1 min, 2 min, 5 min.
DURATION_BINS_MS: tuple[float, ...] = (7_500.0, 15_000.0, 30_000.0, 60_000.0, 120_000.0,
                                       300_000.0)

ENGAGEMENT_COLUMNS = ("is_click", "is_like", "is_follow", "is_comment", "is_forward")
INTERACTION_FEATURES = (("click", "is_click"), ("long_view", "long_view"))
CANDIDATE_FILES = ("interactions.tsv",)


@dataclass(frozen=True)
class KuaiRandOptions:
    """Options of :func:`load_kuairand`.

    Attributes:
      label_column: a 0/1 column used as the label as it is; None = automatic (see module).
      interaction_features: add the ``click`` and ``long_view`` interaction features.
      sep: delimiter; None = from the extension or the first line.
    """

    label_column: str | None = None
    interaction_features: bool = False
    sep: str | None = None


def static_duration(
    raw: pd.DataFrame, item_column: str, source: str, column: str = "duration_ms"
) -> tuple[pd.Series, dict[str, int]]:
    """Per-row durations made static per item (the item's first known value); NaN = unknown.

    Durations of 0 or less are unknown. Returns the values and counts for ``info``:
    rows whose own value was replaced by the item's, and rows whose item has no known duration.
    """
    own = pd.Series(numeric_column(raw, column, source, allow_missing=True), index=raw.index)
    own = own.where(own > 0)
    static = own.groupby(raw[item_column], sort=False).transform("first")
    replaced = static.notna() & ((own != static) | own.isna())
    return static, {
        "rows_duration_from_item": int(replaced.sum()),
        "rows_duration_unknown": int(static.isna().sum()),
    }


def duration_spec(column: str = "duration_ms") -> FeatureSpec:
    """The ``duration`` item feature over ``column`` with :data:`DURATION_BINS_MS`."""
    return FeatureSpec(name="duration", column=column, kind="item", bins=DURATION_BINS_MS)


def _separator(file: Path, sep: str | None) -> str:
    if sep is not None:
        return normalise_sep(sep)
    ext = file_extension(file)
    if ext in TEXT_SEPARATORS:
        return TEXT_SEPARATORS[ext]
    return "\t" if "\t" in first_line(file) else ","


def _engagement_label(raw: pd.DataFrame, source: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Rule 3: any engagement flag set and no hate."""
    present = [c for c in ENGAGEMENT_COLUMNS if c in raw.columns]
    engaged = np.zeros(len(raw), dtype=bool)
    for col in present:
        engaged |= binary_flags(raw, col, source)
    hate = (binary_flags(raw, "is_hate", source) if "is_hate" in raw.columns
            else np.zeros(len(raw), dtype=bool))
    label = (engaged & ~hate).astype(np.int8)
    info = {
        "label_rule": f"positive = any of {present} is 1 and is_hate is not 1",
        "rows_hate": int(hate.sum()),
        "rows_engaged_but_hate": int((engaged & hate).sum()),
    }
    return label, info


def load_kuairand(path: str | None, **options: object) -> LoadedLog:
    """Load a KuaiRand log (like/hate subset or original logs); see the module docstring."""
    opts = parse_options(KuaiRandOptions, options, "kuairand")
    file = resolve_input(path, "kuairand", CANDIDATE_FILES)
    source = str(file)
    sep = _separator(file, opts.sep)
    dtypes = {"user_id": "int64", "video_id": "int64", "time_ms": "int64",
              "duration_ms": "float64"}
    raw = read_delimited(file, "a KuaiRand log (delimited text with a header)", sep=sep,
                         dtypes=dtypes)
    require_columns(raw, ("user_id", "video_id", "time_ms", "duration_ms"), source, "KuaiRand")

    info: dict[str, Any] = {}
    variant = "like/hate" if "label" in raw.columns else "original"
    if opts.label_column is not None:
        label_col = opts.label_column
        info["label_rule"] = f"column {label_col!r} as given (1 = positive)"
    elif "label" in raw.columns:
        label_col = "label"
        info["label_rule"] = "label column: 1 (like) = positive, 0 (hate) = negative"
    elif "is_click" in raw.columns:
        label_col = "label"
        raw["label"], rule_info = _engagement_label(raw, source)
        info.update(rule_info)
    else:
        raise DataError(
            f"{source}: cannot tell the label: no 'label' column (like/hate subset) and no "
            f"'is_click' column (original logs); give option label_column=...; columns present: "
            f"{list(raw.columns)}"
        )

    raw["duration_ms"], duration_info = static_duration(raw, "video_id", source)
    features = [duration_spec()]
    if opts.interaction_features:
        features += [FeatureSpec(name=n, column=c, kind="interaction")
                     for n, c in INTERACTION_FEATURES]
    mapping = ColumnMapping(
        user_id="user_id", item_id="video_id", timestamp="time_ms", label=label_col,
        timestamp_unit="ms", integer_ids=True, features=tuple(features),
    )
    frame = to_canonical(raw, mapping, source)
    info = {
        "format": variant,
        "rows_read": len(raw),
        "rows_kept": len(frame),
        **label_counts(frame),
        **info,
        **duration_info,
    }
    return LoadedLog(
        frame=frame,
        mapping=mapping,
        description=f"KuaiRand {variant} log {file} ({info['label_rule']})",
        info=info,
    )
