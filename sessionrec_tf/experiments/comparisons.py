"""The paper's comparison tables on any prepared dataset: table2, table3, table4, alpha.

- ``table2``: GRU4Rec, SASRec, SASRec+, HSTU, HSTU+, SessionRec-HSTU under LOSO and LOIO,
  N@10/100/500 and R@10/100/500 (mean ± std over seeds), and the improvement of SessionRec
  over the best baseline per column.
- ``table3``: each backbone (GRU, Transformer, HSTU) item-level vs session-level (LOSO). The
  item-level models get positives AND negatives in the input (like SessionRec) and the same
  sampled-softmax loss, so only the paradigm differs.
- ``table4``: ISE variants of SessionRec-HSTU (mean, max, max_relu, GRU l=1/2, Transformer
  h/l) (LOSO).
- ``alpha``: rank-loss weight sweep {0, 0.05, 0.1, 0.2, 0.5, 1, 2} of SessionRec-HSTU: NDCG@10,
  R@10, R@500 (LOSO).
- ``ablation`` (ours, beyond the paper): SessionRec-HSTU's options on and off (label-split
  pooling, an embedding MLP) under LOSO and LOIO, with each cell's best VALIDATION metric, the
  value the shipped default is chosen on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.experiments.grid import Budget, Cell, provenance, run_grid
from sessionrec_tf.experiments.grids import alpha_cells, grid_names, load_grid
from sessionrec_tf.experiments.outputs import (
    Series,
    fmt,
    markdown_table,
    metric_panels,
    write_outputs,
)

# The grids are shipped YAML files (sessionrec_tf/configs/grids/<name>.yaml).
TABLE2_CELLS = load_grid("table2").cells
TABLE3_BACKBONES = tuple((b.name, b.item, b.session) for b in load_grid("table3").backbones)
TABLE4_CELLS = load_grid("table4").cells
ALPHAS = load_grid("alpha").alphas
ABLATION_CELLS = load_grid("ablation").cells


def experiment_cells(name: str) -> tuple[tuple[Cell, ...], tuple[str, ...]]:
    """The cells and protocols of a grid experiment (``table2``, ``table3``, ``table4``,
    ``alpha``, ``ablation``): the runs it trains, in ``OUTPUT/runs/<cell>/<protocol>/seed<k>``."""
    grid = load_grid(name)
    return grid.cells, grid.protocols


def _columns(ks: Sequence[int]) -> list[tuple[str, str]]:
    return [(f"N@{k}", f"ndcg@{k}") for k in ks] + [(f"R@{k}", f"recall@{k}") for k in ks]


def _panel_data(agg: dict[str, Any], cols: Sequence[tuple[str, str]],
                series: dict[str, Sequence[tuple[str, str]]]
                ) -> tuple[dict[str, Series], dict[str, Series]]:
    """Means and stds for :func:`metric_panels`: one panel per ``(name, metric)`` column;
    ``series[name]`` lists the ``(cell label, protocol)`` of each x position."""
    def pick(stat: str) -> dict[str, Series]:
        return {name: {s: [agg[label][p][m][stat] for label, p in points]
                       for s, points in series.items()} for name, m in cols}
    return pick("mean"), pick("std")


def _improvement(ours: float, best: float) -> str:
    return f"{100.0 * (ours - best) / best:+.2f}%" if best > 0 else "n/a"


# Experiments that can be written for a subset of their rows, and the row a subset must keep
# (the one the others are read against), with what the other rows are called.
SUBSET_REFERENCE = {name: (grid.subset.keep, grid.subset.others)
                    for name in grid_names() if (grid := load_grid(name)).subset}


def subset_cells(name: str, labels: Sequence[str] | None = None) -> tuple[Cell, ...]:
    """The cells of ``table2``, ``table4`` or ``ablation``, or the named subset of them in the
    table's order.

    A subset (e.g. while the slowest runs are still training) must keep the reference row
    (SessionRec-HSTU in table2, the paper's ``mean`` ISE in table4, ``paper (mean)`` in the
    ablation) and at least one other, so
    that the comparison means something. Refused with ``ValueError`` before any training.
    """
    if name not in SUBSET_REFERENCE:
        raise ValueError(f"a subset of cells applies to {', '.join(SUBSET_REFERENCE)} only, "
                         f"not {name}")
    cells = experiment_cells(name)[0]
    if labels is None:
        return cells
    reference, other = SUBSET_REFERENCE[name]
    valid = [c.label for c in cells]
    unknown = [label for label in labels if label not in valid]
    if unknown:
        raise ValueError(f"{name}: unknown cell(s) {unknown}; valid: {valid}")
    chosen = tuple(c for c in cells if c.label in set(labels))
    if reference not in labels or len(chosen) < 2:
        raise ValueError(f"{name}: a subset of cells needs {reference} and at least one "
                         f"{other}, got {list(labels)}")
    return chosen


def tuned_cells(cells: Sequence[Cell], tuned: Path) -> tuple[Cell, ...]:
    """``cells`` with each model's best validation overrides from the ``sessionrec tune``
    output directory ``tuned`` added (every cell's config must have been tuned there)."""
    from sessionrec_tf.tuning import tuned_overrides

    return tuple(Cell(c.label, c.config, (*c.overrides, *tuned_overrides(tuned, c.config)))
                 for c in cells)


def table2_cells(labels: Sequence[str] | None = None) -> tuple[Cell, ...]:
    """Table 2's cells, or a subset of them: :func:`subset_cells` for ``table2``."""
    return subset_cells("table2", labels)


def _subset_note(name: str, chosen: Sequence[Cell], noun: str, aside: str = ""
                 ) -> tuple[str, str]:
    """``(title suffix, note)`` naming the rows a subset left out (``aside`` is appended to the
    note); both empty for the full table."""
    cells = experiment_cells(name)[0]
    if len(chosen) == len(cells):
        return "", ""
    missing = ", ".join(c.label for c in cells if c not in chosen)
    return (f" ({len(chosen)} of {len(cells)} {noun})",
            f" {noun[0].upper()}{noun[1:]} not run: {missing}{aside}.")


def table2(data: PreparedDataset, output: Path, seeds: int, budget: Budget,
           overrides: Sequence[str] = (), ks: Sequence[int] = (10, 100, 500),
           protocols: Sequence[str] = ("loso", "loio"),
           cells: Sequence[str] | None = None, tuned: Path | None = None) -> dict[str, Any]:
    """Table 2; ``cells`` (labels) restricts it to a subset of its rows (default: all six);
    ``tuned`` (a ``sessionrec tune`` output directory) adds each model's best validation
    overrides to its cell (every model must have been tuned)."""
    chosen = table2_cells(cells)
    if tuned is not None:
        chosen = tuned_cells(chosen, tuned)
    grid = run_grid(chosen, data, output, seeds, protocols, budget, overrides, ks)
    agg = grid.aggregate()
    cols = _columns(ks)
    header = ["model"] + [f"{p.upper()} {c}" for p in protocols for c, _ in cols]
    rows = []
    for cell in chosen:
        rows.append([cell.label] + [fmt(agg[cell.label][p][m]) for p in protocols
                                    for _, m in cols])
    baselines = [c.label for c in chosen if c.label != "SessionRec-HSTU"]
    impv = ["Impv. vs best baseline"]
    best_names = ["best baseline"]
    for p in protocols:
        for _, m in cols:
            best = max(baselines, key=lambda b: agg[b][p][m]["mean"])
            impv.append(_improvement(agg["SessionRec-HSTU"][p][m]["mean"], agg[best][p][m]["mean"]))
            best_names.append(best)
    rows += [impv, best_names]
    suffix, subset = _subset_note("table2", chosen, "models",
                                  ' ("best baseline" is among those shown)')
    title = (f"Table 2: item-level baselines vs SessionRec-HSTU on {data.name}{suffix}"
             + (" (tuned)" if tuned is not None else ""))
    how = (f" Each model with its best validation hyper-parameters from `{tuned}`."
           if tuned is not None else "")
    md = (markdown_table(header, rows) + f"\n\nFull-catalog metrics on the test split, mean ± "
          f"std over {seeds} seed(s), seen positives excluded. Budget `{budget.name}`."
          f"{subset}{how}\n")
    panels, errors = _panel_data(agg, cols, {p.upper(): [(c.label, p) for c in chosen]
                                             for p in protocols})
    figure = metric_panels([c.label for c in chosen], panels, errors, title)
    payload = {"experiment": "table2", "cells": [c.label for c in chosen], "aggregate": agg,
               "tuned": str(tuned) if tuned is not None else None,
               "records": grid.records, **provenance(data, budget, seeds, overrides)}
    write_outputs(output, "table2", title, md, payload, figure)
    return payload


def table3(data: PreparedDataset, output: Path, seeds: int, budget: Budget,
           overrides: Sequence[str] = (), ks: Sequence[int] = (10, 100, 500)
           ) -> dict[str, Any]:
    cells = list(experiment_cells("table3")[0])
    grid = run_grid(cells, data, output, seeds, ("loso",), budget, overrides, ks)
    agg = grid.aggregate()
    cols = _columns(ks)
    header = ["backbone", "paradigm"] + [c for c, _ in cols]
    rows = []
    for backbone, item, sess in TABLE3_BACKBONES:
        rows.append([backbone, "item-level"] + [fmt(agg[item.label]["loso"][m]) for _, m in cols])
        rows.append([backbone, "session-level"] + [fmt(agg[sess.label]["loso"][m])
                                                   for _, m in cols])
        rows.append([backbone, "Impv."] + [
            _improvement(agg[sess.label]["loso"][m]["mean"], agg[item.label]["loso"][m]["mean"])
            for _, m in cols])
    title = f"Table 3: item-level vs session-level per backbone on {data.name} (LOSO)"
    md = (markdown_table(header, rows) + "\n\nItem-level models read positives and negatives "
          "(each item its own session) with the same loss; only the paradigm differs.\n")
    panels, errors = _panel_data(agg, cols, {
        "item-level": [(i.label, "loso") for _, i, _ in TABLE3_BACKBONES],
        "session-level": [(s.label, "loso") for _, _, s in TABLE3_BACKBONES]})
    figure = metric_panels([b for b, _, _ in TABLE3_BACKBONES], panels, errors, title)
    payload = {"experiment": "table3", "aggregate": agg, "records": grid.records,
               **provenance(data, budget, seeds, overrides)}
    write_outputs(output, "table3", title, md, payload, figure)
    return payload


def table4(data: PreparedDataset, output: Path, seeds: int, budget: Budget,
           overrides: Sequence[str] = (), ks: Sequence[int] = (10, 100, 500),
           cells: Sequence[str] | None = None) -> dict[str, Any]:
    """Table 4; ``cells`` (labels) restricts it to a subset of its ISEs (default: all seven)."""
    chosen = subset_cells("table4", cells)
    grid = run_grid(chosen, data, output, seeds, ("loso",), budget, overrides, ks)
    agg = grid.aggregate()
    cols = _columns(ks)
    header = ["ISE"] + [c for c, _ in cols]
    rows = [[c.label] + [fmt(agg[c.label]["loso"][m]) for _, m in cols] for c in chosen]
    suffix, subset = _subset_note("table4", chosen, "ISEs")
    title = f"Table 4: ISE variants of SessionRec-HSTU on {data.name} (LOSO){suffix}"
    md = markdown_table(header, rows) + (f"\n\n{subset.strip()}\n" if subset else "")
    panels, errors = _panel_data(agg, cols, {"LOSO": [(c.label, "loso") for c in chosen]})
    figure = metric_panels([c.label for c in chosen], panels, errors, title)
    payload = {"experiment": "table4", "cells": [c.label for c in chosen], "aggregate": agg,
               "records": grid.records, **provenance(data, budget, seeds, overrides)}
    write_outputs(output, "table4", title, md, payload, figure)
    return payload


def alpha_sweep(data: PreparedDataset, output: Path, seeds: int, budget: Budget,
                overrides: Sequence[str] = (), ks: Sequence[int] = (10, 100, 500),
                alphas: Sequence[float] = ALPHAS) -> dict[str, Any]:
    cells = list(alpha_cells(alphas))
    grid = run_grid(cells, data, output, seeds, ("loso",), budget, overrides, ks)
    agg = grid.aggregate()
    shown = [("N@10", "ndcg@10"), ("R@10", "recall@10"), (f"R@{max(ks)}", f"recall@{max(ks)}")]
    header = ["alpha"] + [c for c, _ in shown]
    rows = [[f"{a:g}"] + [fmt(agg[c.label]["loso"][m]) for _, m in shown]
            for a, c in zip(alphas, cells)]
    title = f"Rank-loss weight alpha (Eq. 10) on {data.name} (LOSO)"
    panels, errors = _panel_data(agg, shown, {"LOSO": [(c.label, "loso") for c in cells]})
    figure = metric_panels([max(a, 0.01) for a in alphas], panels, errors, title, kind="line",
                           xlabel="alpha (0 plotted at 0.01)", logx=True)
    payload = {"experiment": "alpha", "alphas": list(alphas), "aggregate": agg,
               "records": grid.records, **provenance(data, budget, seeds, overrides)}
    write_outputs(output, "alpha", title, markdown_table(header, rows), payload, figure)
    return payload


def validation_stats(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{cell: {protocol: {"mean", "std", "n"}}}`` of each run's best validation metric."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in records:
        (value,) = r["best_valid"].values()
        groups.setdefault((r["cell"], r["protocol"]), []).append(float(value))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (cell, protocol), values in groups.items():
        v = np.array(values)
        out.setdefault(cell, {})[protocol] = {
            "mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "n": len(v)}
    return out


def ablation(data: PreparedDataset, output: Path, seeds: int, budget: Budget,
             overrides: Sequence[str] = (), ks: Sequence[int] = (10, 100, 500),
             protocols: Sequence[str] = ("loso", "loio"),
             cells: Sequence[str] | None = None) -> dict[str, Any]:
    """SessionRec-HSTU's options on/off (:data:`ABLATION_CELLS`, or the subset ``cells`` of
    them): the test metrics of every cell, and the best validation metric per protocol that a
    default is chosen on."""
    cells = list(subset_cells("ablation", cells))
    grid = run_grid(cells, data, output, seeds, protocols, budget, overrides, ks)
    agg = grid.aggregate()
    valid = validation_stats(grid.records)
    (metric,) = grid.records[0]["best_valid"]
    cols = _columns(ks)
    header = (["options"] + [f"{p.upper()} valid {metric}" for p in protocols]
              + [f"{p.upper()} {c}" for p in protocols for c, _ in cols])
    rows = [[c.label] + [fmt(valid[c.label][p]) for p in protocols]
            + [fmt(agg[c.label][p][m]) for p in protocols for _, m in cols] for c in cells]
    reference = cells[0].label
    rows.append([f"best vs {reference}"] + [
        _improvement(max(valid[c.label][p]["mean"] for c in cells), valid[reference][p]["mean"])
        for p in protocols] + [
        _improvement(max(agg[c.label][p][m]["mean"] for c in cells), agg[reference][p][m]["mean"])
        for p in protocols for _, m in cols])
    chosen = {p: max(cells, key=lambda c: valid[c.label][p]["mean"]).label for p in protocols}
    suffix, subset = _subset_note("ablation", cells, "option settings")
    title = f"Ablation: SessionRec-HSTU options on {data.name}{suffix}"
    md = (markdown_table(header, rows) + f"\n\nBest validation {metric} (the early-stopping "
          f"metric) and full-catalog test metrics, mean ± std over {seeds} seed(s), seen "
          f"positives excluded. Budget `{budget.name}`. Best on validation: "
          + ", ".join(f"{p.upper()} {chosen[p]}" for p in protocols) + f".{subset}\n")
    panels, errors = _panel_data(agg, cols, {p.upper(): [(c.label, p) for c in cells]
                                             for p in protocols})
    figure = metric_panels([c.label for c in cells], panels, errors, title)
    payload = {"experiment": "ablation", "cells": [c.label for c in cells], "aggregate": agg,
               "validation": valid, "best_on_validation": chosen, "records": grid.records,
               **provenance(data, budget, seeds, overrides)}
    write_outputs(output, "ablation", title, md, payload, figure)
    return payload
