"""Validation curves of trained runs side by side (no test split read), into RESULTS.md.

    python benchmarks/validation_runs.py --output results/sim_medium_small \\
        --experiment ablation --protocols loso --seed-ids 0 \\
        --extra "label split v1 (concat+dense)=results/sim_medium_small/variants/..." \\
        --title "..." --note "..."

For every cell of the grid experiment whose run directory exists
(``OUTPUT/runs/<cell>/<protocol>/seed<k>``), plus any ``--extra LABEL=RUN_DIR``, it reads
``history.json`` and lists epochs run, the best epoch, the best validation value of the
early-stopping metric with the other validation metrics at that epoch, and the metric at every
epoch. For choosing among variants on validation, as the experiment rules require, before any
of them is evaluated on the test split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import record

METRIC = "recall@100"


def curve(run: Path) -> dict:
    history = json.loads((run / "history.json").read_text())
    best = max(range(len(history)), key=lambda i: history[i].get("selection",
                                                                 history[i]["valid"][METRIC]))
    return {"epochs": len(history), "best_epoch": best + 1, "valid": history[best]["valid"],
            "per_epoch": [h["valid"][METRIC] for h in history]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", required=True, help="the experiment's results directory")
    p.add_argument("--experiment", default="ablation")
    p.add_argument("--protocols", nargs="+", default=["loso"])
    p.add_argument("--seed-ids", type=int, nargs="+", default=[0])
    p.add_argument("--extra", action="append", default=[], metavar="LABEL=RUN_DIR")
    p.add_argument("--title", required=True)
    p.add_argument("--note", default="")
    p.add_argument("--no-record", action="store_true", help="print only")
    args = p.parse_args()
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.experiments import experiment_cells

    cells, _ = experiment_cells(args.experiment)
    runs = [(c.label, proto, seed, Path(args.output) / "runs" / c.label / proto / f"seed{seed}")
            for c in cells for proto in args.protocols for seed in args.seed_ids]
    runs += [(label, "", "", Path(path)) for label, _, path in
             (e.partition("=") for e in args.extra)]
    rows = ["| run | protocol | seed | epochs | best epoch | valid R@100 | valid R@10 | "
            "valid N@10 | R@100 per epoch |", "|---|---|---|---|---|---|---|---|---|"]
    for label, proto, seed, run in runs:
        if not (run / "history.json").exists():
            continue
        c = curve(run)
        v = c["valid"]
        rows.append(f"| {label} | {proto} | {seed} | {c['epochs']} | {c['best_epoch']} | "
                    f"{v[METRIC]:.4f} | {v.get('recall@10', float('nan')):.4f} | "
                    f"{v.get('ndcg@10', float('nan')):.4f} | "
                    + " ".join(f"{x:.3f}" for x in c["per_epoch"]) + " |")
    body = "\n".join(rows) + ("\n\n" + args.note if args.note else "")
    if args.no_record:
        print(body)
    else:
        record(args.title, body)


if __name__ == "__main__":
    main()
