"""Vocabularies for item ids and side features, shared by training, export and serving.

Index 0 is padding (``[PAD]``), index 1 is out-of-vocabulary (``[OOV]``); real values start at
2, ordered by descending interaction count (ties broken by the value's text), so low indices are
popular items. Saved as ``vocab/<name>.tsv`` (``index<TAB>token<TAB>count``) with the dtype of
the tokens (``int64`` or ``string``) recorded in ``dataset.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from sessionrec_tf.data.errors import DataError

PAD = "[PAD]"
OOV = "[OOV]"
PAD_INDEX = 0
OOV_INDEX = 1
NUM_RESERVED = 2
# Characters no token may hold: they would break the one-token-per-line vocabulary files.
CONTROL_CHARS = r"[\x00-\x1f\x7f]"


@dataclass
class Vocabulary:
    """An ordered set of values with reserved padding and OOV indices.

    Attributes:
      name: feature name (``item_id`` or a side feature).
      tokens: the values, index ``i + NUM_RESERVED`` for ``tokens[i]``.
      counts: interactions per value (same order).
      dtype: ``"int64"`` or ``"string"``.
    """

    name: str
    tokens: np.ndarray
    counts: np.ndarray
    dtype: str

    @property
    def size(self) -> int:
        """Number of indices including the two reserved ones."""
        return len(self.tokens) + NUM_RESERVED

    @classmethod
    def build(cls, name: str, values: pd.Series) -> Vocabulary:
        """The vocabulary of a column of values."""
        dtype = "int64" if pd.api.types.is_integer_dtype(values) else "string"
        return cls.from_counts(name, values.value_counts(sort=False), dtype)

    @classmethod
    def from_counts(cls, name: str, counts: pd.Series, dtype: str) -> Vocabulary:
        """The vocabulary of values counted elsewhere (index: value, data: interactions),
        e.g. combined over the workers of a Beam pipeline."""
        frame = pd.DataFrame({"token": counts.index.to_numpy(), "count": counts.to_numpy()})
        frame["text"] = frame["token"].astype(str)
        frame = frame.sort_values(["count", "text"], ascending=[False, True], kind="stable")
        if dtype == "string" and frame["text"].isin([PAD, OOV]).any():
            raise DataError(f"feature {name!r}: values {PAD!r}/{OOV!r} are reserved")
        tokens = frame["token"].to_numpy()
        if dtype == "int64":
            tokens = tokens.astype(np.int64)
        else:
            tokens = frame["text"].to_numpy(dtype=object)
        return cls(name, tokens, frame["count"].to_numpy(dtype=np.int64), dtype)

    @cached_property
    def _index(self) -> pd.Index:
        return pd.Index(self.tokens)

    def lookup(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Indices of ``values`` (OOV_INDEX for unknown values)."""
        index = self._index
        vals = np.asarray(values)
        if self.dtype == "string":
            vals = vals.astype(str).astype(object)
        elif vals.dtype.kind not in "iu":
            numeric = pd.to_numeric(pd.Series(vals), errors="coerce").to_numpy()
            ok = ~np.isnan(numeric)
            out = np.full(len(vals), OOV_INDEX, dtype=np.int64)
            pos = index.get_indexer(numeric[ok].astype(np.int64))
            out[ok] = np.where(pos >= 0, pos + NUM_RESERVED, OOV_INDEX)
            return out
        pos = index.get_indexer(vals)
        return np.where(pos >= 0, pos + NUM_RESERVED, OOV_INDEX).astype(np.int64)

    def token_list(self) -> list[str]:
        """All tokens as text, reserved ones included, position = index."""
        return [PAD, OOV, *[str(t) for t in self.tokens]]

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.tsv"
        with path.open("w") as fh:
            fh.write("index\ttoken\tcount\n")
            fh.write(f"0\t{PAD}\t0\n1\t{OOV}\t0\n")
            for i, (tok, c) in enumerate(zip(self.tokens, self.counts), start=NUM_RESERVED):
                text = str(tok)
                if re.search(CONTROL_CHARS, text):
                    raise DataError(f"feature {self.name!r}: value {text!r} holds a control "
                                    "character (tab, newline, carriage return, ...)")
                fh.write(f"{i}\t{text}\t{int(c)}\n")
        return path

    @classmethod
    def load(cls, directory: Path, name: str, dtype: str) -> Vocabulary:
        path = directory / f"{name}.tsv"
        if not path.exists():
            raise DataError(f"vocabulary file {path} is missing")
        frame = pd.read_csv(path, sep="\t", dtype={"token": str}, keep_default_na=False,
                            quoting=3)
        frame = frame.iloc[NUM_RESERVED:]
        tokens = frame["token"].to_numpy(dtype=object)
        if dtype == "int64":
            tokens = tokens.astype(np.int64)
        return cls(name, tokens, frame["count"].to_numpy(dtype=np.int64), dtype)
