"""Run a grid of (model cell x protocol x seed): train, evaluate, aggregate over seeds.

Every run lives in ``OUTPUT/runs/<cell>/<protocol>/seed<k>``. Training resumes if the run
exists with the same config, and an evaluation already in the run's ``metrics.json`` with the
same K list is reused, so an interrupted experiment is restarted by running it again.

A finished run also leaves its grid record in ``RUN/record.json``. A run directory whose
``record.json`` holds the same resolved config and K list and whose ``run.json`` names the same
vocabularies is reused from that record alone: its checkpoints and weights may be deleted
(:data:`RECORD_FILES` are the files that must be kept), so a finished table's runs can be
kept small (e.g. committed) and the table written again elsewhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sessionrec_tf.config import load_config
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.evaluation.evaluator import check_request
from sessionrec_tf.evaluation.run_eval import cached_evaluation, evaluate_run
from sessionrec_tf.experiments.grids import BUDGETS, Budget, Cell
from sessionrec_tf.files import atomic_write_text
from sessionrec_tf.training.run import RUN_FILE, check_vocabulary, git_commit
from sessionrec_tf.training.trainer import Trainer

RECORD_FILE = "record.json"
# What a finished run needs to be reused without its weights (and read by people).
RECORD_FILES = (RECORD_FILE, RUN_FILE, "config.yaml", "history.json", "metrics.json")


def finished_record(run_dir: Path, config: dict[str, Any], data: PreparedDataset,
                    ks: Sequence[int], evaluate: bool) -> dict[str, Any] | None:
    """The record of the finished run in ``run_dir`` if it trained ``config`` (resolved, as
    a dict) on ``data``'s vocabularies and holds an evaluation at ``ks`` (when ``evaluate``);
    else ``None``. A vocabulary mismatch is refused (DataError), like resuming the run."""
    path = run_dir / RECORD_FILE
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record.get("resolved_config") != json.loads(json.dumps(config)):  # tuples -> lists
        return None
    if evaluate and (not record.get("metrics")
                     or record.get("ks") != sorted(set(int(k) for k in ks))):
        return None
    check_vocabulary(json.loads((run_dir / RUN_FILE).read_text()), data, str(run_dir))
    return record


@dataclass
class GridResult:
    """Per-run records and the mean/std over seeds of every (cell, protocol, metric)."""

    records: list[dict[str, Any]] = field(default_factory=list)

    def aggregate(self) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
        """``{cell: {protocol: {metric: {"mean", "std", "n"}}}}``."""
        groups: dict[tuple[str, str], list[dict[str, float]]] = {}
        for r in self.records:
            groups.setdefault((r["cell"], r["protocol"]), []).append(r["metrics"])
        out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
        for (cell, protocol), runs in groups.items():
            stats = {}
            for metric in runs[0]:
                values = np.array([m[metric] for m in runs], dtype=float)
                stats[metric] = {"mean": float(values.mean()),
                                 "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                                 "n": len(values)}
            out.setdefault(cell, {})[protocol] = stats
        return out


def run_grid(
    cells: Sequence[Cell],
    data: PreparedDataset,
    output: Path,
    seeds: int = 3,
    protocols: Sequence[str] = ("loso",),
    budget: Budget = BUDGETS["small"],
    overrides: Sequence[str] = (),
    ks: Sequence[int] = (10, 100, 500),
    log: Callable[[str], None] = print,
    verbose: int = 2,
    seed_ids: Sequence[int] | None = None,
    evaluate: bool = True,
) -> GridResult:
    """Train and evaluate every (cell, protocol, seed); see the module docstring.

    ``seed_ids`` picks which seeds to run (default ``range(seeds)``), so that several
    processes can share one experiment's runs without training the same run directory.
    Every record carries the best validation value of the early-stopping metric
    (``best_valid``); ``evaluate=False`` trains only and never reads the test split
    (``metrics`` is then empty): for choosing among variants on validation.
    """
    # Refuse an evaluation that cannot run (K larger than the catalog, unknown protocol)
    # before any training, not after hours of it.
    for protocol in protocols:
        check_request(data, protocol, ks, "positives")
    result = GridResult()
    seed_list = list(range(seeds)) if seed_ids is None else [int(s) for s in seed_ids]
    total = len(cells) * len(protocols) * len(seed_list)
    done = 0
    for cell in cells:
        for protocol in protocols:
            for seed in seed_list:
                done += 1
                run_dir = output / "runs" / cell.label / protocol / f"seed{seed}"
                config = load_config(cell.config, [
                    *budget.overrides, *cell.overrides, *overrides,
                    f"train.protocol={protocol}", f"train.seed={seed}"])
                config.name = cell.label
                reused = finished_record(run_dir, config.to_dict(), data, ks, evaluate)
                if reused is not None:
                    log(f"[{done}/{total}] {cell.label} {protocol} seed {seed}: finished, "
                        f"reused from {run_dir / RECORD_FILE}")
                    result.records.append({**reused, "run": str(run_dir),
                                           "wall_seconds_this_session": 0.0})
                    continue
                log(f"[{done}/{total}] {cell.label} {protocol} seed {seed} -> {run_dir}")
                t0 = time.time()
                summary = Trainer(config, data, run_dir, verbose=verbose, log=log).run()
                train_seconds = time.time() - t0
                policy = config.train.exclude_seen
                record = (cached_evaluation(run_dir, protocol, ks, policy, policy)
                          if evaluate else {"metrics": {}, "users": None,
                                            "exclude_seen": policy})
                if record is None:
                    record = evaluate_run(run_dir, protocol, "test", ks=ks, progress=False)
                history = json.loads((run_dir / "history.json").read_text())
                epoch_seconds = [h["train_seconds"] for h in history]
                entry = {
                    "cell": cell.label, "config": cell.config, "protocol": protocol,
                    "seed": seed, "run": str(run_dir), "metrics": record["metrics"],
                    "users": record["users"], "exclude_seen": record["exclude_seen"],
                    "epochs_run": summary["epochs_run"], "best_epoch": summary["best_epoch"],
                    "best_valid": {config.train.early_stopping_metric: summary[
                        f"best_valid_{config.train.early_stopping_metric}"]},
                    "seconds_per_epoch": float(np.median(epoch_seconds)) if epoch_seconds
                    else None,
                    "wall_seconds_this_session": round(train_seconds, 1),
                    "resolved_config": config.to_dict(),
                    "ks": sorted(set(int(k) for k in ks)) if evaluate else None,
                }
                result.records.append(entry)
                atomic_write_text(run_dir / RECORD_FILE, json.dumps(entry, indent=1) + "\n")
    return result


def provenance(data: PreparedDataset | None, budget: Budget, seeds: int,
               overrides: Sequence[str]) -> dict[str, Any]:
    """What every result file records besides the numbers."""
    return {
        "dataset": str(data.path) if data is not None else None,
        "dataset_counts": data.counts if data is not None else None,
        "budget": budget.name,
        "budget_overrides": list(budget.overrides),
        "extra_overrides": list(overrides),
        "seeds": seeds,
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
