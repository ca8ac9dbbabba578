"""Validation curves of trained runs side by side (no test split read), into RESULTS.md.

    python benchmarks/validation_runs.py --output results/sim_medium_small \\
        --experiment ablation --protocols loso --seed-ids 0 \\
        --extra "label split v1 (concat+dense)=results/sim_medium_small/variants/..." \\
        --title "..." --note "..."

For every cell of the grid experiment (or of ``--cells``) whose run directory exists
(``OUTPUT/runs/<cell>/<protocol>/seed<k>``), plus any ``--extra LABEL=RUN_DIR``, it reads
``history.json`` and lists epochs run, the best epoch, the best validation value of the
early-stopping metric with the other validation metrics at that epoch, and the metric at every
epoch. For choosing among variants on validation, as the experiment rules require, before any
of them is evaluated on the test split.

With several seeds it adds, per cell and protocol, the mean and standard deviation (ddof 1)
over seeds of the best validation values, and with ``--versus CELL`` the per-seed paired gap
``100 (cell - CELL) / CELL`` (mean, std, and how many seeds are ahead). An ``--extra`` run
whose directory ends in ``<protocol>/seed<k>`` joins that summary under its label, so runs of
another output directory (a variant trained with ``--set``) are averaged and compared like the
grid's cells; other extra runs are listed per run only.

``--label CELL=LABEL`` shows a grid cell under another name (e.g. ``HSTU+=HSTU+, batch 16``
for runs trained with ``--set train.batch_size=16``; ``--versus`` then takes the new name), and
``--table FILE.md`` also writes the title, the summary over seeds (the per-run table with one
seed) and the note there (atomically), for a section of ``benchmarks/report.yaml``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from _common import add_smoke, best_epoch, publish, smoke_data, smoke_runs, write_table

METRIC = "recall@100"


def curve(run: Path) -> dict:
    history = json.loads((run / "history.json").read_text())
    best = best_epoch(history, METRIC)
    return {"epochs": len(history), "best_epoch": best + 1, "valid": history[best]["valid"],
            "per_epoch": [h["valid"][METRIC] for h in history]}


def extra_run(spec: str, protocols: list[str]) -> tuple[str, str, int | str, Path]:
    """``LABEL=RUN_DIR`` -> (label, protocol, seed, dir); protocol and seed from a directory
    ending in ``<protocol>/seed<k>``, else empty (the run is listed, not summarised)."""
    label, eq, path = spec.partition("=")
    if not eq or not label or not path:
        raise SystemExit(f"error: --extra {spec!r}: expected LABEL=RUN_DIR")
    run = Path(path)
    m = re.fullmatch(r"seed(\d+)", run.name)
    if m and run.parent.name in protocols:
        return label, run.parent.name, int(m.group(1)), run
    return label, "", "", run


def cell_labels(specs: list[str], cells: list[str]) -> dict[str, str]:
    """``--label CELL=LABEL`` options -> ``{cell: label}``; an unknown cell or a malformed
    option is a one-line error."""
    out: dict[str, str] = {}
    for spec in specs:
        cell, eq, label = spec.partition("=")
        if not eq or not cell or not label:
            raise SystemExit(f"error: --label {spec!r}: expected CELL=LABEL")
        if cell not in cells:
            raise SystemExit(f"error: --label {spec!r}: {cell!r} is not a cell of the "
                             f"experiment ({', '.join(cells)})")
        out[cell] = label
    return out


SUMMARY = (("R@100", METRIC), ("R@10", "recall@10"), ("N@10", "ndcg@10"))


def summary(best: dict[tuple[str, str], dict[int, dict]], versus: str | None,
            seeds: list[int]) -> str:
    """Mean ± std over seeds of each cell's best validation values, and paired gaps."""
    head = "| run | protocol | seeds | " + " | ".join(f"valid {n}" for n, _ in SUMMARY)
    if versus:
        head += " | " + " | ".join(f"gap {n} vs {versus} (ahead)" for n, _ in SUMMARY)
    rows = [head + " |", "|---|---|---|" + "---|" * (len(SUMMARY) * (2 if versus else 1))]
    for (label, proto), by_seed in best.items():
        done = [s for s in seeds if s in by_seed]
        cells = []
        for _, key in SUMMARY:
            x = np.array([by_seed[s][key] for s in done])
            cells.append(f"{x.mean():.4f} ± {x.std(ddof=1) if len(x) > 1 else 0:.4f}")
        ref = best.get((versus, proto), {}) if versus else {}
        if versus:
            paired = [s for s in done if s in ref]
            for _, key in SUMMARY:
                gap = np.array([100 * (by_seed[s][key] - ref[s][key]) / ref[s][key]
                                for s in paired])
                cells.append("-" if label == versus or not len(gap) else
                             f"{gap.mean():+.1f}% ± {gap.std(ddof=1) if len(gap) > 1 else 0:.1f}"
                             f" ({int((gap > 0).sum())}/{len(gap)})")
        rows.append(f"| {label} | {proto} | {len(done)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    smoke = add_smoke(p)
    p.add_argument("--output", required=not smoke, help="the experiment's results directory")
    p.add_argument("--experiment", default="ablation")
    p.add_argument("--cells", nargs="+", default=None,
                   help="only these cells of the experiment (default: all)")
    p.add_argument("--protocols", nargs="+", default=["loso"])
    p.add_argument("--seed-ids", type=int, nargs="+", default=[0])
    p.add_argument("--extra", action="append", default=[], metavar="LABEL=RUN_DIR")
    p.add_argument("--title", required=not smoke)
    p.add_argument("--note", default="")
    p.add_argument("--versus", default=None, metavar="CELL",
                   help="report each cell's per-seed paired gap to this cell")
    p.add_argument("--label", action="append", default=[], metavar="CELL=LABEL",
                   help="show the grid cell CELL under LABEL (repeatable)")
    p.add_argument("--table", metavar="FILE.md",
                   help="also write the title, the summary over seeds and the note there "
                        "(e.g. for benchmarks/report.yaml)")
    p.add_argument("--no-record", action="store_true", help="print only")
    args = p.parse_args()
    if args.smoke:
        args.experiment, args.title = "ablation", "smoke: validation runs"
        args.output = str(smoke_runs(smoke_data(), "ablation",
                                     ["paper (mean)", "2 user vectors"], ["loso"], False))
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.experiments import experiment_cells

    cells, _ = experiment_cells(args.experiment)
    labels = [c.label for c in cells]
    unknown = sorted(set(args.cells or ()) - set(labels))
    if unknown:
        raise SystemExit(f"error: --cells {', '.join(unknown)}: not cells of "
                         f"{args.experiment} ({', '.join(labels)})")
    shown_as = cell_labels(args.label, labels)
    runs: list[tuple[str, str, int | str, Path]] = [
        (shown_as.get(label, label), proto, seed,
         Path(args.output) / "runs" / label / proto / f"seed{seed}")
        for label in labels if args.cells is None or label in args.cells
        for proto in args.protocols for seed in args.seed_ids]
    runs += [extra_run(e, args.protocols) for e in args.extra]
    rows = ["| run | protocol | seed | epochs | best epoch | valid R@100 | valid R@10 | "
            "valid N@10 | R@100 per epoch |", "|---|---|---|---|---|---|---|---|---|"]
    best: dict[tuple[str, str], dict[int, dict]] = {}
    for label, proto, seed, run in runs:
        if not (run / "history.json").exists():
            continue
        c = curve(run)
        v = c["valid"]
        finished = json.loads((run / "run.json").read_text()).get("status") == "finished" \
            if (run / "run.json").exists() else True
        if seed != "" and finished:  # a run still training is listed, not summarised
            best.setdefault((label, proto), {})[seed] = v
        shown = seed if finished else f"{seed} (training)"
        rows.append(f"| {label} | {proto} | {shown} | {c['epochs']} | {c['best_epoch']} | "
                    f"{v[METRIC]:.4f} | {v.get('recall@10', float('nan')):.4f} | "
                    f"{v.get('ndcg@10', float('nan')):.4f} | "
                    + " ".join(f"{x:.3f}" for x in c["per_epoch"]) + " |")
    body = "\n".join(rows)
    short = body  # the report's table: the summary over seeds, or the runs with one seed
    if len(args.seed_ids) > 1:
        short = summary(best, args.versus, sorted(args.seed_ids))
        body += "\n\n" + short
    note = "\n\n" + args.note if args.note else ""
    body += note
    if args.table:
        write_table(args.table, args.title, short + note)
    publish(args.title, body, args.no_record)


if __name__ == "__main__":
    main()
