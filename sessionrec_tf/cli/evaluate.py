"""``sessionrec evaluate``: full-catalog Recall/NDCG/HR/MRR@K of a run's best weights."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from sessionrec_tf.config import EXCLUDE_SEEN
    from sessionrec_tf.data.splits import PROTOCOLS
    from sessionrec_tf.retrieval.registry import INDEX_NAMES

    p = sub.add_parser(
        "evaluate", help="full-catalog Recall/NDCG/HR/MRR@K of a run's best weights",
        description="Evaluate a trained run on a split; writes RUN/metrics.json and prints "
                    "a table.")
    p.add_argument("--run", required=True, help="run directory, e.g. runs/NAME")
    p.add_argument("--protocol", default="loso", help=", ".join(PROTOCOLS))
    p.add_argument("--split", default="test", choices=["test", "valid"])
    p.add_argument("--data", help="prepared dataset (default: the run's)")
    p.add_argument("--k", type=int, nargs="+",
                   help="cut-offs (default: 10 100 500, those larger than the catalog dropped "
                        "with a note)")
    p.add_argument("--exclude-seen", choices=EXCLUDE_SEEN,
                   help="seen-item policy (default: the run's config, normally positives)")
    p.add_argument("--index", default=INDEX_NAMES[0], choices=INDEX_NAMES,
                   help="exact chunked top-K, or ScaNN (also reports its recall vs exact)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--output", help="metrics file (default RUN/metrics.json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sessionrec_tf.evaluation import evaluate_run, metrics_table

    record = evaluate_run(args.run, args.protocol, args.split, args.data, args.k,
                          args.exclude_seen, args.index, args.batch_size,
                          output=args.output, log=print)
    print(metrics_table(record))
    return 0
