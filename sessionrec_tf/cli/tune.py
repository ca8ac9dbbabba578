"""``sessionrec tune``: hyper-parameter search on validation (Optuna TPE, median pruning)."""

from __future__ import annotations

import argparse

from sessionrec_tf.cli.common import CliError, add_budget, add_set, config_help


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune", help="hyper-parameter search on the validation split (Optuna TPE + median "
                     "pruning; resumable)",
        description="Search a model's hyper-parameters on validation: Optuna TPE sampler, "
                    "median pruning on the per-epoch validation metric, trials stored in "
                    "OUTPUT/<config>/study.db (SQLite) so running the command again resumes. "
                    "Writes OUTPUT/<config>/best.yaml and trials.{md,json,png}. The test split "
                    "is never read.")
    p.add_argument("--config", required=True, help=config_help())
    p.add_argument("--data", required=True, help="prepared dataset, e.g. tfrecords/NAME")
    p.add_argument("--output", required=True, help="search directory, e.g. results/X/tune")
    p.add_argument("--trials", type=int, required=True,
                   help="finished (complete or pruned) trials in total; the same for every "
                        "model of a comparison")
    p.add_argument("--space", help="search-space YAML (default: the shipped space: learning "
                                   "rate, temperature, dropout, weight decay, negatives, alpha)")
    add_budget(p, "epochs/patience of every trial (as for experiment)")
    p.add_argument("--seed", type=int, default=0, help="seed of the TPE sampler")
    p.add_argument("--warmup-epochs", type=int, default=None,
                   help="epochs before a trial can be pruned (default: early stopping's grace "
                        "period, max(patience, early_stopping_start_epoch): 2 for budget "
                        "small, 60 for long)")
    p.add_argument("--include-defaults", action="store_true",
                   help="a new search's first trial is the config's own values of the "
                        "searched keys (those inside the space); the same flag for every "
                        "model of a comparison")
    add_set(p, "override applied to every trial")
    p.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.experiments import BUDGETS
    from sessionrec_tf.tuning import SearchSpace, tune

    if args.trials < 1:
        raise CliError("--trials must be >= 1")
    space = SearchSpace.load(args.space)
    data = PreparedDataset.load(args.data)
    summary = tune(args.config, data, Path(args.output), args.trials, space,
                   BUDGETS[args.budget], args.set, seed=args.seed,
                   warmup_epochs=args.warmup_epochs, verbose=args.verbose,
                   include_defaults=args.include_defaults)
    best = summary["best"]
    print(f"{summary['study']}: {len(summary['trials'])} trials; best " + (
        f"trial {best['number']} ({best['value']:.4f}): {' '.join(best['overrides'])}"
        if best else "none complete"))
    return 0
