"""Sharded inputs: a source's ``--input`` may be a glob (``logs/part-*.csv``) of many files.

Each file is read by the source on its own (so a source's per-file rules, e.g. KuaiRand's
static item duration, apply within a file) and the files are concatenated in sorted name
order. A row's ``_row`` becomes ``(file index << 40) + row in file``: rows keep their file
order, which breaks timestamp ties and decides which duplicate is kept, identically for the
pandas and the Beam preparation (:mod:`sessionrec_tf.data.beam_prepare`), which reads the
files in parallel.

Example::

    files = input_files("logs/part-*.tsv", "csv")        # sorted matches
    log = load_files("csv", "logs/part-*.tsv", {"column_map": "map.yaml"})
"""

from __future__ import annotations

import glob
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessionrec_tf.data.contract import ColumnMapping
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.sources import LoadedLog, load_source

GLOB_CHARS = frozenset("*?[")
ROW_OFFSET_BITS = 40  # up to ~1.1e12 rows per file


def is_glob(path: str | None) -> bool:
    return path is not None and any(c in GLOB_CHARS for c in str(path))


def input_files(path: str | None, source: str) -> list[str | None]:
    """The files of ``--input``: a glob's matches (sorted), or the path itself; ``[None]`` for
    a source without input (the simulator)."""
    if path is None or not is_glob(path):
        return [path]
    files = sorted(p for p in glob.glob(str(path)) if Path(p).is_file())
    if not files:
        raise DataError(f"source {source!r}: input pattern {path} matches no file")
    return list(files)


def input_signature(path: str | None) -> dict[str, Any]:
    """What identifies the input of a request: each file's resolved path, size and mtime."""
    if not path:
        return {"path": None}
    if is_glob(path):
        return {"pattern": str(path),
                "files": [input_signature(f) for f in input_files(path, "input")]}
    p = Path(path)
    if not p.exists():
        raise DataError(f"input {path} does not exist")
    st = p.stat()
    return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def offset_rows(frame: pd.DataFrame, file_index: int) -> pd.DataFrame:
    """Give the rows of the ``file_index``-th file their global ``_row``."""
    if file_index:
        frame = frame.copy()
        frame["_row"] = frame["_row"].to_numpy(dtype=np.int64) + (file_index << ROW_OFFSET_BITS)
    return frame


@dataclass(frozen=True)
class FilePart:
    """What one file's load says besides its rows (combined by :func:`combine_parts`)."""

    file: str | None
    mapping: ColumnMapping
    description: str
    info: dict[str, Any]
    integer_columns: tuple[str, ...]

    @classmethod
    def of(cls, file: str | None, log: LoadedLog) -> FilePart:
        ints = tuple(c for c in log.frame.columns
                     if c != "_row" and pd.api.types.is_integer_dtype(log.frame[c]))
        return cls(file, log.mapping, log.description, log.info, ints)


def combine_parts(parts: Sequence[FilePart], pattern: str | None) -> FilePart:
    """One description of all files; DataError if two files map to different contracts."""
    parts = sorted(parts, key=lambda p: "" if p.file is None else p.file)
    first = parts[0]
    if len(parts) == 1:
        return first
    for part in parts[1:]:
        if part.mapping != first.mapping:
            raise DataError(f"input {pattern}: {part.file} maps to other columns/features than "
                            f"{first.file} ({part.mapping} vs {first.mapping})")
    ints = tuple(c for c in first.integer_columns
                 if all(c in p.integer_columns for p in parts))
    return FilePart(
        file=pattern, mapping=first.mapping,
        description=f"{first.description} and {len(parts) - 1} more files matching {pattern}",
        info={"files": len(parts), "per_file": [{"file": p.file, **p.info} for p in parts]},
        integer_columns=ints)


def load_files(source: str, path: str | None, options: Mapping[str, Any] | None = None,
               progress: bool = True) -> LoadedLog:
    """Load ``path`` (a file, or a glob of files) with ``source`` into one log."""
    files = input_files(path, source)
    if len(files) == 1:
        return load_source(source, files[0], options, progress=progress)
    logs = [load_source(source, f, options, progress=progress) for f in files]
    part = combine_parts([FilePart.of(f, log) for f, log in zip(files, logs)], path)
    frame = pd.concat([offset_rows(log.frame, i) for i, log in enumerate(logs)],
                      ignore_index=True)
    return LoadedLog(frame=frame, mapping=part.mapping, description=part.description,
                     info=part.info)
