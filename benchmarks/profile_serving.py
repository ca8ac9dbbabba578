"""Where a serving request spends its time: a tf.profiler trace, summed by op type.

    python benchmarks/profile_serving.py [--work runs/bench_serving] [--requests 50] \
        [--buckets on|off] [--tables on|off] [--index exact|scann] [--users 1]

The request and the export are those of ``bench_serving.py --parts latency`` (the untrained
``sessionrec_hstu_paper`` over the ~100k-item simulated catalog, one user with an 8,000-item
history in ~350 sessions; ``--users 64``: the batch of 64 such users of the latency benchmark;
data cached under ``--work``). After 20 warm-up requests, it times
``--requests`` requests, then traces as many with ``tf.profiler`` (host tracer level 3: every
executed TensorFlow op) and sums the op events of the trace by op type (executions and
milliseconds per request, share of the op time) and lists the most expensive single ops.
The raw trace stays in ``WORK/profile/`` (TensorBoard's profile plugin reads it).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sys
import time
from pathlib import Path

import numpy as np

import sessionrec_tf  # noqa: F401  (Keras 2 before TensorFlow loads)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving  # noqa: E402
from _common import REPO, add_smoke, record, smoke_dir  # noqa: E402

TOP = 25


def op_times(logdir: Path, requests: int
             ) -> tuple[dict[str, float], dict[str, float], dict[str, float], float]:
    """``(ms per request by op type, executions per request by op type, ms per request by
    op name, traced ms per request)`` from the trace in ``logdir``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    files = sorted(logdir.rglob("*.xplane.pb"))
    if not files:
        raise SystemExit(f"error: no profiler trace was written under {logdir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(files[-1].read_bytes())
    ps: collections.Counter = collections.Counter()
    count: collections.Counter = collections.Counter()
    by_name: collections.Counter = collections.Counter()
    request_ps = 0
    for plane in space.planes:
        names = plane.event_metadata
        for line in plane.lines:
            for event in line.events:
                name = names[event.metadata_id].name
                if line.name == "python" and name.startswith("EagerLocalExecute"):
                    request_ps += event.duration_ps  # one per signature call
                elif line.name.startswith("tf_Compute") and ":" in name and "::" not in name:
                    op_type = name.rsplit(":", 1)[1]  # "op/name:OpType"
                    ps[op_type] += event.duration_ps
                    count[op_type] += 1
                    by_name[name] += event.duration_ps
    per = 1e9 * requests
    return ({k: v / per for k, v in ps.items()}, {k: v / requests for k, v in count.items()},
            {k: v / per for k, v in by_name.items()}, request_ps / per)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="runs/bench_serving",
                   help="cache for data and exports (shared with bench_serving.py)")
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--buckets", choices=["on", "off"], default="off")
    p.add_argument("--tables", choices=["on", "off"], default="on")
    p.add_argument("--users", type=int, default=1, choices=[1, 64],
                   help="users per request: one, or the latency benchmark's batch of 64")
    p.add_argument("--index", choices=["exact", "scann"], default="exact",
                   help="exact: user embedding + exact top-100; scann: the ScaNN export's "
                        "signature, whose stock path returns the user embedding only")
    add_smoke(p)
    args = p.parse_args()
    history = bench_serving.HISTORY
    prepare = bench_serving.PREPARE_100K
    if args.smoke:
        prepare = ["--size", "tiny", "--min-item-interactions", "1"]
        history, args.requests = 120, 3
        args.work = str(smoke_dir() / "serving")
    import tensorflow as tf

    work = (REPO / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    data = bench_serving.prepared(work / ("data_100k" if not args.smoke else "data_tiny"),
                                  prepare)
    tokens = np.asarray(data.vocabulary("item_id").tokens)
    seed = 0 if args.users == 1 else 1  # bench_serving's requests
    one = {k: tf.constant(v)
           for k, v in bench_serving.history_request(tokens, args.users, history, seed).items()}
    path = bench_serving.export_untrained(data, work, args.index, args.buckets == "on",
                                          args.tables == "on")
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    wall = bench_serving.time_calls(signature, one, warmup=20, reps=args.requests)
    logdir = work / "profile"
    shutil.rmtree(logdir, ignore_errors=True)
    options = tf.profiler.experimental.ProfilerOptions(host_tracer_level=3,
                                                       python_tracer_level=0,
                                                       device_tracer_level=0)
    tf.profiler.experimental.start(str(logdir), options=options)
    t0 = time.perf_counter()
    for _ in range(args.requests):
        _ = {k: v.numpy() for k, v in signature(**one).items()}
    traced_wall = (time.perf_counter() - t0) * 1000.0 / args.requests
    tf.profiler.experimental.stop()
    ms, count, named, request_ms = op_times(logdir, args.requests)
    total = sum(ms.values())
    rows = ["| op type | executions per request | ms per request | share of op time |",
            "|---|---|---|---|"]
    for op_type, value in sorted(ms.items(), key=lambda kv: -kv[1])[:TOP]:
        rows.append(f"| {op_type} | {count[op_type]:.0f} | {value:.3f} | "
                    f"{100 * value / total:.1f}% |")
    rest = sorted(ms, key=lambda k: -ms[k])[TOP:]
    if rest:
        rows.append(f"| {len(rest)} other op types | {sum(count[k] for k in rest):.0f} | "
                    f"{sum(ms[k] for k in rest):.3f} | "
                    f"{100 * sum(ms[k] for k in rest) / total:.1f}% |")
    rows += ["", "| op (name:type) | ms per request | share of op time |", "|---|---|---|"]
    for name, value in sorted(named.items(), key=lambda kv: -kv[1])[:TOP]:
        rows.append(f"| `{name}` | {value:.3f} | {100 * value / total:.1f}% |")
    sessions = int(one["session_lengths"].shape[0])
    who = "One user," if args.users == 1 else f"{args.users} users per request, each"
    body = "\n".join(rows) + (
        f"\n\n{who} {history:,} items ({sessions:,} sessions in all), catalog "
        f"{data.num_items - 2:,} items; `sessionrec_hstu_paper` untrained, exported with "
        f"index {args.index}, SSE length buckets {args.buckets}, token tables {args.tables}. "
        f"Untraced: p50 {np.percentile(wall, 50):.2f} ms, p99 {np.percentile(wall, 99):.2f} "
        f"ms over {args.requests} requests; traced: {traced_wall:.2f} ms per request "
        f"(wall), {request_ms:.2f} ms inside the function call, {total:.2f} ms of op time "
        f"in {sum(count.values()):,.0f} op executions per request (ops overlap only where "
        "the executor runs them in parallel; intra-op threads: "
        f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}).")
    what = "one request" if args.users == 1 else f"a request of {args.users} users"
    record(f"Serving profile: {what}, 8K-item history, by op type ({args.index}, "
           f"buckets {args.buckets}, tables {args.tables})", body)


if __name__ == "__main__":
    main()
