"""``sessionrec score``: batch-score users with an exported model into Parquet.

Flag defaults come from :class:`~sessionrec_tf.export.scorer.ScoreOptions`.
"""

from __future__ import annotations

import argparse

from sessionrec_tf.cli.common import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    from sessionrec_tf.data.splits import PROTOCOLS, SPLITS
    from sessionrec_tf.export.scorer import ScoreOptions
    from sessionrec_tf.options import default_of

    p = sub.add_parser(
        "score", help="batch-score users with an exported model into Parquet",
        description="Stream every user of a split through an exported SavedModel and write "
                    "(user_id, rank, item_id, score) rows to a Parquet dataset directory, one "
                    "part file per chunk of users. Running the same command again resumes an "
                    "interrupted run without duplicating rows.")
    p.add_argument("--model", required=True,
                   help="export version directory, e.g. export/sessionrec/3")
    p.add_argument("--data", required=True, help="prepared dataset, e.g. tfrecords/NAME")
    p.add_argument("--output", required=True,
                   help="output directory (a Parquet dataset), e.g. recs.parquet")
    p.add_argument("--k", type=positive_int, default=default_of(ScoreOptions, "k"),
                   help="recommendations per user (default: the export's k)")
    p.add_argument("--split", choices=SPLITS, default=default_of(ScoreOptions, "split"),
                   help="users' input histories: the split's input (test: all but the last "
                        "session) or full (whole histories)")
    p.add_argument("--protocol", choices=PROTOCOLS,
                   default=default_of(ScoreOptions, "protocol"))
    p.add_argument("--batch-size", type=positive_int,
                   default=default_of(ScoreOptions, "batch_size"), help="users per request")
    p.add_argument("--chunk-users", type=positive_int,
                   default=default_of(ScoreOptions, "chunk_users"),
                   help="users per part file (memory bound, resume granularity)")
    p.add_argument("--scann", action="store_true", default=default_of(ScoreOptions, "scann"),
                   help="use the export's ScaNN model (exported with --index scann|both)")
    p.add_argument("--runner", choices=["local", "beam"], default="local",
                   help="local: this process, resumable part by part (default); beam: an "
                        "Apache Beam pipeline through RunInference (needs the beam extra; "
                        "DirectRunner unless --beam-option runner=...)")
    p.add_argument("--beam-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a Beam pipeline option for --runner beam, e.g. "
                        "--beam-option direct_num_workers=2 --beam-option runner=DataflowRunner")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sessionrec_tf.data.errors import DataError
    from sessionrec_tf.export.scorer import BatchScorer, ScoreOptions

    options = ScoreOptions(k=args.k, split=args.split, protocol=args.protocol,
                           batch_size=args.batch_size, chunk_users=args.chunk_users,
                           scann=args.scann)
    if args.runner == "beam":
        from sessionrec_tf.beam_support import parse_beam_options
        from sessionrec_tf.export.beam_scorer import BeamScorer

        BeamScorer(args.model, args.data, options, parse_beam_options(args.beam_option)
                   ).run(args.output, log=print)
        return 0
    if args.beam_option:
        raise DataError("--beam-option applies to --runner beam only")
    scorer = BatchScorer(args.model, args.data, options, progress=not args.quiet)
    scorer.run(args.output, log=print)
    return 0
