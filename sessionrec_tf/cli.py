"""The ``sessionrec`` command line: prepare, train, evaluate, experiment, export, score, demo.

Each subcommand lives in its own ``register_*`` function; the options written in the issues
are the public interface (users' scripts depend on them), so they are only ever added to.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from sessionrec_tf._keras_env import ensure_legacy_keras  # noqa: E402

ensure_legacy_keras()

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class CliError(Exception):
    """A usage problem reported as one line on stderr with exit code 2."""


def parse_duration(text: str) -> float:
    """``"30m"``, ``"2h"``, ``"1d"``, ``"90s"`` or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; use e.g. 30m, 2h, 1d, 90s or seconds")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive, got {text!r}")
    return seconds


def parse_time(text: str) -> float:
    """Unix seconds, or an ISO date/time (UTC if no zone) -> Unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither Unix seconds nor an ISO date/time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_key_values(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise CliError(f"{flag} expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


# ----------------------------------------------------------------------------- prepare

_SYNTHETIC_FLAGS = {
    "size": "size",
    "num_users": "num_users",
    "num_items": "num_items",
    "sessions_per_user": "sessions_per_user",
    "mean_session_length": "mean_session_length",
    "seed": "seed",
}


def register_prepare(sub: argparse._SubParsersAction) -> None:
    from sessionrec_tf.data.sources import SOURCE_NAMES

    p = sub.add_parser(
        "prepare", help="raw log -> sessions -> sharded TFRecords + vocabularies + splits",
        description="Prepare a dataset: read a raw log (or simulate one), sessionize, filter, "
                    "build vocabularies and splits, write TFRecord shards and a data report.")
    p.add_argument("--source", required=True, choices=SOURCE_NAMES)
    p.add_argument("--input", help="raw log file (not used by --source synthetic)")
    p.add_argument("--output", required=True, help="output directory, e.g. tfrecords/NAME")
    p.add_argument("--name", help="dataset name (default: output directory name)")
    p.add_argument("--column-map", help="YAML/JSON column mapping (csv source)")
    p.add_argument("--source-option", action="append", metavar="KEY=VALUE",
                   help="source-specific option, repeatable (e.g. positive_threshold=4)")
    g = p.add_argument_group("sessions and filters")
    g.add_argument("--session-gap", type=parse_duration, default=1800.0,
                   help="inactivity gap starting a new session (default 30m; e.g. 2h, 1d)")
    g.add_argument("--min-item-interactions", type=int, default=5)
    g.add_argument("--min-user-interactions", type=int, default=5)
    g.add_argument("--min-session-positives", type=int, default=1)
    g.add_argument("--min-user-sessions", type=int, default=3)
    g.add_argument("--max-positives", type=int, default=200,
                   help="keep each user's most recent sessions holding at most this many "
                        "positives (0 = no cap)")
    g.add_argument("--max-interactions", type=int, default=0,
                   help="keep each user's most recent sessions holding at most this many "
                        "interactions (0 = no cap)")
    g.add_argument("--item-filter-positives-only", action="store_true",
                   help="leave negatives out of the item count (negative rows are then never "
                        "removed by the item filter)")
    g.add_argument("--temporal-split-time", type=parse_time,
                   help="T of the temporal split (Unix seconds or ISO date; default: 0.9 "
                        "quantile of session start times)")
    g.add_argument("--temporal-quantile", type=float, default=0.9)
    g.add_argument("--num-shards", type=int)
    g.add_argument("--overwrite", action="store_true",
                   help="replace an output directory holding a different dataset")
    s = p.add_argument_group("synthetic source (the session simulator)")
    s.add_argument("--size", help="simulator preset: tiny, demo, small, medium, recflow")
    s.add_argument("--num-users", type=int)
    s.add_argument("--num-items", type=int)
    s.add_argument("--sessions-per-user", type=float)
    s.add_argument("--mean-session-length", type=float)
    s.add_argument("--seed", type=int)
    p.add_argument("--quiet", action="store_true", help="no progress bars or report table")
    p.set_defaults(func=cmd_prepare)


def prepare_options_from_args(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    from sessionrec_tf.data import FilterOptions, PrepareOptions

    source_options: dict[str, Any] = parse_key_values(args.source_option, "--source-option")
    if args.column_map:
        source_options["column_map"] = args.column_map
    synthetic_given = {k: getattr(args, k) for k in _SYNTHETIC_FLAGS
                       if getattr(args, k) is not None}
    if synthetic_given and args.source != "synthetic":
        raise CliError(f"--{next(iter(synthetic_given)).replace('_', '-')} is a simulator "
                       f"option; it needs --source synthetic (got --source {args.source})")
    source_options.update(synthetic_given)
    filters = FilterOptions(
        min_item_interactions=args.min_item_interactions,
        min_user_interactions=args.min_user_interactions,
        min_session_positives=args.min_session_positives,
        min_user_sessions=args.min_user_sessions,
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


def cmd_prepare(args: argparse.Namespace) -> int:
    from sessionrec_tf.data import prepare_dataset

    if args.source != "synthetic" and not args.input:
        raise CliError(f"--source {args.source} needs --input PATH")
    source_options, options = prepare_options_from_args(args)
    prepare_dataset(args.source, args.input, args.output, source_options, options,
                    name=args.name, progress=not args.quiet,
                    log=None if args.quiet else print)
    return 0


# ----------------------------------------------------------------------------- train

def register_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a model (model.fit) with validation, early stopping, checkpoints",
        description="Train an experiment config on a prepared dataset into a run directory. "
                    "Running the same command again resumes from the last checkpoint.")
    p.add_argument("--data", required=True, help="prepared dataset, e.g. tfrecords/NAME")
    p.add_argument("--config", required=True,
                   help="experiment YAML, or a shipped config name (sessionrec_hstu, "
                        "sessionrec_transformer, sessionrec_gru, hstu, hstu_plus, sasrec, "
                        "sasrec_plus, gru4rec)")
    p.add_argument("--output", required=True, help="run directory, e.g. runs/NAME")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.sse=gru --set train.epochs=5")
    p.add_argument("--overwrite", action="store_true", help="start over in --output")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="Keras progress: 1 progress bar, 2 one line per epoch, 0 silent")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from sessionrec_tf.config import load_config
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.training import Trainer

    config = load_config(args.config, args.set)
    data = PreparedDataset.load(args.data)
    summary = Trainer(config, data, args.output, overwrite=args.overwrite,
                      verbose=args.verbose).run()
    print(f"run {args.output}: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


# ----------------------------------------------------------------------------- tune

def register_tune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune", help="hyper-parameter search on the validation split (Optuna TPE + median "
                     "pruning; resumable)",
        description="Search a model's hyper-parameters on validation: Optuna TPE sampler, "
                    "median pruning on the per-epoch validation metric, trials stored in "
                    "OUTPUT/<config>/study.db (SQLite) so running the command again resumes. "
                    "Writes OUTPUT/<config>/best.yaml and trials.{md,json,png}. The test split "
                    "is never read.")
    p.add_argument("--config", required=True, help="shipped config name or experiment YAML")
    p.add_argument("--data", required=True, help="prepared dataset, e.g. tfrecords/NAME")
    p.add_argument("--output", required=True, help="search directory, e.g. results/X/tune")
    p.add_argument("--trials", type=int, required=True,
                   help="finished (complete or pruned) trials in total; the same for every "
                        "model of a comparison")
    p.add_argument("--space", help="search-space YAML (default: the shipped space: learning "
                                   "rate, temperature, dropout, weight decay, negatives, alpha)")
    p.add_argument("--budget", default="small", choices=["smoke", "small", "full", "long"],
                   help="epochs/patience of every trial (as for experiment)")
    p.add_argument("--seed", type=int, default=0, help="seed of the TPE sampler")
    p.add_argument("--warmup-epochs", type=int, default=2,
                   help="epochs before a trial can be pruned")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override applied to every trial")
    p.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    p.set_defaults(func=cmd_tune)


def cmd_tune(args: argparse.Namespace) -> int:
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
                   warmup_epochs=args.warmup_epochs, verbose=args.verbose)
    best = summary["best"]
    print(f"{summary['study']}: {len(summary['trials'])} trials; best " + (
        f"trial {best['number']} ({best['value']:.4f}): {' '.join(best['overrides'])}"
        if best else "none complete"))
    return 0


# ----------------------------------------------------------------------------- evaluate

def register_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="full-catalog Recall/NDCG/HR/MRR@K of a run's best weights",
        description="Evaluate a trained run on a split; writes RUN/metrics.json and prints "
                    "a table.")
    p.add_argument("--run", required=True, help="run directory, e.g. runs/NAME")
    p.add_argument("--protocol", default="loso", help="loso, loio or temporal")
    p.add_argument("--split", default="test", choices=["test", "valid"])
    p.add_argument("--data", help="prepared dataset (default: the run's)")
    p.add_argument("--k", type=int, nargs="+",
                   help="cut-offs (default: 10 100 500, those larger than the catalog dropped "
                        "with a note)")
    p.add_argument("--exclude-seen", choices=["positives", "all", "none"],
                   help="seen-item policy (default: the run's config, normally positives)")
    p.add_argument("--index", default="exact", choices=["exact", "scann"],
                   help="exact chunked top-K, or ScaNN (also reports its recall vs exact)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--output", help="metrics file (default RUN/metrics.json)")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sessionrec_tf.evaluation import evaluate_run, metrics_table

    record = evaluate_run(args.run, args.protocol, args.split, args.data, args.k,
                          args.exclude_seen, args.index, args.batch_size,
                          output=args.output, log=print)
    print(metrics_table(record))
    return 0


# ----------------------------------------------------------------------------- experiment

def register_experiment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "experiment", help="the paper's experiments: table2, table3, table4, alpha, "
                           "ablation, efficiency, scaling, paradigm_map, report",
        description="Run one experiment; writes a Markdown table, a JSON file and a PNG plot "
                    "into --output. Re-running resumes (finished runs are reused).")
    p.add_argument("name", choices=["table2", "table3", "table4", "alpha", "ablation",
                                    "efficiency", "scaling", "paradigm_map", "report"])
    p.add_argument("--data", help="prepared dataset (table2, table3, table4, alpha, ablation, "
                                  "report)")
    p.add_argument("--output", required=True, help="results directory, e.g. results/X")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", default="small", choices=["smoke", "small", "full", "long"],
                   help="epochs/patience (smoke: 1 epoch, tiny models; small: <=10 epochs, "
                        "patience 2; full: <=40 epochs, patience 8; long: <=120 epochs, "
                        "patience 15 from epoch 60, for small real datasets) and simulator sizes")
    p.add_argument("--k", type=int, nargs="+", default=[10, 100, 500])
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override applied to every run, e.g. --set model.max_len=50")
    p.add_argument("--parts", nargs="+", help="report only: which experiments to include")
    p.add_argument("--sections", metavar="FILE.yaml",
                   help="report only: write OUTPUT/REPORT.md from the current results listed "
                        "in this file (title, table, plot, note per section) without training, "
                        "e.g. --sections benchmarks/report.yaml --output benchmarks")
    p.add_argument("--cells", nargs="+", metavar="LABEL",
                   help="table2/table4/ablation only: a subset of their rows, e.g. --cells "
                        "HSTU+ SessionRec-HSTU (table2 must include SessionRec-HSTU; table4 "
                        "must include mean; ablation 'paper (mean)')")
    p.add_argument("--scaling-users", type=int, nargs="+", metavar="N",
                   help="scaling (and report) only: simulated users per dataset size "
                        "(default: the budget's sizes)")
    p.add_argument("--data-knob", metavar="KNOB=V1,V2,...",
                   help="paradigm_map only: the simulator knob to vary and its values, e.g. "
                        "mean_session_length=1,2,5,10,23 (equal interactions per user), "
                        "positive_rate=0.95,0.5,0.2, extra_intent_p=0,0.3,1, drift=0,0.05,0.3")
    p.add_argument("--session-set", action="append", default=[], metavar="KEY=VALUE",
                   help="paradigm_map only: override for the SessionRec-HSTU cell only (map an "
                        "option against the same HSTU+ runs), e.g. task.prefix_weight=1.0")
    p.add_argument("--base-size", default="demo",
                   help="paradigm_map only: simulator preset the map starts from")
    p.add_argument("--interactions-per-user", type=float,
                   help="paradigm_map only: interactions per user kept equal across session "
                        "lengths (default: the preset's sessions x length)")
    p.add_argument("--tuned", metavar="TUNE_DIR",
                   help="table2 only: each model with its best validation hyper-parameters "
                        "from a sessionrec tune output directory (use another --output than "
                        "the untuned table)")
    p.set_defaults(func=cmd_experiment)


def cmd_experiment(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sessionrec_tf import experiments as ex
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.experiments.report import PARTS

    if args.sections:
        if args.name != "report":
            raise CliError(f"--sections applies to report only, not {args.name}")
        path = ex.collect_report(Path(args.sections), Path(args.output))
        print(f"wrote {path}")
        return 0
    if args.name in ex.NEEDS_DATA and not args.data:
        raise CliError(f"experiment {args.name} needs --data tfrecords/NAME")
    if args.seeds < 1:
        raise CliError("--seeds must be >= 1")
    if args.cells:
        if args.name not in ("table2", "table4", "ablation"):
            raise CliError(f"--cells applies to table2 and table4 only (and ablation), "
                           f"not {args.name}")
        try:
            ex.subset_cells(args.name, args.cells)
        except ValueError as err:
            raise CliError(str(err)) from None
    budget = ex.BUDGETS[args.budget]
    out = Path(args.output)
    data = PreparedDataset.load(args.data) if args.data else None
    common = {"overrides": args.set}
    if args.name == "paradigm_map":
        if not args.data_knob:
            raise CliError("experiment paradigm_map needs --data-knob KNOB=V1,V2,...")
        try:
            knob, values = ex.parse_knob(args.data_knob)
        except ValueError as err:
            raise CliError(str(err)) from None
        ex.paradigm_map(out, knob, values, args.seeds, budget, args.set, base=args.base_size,
                        interactions_per_user=args.interactions_per_user,
                        session_overrides=args.session_set)
        return 0
    if args.data_knob:
        raise CliError(f"--data-knob applies to paradigm_map only, not {args.name}")
    if args.tuned and args.name != "table2":
        raise CliError(f"--tuned applies to table2 only, not {args.name}")
    if args.name == "table2":
        ex.table2(data, out, args.seeds, budget, ks=args.k, cells=args.cells,
                  tuned=Path(args.tuned) if args.tuned else None, **common)
    elif args.name == "table3":
        ex.table3(data, out, args.seeds, budget, ks=args.k, **common)
    elif args.name == "table4":
        ex.table4(data, out, args.seeds, budget, ks=args.k, cells=args.cells, **common)
    elif args.name == "alpha":
        ex.alpha_sweep(data, out, args.seeds, budget, ks=args.k, **common)
    elif args.name == "ablation":
        ex.ablation(data, out, args.seeds, budget, ks=args.k, cells=args.cells, **common)
    elif args.name == "efficiency":
        ex.efficiency(out, budget, **common)
    elif args.name == "scaling":
        ex.scaling(out, args.seeds, budget, ks=args.k, sizes=args.scaling_users, **common)
    else:
        ex.report(data, out, args.seeds, budget, ks=args.k,
                  parts=args.parts or PARTS, scaling_users=args.scaling_users, **common)
    print(f"wrote results into {out}")
    return 0


# ----------------------------------------------------------------------------- demo

def register_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job on the embedded default data: prepare the "
                                    "simulator data, train SessionRec-HSTU, compare with "
                                    "most-popular")
    p.add_argument("--data", default="tfrecords/demo", help="where the demo data is prepared")
    p.add_argument("--output", default="runs/demo", help="the demo's run directory")
    p.add_argument("--size", default="demo", help="simulator preset")
    p.add_argument("--epochs", type=int, default=DEMO_EPOCHS)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_demo)


DEMO_EPOCHS = 10


def cmd_demo(args: argparse.Namespace) -> int:
    import time

    from sessionrec_tf.config import load_config
    from sessionrec_tf.data import PrepareOptions, prepare_dataset
    from sessionrec_tf.evaluation.popularity import MostPopular
    from sessionrec_tf.training import Trainer, train_item_counts

    print(f"== 1/3 prepare the simulator's {args.size!r} preset into {args.data}")
    data = prepare_dataset("synthetic", None, args.data, {"size": args.size},
                           PrepareOptions(), progress=True)
    config = load_config("sessionrec_hstu", [f"train.epochs={args.epochs}", *args.set])
    print(f"== 2/3 train SessionRec-HSTU into {args.output} ({args.epochs} epochs max)")
    t0 = time.time()
    trainer = Trainer(config, data, args.output, overwrite=True, verbose=2)
    summary = trainer.run()
    seconds = time.time() - t0
    print("== 3/3 validation (leave-one-session-out, full catalog, seen positives excluded)")
    model_metrics = trainer.validate()
    popular = MostPopular(train_item_counts(data)).evaluate(data, ks=config.train.eval_ks)
    ks = config.train.eval_ks
    names = [f"{m}@{k}" for m in ("recall", "ndcg") for k in ks]
    print(f"{'model':<22}" + "".join(f"{n:>12}" for n in names))
    print(f"{'most-popular':<22}" + "".join(f"{popular[n]:>12.4f}" for n in names))
    print(f"{'SessionRec-HSTU':<22}" + "".join(f"{model_metrics[n]:>12.4f}" for n in names))
    print(f"trained {summary['epochs_run']} epochs (best epoch {summary['best_epoch']}) in "
          f"{seconds:.0f}s")
    metric = "recall@100" if 100 in ks else f"recall@{max(ks)}"
    if model_metrics[metric] <= popular[metric]:
        print(f"WARNING: SessionRec-HSTU does not beat most-popular on {metric}")
        return 1
    print(f"SessionRec-HSTU beats most-popular on {metric}: "
          f"{model_metrics[metric]:.4f} vs {popular[metric]:.4f}")
    return 0


# ----------------------------------------------------------------------------- validate

def register_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="check a prepared dataset's shards, vocabularies and metadata",
        description="Read every shard of a prepared dataset (CRC checks, parsing), compare the "
                    "users, interactions, vocabularies and item features with dataset.json, "
                    "and list every problem with its file. Exit code 0 if the dataset is "
                    "intact, 1 if not.")
    p.add_argument("data", help="prepared dataset, e.g. tfrecords/NAME")
    p.add_argument("--quiet", action="store_true", help="print only problems")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
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


def _dataset_of(args: argparse.Namespace) -> str | None:
    """The prepared dataset a command reads: ``--data``, else the run's recorded dataset."""
    data = getattr(args, "data", None)
    if data:
        return str(data)
    run = getattr(args, "run", None)
    if run:
        from sessionrec_tf.training.run import Run

        try:
            return str(Run.load(run).info["dataset"])
        except (OSError, ValueError, KeyError):  # DataError, ConfigError are ValueErrors
            return None
    return None


