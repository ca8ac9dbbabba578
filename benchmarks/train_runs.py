"""Train and evaluate chosen runs of a grid experiment, to split it across processes.

    python benchmarks/train_runs.py --data tfrecords/kuairand_30m --output results/X \\
        --experiment table2 --cells SASRec HSTU+ --protocols loso --seed-ids 0 --budget long \\
        [--tuned results/X/tune]

Runs land in the experiment's own run directories (``OUTPUT/runs/<cell>/<protocol>/seed<k>``)
with the configs ``sessionrec experiment`` would use, so afterwards
``sessionrec experiment table2 --output results/X ...`` (or bench_experiments.py) reuses them
and only writes the table. Two processes must be given disjoint runs: two trainers in one run
directory would overwrite each other's checkpoints. On 2 cores, two processes with
``TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1`` train about twice as many runs per hour
as one process with both cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import sessionrec_tf  # noqa: F401  (Keras 2 before TensorFlow loads)
from sessionrec_tf.data import PreparedDataset
from sessionrec_tf.experiments import BUDGETS, experiment_cells, run_grid
from sessionrec_tf.experiments.comparisons import tuned_cells

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_smoke, smoke_data, smoke_dir  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    smoke = add_smoke(p)
    p.add_argument("--data", required=not smoke)
    p.add_argument("--output", required=not smoke)
    p.add_argument("--experiment", required=not smoke,
                   choices=["table2", "table3", "table4", "alpha", "ablation"])
    p.add_argument("--cells", nargs="+", help="cell labels (default: all of the experiment's)")
    p.add_argument("--protocols", nargs="+", help="default: the experiment's protocols")
    p.add_argument("--seed-ids", type=int, nargs="+", default=[0])
    p.add_argument("--budget", default="full", choices=sorted(BUDGETS))
    p.add_argument("--k", type=int, nargs="+", default=[10, 100, 500])
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--tuned", metavar="TUNE_DIR",
                   help="each model with its best validation hyper-parameters from this "
                        "sessionrec tune output (as experiment table2 --tuned)")
    p.add_argument("--validation-only", action="store_true",
                   help="train and report the best validation metric; never read the test split")
    args = p.parse_args()
    if args.smoke:
        args.data, args.output = str(smoke_data()), str(smoke_dir() / "train_runs")
        args.experiment, args.cells, args.protocols = "table2", ["SessionRec-HSTU"], ["loso"]
        args.budget, args.k = "smoke", [10, 50]
    cells, protocols = experiment_cells(args.experiment)
    by_label = {c.label: c for c in cells}
    unknown = sorted(set(args.cells or ()) - set(by_label))
    if unknown:
        p.error(f"unknown cells {unknown} for {args.experiment}; valid: {sorted(by_label)}")
    bad = sorted(set(args.protocols or ()) - set(protocols))
    if bad:
        p.error(f"{args.experiment} has protocols {list(protocols)}, not {bad}")
    chosen = [by_label[label] for label in args.cells] if args.cells else list(cells)
    if args.tuned:
        chosen = list(tuned_cells(chosen, Path(args.tuned)))
    data = PreparedDataset.load(args.data)
    grid = run_grid(chosen, data, Path(args.output), max(args.seed_ids) + 1,
                    args.protocols or protocols, BUDGETS[args.budget], args.set, args.k,
                    seed_ids=args.seed_ids, evaluate=not args.validation_only)
    for r in grid.records:
        print(f"{r['cell']} {r['protocol']} seed {r['seed']}: epochs {r['epochs_run']} "
              f"(best {r['best_epoch']}), " + ", ".join(
                  [f"valid {m} {v:.4f}" for m, v in r["best_valid"].items()]
                  + [f"{m} {v:.4f}" for m, v in r["metrics"].items()
                     if m.startswith("recall")]))


if __name__ == "__main__":
    main()
