"""``sessionrec prepare``: raw log (or the simulator) -> sessions -> TFRecords + vocabularies.

Flag defaults come from :class:`~sessionrec_tf.data.PrepareOptions` and
:class:`~sessionrec_tf.data.FilterOptions`; the simulator flags are the fields of
:class:`~sessionrec_tf.data.sources.synthetic.SimulatorOptions`.
"""

from __future__ import annotations

import argparse
import typing
from typing import Any

from sessionrec_tf.cli.common import (
    CliError,
    flag,
    format_duration,
    parse_duration,
    parse_key_values,
    parse_time,
)
from sessionrec_tf.options import default_of, field_types

_MIN_FILTERS = ("min_item_interactions", "min_user_interactions", "min_session_positives",
                "min_user_sessions")


def _simulator_flags() -> dict[str, type]:
    """Simulator option field -> the flag's value type (``int | None`` -> ``int``)."""
    from sessionrec_tf.data.sources.synthetic import SimulatorOptions

    out = {}
    for name, tp in field_types(SimulatorOptions).items():
        args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
        out[name] = args[0]
    return out


def register(sub: argparse._SubParsersAction) -> None:
    from sessionrec_tf.data import FilterOptions, PrepareOptions
    from sessionrec_tf.data.sources import SOURCE_NAMES

    p = sub.add_parser(
        "prepare", help="raw log -> sessions -> sharded TFRecords + vocabularies + splits",
        description="Prepare a dataset: read a raw log (or simulate one), sessionize, filter, "
                    "build vocabularies and splits, write TFRecord shards and a data report.")
    p.add_argument("--source", required=True, choices=SOURCE_NAMES)
    p.add_argument("--input", help="raw log file, or a quoted glob of files read file by file "
                                   "(e.g. 'logs/part-*.csv'); not used by --source synthetic")
    p.add_argument("--output", required=True, help="output directory, e.g. tfrecords/NAME")
    p.add_argument("--name", help="dataset name (default: output directory name)")
    p.add_argument("--column-map", help="YAML/JSON column mapping (csv source)")
    p.add_argument("--source-option", action="append", metavar="KEY=VALUE",
                   help="source-specific option, repeatable (e.g. positive_threshold=4)")
    g = p.add_argument_group("sessions and filters")
    gap = default_of(PrepareOptions, "session_gap_seconds")
    g.add_argument("--session-gap", type=parse_duration, default=gap,
                   help=f"inactivity gap starting a new session (default {format_duration(gap)};"
                        " e.g. 2h, 1d)")
    for name in _MIN_FILTERS:
        g.add_argument(flag(name), type=int, default=default_of(FilterOptions, name))
    g.add_argument("--max-positives", type=int,
                   default=default_of(FilterOptions, "max_positives") or 0,
                   help="keep each user's most recent sessions holding at most this many "
                        "positives (0 = no cap)")
    g.add_argument("--max-interactions", type=int,
                   default=default_of(FilterOptions, "max_interactions") or 0,
                   help="keep each user's most recent sessions holding at most this many "
                        "interactions (0 = no cap)")
    g.add_argument("--item-filter-positives-only", action="store_true",
                   default=not default_of(FilterOptions, "count_negatives_in_item_filter"),
                   help="leave negatives out of the item count (negative rows are then never "
                        "removed by the item filter)")
    quantile = default_of(PrepareOptions, "temporal_quantile")
    g.add_argument("--temporal-split-time", type=parse_time,
                   help=f"T of the temporal split (Unix seconds or ISO date; default: the "
                        f"{quantile:g} quantile of session start times)")
    g.add_argument("--temporal-quantile", type=float, default=quantile)
    g.add_argument("--num-shards", type=int)
    g.add_argument("--overwrite", action="store_true",
                   help="replace an output directory holding a different dataset")
    s = p.add_argument_group("synthetic source (the session simulator; unset = the --size "
                             "preset's value)")
    for name, tp in _simulator_flags().items():
        s.add_argument(flag(name), type=tp, metavar=tp.__name__.upper(),
                       help="simulator preset: tiny, demo, small, medium, recflow"
                       if name == "size" else None)
    r = p.add_argument_group("runner")
    r.add_argument("--runner", choices=("local", "beam"), default="local",
                   help="local: pandas in this process (default); beam: the same preparation "
                        "as Apache Beam pipelines (needs the `beam` extra), same output")
    r.add_argument("--beam-option", action="append", default=[], metavar="KEY=VALUE",
                   help="Beam pipeline option, repeatable (e.g. direct_num_workers=2, "
                        "runner=DataflowRunner); with --runner beam")
    p.add_argument("--quiet", action="store_true", help="no progress bars or report table")
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """(source options, :class:`PrepareOptions`) of a parsed ``prepare`` command line."""
    from sessionrec_tf.data import FilterOptions, PrepareOptions

    source_options: dict[str, Any] = parse_key_values(args.source_option, "--source-option")
    if args.column_map:
        source_options["column_map"] = args.column_map
    synthetic_given = {k: getattr(args, k) for k in _simulator_flags()
                       if getattr(args, k) is not None}
    if synthetic_given and args.source != "synthetic":
        raise CliError(f"{flag(next(iter(synthetic_given)))} is a simulator option; it needs "
                       f"--source synthetic (got --source {args.source})")
    source_options.update(synthetic_given)
    filters = FilterOptions(
        **{k: getattr(args, k) for k in _MIN_FILTERS},
        count_negatives_in_item_filter=not args.item_filter_positives_only,
        max_positives=args.max_positives or None,
        max_interactions=args.max_interactions or None,
    )
    options = PrepareOptions(
        session_gap_seconds=args.session_gap,
        filters=filters,
        temporal_split_time=args.temporal_split_time,
        temporal_quantile=args.temporal_quantile,
        num_shards=args.num_shards,
        overwrite=args.overwrite,
    )
    return source_options, options


def run(args: argparse.Namespace) -> int:
    from sessionrec_tf.data import prepare_dataset

    if args.source != "synthetic" and not args.input:
        raise CliError(f"--source {args.source} needs --input PATH")
    if args.beam_option and args.runner != "beam":
        raise CliError("--beam-option needs --runner beam")
    source_options, options = options_from_args(args)
    prepare_dataset(args.source, args.input, args.output, source_options, options,
                    name=args.name, progress=not args.quiet,
                    log=None if args.quiet else print, runner=args.runner,
                    beam_options=args.beam_option)
    return 0
