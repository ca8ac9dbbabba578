"""MovieLens explicit ratings (``user item rating timestamp``), three official layouts.

The layout is detected from the file's first line (option ``layout`` forces one):

- ``u.data`` (ml-100k): tab-separated, no header: user, item, rating (1-5), timestamp;
- ``ratings.dat`` (ml-1m, ml-10m): ``::``-separated, no header: UserID::MovieID::Rating::Timestamp
  (ml-10m has half-star ratings);
- ``ratings.csv`` (ml-latest, ml-latest-small, ml-20m, ml-25m, ml-32m): comma-separated with
  the header ``userId,movieId,rating,timestamp`` (half-star ratings 0.5-5).

A directory path is searched for ``ratings.csv``, ``ratings.dat``, then ``u.data``.
Timestamps are Unix seconds; user and item ids must be integers.

Positive/negative rule: rating >= ``positive_threshold`` (default 4.0) is positive,
rating <= ``negative_threshold`` (default 2.0) is negative; ratings strictly in between carry
no clear preference and are dropped (counted as ``rows_dropped_neutral_rating`` in ``info``).
The thresholds must satisfy ``negative_threshold < positive_threshold``.

Features: none (the rating itself would repeat the label).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessionrec_tf.data.contract import ColumnMapping, to_canonical
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.sources.base import LoadedLog, parse_options
from sessionrec_tf.data.sources.tabular import (
    first_line,
    numeric_column,
    read_delimited,
    require_columns,
    resolve_input,
)

LAYOUTS = ("u.data", "ratings.dat", "ratings.csv")
CSV_COLUMNS = ("userId", "movieId", "rating", "timestamp")
PLAIN_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


@dataclass(frozen=True)
class MovieLensOptions:
    """Options of :func:`load_movielens`.

    Attributes:
      positive_threshold: ratings >= this are positives.
      negative_threshold: ratings <= this are negatives (must be below positive_threshold).
      layout: ``auto`` or one of ``u.data``, ``ratings.dat``, ``ratings.csv``.
    """

    positive_threshold: float = 4.0
    negative_threshold: float = 2.0
    layout: str = "auto"


def detect_layout(file: Path) -> str:
    """``u.data``, ``ratings.dat`` or ``ratings.csv`` from the first line of ``file``."""
    line = first_line(file)
    if "::" in line:
        return "ratings.dat"
    if line.replace(" ", "").lower().startswith("userid,"):
        return "ratings.csv"
    if "\t" in line:
        return "u.data"
    raise DataError(
        f"{file}: not a MovieLens ratings file: the first line {line[:80]!r} is neither "
        "tab-separated (u.data), '::'-separated (ratings.dat) nor the header "
        "'userId,movieId,rating,timestamp' (ratings.csv); option layout=... forces one"
    )


def _read(file: Path, layout: str) -> tuple[pd.DataFrame, tuple[str, str, str, str]]:
    if layout == "ratings.csv":
        dtypes = {"userId": "int64", "movieId": "int64", "rating": "float64",
                  "timestamp": "int64"}
        raw = read_delimited(file, "MovieLens ratings.csv (userId,movieId,rating,timestamp)",
                             sep=",", dtypes=dtypes)
        return raw, CSV_COLUMNS
    if layout == "ratings.dat":
        # "a::b::c::d" split on ":" gives a,'',b,'',c,'',d: the fast C parser with every other
        # field (no multi-character separator, which would need the slow Python engine).
        dtypes = {0: "int64", 2: "int64", 4: "float64", 6: "int64"}
        raw = read_delimited(file, "MovieLens ratings.dat (UserID::MovieID::Rating::Timestamp)",
                             sep=":", header=False, usecols=(0, 2, 4, 6), names=PLAIN_COLUMNS,
                             dtypes=dtypes)
        return raw, PLAIN_COLUMNS
    dtypes = {"user_id": "int64", "item_id": "int64", "rating": "float64",
              "timestamp": "int64"}
    raw = read_delimited(file, "MovieLens u.data (tab-separated user item rating timestamp)",
                         sep="\t", header=False, names=PLAIN_COLUMNS, dtypes=dtypes)
    return raw, PLAIN_COLUMNS


def load_movielens(path: str | None, **options: object) -> LoadedLog:
    """Load MovieLens ratings (any of the three layouts); see the module docstring."""
    opts = parse_options(MovieLensOptions, options, "movielens")
    if not opts.negative_threshold < opts.positive_threshold:
        raise DataError(
            f"source 'movielens': negative_threshold ({opts.negative_threshold}) must be below "
            f"positive_threshold ({opts.positive_threshold})"
        )
    if opts.layout != "auto" and opts.layout not in LAYOUTS:
        raise DataError(
            f"source 'movielens': option layout must be 'auto' or one of {list(LAYOUTS)}, got "
            f"{opts.layout!r}"
        )
    file = resolve_input(path, "movielens", ("ratings.csv", "ratings.dat", "u.data"))
    source = str(file)
    layout = detect_layout(file) if opts.layout == "auto" else opts.layout
    raw, columns = _read(file, layout)
    require_columns(raw, columns, source, f"MovieLens {layout}")
    user_col, item_col, rating_col, ts_col = columns

    rating = numeric_column(raw, rating_col, source, allow_missing=False)
    positive = rating >= opts.positive_threshold
    negative = rating <= opts.negative_threshold
    neutral = ~(positive | negative)
    # The label of neutral rows is a placeholder: they are validated with the others (so error
    # rows are file rows) and dropped afterwards; "_row" keeps each kept row's file position.
    raw["label"] = positive.astype(np.int8)
    mapping = ColumnMapping(
        user_id=user_col, item_id=item_col, timestamp=ts_col, label="label",
        timestamp_unit="s", integer_ids=True,
    )
    frame = to_canonical(raw, mapping, source)
    frame = frame.loc[~neutral].reset_index(drop=True)
    n_neutral = int(neutral.sum())
    if len(frame) == 0:
        raise DataError(
            f"{source}: no rating is <= {opts.negative_threshold} or >= "
            f"{opts.positive_threshold}; all {n_neutral} rows are neutral, nothing is left"
        )
    info: dict[str, Any] = {
        "format": layout,
        "rows_read": len(raw),
        "rows_kept": len(frame),
        "positives": int(positive.sum()),
        "negatives": int(negative.sum()),
        "rows_dropped_neutral_rating": n_neutral,
        "label_rule": (f"rating >= {opts.positive_threshold} positive, <= "
                       f"{opts.negative_threshold} negative, in between dropped"),
    }
    return LoadedLog(
        frame=frame,
        mapping=mapping,
        description=f"MovieLens {layout} ratings {file} ({info['label_rule']})",
        info=info,
    )
