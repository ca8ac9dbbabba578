"""Head-to-head of finished runs from different experiments on their RECORDED test metrics.

    python benchmarks/compare_runs.py --runs 'HSTU+=results/X/runs/HSTU+/loso' \\
        --runs 'x4 + 2uv=results/X/runs/partial x4 + 2 user vectors/loso' --versus HSTU+ \\
        --title '...' [--note '...']

Each ``--runs LABEL=DIR`` names a directory of ``seed<k>`` runs (or one run); each
``--table-runs LABEL=FILE.json:CELL`` takes the cell's per-seed records from an experiment's
result file (e.g. ``benchmarks/results/X/table2.json``: runs whose directories are gone; the
protocol is ``--protocol``, default loso). One label may take seeds from both (e.g. seed 0
from an earlier machine's table and seeds 1-2 from run directories trained later); a seed
given twice for a label is an error. For every run,
the test metrics its experiment already recorded (``metrics.json``, evaluation
``<protocol>/test/exact``) are read; nothing is trained and no split is read again. The table
shows mean ± std over seeds per metric, and with ``--versus`` the paired per-seed gaps (mean ±
std, seeds ahead / seeds paired). Appended to benchmarks/RESULTS.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_smoke, publish, smoke_data, smoke_runs, write_table  # noqa: E402

SHOWN = (("N@10", "ndcg@10"), ("R@10", "recall@10"), ("R@100", "recall@100"),
         ("R@500", "recall@500"))


def recorded(run: Path, protocol: str | None) -> dict[str, float] | None:
    """The run's recorded exact test metrics (of ``protocol``, default the run's own)."""
    path = run / "metrics.json"
    if not path.exists():
        return None
    evaluations = json.loads(path.read_text())["evaluations"]
    for key, ev in evaluations.items():
        proto, split, index = key.split("/")
        if split == "test" and index == "exact" and (protocol is None or proto == protocol):
            return ev["metrics"]
    return None


def recorded_valid(run: Path) -> dict[str, float]:
    """The run's best validation value (``{metric: value}``, the value its epoch was chosen
    on) as its experiment recorded it in ``record.json``; empty if there is none."""
    path = run / "record.json"
    return dict(json.loads(path.read_text()).get("best_valid") or {}) if path.exists() else {}


def seed_runs(directory: Path) -> dict[int, Path]:
    """``{seed: run}`` of ``DIR/seed<k>`` (or ``{0: DIR}`` for a single run)."""
    seeds = {int(p.name[4:]): p for p in directory.glob("seed*") if p.name[4:].isdigit()}
    return seeds or ({0: directory} if (directory / "metrics.json").exists() else {})


def table_records(path: Path, cell: str, protocol: str
                  ) -> tuple[dict[int, dict[str, float]], dict[int, dict[str, float]]]:
    """``({seed: test metrics}, {seed: best validation value})`` of ``cell`` under
    ``protocol`` in an experiment's result JSON."""
    records = [r for r in json.loads(path.read_text())["records"]
               if r["cell"] == cell and r["protocol"] == protocol and r["metrics"]]
    return ({int(r["seed"]): r["metrics"] for r in records},
            {int(r["seed"]): dict(r.get("best_valid") or {}) for r in records})


def add_seeds(groups: dict[str, dict[int, dict[str, float]]],
              valid: dict[str, dict[int, dict[str, float]]], label: str,
              metrics: dict[int, dict[str, float]], valid_metrics: dict[int, dict[str, float]]
              ) -> None:
    """Add ``{seed: test metrics}`` (and the seeds' validation values) to ``label``'s group;
    ``ValueError`` naming the seeds if the label already has one of them."""
    twice = sorted(set(metrics) & set(groups.get(label, {})))
    if twice:
        raise ValueError(f"{label!r} is given seed(s) {twice} twice")
    groups.setdefault(label, {}).update(metrics)
    valid.setdefault(label, {}).update({s: valid_metrics.get(s, {}) for s in metrics})


def mean_std(values: list[float]) -> str:
    """``mean ± sample std`` of the seeds' values (``-`` if there are none)."""
    x = np.array(values, dtype=float)
    if not len(x):
        return "-"
    return f"{x.mean():.4f} ± {x.std(ddof=1) if len(x) > 1 else 0.0:.4f}"


