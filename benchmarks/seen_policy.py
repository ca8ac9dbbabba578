"""The same trained runs evaluated under each seen-item policy, side by side.

    python benchmarks/seen_policy.py --output results/sim_medium_small --protocols loso \\
        [--policies positives none all] [--cells SessionRec-HSTU HSTU+ ...] [--no-record]

The evaluation drops items from the ranking by the policy ``exclude_seen``: ``positives`` (the
default: items the user already engaged with positively), ``all`` (every item in the input) or
``none``. When the data repeats items (the simulator does: ``loso_target_overlap.py``), the
policy decides whether repeated targets can be hit at all, so a comparison between models could
depend on it. For every finished run of ``OUTPUT/runs/<cell>/<protocol>/seed<k>`` this
evaluates the test split under each policy (reusing an evaluation already in the run's
``metrics.json``; new ones are stored there under their own key) and writes a table of
N@10, R@10, R@100 and R@500 per model and policy, with SessionRec-HSTU's change against the best
other model of the same policy. The result is appended to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, add_smoke, publish, smoke_data, smoke_runs  # noqa: E402

POLICIES = ("positives", "all", "none")
SHOWN = (("N@10", "ndcg@10"), ("R@10", "recall@10"), ("R@100", "recall@100"),
         ("R@500", "recall@500"))
OURS = "SessionRec-HSTU"


def metrics_for(run_dir: Path, protocol: str, policy: str) -> dict[str, float]:
    """The run's test metrics under ``policy``: from its metrics.json if there, else evaluated."""
    from sessionrec_tf.evaluation import evaluate_run
    from sessionrec_tf.evaluation.run_eval import cached_evaluation
    from sessionrec_tf.training.run import Run

    run_policy = Run.load(run_dir).config.train.exclude_seen
    ks = sorted(int(k.split("@")[1]) for _, k in SHOWN if k.startswith("recall"))
    entry = cached_evaluation(run_dir, protocol, ks, policy, run_policy)
    if entry is None:
        entry = evaluate_run(run_dir, protocol, "test", ks=ks, exclude_seen=policy,
                             progress=False)
    return entry["metrics"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    smoke = add_smoke(p)
    p.add_argument("--output", required=not smoke, help="an experiment's output, e.g. results/X")
    p.add_argument("--protocols", nargs="+", default=["loso"], choices=["loso", "loio"])
    p.add_argument("--policies", nargs="+", default=["positives", "none"], choices=POLICIES)
    p.add_argument("--cells", nargs="+", help="models (default: every finished run's)")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    if args.smoke:  # the tiny catalog has a few hundred items: cut-offs 10 and 50
        global SHOWN
        SHOWN = (("N@10", "ndcg@10"), ("R@10", "recall@10"), ("R@50", "recall@50"))
        args.output = str(smoke_runs(smoke_data(), "table2", ["SessionRec-HSTU"], ["loso"]))
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.experiments.outputs import markdown_table

    root = REPO / args.output / "runs"
    if not root.is_dir():
        p.error(f"{root} does not exist (train the experiment first)")
    cells = args.cells or sorted(d.name for d in root.iterdir() if d.is_dir())
    lines = []
    for protocol in args.protocols:
        header = ["model", "seen-item policy", *(name for name, _ in SHOWN)]
        rows, values = [], {}
        for policy in args.policies:
            for cell in cells:
                runs = sorted(root.glob(f"{cell}/{protocol}/seed*"))
                runs = [r for r in runs if (r / "run.json").exists() and json.loads(
                    (r / "run.json").read_text()).get("status") == "finished"]
                if not runs:
                    continue
                per_seed = [metrics_for(r, protocol, policy) for r in runs]
                mean = {m: float(np.mean([s[m] for s in per_seed])) for _, m in SHOWN}
                values[(cell, policy)] = mean
                rows.append([cell, policy, *(f"{mean[m]:.4f}" for _, m in SHOWN)])
                print(f"{protocol} {policy} {cell}: " + " ".join(rows[-1][2:]), flush=True)
            if any(c == OURS for c, pol in values if pol == policy):
                others = [c for c, pol in values if pol == policy and c != OURS]
                if others:
                    impv = []
                    for _, m in SHOWN:
                        best = max(values[(c, policy)][m] for c in others)
                        ours = values[(OURS, policy)][m]
                        impv.append(f"{100 * (ours - best) / best:+.1f}%" if best else "n/a")
                    rows.append([f"{OURS} vs best other", policy, *impv])
        seeds = sorted({r.name for c in cells for r in root.glob(f"{c}/{protocol}/seed*")})
        lines.append(f"{protocol.upper()} (test split, mean over {', '.join(seeds)}):\n\n"
                     + markdown_table(header, rows))
    body = "\n\n".join(lines)
    publish(f"Seen-item policy vs the comparison on {args.output}", body, args.no_record)


if __name__ == "__main__":
    main()
