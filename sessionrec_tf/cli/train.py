"""``sessionrec train``: ``model.fit`` with validation, early stopping and checkpoints."""

from __future__ import annotations

import argparse

from sessionrec_tf.cli.common import add_set, config_help
from sessionrec_tf.config import CHOICES

STRATEGIES = CHOICES["train.strategy"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a model (model.fit) with validation, early stopping, checkpoints",
        description="Train an experiment config on a prepared dataset into a run directory. "
                    "Running the same command again resumes from the last checkpoint.")
    p.add_argument("--data", required=True, help="prepared dataset, e.g. tfrecords/NAME")
    p.add_argument("--config", required=True, help=config_help())
    p.add_argument("--output", required=True, help="run directory, e.g. runs/NAME")
    add_set(p)
    p.add_argument("--strategy", choices=list(STRATEGIES), default=None,
                   help="tf.distribute strategy (train.strategy; default: the config's): "
                        "default one device, mirrored every device of this host, "
                        "multi_worker the hosts of TF_CONFIG (start the same command on each)")
    p.add_argument("--overwrite", action="store_true", help="start over in --output")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="Keras progress: 1 progress bar, 2 one line per epoch, 0 silent")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sessionrec_tf.config import load_config
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.training import Trainer

    overrides = [*args.set, *([f"train.strategy={args.strategy}"] if args.strategy else [])]
    config = load_config(args.config, overrides)
    data = PreparedDataset.load(args.data)
    trainer = Trainer(config, data, args.output, overwrite=args.overwrite,
                      verbose=args.verbose)
    summary = trainer.run()
    if trainer.chief:  # the other workers of a multi-worker run stay quiet
        print(f"run {args.output}: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    return 0
