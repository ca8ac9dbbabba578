"""Exact top-K over a large catalog against its floor, side by side (issue 19).

    python benchmarks/bench_topk.py [--items 1500000] [--dim 64] [--batch 64] [--k 100] \
        [--rounds 5]

Three arms over the same random unit-norm candidate matrix and the same query batches, each
a ``tf.function`` over chunks of 262,144 candidates (the exported ``ExactTopK``'s chunk):

- floor: the bare matmul and a row max per chunk (no selection at all);
- plain selection: ``chunked_top_k(..., block=None)``, ``tf.math.top_k`` over every chunk;
- block selection: ``chunked_top_k`` as shipped (block maxima, then a small top-k).

With ``--exclude N`` every query also has N random seen items to exclude (the serving case:
``--items 100800 --exclude 8000``), and three more arms compare how they are excluded inside
``chunked_top_k``: a scatter of ``-inf`` at the (user, item) pairs (the only way before
2026-12-07), a per-user bitmap (:func:`~sessionrec_tf.metrics.topk.exclusion_mask`), and
the shipped choice between the two by density (:func:`~sessionrec_tf.metrics.topk.
exclude_scores`); their ids must be identical too.

Both selections must return identical ids (checked on every batch). Rounds are interleaved
(floor, plain, block, floor, ...) so that machine noise hits every arm alike; the table
gives the median queries/s over rounds and each selection's rate as a fraction of the floor.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_smoke, record  # noqa: E402

import sessionrec_tf  # noqa: E402, F401  (Keras 2 before TensorFlow)

CHUNK = 262_144


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=1_500_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--batches", type=int, default=8, help="query batches per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--exclude", type=int, default=0,
                   help="seen items excluded per query (0: no exclusion arms)")
    add_smoke(p)
    args = p.parse_args()
    if args.smoke:
        args.items, args.batches, args.rounds = 5_000, 2, 1
        args.exclude = 300  # the exclusion arms run too
    import numpy as np
    import tensorflow as tf

    from sessionrec_tf.metrics import topk
    from sessionrec_tf.metrics.topk import BLOCK, NEG_INF, chunked_top_k

    rng = np.random.default_rng(0)
    cands = rng.normal(size=(args.items, args.dim)).astype(np.float32)
    cands /= np.linalg.norm(cands, axis=1, keepdims=True)
    candidates = tf.constant(cands)
    del cands
    queries = [tf.constant(rng.normal(size=(args.batch, args.dim)).astype(np.float32))
               for _ in range(args.batches)]
    starts = list(range(0, args.items, CHUNK))

    @tf.function
    def floor(q: tf.Tensor) -> tf.Tensor:
        best = tf.fill([tf.shape(q)[0]], float("-inf"))
        for s in starts:
            scores = tf.matmul(q, candidates[s:s + CHUNK], transpose_b=True)
            best = tf.maximum(best, tf.reduce_max(scores, axis=1))
        return best

    plain = tf.function(lambda q: chunked_top_k(q, candidates, args.k, chunk_size=CHUNK,
                                                block=None)[1])
    block = tf.function(lambda q: chunked_top_k(q, candidates, args.k, chunk_size=CHUNK)[1])
    arms = {"floor: matmul + row max": floor, "plain selection (top_k per chunk)": plain,
            f"block selection (maxima of {BLOCK})": block}
    seen = [tf.RaggedTensor.from_row_lengths(
        tf.constant(rng.integers(2, args.items, args.batch * args.exclude)),
        [args.exclude] * args.batch) for _ in queries]
    if args.exclude:
        def exact(q: tf.Tensor, e: tf.RaggedTensor) -> tf.Tensor:
            return chunked_top_k(q, candidates, args.k, exclude=e, chunk_size=CHUNK)[1]

        def bitmap(scores: tf.Tensor, e: tf.RaggedTensor, start: int | tf.Tensor = 0
                   ) -> tf.Tensor:
            mask = topk.exclusion_mask(e, start, tf.shape(scores)[1])
            return tf.where(mask, NEG_INF, scores)

        ways = {"scatter (previous)": (topk.scatter_exclusions, ["TensorScatterUpdate"]),
                "bitmap": (bitmap, ["Bincount"]),
                "density's choice (shipped)": (None, ["TensorScatterUpdate", "Bincount"])}
        for way, (fn, ops) in ways.items():
            arm = tf.function(exact)
            with mock.patch.object(topk, "exclude_scores", fn or topk.exclude_scores):
                graph = str(arm.get_concrete_function(queries[0], seen[0]).graph.as_graph_def())
            # each arm runs what it says (traced once, under the patch)
            assert all(op in graph for op in ops), way
            assert all(op not in graph for op in {"TensorScatterUpdate", "Bincount"} - set(ops))
            arms[f"block selection, {args.exclude:,} exclusions by {way}"] = arm
    for name, fn in arms.items():
        fn(*((queries[0], seen[0]) if "exclusions" in name else (queries[0],)))  # trace
    for q, e in zip(queries, seen):
        np.testing.assert_array_equal(plain(q).numpy(), block(q).numpy())
        ids = [fn(q, e).numpy() for name, fn in arms.items() if "exclusions" in name]
        for other in ids[1:]:
            np.testing.assert_array_equal(other, ids[0])
    rates: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(args.rounds):
        for name, fn in arms.items():
            t0 = time.perf_counter()
            for q, e in zip(queries, seen):
                fn(*((q, e) if "exclusions" in name else (q,))).numpy()
            rates[name].append(args.batch * len(queries) / (time.perf_counter() - t0))
    floor_rate = statistics.median(rates["floor: matmul + row max"])
    rows = ["| arm | queries/s (median) | min-max over rounds | x floor |",
            "|---|---|---|---|"]
    for name, r in rates.items():
        med = statistics.median(r)
        rows.append(f"| {name} | {med:,.0f} | {min(r):,.0f}-{max(r):,.0f} | "
                    f"{med / floor_rate:.2f} |")
    threads = (tf.config.threading.get_intra_op_parallelism_threads() or "default")
    body = "\n".join(rows) + (
        f"\n\nExact top-{args.k} over {args.items:,} x {args.dim} unit-norm random "
        f"candidates, batches of {args.batch} queries, chunks of {CHUNK:,}, "
        f"{args.batches} batches per round, {args.rounds} interleaved rounds; intra-op "
        f"threads: {threads}. The two selections returned identical ids on every batch"
        + (f"; so did the three ways of excluding ({args.exclude:,} random seen items per query)."
           if args.exclude else "."))
    title = f"Exact top-{args.k} over {args.items:,} items against the matmul floor"
    record(title + (f", {args.exclude:,} exclusions per query" if args.exclude else "")
           + " (issue 19)", body)


if __name__ == "__main__":
    main()
