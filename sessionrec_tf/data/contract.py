"""The raw-log contract: one row per interaction, and how a user's columns map onto it.

Canonical columns (after :func:`to_canonical`):

=============  ==========  ====================================================================
column         dtype       meaning
=============  ==========  ====================================================================
user_id        int64|str   user identifier (int64 when every id is an integer, else text)
item_id        int64|str   item identifier (same rule)
timestamp      float64     Unix time in seconds (sub-second precision kept for ordering)
label          int8        1 = positive (click, like, ...), 0 = negative (exposure, dislike)
session_id     str         optional: the log's own session id (text)
<feature>      int64|str   one column per side feature (discrete; continuous ones are binned)
_row           int64       0-based position of the row in the source file (for error messages)
=============  ==========  ====================================================================

Side features are declared with :class:`FeatureSpec`: ``kind="item"`` for static item features
(category, duration bucket, ...; they enter the *candidate* embedding) and
``kind="interaction"`` for per-interaction features (action type, watch-time bucket, ...; they
only enter the encoders' *interaction tokens*). A continuous column is binned with the edges in
``bins``: value ``x`` goes to bucket ``i`` such that ``bins[i-1] <= x < bins[i]`` (bucket 0 is
``x < bins[0]``, bucket ``len(bins)`` is ``x >= bins[-1]``), missing values to bucket
``len(bins) + 1``. Missing discrete values become the token ``"missing"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.vocab import CONTROL_CHARS
from sessionrec_tf.options import build

REQUIRED = ("user_id", "item_id", "timestamp", "label")
TIMESTAMP_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
RESERVED_COLUMNS = frozenset({
    *REQUIRED, "session_id", "_row", "session", "session_index", "session_lengths",
    "session_timestamp", "num_sessions", "target_item_id", "loio_valid_cut", "loio_test_cut",
    "temporal_cut", "split_mask",
})
MISSING = "missing"


@dataclass(frozen=True)
class FeatureSpec:
    """A discrete side feature, or a continuous one binned into discrete buckets.

    Args:
      name: Feature name inside the library (TFRecord key, vocabulary file name).
      column: Column in the raw log (defaults to ``name``).
      kind: ``"item"`` (static per item; used for candidates) or ``"interaction"``.
      bins: Sorted bin edges for a continuous column; ``None`` for a discrete column.
    """

    name: str
    column: str | None = None
    kind: str = "interaction"
    bins: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("item", "interaction"):
            raise DataError(
                f"feature {self.name!r}: kind must be 'item' or 'interaction', got {self.kind!r}"
            )
        if self.name in RESERVED_COLUMNS or not self.name.isidentifier():
            raise DataError(
                f"feature name {self.name!r} is reserved or not an identifier; reserved names: "
                f"{sorted(RESERVED_COLUMNS)}"
            )
        if self.bins is not None:
            edges = np.asarray(self.bins, dtype=float)
            if edges.ndim != 1 or len(edges) == 0 or np.any(np.diff(edges) <= 0):
                raise DataError(
                    f"feature {self.name!r}: bins must be a non-empty strictly increasing list, "
                    f"got {list(self.bins)}"
                )

    @property
    def source_column(self) -> str:
        return self.column or self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "column": self.source_column,
            "kind": self.kind,
            "bins": list(self.bins) if self.bins is not None else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSpec:
        return build(cls, d, text=True, error=DataError, prefix="feature: ")


@dataclass(frozen=True)
class ColumnMapping:
    """Points the contract at a log's own column names.

    Args:
      user_id, item_id, timestamp, label: names of the required columns in the raw log.
      session_id: name of the log's session-id column, or None (sessions from a time gap).
      timestamp_unit: ``"s"``, ``"ms"``, ``"us"``, ``"ns"`` for numeric timestamps, or
        ``"datetime"`` for text/datetime columns parsed with pandas.
      integer_ids: require user and item ids to be integers (MovieLens, KuaiSAR, KuaiRand).
      features: side features (see :class:`FeatureSpec`).
    """

    user_id: str = "user_id"
    item_id: str = "item_id"
    timestamp: str = "timestamp"
    label: str = "label"
    session_id: str | None = None
    timestamp_unit: str = "s"
    integer_ids: bool = False
    features: tuple[FeatureSpec, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.timestamp_unit not in (*TIMESTAMP_UNITS, "datetime"):
            raise DataError(
                f"timestamp_unit must be one of {[*TIMESTAMP_UNITS, 'datetime']}, "
                f"got {self.timestamp_unit!r}"
            )
        names = [f.name for f in self.features]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise DataError(f"feature names must be unique; repeated: {sorted(dup)}")

    def source_columns(self) -> dict[str, str]:
        """Contract name -> raw column name, for every column the mapping names."""
        cols = {
            "user_id": self.user_id,
            "item_id": self.item_id,
            "timestamp": self.timestamp,
            "label": self.label,
        }
        if self.session_id is not None:
            cols["session_id"] = self.session_id
        for f in self.features:
            cols[f.name] = f.source_column
        return cols

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "item_id": self.item_id,
            "timestamp": self.timestamp,
            "label": self.label,
            "session_id": self.session_id,
            "timestamp_unit": self.timestamp_unit,
            "integer_ids": self.integer_ids,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnMapping:
        """From a YAML/JSON mapping; text values (``integer_ids: "yes"``) are read as their
        field's type."""
        if isinstance(d, Mapping) and "features" in d and d["features"] is None:
            d = {k: v for k, v in d.items() if k != "features"}  # ``features:`` left empty
        return build(cls, d, text=True, error=DataError, prefix="column mapping: ")


