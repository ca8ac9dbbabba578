"""Benchmark serving: SavedModel latency, ScaNN vs exact at 1.5M items, batch scoring.

    python benchmarks/bench_serving.py [--parts latency,scann,score] [--work runs/bench_serving]

1. latency: the stock SavedModel (exact top-100) of SessionRec-HSTU (the shipped config: d=64,
   4 layers, max_len 100 sessions) over a simulated catalog of ~100k items, one user with an
   8,000-item history in ~350 sessions: p50/p99 of 200 requests after 20 warm-up requests,
   and batch-of-64 throughput. The model is built from its config and NOT trained: latency
   does not depend on the weights.
2. scann: recall@100 of the ScaNN index against exact top-100 and queries/s of each, on
   1.5M candidates x d=64: the item tower of SessionRec-HSTU trained briefly (200 steps) on
   the simulator's `recflow` preset (the ~1.18M items that occur in its log), plus cold-start
   rows up to 1.5M (see `cold_rows`); queries are test users' embeddings.
3. score: `sessionrec score` (subprocess) over the ~100k test users of the data of part 1:
   users/s and peak memory (RSS sampled while it runs).

With ``--old-tree DIR``, part 1 instead compares the default exact export of this checkout
with that of an earlier one (exported by the old checkout's own
``bench_serving.export_untrained(data, work, "exact")`` in a subprocess), both SavedModels
loaded in this process and timed in interleaved rounds: the side-by-side ratio.

Data and the trained run are cached under --work (exports are made afresh); results are
appended to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    REPO,
    SMOKE,
    SMOKE_MODEL,
    add_smoke,
    old_tree_arg,
    old_tree_note,
    old_tree_path,
    record,
    smoke_data,
    smoke_dir,
)

PREPARE_100K = ["--size", "medium", "--num-users", "116000", "--num-items", "101600",
                "--sessions-per-user", "5", "--mean-session-length", "6",
                "--min-item-interactions", "1"]
PREPARE_RECFLOW = ["--size", "recflow", "--min-item-interactions", "1"]
TRAIN_RECFLOW = ["train.epochs=1", "train.steps_per_epoch=200", "train.checkpoint_every_steps=0"]
K = 100
CATALOG = 1_500_000
HISTORY = 8_000  # interactions of the latency benchmark's user
REPS = (20, 200, 3, 20)  # warm-up and timed requests: one user, then a batch of 64
# latency variants: (SSE length buckets, export-time token tables)
VARIANTS = ((False, False), (True, False), (False, True), (True, True))
VARIANT_NAMES = [f"buckets {'on' if b else 'off'}, tables {'on' if t else 'off'}"
                 for b, t in VARIANTS]


def sessionrec(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sessionrec_tf.cli", *args], cwd=REPO, check=True)


def prepared(path: Path, options: list[str]):  # noqa: ANN201
    from sessionrec_tf.data import PreparedDataset

    if SMOKE:  # every part's data is the tiny preset then: one dataset for all smoke runs
        return PreparedDataset.load(smoke_data("tiny", min_item_interactions=1))
    if not (path / "dataset.json").exists():
        sessionrec("prepare", "--source", "synthetic", *options, "--output", str(path),
                   "--quiet")
    return PreparedDataset.load(path)


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return (f"p50 {np.percentile(a, 50):.2f} ms, p99 {np.percentile(a, 99):.2f} ms, "
            f"mean {a.mean():.2f} ms")


# ----------------------------------------------------------------------------- latency

def history_request(tokens: np.ndarray, users: int, items: int, seed: int) -> dict:
    """``users`` users with ``items`` interactions each, sessions of 1..44 (mean ~22.5)."""
    rng = np.random.default_rng(seed)
    lengths, counts = [], []
    for _ in range(users):
        user: list[int] = []
        while sum(user) < items:
            user.append(int(rng.integers(1, 45)))
        user[-1] -= sum(user) - items
        if user[-1] == 0:
            user.pop()
        lengths += user
        counts.append(len(user))
    n = users * items
    return {"item_ids": tokens[rng.integers(0, len(tokens), n)],
            "labels": rng.integers(0, 2, n).astype(np.int64),
            "session_lengths": np.array(lengths, np.int64),
            "session_timestamps": 1_700_000_000 + 3_600 * np.arange(len(lengths),
                                                                    dtype=np.int64),
            "user_session_counts": np.array(counts, np.int64)}


def time_calls(fn, args: dict, warmup: int, reps: int) -> list[float]:  # noqa: ANN001
    for _ in range(warmup):
        fn(**args)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn(**args)
        _ = {k: v.numpy() for k, v in result.items()}
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def export_untrained(data, work: Path, index: str, buckets: bool = True,  # noqa: ANN001
                     token_tables: bool = True) -> Path:
    import tensorflow as tf

    from sessionrec_tf.config import load_config
    from sessionrec_tf.export import Exporter, ExportOptions
    from sessionrec_tf.models import build_model
    from sessionrec_tf.models.builder import build_with_dummy_batch

    # exported afresh: the export code may have changed
    base = (work / f"export_100k_{index}{'' if buckets else '_nobuckets'}"
            f"{'' if token_tables else '_notables'}")
    shutil.rmtree(base, ignore_errors=True)
    config = load_config("sessionrec_hstu_paper",
                         [f"model.sse_length_buckets={str(buckets).lower()}"])
    tf.keras.utils.set_random_seed(0)
    model = build_model(config, data)
    build_with_dummy_batch(model)
    options = ExportOptions(k=K, index=index, token_tables=token_tables)
    return Exporter(model, data, config).export(base, options).path


def bench_latency(work: Path) -> tuple[str, str]:
    import tensorflow as tf

    data = prepared(work / "data_100k", PREPARE_100K)
    tokens = np.asarray(data.vocabulary("item_id").tokens)
    one = {k: tf.constant(v) for k, v in history_request(tokens, 1, HISTORY, 0).items()}
    sessions = int(one["session_lengths"].shape[0])
    batch = {k: tf.constant(v) for k, v in history_request(tokens, 64, HISTORY, 1).items()}
    rows = []
    for index, what in (("exact", f"stock SavedModel, user embedding + exact top-{K}"),
                        ("scann", "stock SavedModel, user embedding only")):
        cells = []
        for buckets, tables in VARIANTS:  # side by side, one after the other
            path = export_untrained(data, work, index, buckets, tables)
            signature = tf.saved_model.load(str(path)).signatures["serving_default"]
            single = time_calls(signature, one, warmup=REPS[0], reps=REPS[1])
            batched = time_calls(signature, batch, warmup=REPS[2], reps=REPS[3])
            cells.append((percentiles(single),
                          f"{64 / (np.median(batched) / 1000):,.0f} users/s "
                          f"({percentiles(batched)} per batch)"))
        rows.append((f"{what}: 1 user, {HISTORY:,} items in {sessions} sessions, "
                     f"{REPS[1]} requests",
                     *(c[0] for c in cells)))
        rows.append((f"{what}: batch of 64 such users, {REPS[3]} requests",
                     *(c[1] for c in cells)))
    body = (f"Catalog: {data.num_items - 2:,} items (simulator, `sessionrec prepare "
            f"{' '.join(PREPARE_100K)}`); model: `sessionrec_hstu_paper` built from its config, "
            "untrained (latency does not depend on the weights); requests built in "
            "process and sent to the loaded SavedModel's `serving_default`. Each measure "
            "is taken for each export variant (`model.sse_length_buckets` off/on, export "
            "token tables off/on), one after the other in the same process.\n\n"
            "| measure | " + " | ".join(VARIANT_NAMES) + " |\n|---|"
            + "---|" * len(VARIANTS) + "\n"
            + "\n".join("| " + " | ".join(r) + " |" for r in rows))
    return "Serving latency: stock SavedModel, 8K-item history, ~100k items", body


# the old checkout's own export of the latency model (run with cwd and PYTHONPATH = old tree)
OLD_EXPORT = """
import sys
from pathlib import Path
sys.path.insert(0, str(Path.cwd() / "benchmarks"))
import sessionrec_tf
import bench_serving
from sessionrec_tf.data import PreparedDataset
data = PreparedDataset.load(Path(sys.argv[1]))
print(bench_serving.export_untrained(data, Path(sys.argv[2]), "exact"))
"""


def bench_latency_vs_old(work: Path, old_tree: Path, rounds: int = 5) -> tuple[str, str]:
    """The default exact export of this checkout and of ``old_tree``, timed side by side."""
    import tensorflow as tf

    data = prepared(work / "data_100k", PREPARE_100K)
    old_work = work / "old_tree"
    old_work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", OLD_EXPORT, str(data.path), str(old_work)],
                          cwd=old_tree, env={**os.environ, "PYTHONPATH": str(old_tree)},
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: the export of --old-tree {old_tree} failed:\n"
                         + proc.stderr[-2000:])
    paths = {"old": Path(proc.stdout.strip().splitlines()[-1]),
             "new": export_untrained(data, work, "exact")}
    tokens = np.asarray(data.vocabulary("item_id").tokens)
    one = {k: tf.constant(v) for k, v in history_request(tokens, 1, HISTORY, 0).items()}
    batch = {k: tf.constant(v) for k, v in history_request(tokens, 64, HISTORY, 1).items()}
    signatures = {side: tf.saved_model.load(str(path)).signatures["serving_default"]
                  for side, path in paths.items()}
    single: dict[str, list[float]] = {side: [] for side in paths}
    batched: dict[str, list[float]] = {side: [] for side in paths}
    for fn in signatures.values():  # warm-up
        time_calls(fn, one, warmup=REPS[0], reps=0)
        time_calls(fn, batch, warmup=REPS[2], reps=0)
    for _ in range(rounds):  # interleaved: machine noise hits both sides alike
        for side, fn in signatures.items():
            single[side] += time_calls(fn, one, warmup=0, reps=max(1, REPS[1] // rounds))
            batched[side] += time_calls(fn, batch, warmup=0, reps=max(1, REPS[3] // rounds))
    rate = {side: 64 / (np.median(batched[side]) / 1000) for side in paths}
    p99 = {side: np.percentile(single[side], 99) for side in paths}
    p50 = {side: np.percentile(single[side], 50) for side in paths}
    rows = [f"| 1 user, {HISTORY:,} items: latency | {percentiles(single['old'])} | "
            f"{percentiles(single['new'])} | p50 {p50['new'] / p50['old']:.2f}, "
            f"p99 {p99['new'] / p99['old']:.2f} |",
            f"| batch of 64 such users: throughput | {rate['old']:,.0f} users/s | "
            f"{rate['new']:,.0f} users/s | {rate['new'] / rate['old']:.2f} |"]
    body = ("| measure | old checkout | this checkout | new/old |\n|---|---|---|---|\n"
            + "\n".join(rows)
            + f"\n\nCatalog: {data.num_items - 2:,} items (the data of `--parts latency`); "
            "model: the paper's SessionRec-HSTU built from its config, untrained; each "
            "checkout's default exact export (user embedding + exact top-100, seen items "
            f"excluded), both loaded in this process; {rounds} interleaved rounds of "
            f"{max(1, REPS[1] // rounds)} one-user and {max(1, REPS[3] // rounds)} batch "
            "requests per side after warm-up." + old_tree_note(old_tree, "export"))
    return ("Serving latency against an earlier checkout: stock SavedModel, 8K-item history, "
            "~100k items"), body


# ----------------------------------------------------------------------------- scann

def cold_rows(model, data, count: int, seed: int = 0) -> np.ndarray:  # noqa: ANN001
    """Candidate embeddings the trained item tower gives items it never saw: item-id rows
    drawn from the table's initializer (TruncatedNormal(0.02)), categories drawn with the
    catalog's category frequencies."""
    import tensorflow as tf

    emb = model.embedding
    rng = np.random.default_rng(seed)
    ids = tf.random.stateless_truncated_normal([count, emb.item_table.output_dim], [seed, 1],
                                               stddev=0.02)
    parts = [ids]
    for name in emb.item_feature_names:
        table = data.item_features[name][2:]
        drawn = rng.choice(table, size=count)
        parts.append(emb.feature_tables[name](tf.constant(drawn, tf.int64)))
    raw = emb.candidate_mlp(tf.concat(parts, axis=-1))
    return model.retrieval.similarity.embed(raw).numpy()


