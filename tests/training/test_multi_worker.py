"""MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 (TF_CONFIG with two local
ports) run `sessionrec train --strategy multi_worker`. With dropout 0 and the same global
batch and seed, the 2-worker run ends with the weights and validation metrics of a
single-process run; a worker killed mid-run is recovered by restarting both with the same
command. Every test ends the processes it starts."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import PAPER_OPTIONS, REPO

# tiny sizes; the shipped options with one partial-session draw (each draw is one more encoder
# copy to trace in every worker)
OVERRIDES = [
    "model.embedding_dim=16", "model.num_layers=1", "model.max_len=20", "model.dropout=0.0",
    "task.num_negatives=16", "task.alpha=0.5", "train.batch_size=32",
    "train.eval_batch_size=64", "train.deterministic=true", "task.prefix_queries=1",
]


@pytest.fixture
def cluster_slot(tmp_path_factory):
    """One local cluster at a time across the pytest-xdist workers: two tests choosing free
    ports at once can pick the same ones (a port is free until a worker binds it), and then
    the two clusters' workers talk to each other (seen: a worker 'stopped sending
    heartbeats')."""
    lock = tmp_path_factory.getbasetemp().parent / "multi-worker-tests.lock"
    with open(lock, "w") as fh, contextlib.ExitStack() as stack:
        fcntl.flock(fh, fcntl.LOCK_EX)
        stack.callback(fcntl.flock, fh, fcntl.LOCK_UN)
        yield


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all held open while choosing, so none repeats)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def _start_workers(data: Path, out: Path, overrides: list[str], logs: Path
                   ) -> list[subprocess.Popen]:
    scratch = logs.parent / "scratch"  # the workers' temporary directory
    scratch.mkdir(exist_ok=True)
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    sets = [a for o in overrides for a in ("--set", o)]
    procs = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3",
               "TMPDIR": str(scratch),
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker", "index": index}})}
        log = open(logs / f"worker{index}.log", "a")  # noqa: SIM115 (closed with the process)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "sessionrec_tf.cli", "train", "--config", "sessionrec_hstu",
             "--data", str(data), "--output", str(out), "--strategy", "multi_worker",
             "--verbose", "0", *sets], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
        log.close()
    return procs


def _end(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=60)


def _wait(procs: list[subprocess.Popen], logs: Path, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    try:
        for p in procs:
            p.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        pytest.fail("workers did not finish in time:\n" + _logs(logs))
    finally:
        _end(procs)
    assert all(p.returncode == 0 for p in procs), _logs(logs)


def _logs(logs: Path) -> str:
    return "\n".join(f"--- {f.name}\n{f.read_text()[-3000:]}" for f in sorted(logs.iterdir()))


def _best_weights(run_dir: Path) -> list[np.ndarray]:
    from sessionrec_tf.training.run import RunDirectory

    model, _ = RunDirectory.load(run_dir).restore()
    return model.get_weights()


def test_two_workers_equal_one_process(tiny_dataset, tmp_path, cluster_slot):
    from sessionrec_tf.config import load_config
    from sessionrec_tf.training import Trainer

    overrides = [*OVERRIDES, "train.epochs=2"]
    config = load_config("sessionrec_hstu", overrides)
    one = Trainer(config, tiny_dataset, tmp_path / "one", verbose=0, log=lambda _m: None)
    one.run()
    logs = tmp_path / "logs"
    logs.mkdir()
    _wait(_start_workers(tiny_dataset.path, tmp_path / "two", overrides, logs), logs)

    history = [json.loads((tmp_path / d / "history.json").read_text()) for d in ("one", "two")]
    assert len(history[0]) == len(history[1]) == 2
    for a, b in zip(*history):
        assert abs(a["valid"]["recall@100"] - b["valid"]["recall@100"]) < 1e-6, (a, b)
        assert abs(a["train"]["loss"] - b["train"]["loss"]) < 1e-4 * abs(a["train"]["loss"])
    w1, w2 = _best_weights(tmp_path / "one"), _best_weights(tmp_path / "two")
    assert len(w1) == len(w2)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2) if a.size) < 1e-4
    assert json.loads((tmp_path / "two" / "run.json").read_text())["status"] == "finished"
    # worker 1 wrote its checkpoints to private scratch space, removed when it finished
    assert not list((logs.parent / "scratch").iterdir())


def test_killed_worker_resumes_when_both_restart(tiny_dataset, tmp_path, cluster_slot):
    # the resume machinery: the paper's training (no partial-session draws to trace)
    overrides = [*OVERRIDES, "train.epochs=2", "train.checkpoint_every_steps=2",
                 *PAPER_OPTIONS]
    run_dir, logs = tmp_path / "run", tmp_path / "logs"
    logs.mkdir()
    procs = _start_workers(tiny_dataset.path, run_dir, overrides, logs)
    try:  # kill worker 1 once the first step checkpoint exists (mid-epoch 1)
        deadline = time.time() + 300
        while not (run_dir / "checkpoints" / "checkpoint").exists():
            assert time.time() < deadline, _logs(logs)
            assert all(p.poll() is None for p in procs), _logs(logs)
            time.sleep(0.05)
        os.killpg(procs[1].pid, signal.SIGKILL)
        procs[1].wait(timeout=60)
    finally:
        _end(procs)  # worker 0 would wait for its peer forever
    history = run_dir / "history.json"
    done = len(json.loads(history.read_text())) if history.exists() else 0
    assert done < 2
    _wait(_start_workers(tiny_dataset.path, run_dir, overrides, logs), logs)
    chief_log = (logs / "worker0.log").read_text()
    assert f"resuming {run_dir}" in chief_log, chief_log[-3000:]
    records = json.loads(history.read_text())
    assert [r["epoch"] for r in records] == [1, 2]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
