"""``sessionrec validate``: check a prepared dataset's shards, vocabularies and metadata."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="check a prepared dataset's shards, vocabularies and metadata",
        description="Read every shard of a prepared dataset (CRC checks, parsing), compare the "
                    "users, interactions, vocabularies and item features with dataset.json, "
                    "and list every problem with its file. Exit code 0 if the dataset is "
                    "intact, 1 if not.")
    p.add_argument("data", help="prepared dataset, e.g. tfrecords/NAME")
    p.add_argument("--quiet", action="store_true", help="print only problems")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sessionrec_tf.data.validate import validate_dataset

    say = (lambda _m: None) if args.quiet else print
    report = validate_dataset(args.data, progress=lambda f: say(f"checking {f}"))
    for problem in report.problems:
        print(f"problem: {problem}")
    if report.ok:
        say(f"{report.path}: OK ({report.shards} shards, {report.users:,} users, "
            f"{report.rows:,} interactions)")
        return 0
    print(f"{report.path}: {len(report.problems)} problem(s); prepare the dataset again "
          "(sessionrec prepare ... --overwrite)")
    return 1
