"""``sessionrec demo``: the main job on the embedded default data
(:mod:`sessionrec_tf.experiments.demo`)."""

from __future__ import annotations

import argparse

from sessionrec_tf.cli.common import add_set
from sessionrec_tf.experiments.demo import DEMO_EPOCHS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job on the embedded default data: prepare the "
                                    "simulator data, train SessionRec-HSTU, compare with "
                                    "most-popular")
    p.add_argument("--data", default="tfrecords/demo", help="where the demo data is prepared")
    p.add_argument("--output", default="runs/demo", help="the demo's run directory")
    p.add_argument("--size", default="demo", help="simulator preset")
    p.add_argument("--epochs", type=int, default=DEMO_EPOCHS)
    add_set(p, "override a config value of the demo's model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sessionrec_tf.experiments.demo import run_demo

    result = run_demo(Path(args.data), Path(args.output), args.size, args.epochs, args.set)
    print(result.table())
    print(f"trained {result.summary['epochs_run']} epochs (best epoch "
          f"{result.summary['best_epoch']}) in {result.seconds:.0f}s")
    print(result.verdict())
    return 0 if result.beats_popular else 1