def trained_recflow(work: Path):  # noqa: ANN201
    from sessionrec_tf.training import Run

    data = prepared(work / "data_recflow", PREPARE_RECFLOW)
    if SMOKE:  # an untrained model: the part's code paths without a training process
        import tensorflow as tf

        from sessionrec_tf.config import load_config
        from sessionrec_tf.models import build_model
        from sessionrec_tf.models.builder import build_with_dummy_batch

        tf.keras.utils.set_random_seed(0)
        model = build_model(load_config("sessionrec_hstu_paper", SMOKE_MODEL), data)
        build_with_dummy_batch(model)
        return model, data
    run_dir = work / "run_recflow_hstu"
    if not (run_dir / "best" / "weights.index").exists():
        cmd = ["train", "--data", str(data.path), "--config", "sessionrec_hstu_paper", "--output",
               str(run_dir), "--verbose", "2"]
        for item in TRAIN_RECFLOW:
            cmd += ["--set", item]
        sessionrec(*cmd)
    model, data = Run.load(run_dir).restore(data.path)  # the cache may have moved
    return model, data


def test_user_embeddings(model, data, count: int) -> np.ndarray:  # noqa: ANN001
    from sessionrec_tf.data import read_dataset

    out, n = [], 0
    for batch in read_dataset(data, "test", batch_size=256, deterministic=True):
        out.append(model(batch).numpy())
        n += out[-1].shape[0]
        if n >= count:
            break
    return np.concatenate(out)[:count]


