"""Raw-log sources: each turns one log format into the contract (:class:`LoadedLog`).

=========  ==========================================================================
source     format
=========  ==========================================================================
synthetic  the embedded session simulator (no input file)
kuairand   KuaiRand logs (``interactions.tsv`` like/hate subset, ``log_*.csv``)
kuaisar    KuaiSAR ``rec_inter.csv``
movielens  MovieLens ratings (``u.data``, ``ratings.dat``, ``ratings.csv``)
csv        any CSV/TSV/Parquet through a column mapping
=========  ==========================================================================
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.sources.base import LoadedLog, parse_options

_LOADERS = {
    "synthetic": ("sessionrec_tf.data.sources.synthetic", "load_synthetic"),
    "kuairand": ("sessionrec_tf.data.sources.kuairand", "load_kuairand"),
    "kuaisar": ("sessionrec_tf.data.sources.kuaisar", "load_kuaisar"),
    "movielens": ("sessionrec_tf.data.sources.movielens", "load_movielens"),
    "csv": ("sessionrec_tf.data.sources.tabular", "load_csv"),
}
SOURCE_NAMES = tuple(_LOADERS)


def loader(name: str) -> Callable[..., LoadedLog]:
    if name not in _LOADERS:
        raise DataError(f"unknown source {name!r}; valid sources: {list(SOURCE_NAMES)}")
    module, func = _LOADERS[name]
    return getattr(importlib.import_module(module), func)


def load_source(name: str, path: str | None, options: Mapping[str, Any] | None = None,
                progress: bool = True) -> LoadedLog:
    """Read ``path`` (None for ``synthetic``) with source ``name`` and its ``options``;
    ``progress``: show the source's own progress bar, if it has one (the simulator)."""
    load = loader(name)
    extra = {"progress": progress} if "progress" in inspect.signature(load).parameters else {}
    return load(path, **dict(options or {}), **extra)


__all__ = ["SOURCE_NAMES", "LoadedLog", "load_source", "loader", "parse_options"]
