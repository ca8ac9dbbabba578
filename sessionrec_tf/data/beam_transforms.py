"""The per-user work and the transforms of the Beam preparation
(:mod:`sessionrec_tf.data.beam_prepare` runs them; needs the ``beam`` extra).

Every function here applies the pandas path's own step (:func:`sessionize`,
:func:`filter_pass`, :func:`encode`, :func:`user_cut_points`, :func:`summarize`,
:func:`user_example`) to the rows of ONE user, which the pandas path applies to all users at
once; the steps are per user by construction, except rule 1 of the filters (item counts),
which the pipeline combines over all users and passes as a side input.

Between pipelines a user travels as a pickled pandas frame of its rows (contract columns,
sorted by session and time) in TFRecord files (:class:`WriteState`, :func:`read_state`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import apache_beam as beam
import numpy as np
import pandas as pd
from apache_beam.coders import PickleCoder

from sessionrec_tf.data.filters import (
    FilterOptions,
    RowDropper,
    counted_by_item_filter,
    filter_pass,
    renumber_sessions,
)
from sessionrec_tf.data.layout import FrameLayout
from sessionrec_tf.data.prepare import encode, item_feature_pairs
from sessionrec_tf.data.report import DataReport
from sessionrec_tf.data.sessions import sessionize
from sessionrec_tf.data.sources import load_source
from sessionrec_tf.data.sources.inputs import FilePart, offset_rows
from sessionrec_tf.data.splits import summarize, user_cut_points
from sessionrec_tf.data.tfrecord import SCALAR_KEYS, interaction_keys, user_example
from sessionrec_tf.data.vocab import Vocabulary

PARTS = "parts"


# ---------------------------------------------------------------------------------------
# per-user functions (plain pandas; tested without Beam)


def user_rows(chunks: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One user's loaded rows, from the chunks of several files, in global ``_row`` order."""
    frame = pd.concat(list(chunks), ignore_index=True)
    return frame.sort_values("_row", kind="stable").reset_index(drop=True)


def sessionize_user(frame: pd.DataFrame, gap_seconds: float) -> tuple[pd.DataFrame,
                                                                      dict[str, int]]:
    """:func:`sessionize` on one user; also the rows it removed and reordered."""
    report = DataReport("user")
    out = sessionize(frame, gap_seconds, report)
    return out, {"deduplicated": report.total_removed(),
                 "reordered": int(report.notes["rows_reordered_by_time_sort"])}


def totals(frame: pd.DataFrame) -> dict[str, int]:
    """Additive counts of one user's rows (summed over users by the pipeline)."""
    out = {"rows": len(frame), "users": int(len(frame) > 0),
           "positives": int(frame["label"].sum())}
    if "session" in frame.columns:
        out["sessions"] = int(frame["session"].nunique())
    return out


def counted_items(frame: pd.DataFrame, options: FilterOptions) -> list[tuple[Any, int]]:
    """``(item, rows)`` counted by the item filter (rule 1) in one user's rows."""
    counted = counted_by_item_filter(frame["label"].to_numpy().astype(bool), options)
    return list(frame.loc[counted, "item_id"].value_counts(sort=False).items())


def filter_user(frame: pd.DataFrame, item_counts: Mapping[Any, int],
                options: FilterOptions) -> tuple[pd.DataFrame, dict[str, int]]:
    """One filter pass over one user's rows given the dataset's item counts at the pass's
    start: the kept rows and the rows removed per rule."""
    count = np.fromiter((item_counts.get(i, 0) for i in frame["item_id"].tolist()),
                        dtype=np.int64, count=len(frame))
    dropper = RowDropper(len(frame))  # no options: a user may lose every row
    filter_pass(frame, dropper.keep, count, options, dropper)
    return frame.loc[dropper.keep].reset_index(drop=True), dropper.removed


def value_counts(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple[tuple[str, Any],
                                                                            int]]:
    """``((column, value), rows)`` of one user, for the vocabularies."""
    return [((c, v), int(n)) for c in columns
            for v, n in frame[c].value_counts(sort=False).items()]


def session_starts(frame: pd.DataFrame) -> np.ndarray:
    """``[sessions]`` start times of one user's sessions."""
    return frame["timestamp"].to_numpy()[FrameLayout.of(frame).session_starts]


