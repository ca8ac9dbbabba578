"""``sessionrec prepare ... --runner beam``: the pandas preparation as Apache Beam pipelines.

Same request, same steps, same dataset (tested record for record against the pandas path);
for logs that do not fit one machine's memory. The per-user work runs on Beam's workers; the
driver runs a short sequence of pipelines and keeps only counts and vocabularies:

1. **load**: each input file (a glob's matches; ``--input`` of the pandas path) is read by
   the source on a worker, its rows grouped by user (GroupByKey), each user sessionized ->
   state 0. Counts of the ``loaded`` and ``deduplicated+sessionized`` steps.
2. **filter pass** ``i`` (a driver loop until a pass removes nothing, as the pandas loop):
   the item counts of state ``i-1`` (CombinePerKey) as a side input, one filter pass per user
   -> state ``i``; rows removed per rule. Rule 1 is the only rule needing all users.
3. **statistics** of the filtered users: counts, vocabulary counts, session start range.
   The driver builds the vocabularies and, without ``temporal_split_time``, finds the
   quantile's two order statistics exactly (:func:`order_statistics`: a histogram pass only
   when the session starts are too many to count value by value).
4. **write**: per user encode, cut points and record -> ``WriteToTFRecord`` with the
   pandas path's shard count and names; split summaries and item-feature counts combined.

The state between pipelines (pickled per-user frames) lives in the temporary output
directory, which is renamed into place only when everything is written (nothing
half-written); a failed run leaves nothing and starts again from the beginning. The output
directory must be a local or mounted path (a shared file system when workers run
elsewhere). ``beam_options``: Beam pipeline options, e.g. ``direct_num_workers=2
direct_running_mode=multi_processing``, or ``runner=DataflowRunner project=...``.

Example::

    BeamPreparation("kuairand", "logs/part-*.tsv", {}, PrepareOptions()).run(
        Path("tfrecords/kuairand"), name="kuairand", fingerprint="...")
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessionrec_tf.beam_support import (
    import_beam,
    make_pipeline,
    pipeline_options,
    run_pipeline,
)
from sessionrec_tf.data import splits as splits_mod
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.filters import RULES, empty_error, report_filters
from sessionrec_tf.data.prepare import (
    PreparedParts,
    PrepareOptions,
    default_num_shards,
    item_feature_table,
    publish,
)
from sessionrec_tf.data.report import DataReport, counts_from_totals
from sessionrec_tf.data.sessions import DEDUPLICATE_REASON, session_rule
from sessionrec_tf.data.sources.inputs import FilePart, combine_parts, input_files
from sessionrec_tf.data.tfrecord import SHARD_PREFIX, SHARD_SUFFIX
from sessionrec_tf.data.vocab import Vocabulary

STATE = "_beam"
MAX_DISTINCT_STARTS = 2_000_000  # session starts counted value by value in the driver
HISTOGRAM_BUCKETS = 4096


# One level of the search for order statistics: the values whose bucket among ``buckets``
# equal-width buckets of [low, high] is in [first, last].
Level = tuple[float, float, int, int, int]


def bucket(values: np.ndarray, low: float, high: float, buckets: int) -> np.ndarray:
    """Equal-width bucket of each value in [low, high] (clipped at both ends)."""
    if high <= low:
        return np.zeros(len(values), dtype=np.int64)
    b = np.floor((values - low) / (high - low) * buckets).astype(np.int64)
    return np.clip(b, 0, buckets - 1)


def inside(values: np.ndarray, levels: Sequence[Level]) -> np.ndarray:
    """Which values every level of the search keeps."""
    keep = np.ones(len(values), dtype=bool)
    for low, high, buckets, first, last in levels:
        b = bucket(values, low, high, buckets)
        keep &= (b >= first) & (b <= last)
    return keep


def order_statistics(ranks: Sequence[int], low: float, high: float, count: int,
                     histogram: Callable[[list[Level], float, float, int], np.ndarray],
                     distinct: Callable[[list[Level]], Mapping[float, int]],
                     max_distinct: int = MAX_DISTINCT_STARTS,
                     buckets: int = HISTOGRAM_BUCKETS, max_levels: int = 8) -> list[float]:
    """The values of the given ranks (0-based, sorted order) among ``count`` values in
    [low, high] that are only reachable through passes over the data:

    - ``histogram(levels, low, high, buckets)``: counts per equal-width bucket of [low, high]
      of the values every level keeps;
    - ``distinct(levels)``: count per distinct value of the values every level keeps.

    While more than ``max_distinct`` values are left, a histogram pass narrows the range to
    the buckets holding the ranks (a level); then the values left are counted one by one.
    Exact: the levels keep a contiguous run of the sorted values and count what they drop.
    """
    levels: list[Level] = []
    below, left = 0, count
    lo_rank, hi_rank = min(ranks), max(ranks)
    while left > max_distinct and high > low and len(levels) < max_levels:
        counts = np.asarray(histogram(levels, low, high, buckets), dtype=np.int64)
        cum = np.cumsum(counts)
        first = int(np.searchsorted(cum, lo_rank - below, side="right"))
        last = int(np.searchsorted(cum, hi_rank - below, side="right"))
        dropped = int(cum[first - 1]) if first else 0
        left = int(cum[last]) - dropped
        below += dropped
        levels.append((low, high, buckets, first, last))
        width = (high - low) / buckets
        low, high = low + first * width, low + (last + 1) * width
    values = sorted(distinct(levels).items())
    keys = np.array([v for v, _ in values], dtype=np.float64)
    cum = np.cumsum([n for _, n in values])
    return [float(keys[int(np.searchsorted(cum, r - below, side="right"))]) for r in ranks]


class BeamPreparation:
    """Prepares one request with Beam (see the module docstring).

    Args:
      source, input_path, source_options, options: the request, as for the pandas path.
      beam_options: Beam pipeline options (dict or ``KEY=VALUE`` items).
      log: where progress lines go (None: nowhere).
    """

    def __init__(self, source: str, input_path: str | None,
                 source_options: Mapping[str, Any], options: PrepareOptions,
                 beam_options: Mapping[str, str] | Sequence[str] = (),
                 progress: bool = True, log: Callable[[str], None] | None = print) -> None:
        self.beam = import_beam("preparing with --runner beam")
        self.source = source
        self.input_path = input_path
        self.source_options = dict(source_options)
        self.options = options
        self.beam_options = pipeline_options(beam_options)
        self.files = input_files(input_path, source)
        self.say = log or (lambda _m: None)
        self.progress = progress
        self.state_dir = Path()

    # -- plumbing -----------------------------------------------------------------------

    def _run(self, name: str, build: Callable[[Any], None]) -> None:
        t0 = time.time()
        pipeline = make_pipeline(self.beam_options)
        build(pipeline)
        run_pipeline(pipeline)
        if self.progress:
            self.say(f"  beam {name}: {time.time() - t0:.1f}s")

    def _path(self, name: str) -> str:
        return str(self.state_dir / name)

    def _summary(self, name: str) -> list[Any]:
        from sessionrec_tf.data.beam_transforms import read_summary

        return read_summary(self._path(name))

    def _one(self, name: str) -> Any:
        values = self._summary(name)
        return values[0] if values else None

    # -- the stages -----------------------------------------------------------------------

    def _load(self) -> tuple[FilePart, dict[str, int], dict[str, int], dict[str, int]]:
        from sessionrec_tf.data import beam_transforms as bt

        beam = self.beam

        def build(p: Any) -> None:
            loaded = (p | "Files" >> beam.Create(list(enumerate(self.files)))
                      | "Load" >> beam.ParDo(bt.LoadFile(self.source, self.source_options))
                      .with_outputs(bt.PARTS, main="rows"))
            _ = loaded[bt.PARTS] | "WriteParts" >> bt.WriteSummary(self._path("parts"))
            users = (loaded.rows | "ByUser" >> beam.GroupByKey()
                     | "UserRows" >> beam.MapTuple(lambda _u, chunks: bt.user_rows(chunks)))
            _ = (users | "LoadedTotals" >> bt.Totals()
                 | "WriteLoaded" >> bt.WriteSummary(self._path("loaded")))
            sessionized = users | "Sessionize" >> beam.Map(bt.sessionize_user,
                                                           self.options.session_gap_seconds)
            _ = (sessionized | "Changes" >> beam.MapTuple(lambda _f, changes: changes)
                 | "SumChanges" >> beam.CombineGlobally(bt.fold(bt.add_counts))
                 | "WriteChanges" >> bt.WriteSummary(self._path("changes")))
            frames = sessionized | "Frames" >> beam.MapTuple(lambda f, _c: f)
            _ = (frames | "SessionTotals" >> bt.Totals()
                 | "WriteSessionized" >> bt.WriteSummary(self._path("sessionized")))
            _ = frames | "WriteState" >> bt.WriteState(self._path("state0"))

        self._run("load", build)
        part = combine_parts(self._summary("parts"), self.input_path)
        return (part, self._one("loaded"), self._one("sessionized"),
                self._one("changes") or {"deduplicated": 0, "reordered": 0})

    def _filter_pass(self, i: int) -> dict[str, int]:
        from sessionrec_tf.data import beam_transforms as bt

        beam = self.beam
        options = self.options.filters

        def build(p: Any) -> None:
            frames = bt.read_state(p, self._path(f"state{i - 1}"))
            counts = (frames | "Counted" >> beam.FlatMap(bt.counted_items, options)
                      | "ItemCounts" >> beam.CombinePerKey(sum))
            filtered = frames | "Filter" >> beam.Map(
                bt.filter_user, beam.pvalue.AsDict(counts), options)
            _ = (filtered
                 | "Kept" >> beam.MapTuple(lambda f, removed: {**bt.totals(f), **removed})
                 | "Sum" >> beam.CombineGlobally(bt.fold(bt.add_counts))
                 | "WriteRemoved" >> bt.WriteSummary(self._path(f"pass{i}")))
            _ = (filtered | "Frames" >> beam.MapTuple(lambda f, _r: f)
                 | "NotEmpty" >> beam.Filter(lambda f: len(f) > 0)
                 | "WriteState" >> bt.WriteState(self._path(f"state{i}")))

        self._run(f"filter pass {i}", build)
        return self._one(f"pass{i}") or {}

    def _filters(self, report: DataReport) -> int:
        """The passes to a fixed point; returns the number of the final state."""
        options = self.options.filters
        removed = {rule: 0 for rule, _ in RULES}
        for i in range(1, options.max_passes + 1):
            result = self._filter_pass(i)
            this_pass = {rule: result.get(rule, 0) for rule, _ in RULES}
            for rule, k in this_pass.items():
                removed[rule] += k
            if result.get("rows", 0) == 0:
                last = [rule for rule, k in this_pass.items() if k]
                raise empty_error(last[-1], this_pass[last[-1]], options)
            if self.progress:
                self.say(f"  filter pass {i}: {sum(this_pass.values()):,} rows removed")
            if not any(this_pass.values()):
                report_filters(report, options, removed, i)
                return i
        raise DataError(f"filters did not reach a fixed point in {options.max_passes} passes")

    def _statistics(self, state: int, columns: Sequence[str]) -> tuple[dict[str, int],
                                                                      list[Any], Any]:
        from sessionrec_tf.data import beam_transforms as bt

        beam = self.beam

        def build(p: Any) -> None:
            frames = bt.read_state(p, self._path(f"state{state}"))
            _ = (frames | "Totals" >> bt.Totals()
                 | "WriteTotals" >> bt.WriteSummary(self._path("filtered")))
            _ = (frames | "Values" >> beam.FlatMap(bt.value_counts, list(columns))
                 | "ValueCounts" >> beam.CombinePerKey(sum)
                 | "WriteValues" >> bt.WriteSummary(self._path("values")))
            starts = frames | "Starts" >> beam.FlatMap(lambda f: bt.session_starts(f).tolist())
            _ = ((starts | "Min" >> beam.CombineGlobally(min).without_defaults(),
                  starts | "Max" >> beam.CombineGlobally(max).without_defaults())
                 | "Range" >> beam.Flatten()
                 | "WriteRange" >> bt.WriteSummary(self._path("range")))

        self._run("statistics", build)
        return self._one("filtered"), self._summary("values"), sorted(self._summary("range"))

    def _starts_pass(self, state: int, name: str, levels: list[Level],
                     histogram: tuple[float, float, int] | None) -> list[Any]:
        from sessionrec_tf.data import beam_transforms as bt

        beam = self.beam

        def keyed(frame: Any) -> list[tuple[Any, int]]:
            starts = bt.session_starts(frame)
            starts = starts[inside(starts, levels)]
            if histogram is not None:
                keys = bucket(starts, *histogram).tolist()
            else:
                keys = starts.tolist()
            return [(k, 1) for k in keys]

        def build(p: Any) -> None:
            _ = (bt.read_state(p, self._path(f"state{state}"))
                 | "Keys" >> beam.FlatMap(keyed)
                 | "Count" >> beam.CombinePerKey(sum)
                 | "Write" >> bt.WriteSummary(self._path(name)))

        self._run(name, build)
        return self._summary(name)

    def _split_time(self, state: int, sessions: int, low: float, high: float) -> float:
        if self.options.temporal_split_time is not None:
            return self.options.temporal_split_time
        k, fraction = splits_mod.quantile_position(sessions, self.options.temporal_quantile)
        ranks = [k, min(k + 1, sessions - 1)]
        passes = itertools.count(1)

        def histogram(levels: list[Level], lo: float, hi: float, buckets: int) -> np.ndarray:
            counts = np.zeros(buckets, dtype=np.int64)
            for b, n in self._starts_pass(state, f"starts histogram {next(passes)}", levels,
                                          (lo, hi, buckets)):
                counts[b] += n
            return counts

        def distinct(levels: list[Level]) -> dict[float, int]:
            return dict(self._starts_pass(state, "starts", levels, None))

        v0, v1 = order_statistics(ranks, low, high, sessions, histogram, distinct)
        return splits_mod.interpolate(v0, v1, fraction)

    def _write(self, tmp: Path, state: int, vocabs: Mapping[str, Vocabulary],
               features: tuple[str, ...], item_features: tuple[str, ...], split_time: float,
               num_shards: int) -> tuple[dict[str, Any], list[Any]]:
        from sessionrec_tf.data import beam_transforms as bt

        beam = self.beam
        def build(p: Any) -> None:
            records = bt.read_state(p, self._path(f"state{state}")) | "Record" >> beam.Map(
                bt.user_record, vocabs, features, item_features, split_time)
            _ = (records | "Examples" >> beam.MapTuple(lambda r, _s, _p: r)
                 | "WriteShards" >> beam.io.WriteToTFRecord(
                     str(tmp / SHARD_PREFIX), file_name_suffix=SHARD_SUFFIX,
                     num_shards=num_shards,
                     shard_name_template="-SSSSS-of-NNNNN"))
            _ = (records | "Splits" >> beam.MapTuple(lambda _r, s, _p: s)
                 | "SumSplits" >> beam.CombineGlobally(bt.fold(splits_mod.add_summaries))
                 | "WriteSplits" >> bt.WriteSummary(self._path("splits")))
            _ = (records | "Pairs" >> beam.FlatMapTuple(lambda _r, _s, pairs: pairs)
                 | "PairCounts" >> beam.CombinePerKey(sum)
                 | "WritePairs" >> bt.WriteSummary(self._path("pairs")))

        self._run("write", build)
        return self._one("splits"), self._summary("pairs")

    # -- the whole preparation -------------------------------------------------------------

    def run(self, output: Path, name: str, fingerprint: str) -> None:
        """Prepare into ``output`` (through a temporary sibling renamed into place)."""
        t0 = time.time()
        self.say(f"preparing with Beam ({self.beam_options['runner']}, "
                 f"{len(self.files)} input file(s))")

        def fill(tmp: Path) -> None:
            self.state_dir = tmp / STATE
            self.state_dir.mkdir()
            part, loaded, sessionized, changes = self._load()
            report = DataReport(source=part.description)
            report.notes["source_info"] = part.info
            report.step("loaded", counts_from_totals(**loaded))
            report.removed("deduplicate", DEDUPLICATE_REASON, changes["deduplicated"])
            report.notes["rows_reordered_by_time_sort"] = changes["reordered"]
            report.notes["session_rule"] = session_rule(part.mapping.session_id is not None,
                                                        self.options.session_gap_seconds)
            report.step("deduplicated+sessionized", counts_from_totals(**sessionized))
            state = self._filters(report)
            features = tuple(f.name for f in part.mapping.features)
            item_features = tuple(f.name for f in part.mapping.features if f.kind == "item")
            columns = ("item_id", *features)
            filtered, values, (low, high) = self._statistics(state, columns)
            report.step("filtered", counts_from_totals(**filtered))
            vocabs = self._vocabularies(values, columns, part)
            split_time = self._split_time(state, filtered["sessions"], low, high)
            num_shards = default_num_shards(self.options, filtered["rows"], filtered["users"])
            split_summary, pairs = self._write(tmp, state, vocabs, features, item_features,
                                               split_time, num_shards)
            per_feature = {f: pd.DataFrame(
                [(i, v, n) for (g, i, v), n in pairs if g == f],
                columns=["item_id", "value", "n"]) for f in item_features}
            parts = PreparedParts(
                name=name, source=self.source, input_path=self.input_path,
                description=part.description, source_options=self.source_options,
                options=self.options, fingerprint=fingerprint, features=part.mapping.features,
                vocabs=vocabs,
                item_table=item_feature_table(per_feature, vocabs["item_id"].size, report),
                split_time=split_time, split_summary=split_summary, num_shards=num_shards,
                report=report)
            shutil.rmtree(self.state_dir)
            parts.write(tmp, t0)
            self.say(report.table())

        publish(output, fill)
        self.say(f"prepared {output} in {time.time() - t0:.1f}s (Beam)")

    @staticmethod
    def _vocabularies(values: list[Any], columns: Sequence[str],
                      part: FilePart) -> dict[str, Vocabulary]:
        out = {}
        for column in columns:
            pairs = [(v, n) for (c, v), n in values if c == column]
            counts = pd.Series([n for _, n in pairs], index=[v for v, _ in pairs],
                               dtype=np.int64)
            dtype = "int64" if column in part.integer_columns else "string"
            out[column] = Vocabulary.from_counts(column, counts, dtype)
        return out
