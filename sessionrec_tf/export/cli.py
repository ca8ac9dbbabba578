"""``sessionrec export`` and ``sessionrec score``: argparse registration, as in ``cli.py``.

Registered into the main command line by adding :func:`register_export` and
:func:`register_score` to ``sessionrec_tf.cli.REGISTRY``. Also runnable on its own:
``python -m sessionrec_tf.export.cli {export,score} ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from sessionrec_tf._keras_env import ensure_legacy_keras  # noqa: E402

ensure_legacy_keras()

INDEX_CHOICES = ("exact", "scann", "both")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


# ----------------------------------------------------------------------------- export

def register_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a run as TF Serving SavedModels (+ ScaNN index)",
        description="Export a run's best weights as OUTPUT/<version>/: a stock-ops SavedModel "
                    "TF Serving loads (user embedding, exact top-K), and with --index "
                    "scann|both a ScaNN retrieval SavedModel (OUTPUT/<version>/scann) and a "
                    "scann_ops_pybind index (OUTPUT/<version>/scann_index). Written to a "
                    "staging directory and renamed when complete.")
    p.add_argument("--run", required=True, help="run directory, e.g. runs/NAME")
    p.add_argument("--output", required=True,
                   help="TF Serving base path, e.g. export/sessionrec")
    p.add_argument("--version", type=_positive_int,
                   help="version number (default: one more than the highest existing)")
    p.add_argument("--k", type=_positive_int, default=100, help="top-K size (default 100)")
    p.add_argument("--index", choices=INDEX_CHOICES, default="exact",
                   help="exact: stock model with exact top-K (default); scann: stock model "
                        "with embeddings only + ScaNN model; both: exact + ScaNN")
    p.add_argument("--data", help="the run's dataset if it moved (default: the one recorded "
                                  "in the run)")
    p.add_argument("--chunk-size", type=_positive_int, default=262_144,
                   help="candidates scored at once by the exact top-K (memory vs speed)")
    p.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=None,
                   help="write TF Serving warm-up requests into assets.extra (default: when "
                        "tensorflow-serving-api is installed; --warmup requires it)")
    p.add_argument("--model-name", default="sessionrec",
                   help="TF Serving model name in the warm-up requests (default sessionrec)")
    g = p.add_argument_group("ScaNN index (defaults scaled to the catalog size)")
    g.add_argument("--scann-leaves", type=_positive_int, help="tree partitions "
                   "(default round(3.2*sqrt(items)), at most items/50)")
    g.add_argument("--scann-leaves-to-search", type=_positive_int,
                   help="partitions searched per query (default 5%% of leaves, at least 8)")
    g.add_argument("--scann-reorder", type=_positive_int,
                   help="candidates re-scored exactly (default max(10k, 1000))")
    g.add_argument("--scann-spherical", action=argparse.BooleanOptionalAction,
                   help="spherical k-means tree (default: yes when the candidate embeddings "
                        "are unit-norm, i.e. cosine similarity)")
    g.add_argument("--scann-dims-per-block", type=_positive_int, default=2,
                   help="asymmetric-hashing dimensions per block (default 2)")
    g.add_argument("--scann-aq-threshold", type=float, default=0.2,
                   help="anisotropic quantization threshold (default 0.2)")
    g.add_argument("--scann-training-sample", type=_positive_int, default=100_000,
                   help="points sampled to train the tree and codebooks")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from sessionrec_tf.export.exporter import Exporter, ExportOptions
    from sessionrec_tf.retrieval.scann_options import ScannOptions

    scann = ScannOptions(
        num_leaves=args.scann_leaves, num_leaves_to_search=args.scann_leaves_to_search,
        num_reordering_candidates=args.scann_reorder, spherical=args.scann_spherical,
        dimensions_per_block=args.scann_dims_per_block,
        anisotropic_quantization_threshold=args.scann_aq_threshold,
        training_sample_size=args.scann_training_sample)
    options = ExportOptions(k=args.k, index=args.index, version=args.version, scann=scann,
                            chunk_size=args.chunk_size, warmup=args.warmup,
                            model_name=args.model_name)
    exporter = Exporter.from_run(args.run, args.data)
    result = exporter.export(args.output, options, log=None if args.quiet else print)
    print(result.path)
    return 0


# ----------------------------------------------------------------------------- score

def register_score(sub: argparse._SubParsersAction) -> None:
    from sessionrec_tf.data.splits import PROTOCOLS, SPLITS

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
    p.add_argument("--k", type=_positive_int,
                   help="recommendations per user (default: the export's k)")
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="users' input histories: the split's input (test: all but the last "
                        "session) or full (whole histories)")
    p.add_argument("--protocol", choices=PROTOCOLS, default="loso")
    p.add_argument("--batch-size", type=_positive_int, default=256, help="users per request")
    p.add_argument("--chunk-users", type=_positive_int, default=50_000,
                   help="users per part file (memory bound, resume granularity)")
    p.add_argument("--scann", action="store_true",
                   help="use the export's ScaNN model (exported with --index scann|both)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    from sessionrec_tf.export.scorer import BatchScorer, ScoreOptions

    options = ScoreOptions(k=args.k, split=args.split, protocol=args.protocol,
                           batch_size=args.batch_size, chunk_users=args.chunk_users,
                           scann=args.scann)
    scorer = BatchScorer(args.model, args.data, options, progress=not args.quiet)
    scorer.run(args.output, log=print)
    return 0


# ----------------------------------------------------------------------------- standalone

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sessionrec_tf.export.cli {export,score} ...`` (same as ``sessionrec``)."""
    from sessionrec_tf.config import ConfigError
    from sessionrec_tf.data.errors import DataError

    parser = argparse.ArgumentParser(prog="sessionrec")
    sub = parser.add_subparsers(dest="command", required=True)
    register_export(sub)
    register_score(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (DataError, ConfigError) as err:
        print(f"sessionrec {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