def user_record(frame: pd.DataFrame, vocabs: Mapping[str, Vocabulary],
                features: tuple[str, ...], item_features: tuple[str, ...],
                split_time: float) -> tuple[bytes, dict[str, Any],
                                            list[tuple[tuple[str, int, int], int]]]:
    """One filtered user -> (its serialized record, its split summary, its item-feature pair
    counts), exactly as the pandas path computes them for all users."""
    frame = renumber_sessions(frame)
    enc = encode(frame, vocabs, features)
    cuts = user_cut_points(enc, split_time)
    lay = FrameLayout.of(enc)
    record = user_example(
        str(np.asarray(frame["user_id"].iloc[:1]).astype(str)[0]), lay.session_lengths,
        {k: enc[k].to_numpy(dtype=np.int64) for k in interaction_keys(features)},
        {k: int(cuts[k].iloc[0]) for k in SCALAR_KEYS})
    pairs = [((f, int(i), int(v)), int(n)) for f in item_features
             for i, v, n in item_feature_pairs(enc, f).itertuples(index=False)]
    return record, summarize(enc, cuts, split_time), pairs


def fold(add: Callable[[Any, Any], Any]) -> Callable[[Iterable[Any]], Any]:
    """A CombineGlobally function from an associative ``add`` (None for no input)."""
    def combine(values: Iterable[Any]) -> Any:
        return functools.reduce(lambda a, b: b if a is None else add(a, b), values, None)
    return combine


def add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}


# ---------------------------------------------------------------------------------------
# transforms


class LoadFile(beam.DoFn):
    """``(file index, file)`` -> one chunk of rows per user (keyed by user id), and the
    file's :class:`FilePart` on the ``parts`` output."""

    def __init__(self, source: str, source_options: Mapping[str, Any]) -> None:
        self.source = source
        self.source_options = dict(source_options)

    def process(self, element: tuple[int, str | None]) -> Iterator[Any]:
        index, file = element
        log = load_source(self.source, file, self.source_options, progress=False)
        yield beam.pvalue.TaggedOutput(PARTS, FilePart.of(file, log))
        frame = offset_rows(log.frame, index)
        for user, rows in frame.groupby("user_id", sort=False):
            yield (user.item() if isinstance(user, np.generic) else user), rows


class Totals(beam.PTransform):
    """Frames -> one dict: summed :func:`totals` (plus any ``extra`` counts a frame carries
    as ``(frame, counts)``) and the number of distinct items."""

    def expand(self, frames: Any) -> Any:
        items = (frames
                 | "Items" >> beam.FlatMap(lambda f: f["item_id"].unique().tolist())
                 | "Distinct" >> beam.Distinct()
                 | "Count" >> beam.combiners.Count.Globally())
        return (frames
                | "Totals" >> beam.Map(totals)
                | "Sum" >> beam.CombineGlobally(fold(add_counts))
                | "WithItems" >> beam.Map(lambda t, n: {**(t or {}), "items": n},
                                          n=beam.pvalue.AsSingleton(items)))


class WriteState(beam.PTransform):
    """Frames -> pickled records ``prefix-SSSSS-of-NNNNN.state``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def expand(self, frames: Any) -> Any:
        return frames | beam.io.WriteToTFRecord(self.prefix, coder=PickleCoder(),
                                                file_name_suffix=".state")


def read_state(pipeline: Any, prefix: str, label: str = "ReadState") -> Any:
    """The frames :class:`WriteState` wrote under ``prefix``."""
    return pipeline | label >> beam.io.ReadFromTFRecord(f"{prefix}-*.state",
                                                        coder=PickleCoder())


class WriteSummary(beam.PTransform):
    """Anything picklable -> one file ``path`` the driver reads (:func:`read_summary`)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def expand(self, values: Any) -> Any:
        return values | beam.io.WriteToTFRecord(self.path, coder=PickleCoder(), num_shards=1,
                                                shard_name_template="")


def read_summary(path: str) -> list[Any]:
    """The values :class:`WriteSummary` wrote to ``path`` (read in the driver)."""
    import pickle

    import tensorflow as tf

    return [pickle.loads(r) for r in tf.data.TFRecordDataset(path).as_numpy_iterator()]
