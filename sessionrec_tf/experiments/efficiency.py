"""Training cost at equal interactions: SessionRec-HSTU vs HSTU+ (paper Figure 3).

For each mean session length M, the simulator generates users with about ``interactions``
(default 800, RecFlow's average) interactions each: ``interactions / M`` sessions of mean
length M. Both models see every interaction of every history (no truncation: ``max_len`` is
set to the longest history, in sessions for SessionRec, in items for HSTU+), with identical
embedding size, layers, heads and negatives. Each (model, M) trains in its own subprocess,
which reports seconds per step after warm-up (timed over ``steps`` steps), the resulting
seconds per epoch, interactions per second, and its peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SESSION_LENGTHS = (5, 10, 23, 50)
MODELS = (("SessionRec-HSTU", "sessionrec_hstu"),
          ("SessionRec-HSTU (paper)", "sessionrec_hstu_paper"),
          ("HSTU+", "hstu_plus"))


def prepare_equal_interactions(output: Path, users: int, mean_session_length: float,
                               interactions: int = 800, items: int = 20_000,
                               seed: int = 0) -> Any:
    """Simulated users whose histories are capped at ``interactions`` interactions.

    Users get three times the sessions needed on average, then each keeps its most recent
    whole sessions holding at most ``interactions + 3 M`` interactions (``max_interactions``;
    the extra ~2 sessions are the validation/test sessions the training split leaves out), so
    training histories average about ``interactions`` and both models see exactly the same
    interactions.
    """
    from sessionrec_tf.data import FilterOptions, PrepareOptions, prepare_dataset

    options = {"size": "small", "num_users": users, "num_items": items,
               "mean_session_length": mean_session_length,
               "sessions_per_user": max(3.0, 3.0 * interactions / mean_session_length),
               "seed": seed}
    cap = int(interactions + 3 * mean_session_length)
    filters = FilterOptions(max_positives=None, max_interactions=cap)
    return prepare_dataset("synthetic", None, output, options,
                           PrepareOptions(filters=filters), progress=False, log=None)


def history_lengths(data: Any) -> tuple[int, int, float]:
    """(longest history in sessions, longest in interactions, mean interactions per user)."""
    from sessionrec_tf.data import read_dataset

    max_sessions = max_items = 0
    total = users = 0
    for batch in read_dataset(data, "train", batch_size=512, shuffle=False):
        max_sessions = max(max_sessions, int(batch["item_id"].row_lengths().numpy().max()))
        lengths = batch["item_id"].merge_dims(1, 2).row_lengths().numpy()
        max_items = max(max_items, int(lengths.max()))
        total += int(lengths.sum())
        users += len(lengths)
    return max_sessions, max_items, total / max(users, 1)


PHASES = ("train", "validate")


def measure(data_path: str, config_name: str, overrides: Sequence[str], steps: int,
            warmup: int = 3, phase: str = "train") -> dict[str, Any]:
    """Run in a fresh process: time ``steps`` training steps after ``warmup`` steps, or
    (``phase="validate"``) one per-epoch validation (see :func:`measure_validation`)."""
    import resource

    import tensorflow as tf

    from sessionrec_tf.config import load_config
    from sessionrec_tf.data import PreparedDataset, read_dataset
    from sessionrec_tf.models import build_model, compile_model

    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; valid: {list(PHASES)}")
    data = PreparedDataset.load(data_path)
    config = load_config(config_name, list(overrides))
    tf.keras.utils.set_random_seed(config.train.seed)
    model = compile_model(build_model(config, data), config)
    if phase == "validate":
        return measure_validation(model, data, config)
    ds = read_dataset(data, "train", batch_size=config.train.batch_size, shuffle=True,
                      seed=0, repeat=True, drop_remainder=True)
    batches = iter(ds)
    step = tf.function(model.train_step, reduce_retracing=True)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first = next(batches)
    t0 = time.perf_counter()
    float(step(first)["loss"])  # traces the step
    first_step = time.perf_counter() - t0
    ops = traced_ops(step.get_concrete_function(first).graph)
    for _ in range(warmup - 1):
        step(next(batches))
    interactions = 0
    elapsed = 0.0
    for _ in range(steps):
        batch = next(batches)
        n = int(batch["item_id"].flat_values.shape[0])
        t0 = time.perf_counter()
        loss = step(batch)["loss"]
        float(loss)
        elapsed += time.perf_counter() - t0
        interactions += n
    users = data.counts["users"]
    steps_per_epoch = math.ceil(users / config.train.batch_size)
    sec_per_step = elapsed / steps
    return {
        "config": config_name,
        "seconds_per_step": sec_per_step,
        "seconds_per_epoch": sec_per_step * steps_per_epoch,
        "interactions_per_second": interactions / elapsed,
        "steps_timed": steps,
        "batch_size": config.train.batch_size,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_training_mb": rss_before,
        "max_len": config.model.max_len,
        "first_step_seconds": first_step,
        "traced_ops": ops,
    }


def traced_ops(graph: Any) -> int:
    """Operations of a traced function's graph, including the functions it calls (e.g. the
    branches of a ``tf.cond``), each function counted once."""
    seen: set[str] = set()

    def count(g: Any) -> int:
        n = len(g.get_operations())
        for name, fn in getattr(g, "_functions", {}).items():
            if name not in seen and getattr(fn, "graph", None) is not None:
                seen.add(name)
                n += count(fn.graph)
        return n
    return count(graph)


def measure_validation(model: Any, data: Any, config: Any) -> dict[str, Any]:
    """Seconds of one per-epoch validation as the trainer runs it (``model.evaluate`` over
    the validation split of ``train.protocol``, batches cached in memory): the second of two
    passes, so tracing is not counted."""
    import resource

    from sessionrec_tf.data import read_dataset

    ds = read_dataset(data, "valid", config.train.protocol, config.train.eval_batch_size,
                      shuffle=False).cache()
    model.evaluate(ds, verbose=0)
    t0 = time.perf_counter()
    result = model.evaluate(ds, verbose=0, return_dict=True)
    elapsed = time.perf_counter() - t0
    metric = config.train.early_stopping_metric
    return {
        "config": config.name,
        "seconds_per_validation": elapsed,
        "validation_users": sum(int(b["item_id"].nrows()) for b in ds),
        "eval_batch_size": config.train.eval_batch_size,
        metric: float(result[metric]),
        "loss": float(result["loss"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "max_len": config.model.max_len,
    }


def run_worker(data_path: Path, config_name: str, overrides: Sequence[str],
               steps: int, code: Path | None = None, phase: str = "train") -> dict[str, Any]:
    """:func:`measure` in a fresh process. The harness is this file; the library it times is
    this checkout's, or (``code``) the one of another checkout, e.g. an older commit."""
    root = Path(code).resolve() if code is not None else Path(__file__).resolve().parents[2]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker",
           "--data", str(Path(data_path).resolve()), "--config", config_name,
           "--steps", str(steps), "--phase", phase]
    for o in overrides:
        cmd += ["--set", o]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=root)
    if out.returncode != 0:
        raise RuntimeError(f"efficiency worker failed ({config_name}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(data: Any, steps: int, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """SessionRec-HSTU (shipped and paper's training) vs HSTU+ on one prepared dataset (each
    in its own process)."""
    max_sessions, max_items, mean_items = history_lengths(data)
    shared = ["model.embedding_dim=64", "model.num_layers=4", "model.num_heads=2",
              "task.num_negatives=128", "train.batch_size=64", *overrides]
    result: dict[str, Any] = {"max_sessions": max_sessions, "max_items": max_items,
                              "mean_interactions_per_user": mean_items}
    for label, name in MODELS:
        max_len = max_sessions if name.startswith("sessionrec") else max_items
        result[label] = run_worker(data.path, name, [*shared, f"model.max_len={max_len}"],
                                   steps)
    result["speedup_epoch"] = (result["HSTU+"]["seconds_per_epoch"]
                               / result["SessionRec-HSTU"]["seconds_per_epoch"])
    result["speedup_epoch_paper"] = (result["HSTU+"]["seconds_per_epoch"]
                                     / result["SessionRec-HSTU (paper)"]["seconds_per_epoch"])
    result["memory_ratio"] = (result["HSTU+"]["peak_rss_mb"]
                              / result["SessionRec-HSTU"]["peak_rss_mb"])
    return result


def efficiency(output: Path, budget: Any, session_lengths: Sequence[float] = SESSION_LENGTHS,
               interactions: int = 800, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The experiment: one comparison per mean session length; table, JSON and plot."""
    from sessionrec_tf.experiments.grid import provenance
    from sessionrec_tf.experiments.outputs import line_chart, markdown_table, write_outputs

    rows, results = [], {}
    for m in session_lengths:
        data = prepare_equal_interactions(output / "data" / f"M{m:g}",
                                          budget.efficiency_users, m, interactions)
        res = compare(data, budget.efficiency_steps, overrides)
        results[f"{m:g}"] = res
        s, p, h = (res[label] for label, _ in MODELS)
        rows.append([f"{m:g}", f"{res['mean_interactions_per_user']:.0f}",
                     f"{s['seconds_per_epoch']:.2f}", f"{p['seconds_per_epoch']:.2f}",
                     f"{h['seconds_per_epoch']:.2f}", f"{res['speedup_epoch']:.1f}x",
                     f"{res['speedup_epoch_paper']:.1f}x", f"{s['peak_rss_mb']:.0f}",
                     f"{h['peak_rss_mb']:.0f}"])
    header = ["mean session length", "interactions/user", "SessionRec-HSTU s/epoch",
              "paper's SessionRec-HSTU s/epoch", "HSTU+ s/epoch", "speed-up",
              "paper's speed-up", "SessionRec peak MB", "HSTU+ peak MB"]
    title = "Training cost at equal interactions: SessionRec-HSTU (shipped, paper's) vs HSTU+"
    md = (markdown_table(header, rows) + f"\n\n{budget.efficiency_users} simulated users per "
          f"setting, batch 64, d=64, 4 layers, 2 heads, 128 negatives; seconds per step timed "
          f"over {budget.efficiency_steps} steps after warm-up, times steps per epoch. Peak "
          "memory is the peak RSS of the training process (TensorFlow included).\n")
    xs = [float(m) for m in session_lengths]
    figure = line_chart(xs, {label: [results[f"{m:g}"][label]["seconds_per_epoch"]
                                     for m in session_lengths] for label, _ in MODELS},
                        "mean session length", "seconds per epoch", title, logx=True)
    payload = {"experiment": "efficiency", "results": results,
               **provenance(None, budget, 1, overrides)}
    write_outputs(output, "efficiency", title, md, payload, figure)
    return payload


def main() -> None:
    p = argparse.ArgumentParser(description="efficiency worker (internal)")
    p.add_argument("--worker", action="store_true", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--phase", choices=PHASES, default="train")
    args = p.parse_args()
    import sessionrec_tf  # noqa: F401  (Keras 2 before TensorFlow)

    print(json.dumps(measure(args.data, args.config, args.set, args.steps,
                             phase=args.phase)))


if __name__ == "__main__":
    # run as a script (run_worker): this folder must not shadow top-level modules
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    main()
