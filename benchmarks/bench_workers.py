"""Training throughput of two worker processes vs one process on the same host (issue 20).

    python benchmarks/bench_workers.py --data tfrecords/demo [--config sessionrec_hstu] \
        [--steps 40] [--epochs 3] [--set KEY=VALUE ...]

The same training (config, global batch, steps) runs twice with the machine's cores split the
same way in total: ONE process with ``TF_NUM_INTRAOP_THREADS=2``, then TWO worker processes
(``--strategy multi_worker``, ``TF_CONFIG`` with two ports on 127.0.0.1) with one thread
each. Throughput is steps per second of training over the epochs after the first (the first
one traces the step), from each run's ``history.json`` (``train_seconds``; validation is not
counted). On one host the workers split the same cores and add an all-reduce per step: this
is an honest overhead figure, not a speed-up claim; the speed-up of several workers comes
from several hosts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SMOKE_MODEL,
    add_smoke,
    parser,
    record,
    smoke_data,
    smoke_dir,
    training_args,
)


def _ports(count: int) -> list[int]:
    """Free TCP ports on 127.0.0.1 (bound, read and released; the workers bind them next)."""
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _train(data: Path, config: str, out: Path, overrides: list[str], workers: int,
           threads: int, timeout: float) -> dict:
    """Train with ``workers`` processes of ``threads`` threads each; the run's throughput."""
    sets = [a for o in overrides for a in ("--set", o)]
    cmd = [sys.executable, "-m", "sessionrec_tf.cli", "train", "--config", config,
           "--data", str(data), "--output", str(out), "--verbose", "0", *sets]
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": str(threads),
           "TF_NUM_INTEROP_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _ports(workers)]}
    procs, logs = [], []
    start = time.time()
    for index in range(workers):
        worker_env = dict(env)
        extra = []
        if workers > 1:
            worker_env["TF_CONFIG"] = json.dumps({"cluster": cluster,
                                                  "task": {"type": "worker", "index": index}})
            extra = ["--strategy", "multi_worker"]
        log = tempfile.TemporaryFile()  # noqa: SIM115 (read and closed below)
        logs.append(log)
        procs.append(subprocess.Popen([*cmd, *extra], env=worker_env, stdout=log,
                                      stderr=subprocess.STDOUT))
    try:
        for p in procs:
            p.wait(timeout=max(1.0, timeout - (time.time() - start)))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    wall = time.time() - start
    for index, (p, log) in enumerate(zip(procs, logs, strict=True)):
        log.seek(0)
        text = log.read().decode(errors="replace")
        log.close()
        if p.returncode != 0:
            raise SystemExit(f"error: worker {index} of {workers} exited with {p.returncode}:\n"
                             f"{text[-3000:]}")
    history = json.loads((out / "history.json").read_text())
    timed = history[1:] or history  # the first epoch traces the step
    seconds = sum(r["train_seconds"] for r in timed)
    return {"epochs": len(history), "timed_epochs": len(timed), "train_seconds": seconds,
            "first_epoch_seconds": history[0]["train_seconds"], "wall_seconds": wall}


def main() -> None:
    p = parser(__doc__)
    training_args(p, add_smoke(p), "an override applied to both runs (repeatable)")
    p.add_argument("--steps", type=int, default=40, help="training steps per epoch")
    p.add_argument("--epochs", type=int, default=3, help="epochs (the first is not timed)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    args = p.parse_args()
    if args.smoke:
        args.data, args.steps, args.epochs = str(smoke_data()), 2, 2
        args.overrides += SMOKE_MODEL
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.data import PreparedDataset

    data = PreparedDataset.load(Path(args.data).resolve())
    overrides = [*args.overrides, f"train.steps_per_epoch={args.steps}",
                 f"train.epochs={args.epochs}", "train.early_stopping_patience=1000",
                 "train.checkpoint_every_steps=0"]
    with tempfile.TemporaryDirectory(dir=smoke_dir() if args.smoke else None) as tmp:
        print("one process, 2 threads ...", flush=True)
        one = _train(data.path, args.config, Path(tmp) / "one", overrides, 1, 2, args.timeout)
        print("two workers, 1 thread each ...", flush=True)
        two = _train(data.path, args.config, Path(tmp) / "two", overrides, 2, 1, args.timeout)
    steps = args.steps * one["timed_epochs"]
    rows = ["| run | processes x threads | s/step | steps/s | first epoch s | wall s |",
            "|---|---|---|---|---|---|"]
    for label, r, shape in (("one process", one, "1 x 2"), ("two workers", two, "2 x 1")):
        rows.append(f"| {label} | {shape} | {r['train_seconds'] / steps:.3f} | "
                    f"{steps / r['train_seconds']:.2f} | {r['first_epoch_seconds']:.1f} | "
                    f"{r['wall_seconds']:.0f} |")
    ratio = one["train_seconds"] / two["train_seconds"]
    body = "\n".join(rows) + (
        f"\n\n`{args.config}` on `{data.name}`, global batch as configured, {args.steps} steps "
        f"per epoch, {args.epochs} epochs, timed over the {one['timed_epochs']} after the first "
        f"(training seconds from history.json; validation not counted); overrides: "
        f"{' '.join(args.overrides) or 'none'}. Two workers' throughput / one process's: "
        f"**{ratio:.2f}** (same total cores; below 1 is the overhead of the all-reduce and of "
        "two runtimes on one host).")
    record(f"Training throughput: two workers vs one process on one host (issue 20, "
           f"{data.name})", body)


if __name__ == "__main__":
    main()
