"""Recall@K vs training-data size (paper Figure 5), on the simulator.

The simulator's ``demo`` generative setting (same catalog, same user model) is sampled at
several numbers of users spanning two orders of magnitude; SessionRec-HSTU is trained on each
and evaluated on that dataset's own leave-one-session-out test users (users are i.i.d., so the
test sets estimate the same quantity). Plotted against the number of training interactions on
a log x-axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sessionrec_tf.data import PrepareOptions, prepare_dataset
from sessionrec_tf.experiments.grid import Budget, Cell, provenance, run_grid
from sessionrec_tf.experiments.outputs import fmt, markdown_table, metric_panels, write_outputs


def scaling(output: Path, seeds: int, budget: Budget, overrides: Sequence[str] = (),
            ks: Sequence[int] = (10, 100, 500), sizes: Sequence[int] | None = None,
            preset: str = "demo") -> dict[str, Any]:
    sizes = tuple(sizes or budget.scaling_users)
    if any(n < 1 for n in sizes) or len(set(sizes)) != len(sizes):
        raise ValueError(f"scaling sizes must be distinct positive numbers of users, got "
                         f"{list(sizes)}")
    sizes = tuple(sorted(sizes))
    rows, points = [], []
    k = max(ks)
    records = []
    for n in sizes:
        data = prepare_dataset("synthetic", None, output / "data" / f"users{n}",
                               {"size": preset, "num_users": n, "seed": 0}, PrepareOptions(),
                               progress=False, log=None)
        grid = run_grid([Cell(f"users={n}", "sessionrec_hstu")], data, output / f"users{n}",
                        seeds, ("loso",), budget, overrides, ks)
        stat = grid.aggregate()[f"users={n}"]["loso"]
        points.append((n, data.counts["rows"], stat))
        records += grid.records
        rows.append([str(n), f"{data.counts['rows']:,}", fmt(stat[f"recall@{k}"]),
                     fmt(stat["recall@10"]), fmt(stat["ndcg@10"])])
    header = ["users", "interactions", f"R@{k}", "R@10", "N@10"]
    title = f"Scaling: SessionRec-HSTU Recall@{k} vs training data (simulator `{preset}`)"
    metrics = {f"R@{k}": f"recall@{k}", "R@10": "recall@10", "N@10": "ndcg@10"}
    figure = metric_panels(
        [p[1] for p in points],
        {label: {"SessionRec-HSTU": [p[2][m]["mean"] for p in points]}
         for label, m in metrics.items()},
        {label: {"SessionRec-HSTU": [p[2][m]["std"] for p in points]}
         for label, m in metrics.items()},
        title, kind="line", xlabel="interactions in the dataset (log)", logx=True)
    payload = {"experiment": "scaling", "sizes": list(sizes), "records": records,
               "points": [{"users": n, "interactions": i, "stats": s} for n, i, s in points],
               **provenance(None, budget, seeds, overrides)}
    write_outputs(output, "scaling", title, markdown_table(header, rows), payload, figure)
    return payload
