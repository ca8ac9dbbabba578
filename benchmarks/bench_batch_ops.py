"""Per-interaction batch operations at a serving request's size and a training batch's.

    python benchmarks/bench_batch_ops.py [--old-tree DIR] [--repeats 3] [--calls 30]

The operations whose cost grows with every interaction of a batch (issue 19: a 64-user serving
request of 8,000-item histories is bound by them, see "Serving profile: a request of 64
users"), each traced once and timed over ``--calls`` calls:

- row ids of the ``[B, S, I]`` partition's sessions (``Layout.inter_session``),
- ``SessionBatch.keep_last_sessions(100)`` over three fields (SessionRec's input view) and
  ``drop_last_session`` (the training/evaluation LOSO input: ``take_prefix``),
- ``mask_innermost`` with the positives as mask, per user (the serving request's seen
  positives) and per session (the training targets),
- the mean session encoder (``PoolingISE("mean")``, d = 64): forward, and forward + gradient,
- the serving request parser (``RequestParser.parse``: vocabulary lookup, partition, OOV
  counts), request size only.

Two sizes: ``request`` (64 users x 8,000 interactions, 22.8k sessions, the serving benchmark's
batch) and ``training`` (64 users x 800 interactions, RecFlow's average history). Every
measurement runs in a fresh process per checkout; with ``--old-tree`` the old checkout's
processes alternate with this one's (the order flipped each repeat) and each cell is the
median of ``--repeats`` processes. Outputs are checked equal across checkouts (float sums to
1e-4) before anything is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    REPO,
    SMOKE,
    add_smoke,
    old_tree_arg,
    old_tree_note,
    old_tree_path,
    record,
)

SIZES = {"request": (64, 8_000, 22_791), "training": (64, 800, 2_279)}
SMOKE_SIZES = {"request": (4, 200, 60), "training": (4, 50, 12)}

WORKER = r"""
import json, sys, time
import numpy as np
import tensorflow as tf
from sessionrec_tf.data import batch_ops
from sessionrec_tf.data.session_batch import SessionBatch
from sessionrec_tf.ise import PoolingISE

users, per_user, sessions = json.loads(sys.argv[1])
calls, with_parser = int(sys.argv[2]), sys.argv[3] == "1"
rng = np.random.default_rng(0)
n = users * per_user
sessions_of_user = rng.multinomial(sessions - users, np.ones(users) / users) + 1
lengths = np.concatenate([rng.multinomial(per_user - s, np.ones(s) / s) + 1
                          for s in sessions_of_user])
items = rng.integers(2, 100_000, n)
labels = (rng.random(n) < 0.3).astype(np.int64)
rt = tf.RaggedTensor.from_nested_row_lengths(tf.constant(items), [sessions_of_user, lengths])
by_user = rt.merge_dims(1, 2)
positive = tf.constant(labels == 1)
tokens = rt.with_flat_values(tf.constant(rng.normal(size=(n, 64)).astype(np.float32)))
weights = tf.constant(rng.normal(size=(sessions, 64)).astype(np.float32))
ise = PoolingISE("mean")
three_fields = {"item_id": rt, "label": rt.with_flat_values(tf.constant(labels)),
                "timestamp": rt.with_flat_values(tf.constant(items))}

def three():  # a new batch per trace: its layout caches tensors of the graph it is used in
    return SessionBatch(three_fields)

def pool_grad():
    values = tokens.flat_values
    with tf.GradientTape() as tape:
        tape.watch(values)
        out = ise(tokens.with_flat_values(values)).flat_values
        loss = tf.reduce_sum(out * weights)
    return out, tape.gradient(loss, values)