def first_bad(mask: np.ndarray, rows: np.ndarray) -> tuple[int, int]:
    """(row of the first offending entry, number of offending entries) for error messages."""
    idx = np.flatnonzero(mask)
    return int(rows[idx[0]]), len(idx)


def show_value(value: object) -> str:
    """repr of a cell value without numpy's type wrapper (``-5``, not ``np.int64(-5)``)."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)


def first_value(values: pd.Series, mask: np.ndarray) -> str:
    """The first offending value, shown."""
    return show_value(values.iloc[np.flatnonzero(mask)[0]])


def where(source: str, column: str, row: int, count: int) -> str:
    extra = f" (first of {count} bad rows)" if count > 1 else ""
    # Data rows are numbered from 1; for text files with a header this is line row + 2.
    return f"{source}, column {column!r}, data row {row + 1}{extra}"


def _discrete(values: pd.Series) -> pd.Series:
    """Integer-valued columns become int64; anything else text. Missing -> ``"missing"``."""
    if pd.api.types.is_integer_dtype(values):
        return values.astype(np.int64)
    if pd.api.types.is_float_dtype(values) or pd.api.types.is_bool_dtype(values):
        arr = values.to_numpy(dtype=float)
        ok = ~np.isnan(arr)
        if ok.all() and np.all(np.mod(arr, 1.0) == 0):
            return pd.Series(arr.astype(np.int64), index=values.index)
        if ok.any() and np.all(np.mod(arr[ok], 1.0) == 0):
            text = np.where(ok, np.nan_to_num(arr).astype(np.int64).astype(str), MISSING)
            return pd.Series(text, index=values.index, dtype=object)
    return values.astype(object).where(values.notna(), MISSING).astype(str)


def refuse_control_characters(values: pd.Series, source: str, column: str, what: str
                              ) -> None:
    """Refuse text holding a control character (tab, newline, carriage return, NUL, ...):
    it would corrupt the one-token-per-line vocabularies and could never be sent back."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return
    bad = values.astype(str).str.contains(CONTROL_CHARS, regex=True).to_numpy()
    if bad.any():
        r, n = first_bad(bad, np.arange(len(values)))
        raise DataError(f"{where(source, column, r, n)}: {what} {first_value(values, bad)} "
                        "holds a control character (tab, newline, carriage return, ...)")


def _ids(values: pd.Series, source: str, column: str, integer: bool) -> pd.Series:
    """Ids as int64 when they are integers, else as text; refuses missing ids, fractional
    numbers (``101.5`` would turn every id of the column into text like ``'101.0'``) and
    control characters."""
    rows = np.arange(len(values))
    missing = values.isna().to_numpy()
    if missing.any():
        r, n = first_bad(missing, rows)
        raise DataError(f"{where(source, column, r, n)}: id is missing (empty or NaN)")
    if not integer:
        if pd.api.types.is_float_dtype(values):
            arr = values.to_numpy(dtype=float)
            fractional = np.mod(arr, 1.0) != 0
            if fractional.any():
                r, n = first_bad(fractional, rows)
                raise DataError(
                    f"{where(source, column, r, n)}: {first_value(values, fractional)} is a "
                    "fractional number; ids must be integers or text")
        out = _discrete(values)
        refuse_control_characters(out, source, column, "id")
        return out
    if pd.api.types.is_integer_dtype(values):
        return values.astype(np.int64)
    numeric = pd.to_numeric(values, errors="coerce")
    arr = numeric.to_numpy(dtype=float)
    bad = np.isnan(arr) | (np.mod(np.nan_to_num(arr), 1.0) != 0)
    if bad.any():
        r, n = first_bad(bad, rows)
        raise DataError(
            f"{where(source, column, r, n)}: {first_value(values, bad)} is not an "
            f"integer id (this source requires integer ids)"
        )
    return pd.Series(arr.astype(np.int64), index=values.index)


