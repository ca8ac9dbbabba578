"""Generic interaction logs (CSV, TSV, Parquet) read through a user-supplied column mapping.

Format
------
One row per interaction, in any column names. The file type comes from the extension:

- ``.csv`` (comma), ``.tsv`` / ``.tab`` (tab); compressed variants such as ``.csv.gz`` are read
  transparently. Option ``sep`` sets another delimiter (``;``, ``|``, ``tab``, ...) and also
  allows other extensions (``.txt``, ``.log``) to be read as delimited text.
- ``.parquet`` / ``.pq``.

The first row of a text file is its header.

Column mapping
--------------
Option ``column_map`` is a path to a YAML (``.yaml``/``.yml``) or JSON (``.json``) file, or a
dict, with the keys of :meth:`~sessionrec_tf.data.contract.ColumnMapping.from_dict`::

    user_id: uid              # column names in the file
    item_id: product
    timestamp: event_time
    label: feedback           # already 0/1
    session_id: visit         # optional
    timestamp_unit: datetime  # s | ms | us | ns | datetime
    integer_ids: false
    features:
      - {name: price_bucket, column: price, kind: item, bins: [5, 20, 100]}
      - {name: device, kind: interaction}

Ids that all look like integers are read as integers (as the contract's ``int64`` ids; leading
zeros are not kept), other ids as text; session ids are always read as text.

Without ``column_map`` the contract's own names are expected (``user_id``, ``item_id``,
``timestamp`` in seconds, ``label``). A mapping naming a column that is not in the file fails
with the contract's error, which lists the columns present.

Positive/negative rule: the ``label`` column as given (1 = positive, 0 = negative; anything
else is an error). No row is dropped by this source.

This module also holds the small file helpers shared by the dataset-specific sources
(input resolution, delimited-text reading with located errors, 0/1 flag and number checks).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sessionrec_tf.data.contract import (
    ColumnMapping,
    first_bad,
    first_value,
    to_canonical,
    where,
)
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.sources.base import LoadedLog, parse_options

TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
PARQUET_EXTENSIONS = (".parquet", ".pq")
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip", ".zst")
SEP_ALIASES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
               "space": " "}


# --------------------------------------------------------------------------------------------
# helpers shared by the sources


def resolve_input(path: str | Path | None, source: str, candidates: Sequence[str] = ()) -> Path:
    """The input file of a source; a directory is searched for ``candidates`` (in order).

    Raises:
      DataError: no path given, the path does not exist, or a directory without a candidate.
    """
    if path is None or str(path) == "":
        raise DataError(f"source {source!r} needs the path of its input file (got {path!r})")
    p = Path(path)
    if p.is_dir():
        for name in candidates:
            if (p / name).is_file():
                return p / name
        wanted = f"; expected one of {list(candidates)} inside it" if candidates else ""
        raise DataError(f"source {source!r}: input {p} is a directory{wanted}")
    if not p.is_file():
        raise DataError(f"source {source!r}: input file {p} does not exist")
    return p


def file_extension(path: Path) -> str:
    """Lower-case extension without a compression suffix (``data.csv.gz`` -> ``.csv``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def first_line(path: Path) -> str:
    """The first line of a (possibly gzip-compressed) text file, without the newline."""
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
                return fh.readline().rstrip("\r\n")
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            return fh.readline().rstrip("\r\n")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read the file (truncated or corrupt?): {exc}") from None


def normalise_sep(sep: str) -> str:
    """Delimiter from an option value (``tab``, ``\\t``, ``;``, ...)."""
    return SEP_ALIASES.get(sep.lower(), sep) if sep else sep


def read_delimited(
    path: Path,
    what: str,
    *,
    sep: str,
    header: bool = True,
    names: Sequence[str] | None = None,
    usecols: Sequence[int] | None = None,
    dtypes: Mapping[Any, str] | None = None,
) -> pd.DataFrame:
    """Read a delimited text file, turning every reading failure into a DataError.

    ``dtypes`` gives the expected types of columns (by name, or by position when there is no
    header). When a value does not fit them, the file is read again without those types so that
    the contract's checks can name the column and row of the bad value.

    Args:
      path: the file.
      what: the format's name, for error messages.
      sep: delimiter.
      header: the first line is a header.
      names: column names (files without a header).
      usecols: positions of the columns to keep (files without a header).
      dtypes: expected column types.
    """
    kwargs: dict[str, Any] = {"sep": sep, "header": 0 if header else None}
    if usecols is not None:
        kwargs["usecols"] = list(usecols)
    elif names is not None:
        kwargs["names"] = list(names)
    try:
        try:
            frame = pd.read_csv(path, dtype=dict(dtypes or {}), **kwargs)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            raise
        except (ValueError, TypeError, OverflowError):
            # A value does not fit the expected type: read untyped and let the checks locate it.
            frame = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (expected {what})") from None
    except (EOFError, zlib.error) as exc:
        raise DataError(f"{path}: the compressed file is truncated or corrupt ({exc}); "
                        "copy or download it again") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot parse the file as {what}: {msg}") from None
    if usecols is not None and names is not None:
        frame.columns = list(names)
    return frame


def require_columns(raw: pd.DataFrame, columns: Iterable[str], source: str, what: str) -> None:
    """Refuse a file lacking a column the format needs (named, with the columns present)."""
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise DataError(
            f"{source}: column {missing[0]!r} is required by the {what} format but is not in "
            f"the input; columns present: {list(raw.columns)}"
            + (f" (also missing: {missing[1:]})" if len(missing) > 1 else "")
        )


def numeric_column(
    raw: pd.DataFrame, column: str, source: str, *, allow_missing: bool
) -> np.ndarray:
    """A column as float64; text that is not a number (and, if not allowed, NaN) is an error."""
    values = raw[column]
    numeric = pd.to_numeric(values, errors="coerce")
    arr = numeric.to_numpy(dtype=float)
    present = values.notna().to_numpy()
    bad = np.isnan(arr) & present
    if bad.any():
        r, n = first_bad(bad, np.arange(len(values)))
        raise DataError(
            f"{where(source, column, r, n)}: {first_value(values, bad)} is "
            "not a number"
        )
    if not allow_missing and not present.all():
        r, n = first_bad(~present, np.arange(len(values)))
        raise DataError(f"{where(source, column, r, n)}: value is missing (empty or NaN)")
    return arr


def binary_flags(raw: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """A 0/1 column as bool; anything else (missing, 2, text) is an error naming the row."""
    values = raw[column]
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        r, n = first_bad(bad, np.arange(len(values)))
        raise DataError(
            f"{where(source, column, r, n)}: flag {first_value(values, bad)} "
            "is not 0 or 1"
        )
    return arr == 1.0


def label_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Positives and negatives of a canonical frame."""
    pos = int(frame["label"].sum())
    return {"positives": pos, "negatives": len(frame) - pos}


# --------------------------------------------------------------------------------------------
# the generic source


@dataclass(frozen=True)
class CsvOptions:
    """Options of :func:`load_csv`.

    Attributes:
      column_map: path of a YAML/JSON column mapping, or the mapping as a dict; None = the
        contract's own column names.
      sep: delimiter for text files (default from the extension: ``,`` or tab).
    """

    column_map: str | dict[str, Any] | None = None
    sep: str | None = None


def load_column_map(spec: str | Path | Mapping[str, Any] | ColumnMapping | None) -> ColumnMapping:
    """A :class:`ColumnMapping` from a YAML/JSON file, a dict, or None (the contract's names)."""
    if spec is None:
        return ColumnMapping()
    if isinstance(spec, ColumnMapping):
        return spec
    where = "column_map"
    if isinstance(spec, (str, Path)):
        p = Path(spec)
        where = f"column map {p}"
        if not p.is_file():
            raise DataError(f"{where} does not exist")
        try:
            text = p.read_text(encoding="utf-8")
            data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{where}: cannot parse the file: {first}") from None
    else:
        data = spec
    if not isinstance(data, Mapping):
        raise DataError(f"{where}: must be a mapping of contract names to columns, got "
                        f"{type(data).__name__}")
    try:
        return ColumnMapping.from_dict(data)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"{where}: invalid entry ({type(exc).__name__}: {exc}); every feature needs at least "
            "'name' (and optionally column, kind, bins)"
        ) from None


def _read_any(path: Path, sep: str | None, mapping: ColumnMapping) -> tuple[pd.DataFrame, str]:
    ext = file_extension(path)
    if ext in PARQUET_EXTENSIONS:
        if sep is not None:
            raise DataError(f"source 'csv': option sep does not apply to Parquet file {path}")
        try:
            return pd.read_parquet(path), "parquet"
        except Exception as exc:  # pyarrow raises many types for a broken file
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{path}: cannot parse the file as Parquet: {msg}") from None
    if sep is None:
        if ext not in TEXT_SEPARATORS:
            raise DataError(
                f"source 'csv': cannot tell the format of {path} from its extension {ext!r}; "
                f"supported: {sorted([*TEXT_SEPARATORS, *PARQUET_EXTENSIONS])} (optionally "
                "compressed, e.g. .csv.gz), or give option sep=... for delimited text"
            )
        sep = TEXT_SEPARATORS[ext]
    # Session ids are text by contract: read them as text so that "007" stays "007".
    dtypes = {mapping.session_id: "str"} if mapping.session_id is not None else {}
    what = "delimited text with a header" + (f" (sep {sep!r})" if sep not in ",\t" else "")
    return read_delimited(path, what, sep=sep, dtypes=dtypes), ext.lstrip(".") or "text"


def load_csv(path: str | None, **options: object) -> LoadedLog:
    """Load a generic CSV/TSV/Parquet interaction log through a column mapping.

    Options: ``column_map`` (YAML/JSON path or dict), ``sep`` (see the module docstring).
    """
    opts = parse_options(CsvOptions, options, "csv")
    file = resolve_input(path, "csv")
    mapping = load_column_map(opts.column_map)
    sep = normalise_sep(opts.sep) if opts.sep is not None else None
    raw, kind = _read_any(file, sep, mapping)
    frame = to_canonical(raw, mapping, str(file))
    info: dict[str, Any] = {
        "format": kind,
        "rows_read": len(raw),
        "rows_kept": len(frame),
        **label_counts(frame),
    }
    return LoadedLog(
        frame=frame,
        mapping=mapping,
        description=f"generic {kind} log {file} (label column {mapping.label!r} as given)",
        info=info,
    )