ops = {
    "row ids of the sessions' interactions": lambda: batch_ops.Layout(rt).inter_session,
    "keep_last_sessions(100), 3 fields": lambda: three().keep_last_sessions(100).to_dict(),
    "drop_last_session (a LOSO input), 3 fields":
        lambda: three().drop_last_session()[0].to_dict(),
    "mask_innermost (positives), per user": lambda: batch_ops.mask_innermost(by_user, positive),
    "mask_innermost (positives), per session": lambda: batch_ops.mask_innermost(rt, positive),
    "mean ISE, forward": lambda: ise(tokens).flat_values,
    "mean ISE, forward + gradient": pool_grad,
}
if with_parser:
    import tempfile
    from sessionrec_tf.export.parser import RequestParser
    from sessionrec_tf.export.request import RequestSpec
    from sessionrec_tf.export.tables import VocabularyTable
    tokens_file = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    tokens_file.write("".join(f"{i}\n" for i in range(100_000)))
    tokens_file.close()
    table = VocabularyTable("item_id", tokens_file.name, "int64")
    raw = np.where(rng.random(n) < 0.001, items + 100_000, items)  # 0.1% unknown items
    inputs = {"item_ids": tf.constant(raw), "labels": tf.constant(labels),
              "session_lengths": tf.constant(lengths.astype(np.int64)),
              "session_timestamps": tf.constant(np.arange(sessions, dtype=np.int64)),
              "user_session_counts": tf.constant(sessions_of_user.astype(np.int64))}
    parser = RequestParser(RequestSpec("int64"), {"item_id": table})
    ops["serving request parser"] = lambda: parser.parse(inputs)

def flat(result):
    return [np.asarray(t) for t in tf.nest.flatten(result, expand_composites=True)]

out = {}
for name, op in ops.items():
    fn = tf.function(op)
    first = flat(fn()); fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        flat(fn())
        times.append(time.perf_counter() - t0)
    out[name] = {"ms": 1e3 * float(np.median(times)),
                 "check": [float(np.sum(a.astype(np.float64))) for a in first]}
print(json.dumps(out))
"""


def _run(tree: Path, size: tuple[int, int, int], calls: int, parser: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", WORKER, json.dumps(size), str(calls),
                           "1" if parser else "0"], cwd=tree, env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: the worker of {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= 1e-4 * max(1.0, abs(x), abs(y))
                                    for x, y in zip(a, b))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_smoke(p)
    old_tree_arg(p, "each operation")
    p.add_argument("--repeats", type=int, default=3, help="processes per checkout and size")
    p.add_argument("--calls", type=int, default=30, help="timed calls per operation")
    args = p.parse_args()
    old_tree = old_tree_path(args.old_tree) or (REPO if SMOKE else None)
    sizes = SMOKE_SIZES if SMOKE else SIZES
    repeats, calls = (1, 2) if SMOKE else (args.repeats, args.calls)
    trees = {"new": REPO, **({"old": old_tree} if old_tree is not None else {})}
    runs: dict[tuple[str, str], list[dict]] = {}
    for size_name, size in sizes.items():
        for r in range(repeats):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for side in order:
                print(f"{size_name} repeat {r + 1}/{repeats}: {side}", flush=True)
                runs.setdefault((size_name, side), []).append(
                    _run(trees[side], size, calls, parser=size_name == "request"))
    header = "| size | operation | ms (this checkout) |"
    rule = "|---|---|---|"
    if "old" in trees:
        header += " ms (old checkout) | new/old |"
        rule += "---|---|"
    lines = [header, rule]
    for size_name in sizes:
        new = runs[(size_name, "new")]
        for op in new[0]:
            ms = [run[op]["ms"] for run in new]
            cell = f"{statistics.median(ms):.2f} ({min(ms):.2f}-{max(ms):.2f})"
            row = f"| {size_name} | {op} | {cell} |"
            if "old" in trees:
                old = runs[(size_name, "old")]
                if op not in old[0]:
                    row += " - | - |"
                else:
                    if not _same(new[0][op]["check"], old[0][op]["check"]):
                        raise SystemExit(f"error: {op} ({size_name}) differs between the "
                                         f"checkouts: {new[0][op]['check']} vs "
                                         f"{old[0][op]['check']}")
                    oms = [run[op]["ms"] for run in old]
                    ratio = statistics.median(ms) / statistics.median(oms)
                    row += (f" {statistics.median(oms):.2f} ({min(oms):.2f}-{max(oms):.2f}) |"
                            f" {ratio:.2f} |")
            lines.append(row)
    sizes_text = "; ".join(f"{k}: {u} users x {i:,} interactions in {s:,} sessions"
                           for k, (u, i, s) in sizes.items())
    body = "\n".join(lines) + (
        f"\n\nSizes: {sizes_text}; 30% positives, tokens of width 64. Each cell: the median "
        f"over {calls} calls of the traced operation in one process, then the median of "
        f"{repeats} processes (range in brackets), default thread settings; outputs checked "
        "equal across checkouts." + (old_tree_note(old_tree, "process") if "old" in trees
                                     else ""))
    record("Per-interaction batch operations: serving request and training batch sizes", body)


if __name__ == "__main__":
    main()
