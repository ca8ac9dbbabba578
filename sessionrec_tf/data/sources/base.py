"""What every raw-log source returns, and how sources check their options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from sessionrec_tf.data.contract import ColumnMapping
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.options import build


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

    Values given as text (from the command line) are read as the field's type
    (:func:`sessionrec_tf.options.build` with ``text=True``).
    """
    return build(cls, dict(options or {}), text=True, error=DataError, noun="option",
                 prefix=f"source {source!r}: ")
