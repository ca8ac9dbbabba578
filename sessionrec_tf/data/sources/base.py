"""What every raw-log source returns, and how sources check their options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import pandas as pd

from sessionrec_tf.data.contract import ColumnMapping
from sessionrec_tf.data.errors import DataError


@dataclass
class LoadedLog:
    """A raw log converted to the contract.

    Attributes:
      frame: canonical interaction frame, the output of
        :func:`sessionrec_tf.data.contract.to_canonical` (one row per interaction).
      mapping: the column mapping used (declares the side features and their kinds).
      description: one line saying what was read (file, format).
      info: source-specific counts (rows read, rows of each kind, ...) for the data report;
        every row of the file that is not in ``frame`` must be counted here with its reason.
    """

    frame: pd.DataFrame
    mapping: ColumnMapping
    description: str
    info: dict[str, Any] = field(default_factory=dict)


T = TypeVar("T")


def parse_options(cls: type[T], options: Mapping[str, Any] | None, source: str) -> T:
    """Build a source's option dataclass from ``key=value`` options, refusing unknown keys.

    Values given as text (from the command line) are converted to the field's type.
    """
    options = dict(options or {})
    valid = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise DataError(
            f"source {source!r}: unknown option(s) {unknown}; valid options: {sorted(valid)}"
        )
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        kwargs[key] = _convert(value, valid[key].type, f"source {source!r} option {key!r}")
    return cls(**kwargs)


def _convert(value: Any, annotation: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value
    text = str(annotation)
    if value.lower() in ("none", "null") and "None" in text:
        return None
    try:
        if text.startswith("bool"):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if text.startswith("int"):
            return int(value)
        if text.startswith("float"):
            return float(value)
    except ValueError:
        raise DataError(f"{where}: cannot read {value!r} as {text}") from None
    return value
