"""``sessionrec experiment NAME``: the paper's experiments (and ours), from the registry
:data:`sessionrec_tf.experiments.registry.EXPERIMENTS`."""

from __future__ import annotations

import argparse

from sessionrec_tf.cli.common import CliError, add_budget, add_set, flag

# Request fields whose flag is not simply ``--field-name``.
_FLAGS = {"session_overrides": "--session-set", "reference_overrides": "--reference-set",
          "ks": "--k", "overrides": "--set"}


def label(field: str) -> str:
    """The flag of an :class:`ExperimentRequest` field, for messages."""
    return _FLAGS.get(field, flag(field))


def _only(field: str) -> str:
    from sessionrec_tf.experiments.registry import accepting

    return f"{', '.join(accepting(field))} only"


def register(sub: argparse._SubParsersAction) -> None:
    from sessionrec_tf.experiments.registry import EXPERIMENTS, NEEDS_DATA

    p = sub.add_parser(
        "experiment", help="the paper's experiments: " + ", ".join(EXPERIMENTS),
        description="Run one experiment; writes a Markdown table, a JSON file and a PNG plot "
                    "into --output. Re-running resumes (finished runs are reused). "
                    + " ".join(f"{e.name}: {e.help}." for e in EXPERIMENTS.values()))
    p.add_argument("name", choices=list(EXPERIMENTS))
    p.add_argument("--data", help=f"prepared dataset ({', '.join(NEEDS_DATA)})")
    p.add_argument("--output", required=True, help="results directory, e.g. results/X")
    p.add_argument("--seeds", type=int, default=3)
    add_budget(p, "epochs/patience (smoke: 1 epoch, tiny models; small: <=10 epochs, "
                  "patience 2; full: <=40 epochs, patience 8; long: <=120 epochs, patience 15 "
                  "from epoch 60, for small real datasets) and simulator sizes")
    p.add_argument("--k", type=int, nargs="+", default=[10, 100, 500])
    add_set(p, "override applied to every run, e.g. --set model.max_len=50")
    p.add_argument("--parts", nargs="+", help=f"{_only('parts')}: which experiments to include")
    p.add_argument("--sections", metavar="FILE.yaml",
                   help="report only: write OUTPUT/REPORT.md from the current results listed "
                        "in this file (title, table, plot, note per section) without training, "
                        "e.g. --sections benchmarks/report.yaml --output benchmarks")
    p.add_argument("--cells", nargs="+", metavar="LABEL",
                   help=f"{_only('cells')}: a subset of their rows, e.g. --cells HSTU+ "
                        "SessionRec-HSTU (it must keep the reference row: SessionRec-HSTU, "
                        "mean, 'paper (mean)')")
    p.add_argument("--scaling-users", type=int, nargs="+", metavar="N",
                   help=f"{_only('scaling_users')}: simulated users per dataset size "
                        "(default: the budget's sizes)")
    p.add_argument("--session-lengths", type=float, nargs="+", metavar="M",
                   help=f"{_only('session_lengths')}: mean session lengths to time "
                        "(default: 5 10 23 50)")
    p.add_argument("--data-knob", metavar="KNOB=V1,V2,...",
                   help=f"{_only('data_knob')}: the simulator knob to vary and its values, "
                        "e.g. mean_session_length=1,2,5,10,23 (equal interactions per user), "
                        "positive_rate=0.95,0.5,0.2, extra_intent_p=0,0.3,1, drift=0,0.05,0.3")
    p.add_argument("--session-set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"{_only('session_overrides')}: override for the SessionRec-HSTU cell "
                        "only (map an option against the same HSTU+ runs), e.g. "
                        "task.prefix_weight=1.0")
    p.add_argument("--reference", metavar="CONFIG",
                   help=f"{_only('reference')}: the config the SessionRec-HSTU cell is compared "
                        "with (default hstu_plus), e.g. --reference sessionrec_hstu "
                        "--session-set task.alpha=0 maps an option against the shipped config")
    p.add_argument("--reference-set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"{_only('reference_overrides')}: override for the reference cell "
                        "only, e.g. --reference-set model.sse_gating=false maps SessionRec-HSTU "
                        "against HSTU+ without its gate")
    p.add_argument("--split", choices=("test", "valid"),
                   help=f"{_only('split')}: the split the map reports (default test); valid "
                        "never reads the test split, so the map can inform a choice")
    p.add_argument("--base-size", help=f"{_only('base_size')}: simulator preset the map "
                                       "starts from (default demo)")
    p.add_argument("--interactions-per-user", type=float,
                   help=f"{_only('interactions_per_user')}: interactions per user kept equal "
                        "across session lengths (default: the preset's sessions x length)")
    p.add_argument("--tuned", metavar="TUNE_DIR",
                   help=f"{_only('tuned')}: each model with its best validation "
                        "hyper-parameters from a sessionrec tune output directory (use another "
                        "--output than the untuned table)")
    p.add_argument("--protocols", nargs="+", metavar="PROTOCOL",
                   help=f"{_only('protocols')}: the evaluation protocols to run, in this "
                        "order (default: loso loio; also temporal), e.g. --protocols loso to "
                        "finish every LOSO run before any LOIO one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.experiments import BUDGETS, collect_report
    from sessionrec_tf.experiments.registry import (
        ExperimentRequest,
        check_request,
        run_experiment,
    )

    if args.sections:
        if args.name != "report":
            raise CliError(f"--sections applies to report only, not {args.name}")
        path = collect_report(Path(args.sections), Path(args.output))
        print(f"wrote {path}")
        return 0
    request = ExperimentRequest(
        output=Path(args.output), data=args.data, seeds=args.seeds,
        budget=BUDGETS[args.budget], ks=tuple(args.k), overrides=tuple(args.set),
        cells=tuple(args.cells) if args.cells else None,
        tuned=Path(args.tuned) if args.tuned else None,
        parts=tuple(args.parts) if args.parts else None,
        scaling_users=tuple(args.scaling_users) if args.scaling_users else None,
        data_knob=args.data_knob, session_overrides=tuple(args.session_set),
        base_size=args.base_size, interactions_per_user=args.interactions_per_user,
        session_lengths=tuple(args.session_lengths) if args.session_lengths else None,
        protocols=tuple(args.protocols) if args.protocols else None,
        reference=args.reference, reference_overrides=tuple(args.reference_set),
        split=args.split)
    try:  # refuse a bad request before loading the data or training anything
        check_request(args.name, request, label)
    except ValueError as err:
        raise CliError(str(err)) from None
    if args.data:
        request = dataclasses.replace(request, data=PreparedDataset.load(args.data))
    run_experiment(args.name, request, label)
    print(f"wrote results into {args.output}")
    return 0
