"""Evaluate a run directory: restore the best weights, evaluate a split, write metrics.json."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.evaluation.evaluator import DEFAULT_KS, Evaluator, check_request
from sessionrec_tf.files import atomic_write_text
from sessionrec_tf.training.run import Run, git_commit

# Evaluating with protocol P a run trained with protocol T is refused when T's training input
# can contain P's test targets: loio trains on the history up to the 2nd-to-last positive,
# which can lie inside the last session, whose positives are the loso/temporal targets.
LEAKY = {("loio", "loso"), ("loio", "temporal")}


def evaluation_key(protocol: str, split: str, index: str, exclude_seen: str,
                   run_policy: str) -> str:
    """The ``metrics.json`` key of an evaluation: ``protocol/split/index``, plus
    ``/exclude_seen=POLICY`` when the seen-item policy is not the run's own, so that evaluating
    under another policy never replaces the run's result (which experiments read back)."""
    key = f"{protocol}/{split}/{index}"
    return key if exclude_seen == run_policy else f"{key}/exclude_seen={exclude_seen}"


def cached_evaluation(run_dir: str | Path, protocol: str, ks: Sequence[int], exclude_seen: str,
                      run_policy: str, split: str = "test", index: str = "exact"
                      ) -> dict[str, Any] | None:
    """The evaluation :func:`evaluate_run` stored in ``RUN/metrics.json`` for this protocol,
    split, index and seen-item policy, if it has exactly these K; else ``None`` (evaluate)."""
    path = Path(run_dir) / "metrics.json"
    if not path.exists():
        return None
    key = evaluation_key(protocol, split, index, exclude_seen, run_policy)
    entry = json.loads(path.read_text()).get("evaluations", {}).get(key)
    if (entry and entry.get("ks") == sorted(set(int(k) for k in ks))
            and entry.get("exclude_seen") == exclude_seen):
        return entry
    return None


def evaluate_run(run_dir: str | Path, protocol: str = "loso", split: str = "test",
                 data: str | Path | None = None, ks: Sequence[int] | None = None,
                 exclude_seen: str | None = None, index: str = "exact",
                 batch_size: int = 256, progress: bool = True,
                 output: str | Path | None = None,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate ``run_dir``'s best weights; writes ``metrics.json`` (and returns the record).

    The record holds the metrics, the protocol, split, seen-item policy, K list, users and
    users/s, the full resolved config, the dataset and the git commit. ``ks=None``: the
    default cut-offs (10, 100, 500) that fit the catalog, with a note through ``log`` about
    those dropped; cut-offs given explicitly that exceed the catalog are refused.
    """
    run = Run.load(run_dir)
    trained = run.config.train.protocol
    if (trained, protocol) in LEAKY:
        raise DataError(
            f"{run_dir} was trained with protocol {trained!r}, whose training input can hold "
            f"the {protocol!r} test targets; train a {protocol!r} run to evaluate {protocol!r}")
    policy = exclude_seen or run.config.train.exclude_seen
    model, dataset = run.restore(data)
    if ks is None:
        catalog = dataset.num_items - NUM_RESERVED
        ks = [k for k in DEFAULT_KS if k <= catalog] or [catalog]
        dropped = [k for k in DEFAULT_KS if k not in ks]
        if dropped and log is not None:
            log(f"note: cut-off(s) {dropped} dropped: the catalog has {catalog} items")
    check_request(dataset, protocol, ks, policy)
    result = Evaluator(model, dataset, ks, policy, batch_size).evaluate(
        split, protocol, index=index, progress=progress)
    record = {
        "run": str(Path(run_dir)),
        "model": run.config.name,
        "trained_protocol": trained,
        **result,
        "dataset": str(dataset.path),
        "git_commit": git_commit(),
        "run_git_commit": run.info.get("git_commit"),
        "config": run.config.to_dict(),
    }
    path = Path(output) if output else Path(run_dir) / "metrics.json"
    existing = json.loads(path.read_text()) if path.exists() else {}
    if not isinstance(existing, dict) or "evaluations" not in existing:
        existing = {"evaluations": {}}
    key = evaluation_key(protocol, split, index, policy, run.config.train.exclude_seen)
    existing["evaluations"][key] = record
    existing["latest"] = key
    atomic_write_text(path, json.dumps(existing, indent=2, default=float) + "\n")
    return record


def metrics_table(record: dict[str, Any]) -> str:
    """The metrics of one evaluation as a printable table."""
    m = record["metrics"]
    ks = record["ks"]
    lines = [f"{record['model']} on {record['dataset']}: {record['protocol']}/"
             f"{record['split']}, {record['users']} users, seen items excluded: "
             f"{record['exclude_seen']}, index: {record['index']}",
             f"{'metric':<10}" + "".join(f"{'@' + str(k):>10}" for k in ks)]
    for name in ("recall", "ndcg", "hr", "mrr"):
        lines.append(f"{name:<10}" + "".join(f"{m[f'{name}@{k}']:>10.4f}" for k in ks))
    lines.append(f"{record['users_per_second']:.0f} users/s")
    for key, value in record.items():
        if key.startswith("scann_recall"):
            lines.append(f"{key}: {value:.4f}")
    return "\n".join(lines)