def _corrupt_data_message(args: argparse.Namespace, err: Exception) -> str:
    """A one-line message for a TFRecord read failure, naming the damaged shard(s)."""
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.data.errors import DataError
    from sessionrec_tf.data.validate import damaged_shards, first_error_line

    data = _dataset_of(args)
    detail = first_error_line(err)
    if data is not None:
        try:
            damaged = damaged_shards(PreparedDataset.load(data))
        except DataError:
            damaged = []
        if damaged:
            first = damaged[0]
            more = f" (and {len(damaged) - 1} more shard(s))" if len(damaged) > 1 else ""
            return (f"{first.file}: corrupt TFRecord shard, unreadable at record "
                    f"{first.record} ({first.message}){more}; prepare the dataset again "
                    f"(sessionrec prepare ... --overwrite); `sessionrec validate {data}` "
                    "lists every problem")
    return (f"a TFRecord file could not be read ({detail}); run `sessionrec validate DATA` "
            "on the dataset to find the damaged shard")


# ----------------------------------------------------------------------------- main

from sessionrec_tf.export.cli import register_export, register_score  # noqa: E402

REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = [
    register_prepare, register_train, register_tune, register_evaluate, register_experiment,
    register_export, register_score, register_validate, register_demo]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionrec",
        description="SessionRec: generative next-session recommendation on TensorFlow.")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRY:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sessionrec_tf.config import ConfigError
    from sessionrec_tf.data.errors import DataError

    parser = build_parser()
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (for bug reports)")
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (DataError, CliError, ConfigError) as err:
        if args.debug:
            raise
        message = str(err)
    except OSError as err:  # unwritable/missing paths, a file where a directory should be
        if args.debug:
            raise
        where = f"{err.filename}: " if err.filename else ""
        message = f"{where}{err.strerror or err}"
    except Exception as err:
        import tensorflow as tf

        if args.debug or not isinstance(err, tf.errors.DataLossError):
            raise
        message = _corrupt_data_message(args, err)
    print(f"sessionrec {args.command}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