def _timestamps(values: pd.Series, unit: str, source: str, column: str) -> np.ndarray:
    rows = np.arange(len(values))
    if unit == "datetime":
        parsed = pd.to_datetime(values, errors="coerce", utc=True)
        bad = parsed.isna().to_numpy()
        if bad.any():
            r, n = first_bad(bad, rows)
            raise DataError(
                f"{where(source, column, r, n)}: timestamp {first_value(values, bad)}"
                " is missing or not a date/time"
            )
        ts = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)
    else:
        numeric = pd.to_numeric(values, errors="coerce")
        bad_text = numeric.isna().to_numpy() & values.notna().to_numpy()
        if bad_text.any():
            r, n = first_bad(bad_text, rows)
            raise DataError(
                f"{where(source, column, r, n)}: timestamp "
                f"{first_value(values, bad_text)} is not a number"
            )
        ts = numeric.to_numpy(dtype=float) * TIMESTAMP_UNITS[unit]
    nan = np.isnan(ts)
    if nan.any():
        r, n = first_bad(nan, rows)
        raise DataError(f"{where(source, column, r, n)}: timestamp is NaN/missing")
    neg = ts < 0
    if neg.any():
        r, n = first_bad(neg, rows)
        raise DataError(
            f"{where(source, column, r, n)}: timestamp {first_value(values, neg)} "
            "is negative"
        )
    return ts


def _labels(values: pd.Series, source: str, column: str) -> np.ndarray:
    rows = np.arange(len(values))
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(numeric, (0.0, 1.0))
    if bad.any():
        r, n = first_bad(bad, rows)
        raise DataError(
            f"{where(source, column, r, n)}: label {first_value(values, bad)} is not "
            "0 or 1 (1 = positive, 0 = negative)"
        )
    return numeric.astype(np.int8)


def bin_values(values: pd.Series, edges: Sequence[float]) -> pd.Series:
    """Discretise a continuous column into int64 buckets ``0..len(edges)``.

    Bucket ``i`` holds ``edges[i-1] <= x < edges[i]``; missing values get bucket
    ``len(edges) + 1``.
    """
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    buckets = np.searchsorted(np.asarray(edges, dtype=float), numeric, side="right")
    buckets = np.where(np.isnan(numeric), len(edges) + 1, buckets).astype(np.int64)
    return pd.Series(buckets, index=values.index)


def to_canonical(raw: pd.DataFrame, mapping: ColumnMapping, source: str) -> pd.DataFrame:
    """Validate a raw log against the contract and return it in canonical form.

    Args:
      raw: one row per interaction, in the source's own column names.
      mapping: where the contract's columns are in ``raw``.
      source: a name for error messages (usually the file path).

    Raises:
      DataError: naming the file, column and row of the first problem (missing columns, empty
        input, NaN/negative timestamps, labels other than 0/1, non-integer ids when required).
    """
    if len(raw) == 0:
        raise DataError(f"{source}: the input has no rows (empty input)")
    present = list(raw.columns)
    for contract_name, col in mapping.source_columns().items():
        if col not in raw.columns:
            how = (
                "is a required column"
                if contract_name in REQUIRED
                else "is named by the column mapping"
            )
            raise DataError(
                f"{source}: column {col!r} ({contract_name!r}) {how} but is not in the input; "
                f"columns present: {present}"
            )
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    out["user_id"] = _ids(raw[mapping.user_id], source, mapping.user_id,
                          mapping.integer_ids).to_numpy()
    out["item_id"] = _ids(raw[mapping.item_id], source, mapping.item_id,
                          mapping.integer_ids).to_numpy()
    out["timestamp"] = _timestamps(raw[mapping.timestamp], mapping.timestamp_unit, source,
                                   mapping.timestamp)
    out["label"] = _labels(raw[mapping.label], source, mapping.label)
    if mapping.session_id is not None:
        sid = raw[mapping.session_id]
        missing = sid.isna().to_numpy()
        if missing.any():
            r, n = first_bad(missing, np.arange(len(sid)))
            raise DataError(f"{where(source, mapping.session_id, r, n)}: session id is missing")
        out["session_id"] = sid.astype(str).to_numpy()
    for f in mapping.features:
        col = raw[f.source_column]
        if f.bins is not None:
            out[f.name] = bin_values(col, f.bins).to_numpy()
        else:
            values = _discrete(col)
            refuse_control_characters(values, source, f.source_column, "value")
            out[f.name] = values.to_numpy()
    out["_row"] = np.arange(len(raw), dtype=np.int64)
    return out