def qps(fn, queries: np.ndarray, batch: int = 64) -> tuple[float, np.ndarray]:  # noqa: ANN001
    fn(queries[:batch])  # warm-up / tracing
    results = []
    t0 = time.perf_counter()
    for start in range(0, len(queries), batch):
        results.append(np.asarray(fn(queries[start:start + batch])))
    return len(queries) / (time.perf_counter() - t0), np.concatenate(results)


def recall(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(e)) / exact.shape[1]
                          for a, e in zip(approx, exact)]))


def bench_scann(work: Path, num_queries: int) -> tuple[str, str]:
    import tensorflow as tf
    from scann import scann_ops_pybind

    from sessionrec_tf.retrieval.exact import ExactTopK
    from sessionrec_tf.retrieval.scann import ScannTopK, configure_builder
    from sessionrec_tf.retrieval.scann_options import ScannOptions

    model, data = trained_recflow(work)
    learned = model.candidate_embeddings().numpy()
    cold = cold_rows(model, data, CATALOG + 2 - learned.shape[0])
    candidates = np.concatenate([learned, cold]).astype(np.float32)
    queries = test_user_embeddings(model, data, num_queries).astype(np.float32)
    n = candidates.shape[0] - 2

    exact = ExactTopK(K).index(candidates)
    exact_fn = tf.function(lambda q: exact(q)[1])
    exact_qps, truth = qps(exact_fn, queries)

    t0 = time.perf_counter()
    retriever = ScannTopK(K, ScannOptions()).index(candidates)
    build_s = time.perf_counter() - t0
    opts = retriever.options
    tf_fn = tf.function(lambda q: retriever(q)[1])
    tf_qps, tf_ids = qps(tf_fn, queries)
    rows = [(f"exact top-{K}, stock ops (the exported ExactTopK), batch 64",
             "1.0000", f"{exact_qps:,.0f}", "1x"),
            (f"ScaNN in TF (the exported ScannTopK), defaults: {opts.num_leaves} leaves"
             f"{' (spherical)' if opts.spherical else ''}, search {opts.num_leaves_to_search}, "
             f"reorder {opts.num_reordering_candidates}, AH {opts.dimensions_per_block} "
             f"dims/block, threshold {opts.anisotropic_quantization_threshold}; build "
             f"{build_s:.0f} s",
             f"{recall(tf_ids, truth):.4f}", f"{tf_qps:,.0f}", f"{tf_qps / exact_qps:.0f}x")]
    builder = scann_ops_pybind.builder(candidates[2:], K, "dot_product")
    searcher = configure_builder(builder, opts).build()
    search, reorder_default = opts.num_leaves_to_search, opts.num_reordering_candidates
    for leaves, reorder in ((search, 400), (search, reorder_default),
                            (round(1.5 * search), reorder_default),
                            (2 * search, reorder_default)):
        def run(q: np.ndarray, leaves: int = leaves, reorder: int = reorder) -> np.ndarray:
            ids, _ = searcher.search_batched_parallel(
                q, final_num_neighbors=K, leaves_to_search=leaves,
                pre_reorder_num_neighbors=reorder)
            return np.asarray(ids, np.int64) + 2

        rate, ids = qps(run, queries)
        rows.append((f"scann_ops_pybind, same index, search {leaves} leaves, reorder {reorder}",
                     f"{recall(ids, truth):.4f}", f"{rate:,.0f}", f"{rate / exact_qps:.0f}x"))
    exact_again, _ = qps(exact_fn, queries[:1024])
    rows[0] = (rows[0][0] + f" (measured again at the end: {exact_again:,.0f} q/s)",
               *rows[0][1:])
    body = (f"Candidates: {n:,} x {candidates.shape[1]} (L2-normalised): the "
            f"{learned.shape[0] - 2:,} items of `sessionrec prepare {' '.join(PREPARE_RECFLOW)}`"
            f" through the item tower of `sessionrec_hstu_paper` trained "
            f"{' '.join(TRAIN_RECFLOW)}, "
            f"plus {cold.shape[0]:,} cold-start rows (the same tower on never-trained item-id "
            f"rows, categories drawn with the catalog's frequencies). Queries: "
            f"{len(queries):,} test users' embeddings, batches of 64, no seen-item exclusion. "
            f"Recall@{K} = overlap with the exact top-{K}.\n\n"
            f"| method | recall@{K} | queries/s | vs exact |\n|---|---|---|---|\n"
            + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows))
    return f"ScaNN vs exact top-{K} at 1.5M items (d=64)", body


