"""Benchmark the data path: `prepare` at RecFlow scale and the reader's throughput.

    python benchmarks/bench_data.py [--size recflow] [--output tfrecords/bench_recflow]

1. Runs `sessionrec prepare --source synthetic --size SIZE` in a subprocess (wall time, peak
   RSS of that process) with the paper's RecFlow history cap (400 positives).
2. Reads the prepared train split into [batch, sessions, items] ragged batches (batch 64) and
   reports interactions/s after one warm-up pass, for the default parallel reader and the
   deterministic (single-file, ordered) one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, add_smoke, peak_rss_mb, record, smoke_dir  # noqa: E402


def prepare(size: str, output: Path, max_positives: int) -> tuple[float, float, dict]:
    cmd = [sys.executable, "-m", "sessionrec_tf.cli", "prepare", "--source", "synthetic",
           "--size", size, "--output", str(output), "--max-positives", str(max_positives),
           "--overwrite"]
    t0 = time.time()
    subprocess.run(cmd, cwd=REPO, check=True)
    seconds = time.time() - t0
    meta = json.loads((output / "dataset.json").read_text())
    return seconds, peak_rss_mb(children=True), meta


def simulate_seconds(size: str, repeats: int = 3) -> tuple[float, int]:
    """Best wall time of the simulator alone (no preparation) for ``size``, after a warm-up."""
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.data.sources.synthetic import SimulatorOptions, simulate

    simulate(SimulatorOptions(size=size), progress=False)
    best, rows = float("inf"), 0
    for seed in range(1, repeats + 1):
        t0 = time.perf_counter()
        rows = len(simulate(SimulatorOptions(size=size, seed=seed), progress=False))
        best = min(best, time.perf_counter() - t0)
    return best, rows


def read_throughput(output: Path, deterministic: bool, passes: int = 2) -> tuple[float, int]:
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.data import read_dataset

    best = 0.0
    total = 0
    for _ in range(passes):
        ds = read_dataset(output, split="train", batch_size=64, deterministic=deterministic,
                          shuffle=False)
        t0 = time.time()
        total = 0
        for batch in ds:
            total += int(batch["item_id"].flat_values.shape[0])
        best = max(best, total / (time.time() - t0))
    return best, total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", default="recflow")
    p.add_argument("--output", default="tfrecords/bench_recflow")
    p.add_argument("--max-positives", type=int, default=400)
    add_smoke(p)
    args = p.parse_args()
    if args.smoke:
        args.size, args.output = "tiny", str(smoke_dir() / "bench_data")
    out = (REPO / args.output).resolve()
    seconds, rss, meta = prepare(args.size, out, args.max_positives)
    par, n = read_throughput(out, deterministic=False)
    det, _ = read_throughput(out, deterministic=True)
    sim_tiny, tiny_rows = simulate_seconds("tiny")
    c = meta["counts"]
    report = json.loads((out / "data_report.json").read_text())
    loaded = report["steps"][0]
    rows = [
        ("simulated interactions (before filters)",
         f"{loaded['rows']:,} ({loaded['users']:,} users, {loaded['items']:,} items)"),
        (f"prepared interactions (after filters, cap {args.max_positives} positives)",
         f"{c['rows']:,} ({c['users']:,} users, {c['items']:,} items, {c['sessions']:,} "
         f"sessions, mean session length {c['avg_session_length']})"),
        ("`prepare` wall time (simulate + sessionize + filter + vocab + splits + TFRecords)",
         f"{seconds:.1f} s"),
        ("`prepare` peak RSS", f"{rss / 1024:.2f} GiB"),
        ("reader, train split, batch 64, parallel (AUTOTUNE)",
         f"{par:,.0f} interactions/s ({n:,} interactions)"),
        ("reader, train split, batch 64, deterministic (1 file at a time, ordered)",
         f"{det:,.0f} interactions/s"),
        ("simulator alone, `tiny` preset (the tests' data), best of 3 seeds",
         f"{sim_tiny:.2f} s ({tiny_rows:,} interactions)"),
    ]
    body = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    record(f"Data path at `{args.size}` scale (issue 2)", body)


if __name__ == "__main__":
    main()
