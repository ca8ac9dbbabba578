"""Run the paper's experiments on a prepared dataset and record their tables (issue 4).

    python benchmarks/bench_experiments.py --data tfrecords/kuairand_30m \\
        --output results/kuairand_30m --experiments table2 alpha table4 --seeds 3 --budget full

Each experiment writes NAME.md/.json/.png into --output (resumable: finished runs are
reused); its Markdown table is then appended to benchmarks/RESULTS.md with the command,
machine, date and commit, plus --note if given (``--no-record`` skips that, e.g. to re-draw
the files from finished runs without a duplicate RESULTS section).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, add_smoke, record, smoke_data, smoke_dir  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    smoke = add_smoke(p)
    p.add_argument("--data", help="prepared dataset (not needed for efficiency/scaling)")
    p.add_argument("--output", required=not smoke)
    p.add_argument("--experiments", nargs="+", required=not smoke,
                   choices=["table2", "table3", "table4", "alpha", "ablation", "efficiency",
                            "scaling", "paradigm_map"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", default="full", choices=["smoke", "small", "full", "long"])
    p.add_argument("--k", type=int, nargs="+", default=[10, 100, 500])
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--cells", nargs="+", metavar="LABEL",
                   help="table2 or table4 only: a subset of its rows (table2 must include "
                        "SessionRec-HSTU, table4 mean), e.g. to record the finished ones "
                        "while the slowest still train")
    p.add_argument("--protocols", nargs="+", choices=["loso", "loio"],
                   help="table2 or ablation only: a subset of their protocols")
    p.add_argument("--tuned", metavar="TUNE_DIR",
                   help="table2 only: each model with its best validation hyper-parameters "
                        "from this sessionrec tune output (as experiment table2 --tuned)")
    p.add_argument("--note", default="")
    p.add_argument("--no-record", action="store_true",
                   help="write the result files only; do not append to benchmarks/RESULTS.md")
    p.add_argument("--scaling-users", type=int, nargs="+", metavar="N",
                   help="scaling only: simulated users per dataset size (default: budget's)")
    p.add_argument("--data-knob", metavar="KNOB=V1,V2,...", help="paradigm_map only")
    p.add_argument("--base-size", default="demo", help="paradigm_map only: simulator preset")
    p.add_argument("--session-set", action="append", default=[], metavar="KEY=VALUE",
                   help="paradigm_map only: override for the SessionRec-HSTU cell only")
    p.add_argument("--reference", default="hstu_plus",
                   help="paradigm_map only: the config compared with (default hstu_plus)")
    p.add_argument("--reference-set", action="append", default=[], metavar="KEY=VALUE",
                   help="paradigm_map only: override for the reference cell only")
    p.add_argument("--split", default="test", choices=["test", "valid"],
                   help="paradigm_map only: the split reported (valid never reads test)")
    args = p.parse_args()
    if args.smoke:  # Table 2 for two models, LOSO, one seed, on the tiny preset
        args.data, args.output = str(smoke_data()), str(smoke_dir() / "experiments")
        args.experiments, args.protocols = ["table2"], ["loso"]
        args.cells = ["HSTU+", "SessionRec-HSTU"]
        args.seeds, args.budget, args.k = 1, "smoke", [10, 50]
    if args.tuned and args.experiments != ["table2"]:
        p.error("--tuned applies to table2 alone")
    if "paradigm_map" in args.experiments and not args.data_knob:
        p.error("paradigm_map needs --data-knob KNOB=V1,V2,...")
    if args.cells and args.experiments not in (["table2"], ["table4"], ["ablation"]):
        p.error("--cells applies to one of table2, table4 or ablation alone; run the other "
                "experiments "
                "separately")
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf import experiments as ex
    from sessionrec_tf.data import PreparedDataset

    if args.cells:
        try:
            ex.subset_cells(args.experiments[0], args.cells)
        except ValueError as err:
            p.error(str(err))
    data = PreparedDataset.load(REPO / args.data) if args.data else None
    out = REPO / args.output
    budget = ex.BUDGETS[args.budget]
    for name in args.experiments:
        if name in ("table2", "table3", "table4", "alpha", "ablation"):
            fn = {"table2": ex.table2, "table3": ex.table3, "table4": ex.table4,
                  "alpha": ex.alpha_sweep, "ablation": ex.ablation}[name]
            subset = {"cells": args.cells} if args.cells else {}
            if args.protocols:
                if name not in ("table2", "ablation"):
                    p.error(f"--protocols applies to table2 and ablation, not {name}")
                subset["protocols"] = args.protocols
            if args.tuned:
                subset["tuned"] = Path(args.tuned)
            fn(data, out, args.seeds, budget, args.set, ks=args.k, **subset)
            md = out / f"{name}.md"
        elif name == "efficiency":
            ex.efficiency(out / "efficiency", budget, overrides=args.set)
            md = out / "efficiency" / "efficiency.md"
        elif name == "paradigm_map":
            try:
                knob, values = ex.parse_knob(args.data_knob)
            except ValueError as err:
                p.error(str(err))
            try:
                payload = ex.paradigm_map(out, knob, values, args.seeds, budget, args.set,
                                          base=args.base_size,
                                          session_overrides=args.session_set,
                                          reference=args.reference, split=args.split,
                                          reference_overrides=args.reference_set)
            except ValueError as err:
                p.error(str(err))
            md = out / f"{payload['name']}.md"
        else:
            ex.scaling(out / "scaling", args.seeds, budget, args.set, ks=args.k,
                       sizes=args.scaling_users)
            md = out / "scaling" / "scaling.md"
        if args.no_record:
            print(f"{name}: wrote {_shown(md)} (+ .json, .png); RESULTS.md not changed")
            continue
        text = md.read_text()
        title, body = text.split("\n", 1)
        where = f"{args.data or 'simulator'}, budget `{args.budget}`, {args.seeds} seed(s)"
        extra = f"\n\n{args.note}" if args.note else ""
        record(f"{title.lstrip('# ')} ({where})",
               body + f"\n\nFiles: `{_shown(md)}` (+ .json with every run's "
               f"resolved config, .png).{extra}")


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (outputs may live elsewhere)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