# ----------------------------------------------------------------------------- score

def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, MiB."""
    cur = peak = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024.0
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return cur, peak


def bench_score(work: Path) -> tuple[str, str]:
    data = prepared(work / "data_100k", PREPARE_100K)
    model = export_untrained(data, work, "exact")
    out = work / "recs.parquet"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "sessionrec_tf.cli", "score", "--model", str(model),
           "--data", str(data.path), "--output", str(out), "--k", str(K), "--split", "test",
           "--batch-size", "256", "--chunk-users", "20000", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL)
    samples: list[tuple[float, float]] = []
    peak = 0.0
    while proc.poll() is None:
        cur, hwm = rss_mb(proc.pid)
        peak = max(peak, hwm)
        samples.append((time.perf_counter() - t0, cur))
        time.sleep(0.5)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"score failed ({proc.returncode}): {' '.join(cmd)}")
    manifest = json.loads((out / "_manifest.json").read_text())
    users = sum(p["users"] for p in manifest["parts"])
    rows_ = sum(p["rows"] for p in manifest["parts"])
    marks = []
    for frac in (0.25, 0.5, 0.75, 0.95):
        t, cur = samples[min(int(frac * len(samples)), len(samples) - 1)]
        marks.append(f"{cur:,.0f} MiB at {t:.0f} s")
    table = [
        ("users scored (loso test split)", f"{users:,} ({rows_:,} rows, "
                                           f"{len(manifest['parts'])} part files)"),
        ("wall time (process start, model load, scoring, Parquet)", f"{seconds:.1f} s"),
        ("throughput", f"{users / seconds:,.0f} users/s"),
        ("peak RSS of the scoring process (VmHWM)", f"{peak:,.0f} MiB"),
        ("RSS while running", "; ".join(marks)),
    ]
    body = (f"`{' '.join(cmd[2:])}` on {data.num_items - 2:,} items (exact top-{K}, the "
            "untrained export of the latency benchmark; throughput does not depend on the "
            "weights).\n\n| measure | value |\n|---|---|\n"
            + "\n".join(f"| {k} | {v} |" for k, v in table))
    return "Batch scoring: ~100k users through the SavedModel", body


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="latency,scann,score")
    p.add_argument("--work", default="runs/bench_serving",
                   help="cache for data, runs, exports")
    p.add_argument("--queries", type=int, default=4096, help="ScaNN benchmark queries")
    old_tree_arg(p, "the latency part's default exact export")
    add_smoke(p)
    args = p.parse_args()
    old_tree = old_tree_path(args.old_tree)
    if args.smoke:  # every part on the tiny preset, a few requests
        global PREPARE_100K, PREPARE_RECFLOW, TRAIN_RECFLOW, CATALOG, HISTORY, REPS
        PREPARE_100K = PREPARE_RECFLOW = ["--size", "tiny", "--min-item-interactions", "1"]
        TRAIN_RECFLOW = ["train.epochs=1", "train.steps_per_epoch=2",
                         "train.checkpoint_every_steps=0", *SMOKE_MODEL]
        CATALOG, HISTORY, REPS = 3_000, 120, (1, 3, 1, 2)
        global VARIANTS, VARIANT_NAMES
        VARIANTS, VARIANT_NAMES = VARIANTS[3:], VARIANT_NAMES[3:]  # both on: 2 exports
        args.work, args.queries = str(smoke_dir() / "serving"), 128
        old_tree = old_tree or REPO  # the side-by-side path too, against this checkout
    import sessionrec_tf  # noqa: F401  (before TensorFlow)

    work = (REPO / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    unknown = set(parts) - {"latency", "scann", "score"}
    if unknown:
        raise SystemExit(f"unknown --parts {sorted(unknown)}; valid: latency, scann, score")
    note = ("\n\nThe machine has 2 cores and other jobs may run at the same time: numbers are "
            "noisy; rerun the command above to reproduce.")
    for part in parts:
        if part == "latency" and old_tree is not None:
            title, body = bench_latency_vs_old(work, old_tree, rounds=1 if args.smoke else 5)
            record(title, body + note)
            if not args.smoke:  # the smoke run covers both latency paths
                continue
        if part == "latency":
            title, body = bench_latency(work)
        elif part == "scann":
            title, body = bench_scann(work, args.queries)
        else:
            title, body = bench_score(work)
        record(title, body + note)


if __name__ == "__main__":
    main()