def table(groups: dict[str, dict[int, dict[str, float]]], versus: str | None,
          shown: tuple[tuple[str, str], ...],
          valid: dict[str, dict[int, dict[str, float]]] | None = None,
          pairs: dict[str, str] | None = None) -> str:
    """The Markdown table; ``valid`` (``{label: {seed: {metric: value}}}``) adds a column per
    validation metric recorded (the value each run's epoch was chosen on); ``pairs``
    (``{label: reference label}``) measures those labels' gaps against their own reference
    instead of ``versus`` (a ``vs`` column then names each row's reference)."""
    valid = valid or {}
    pairs = pairs or {}
    valid_metrics = sorted({m for by_seed in valid.values() for v in by_seed.values()
                            for m in v})
    head = "| runs | seeds | " + "".join(f"valid {m} | " for m in valid_metrics) + " | ".join(
        name for name, _ in shown)
    if pairs:
        head += " | vs | " + " | ".join(f"gap {name} (ahead)" for name, _ in shown)
    elif versus:
        head += " | " + " | ".join(f"gap {name} vs {versus} (ahead)" for name, _ in shown)
    gaps = bool(versus or pairs)
    rows = [head + " |", "|---|---|" + "---|" * (len(valid_metrics) + bool(pairs)
                                                + len(shown) * (2 if gaps else 1))]
    for label, by_seed in groups.items():
        cells = [mean_std([v[m] for v in valid.get(label, {}).values() if m in v])
                 for m in valid_metrics]
        cells += [mean_std([m[key] for m in by_seed.values()]) for _, key in shown]
        against = pairs.get(label, versus)
        if pairs:
            cells.append(against or "-")
        if gaps:
            ref = groups.get(against, {}) if against else {}
            paired = sorted(set(by_seed) & set(ref))
            for _, key in shown:
                gap = np.array([100 * (by_seed[s][key] - ref[s][key]) / ref[s][key]
                                for s in paired if ref[s][key] > 0])
                cells.append("-" if label == against or not len(gap) else
                             f"{gap.mean():+.1f}% ± {gap.std(ddof=1) if len(gap) > 1 else 0:.1f}"
                             f" ({int((gap > 0).sum())}/{len(gap)})")
        seeds = ",".join(str(s) for s in sorted(by_seed))
        rows.append(f"| {label} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    smoke = add_smoke(p)
    p.add_argument("--runs", action="append", default=[], metavar="LABEL=DIR",
                   required=not smoke, help="a label and a directory of seed<k> runs")
    p.add_argument("--table-runs", action="append", default=[], metavar="LABEL=FILE.json:CELL",
                   help="a label and a cell of an experiment's result file (its records)")
    p.add_argument("--versus", help="the label the others' paired gaps are measured against")
    p.add_argument("--pair", action="append", default=[], metavar="LABEL=REFERENCE",
                   help="measure LABEL's paired gaps against REFERENCE instead of --versus "
                        "(repeatable; e.g. each session-level model against its own backbone's "
                        "item-level model)")
    p.add_argument("--protocol", help="evaluation protocol to read (default: each run's own)")
    p.add_argument("--title", required=not smoke)
    p.add_argument("--note", default="")
    p.add_argument("--no-record", action="store_true", help="print only")
    p.add_argument("--output", metavar="FILE.md",
                   help="also write the title and table there (e.g. for benchmarks/report.yaml)")
    args = p.parse_args()
    shown = SHOWN
    if args.smoke:
        out = smoke_runs(smoke_data(), "table2", ["HSTU+", "SessionRec-HSTU"], ["loso"])
        args.runs = [f"{c}={out / 'runs' / c / 'loso'}" for c in ("HSTU+", "SessionRec-HSTU")]
        args.versus, args.title = "HSTU+", "smoke: compare runs"
        shown = (("N@10", "ndcg@10"), ("R@10", "recall@10"), ("R@50", "recall@50"))
    groups: dict[str, dict[int, dict[str, float]]] = {}
    valid: dict[str, dict[int, dict[str, float]]] = {}
    missing = []
    for item in args.runs:
        label, sep, directory = item.partition("=")
        if not sep:
            p.error(f"--runs expects LABEL=DIR, got {item!r}")
        for seed, run in sorted(seed_runs(Path(directory)).items()):
            metrics = recorded(run, args.protocol)
            if metrics is None:
                missing.append(str(run))
            else:
                try:
                    add_seeds(groups, valid, label, {seed: metrics},
                              {seed: recorded_valid(run)})
                except ValueError as e:
                    p.error(f"--runs {item!r}: {e}")
    for item in args.table_runs:
        label, sep, rest = item.partition("=")
        path, colon, cell = rest.rpartition(":")
        if not sep or not colon:
            p.error(f"--table-runs expects LABEL=FILE.json:CELL, got {item!r}")
        found, found_valid = table_records(Path(path), cell, args.protocol or "loso")
        if not found:
            p.error(f"--table-runs {item!r}: no {args.protocol or 'loso'} record of cell "
                    f"{cell!r} in {path}")
        try:
            add_seeds(groups, valid, label, found, found_valid)
        except ValueError as e:
            p.error(f"--table-runs {item!r}: {e}")
    if args.versus and args.versus not in groups:
        p.error(f"--versus {args.versus!r} has no finished run; labels: {list(groups)}")
    pairs: dict[str, str] = {}
    for item in args.pair:
        label, sep, reference = item.partition("=")
        if not sep or label not in groups or reference not in groups:
            p.error(f"--pair expects LABEL=REFERENCE with two labels that have finished runs, "
                    f"got {item!r}; labels: {list(groups)}")
        pairs[label] = reference
    if not groups:
        p.error("no run with recorded test metrics")
    body = table(groups, args.versus, shown, valid, pairs)
    if missing:
        body += "\n\nNot finished (no recorded test metrics), left out: " + ", ".join(
            f"`{m}`" for m in missing)
    body += "\n\nRuns: " + "; ".join(f"{item.partition('=')[0]}: `{item.partition('=')[2]}`"
                                     for item in [*args.runs, *args.table_runs])
    body += ("\n\nTest metrics as each run's experiment recorded them (exact top-K, seen "
             "positives excluded); `valid` columns: each run's best validation value (the one "
             "its epoch was chosen on); nothing re-evaluated." + (f" {args.note}" if args.note
                                                              else ""))
    if args.output:
        write_table(args.output, args.title, body)
    publish(args.title, body, args.no_record)


if __name__ == "__main__":
    main()
