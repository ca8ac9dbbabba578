"""A small search of ScaNN parameters against the exact top-100 at 1.5M items (issue 19).

    python benchmarks/scann_search.py [--work runs/bench_serving] [--queries 4096] \
        [--leaves-factors 1 2] [--search 0.025 0.0375 0.05 0.075] [--reorder 250 500 1000]

Candidates and queries are those of ``bench_serving.py --parts scann`` (the item tower of
SessionRec-HSTU trained briefly on the simulator's ``recflow`` preset plus cold-start rows up
to 1.5M; test users' embeddings as queries; data and run cached under ``--work``). Every
setting is searched through the retriever the export uses (:class:`ScannTopK` inside a
``tf.function``, batches of 64): one index per number of partitions (``--leaves-factors`` x
the default), and per index the query-time settings (:meth:`ScannTopK.searching`: share of
partitions searched x candidates re-scored, no rebuild). Recall@100 is the overlap with the
exact top-100 of the library's exact retriever (:class:`ExactTopK`), whose rate is measured in
the same run (before and after the settings); the ratio to it is the speed-up.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

import sessionrec_tf  # noqa: F401  (Keras 2 before TensorFlow loads)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving  # noqa: E402
from _common import REPO, add_smoke, record, smoke_dir  # noqa: E402

TARGET_RECALL = 0.98


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="runs/bench_serving",
                   help="cache for data and the trained run (shared with bench_serving.py)")
    p.add_argument("--queries", type=int, default=4096)
    p.add_argument("--leaves-factors", type=float, nargs="+", default=[1.0, 2.0],
                   help="numbers of partitions, as multiples of the default")
    p.add_argument("--search", type=float, nargs="+", default=[0.025, 0.0375, 0.05, 0.075],
                   help="shares of the partitions searched per query")
    p.add_argument("--reorder", type=int, nargs="+", default=[250, 500, 1000],
                   help="candidates re-scored exactly")
    p.add_argument("--dims-per-block", type=int, nargs="+", default=[2],
                   help="asymmetric-hashing block widths (one index each; 1 = finer codes)")
    add_smoke(p)
    args = p.parse_args()
    if args.smoke:
        bench_serving.PREPARE_RECFLOW = ["--size", "tiny", "--min-item-interactions", "1"]
        bench_serving.CATALOG = 3_000
        args.work, args.queries = str(smoke_dir() / "serving"), 128
        args.leaves_factors, args.search, args.reorder = [1.0], [0.25], [200]
    import tensorflow as tf

    from sessionrec_tf.retrieval.exact import ExactTopK
    from sessionrec_tf.retrieval.scann import ScannTopK
    from sessionrec_tf.retrieval.scann_options import ScannOptions

    work = (REPO / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    k = bench_serving.K
    model, data = bench_serving.trained_recflow(work)
    learned = model.candidate_embeddings().numpy()
    cold = bench_serving.cold_rows(model, data, bench_serving.CATALOG + 2 - learned.shape[0])
    candidates = np.concatenate([learned, cold]).astype(np.float32)
    queries = bench_serving.test_user_embeddings(model, data, args.queries).astype(np.float32)
    n = candidates.shape[0] - 2
    exact = ExactTopK(k).index(candidates)
    exact_fn = tf.function(lambda q: exact(q)[1])
    print("exact ...", flush=True)
    exact_qps, truth = bench_serving.qps(exact_fn, queries)
    default = ScannOptions().resolved(n, k)
    rows = []
    builds = [(max(1, min(round(default.num_leaves * f), n)), dims)
              for dims in args.dims_per_block for f in args.leaves_factors]
    for leaves, dims in builds:
        print(f"building {leaves} partitions, AH {dims} dims/block ...", flush=True)
        t0 = time.perf_counter()
        index = ScannTopK(k, ScannOptions(num_leaves=leaves, dimensions_per_block=dims)
                          ).index(candidates)
        build = time.perf_counter() - t0
        for share in args.search:
            search = min(leaves, max(1, math.ceil(leaves * share)))
            for reorder in args.reorder:
                retriever = index.searching(search, max(reorder, k))
                fn = tf.function(lambda q, r=retriever: r(q)[1])
                rate, ids = bench_serving.qps(fn, queries)
                rows.append({"leaves": leaves, "dims": dims, "search": search, "share": share,
                             "reorder": max(reorder, k), "build": build,
                             "recall": bench_serving.recall(ids, truth), "qps": rate})
                print(rows[-1], flush=True)
    exact_again, _ = bench_serving.qps(exact_fn, queries[: min(len(queries), 1024)])
    reference = float(np.mean([exact_qps, exact_again]))
    good = [r for r in rows if r["recall"] >= TARGET_RECALL]
    best = max(good, key=lambda r: r["qps"]) if good else None
    table = [f"| partitions, AH dims/block (build s) | searched | re-scored | recall@{k} "
             "| queries/s | x exact |", "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["qps"]):
        mark = "**" if r is best else ""
        table.append(f"| {r['leaves']:,}, {r['dims']} ({r['build']:.0f}) | {r['search']} "
                     f"({100 * r['share']:.2g}%) | {r['reorder']} | {mark}{r['recall']:.4f}"
                     f"{mark} | {r['qps']:,.0f} | {mark}{r['qps'] / reference:.1f}x{mark} |")
    verdict = (f"Fastest setting with recall@{k} >= {TARGET_RECALL}: {best['leaves']:,} "
               f"partitions, AH {best['dims']} dims/block, {best['search']} searched, "
               f"{best['reorder']} re-scored: "
               f"recall {best['recall']:.4f} at {best['qps'] / reference:.1f}x the exact "
               "retriever." if best else
               f"No setting reached recall@{k} >= {TARGET_RECALL}.")
    body = "\n".join(table) + (
        f"\n\n{verdict} Exact retriever (`ExactTopK`, block selection): {exact_qps:,.0f} "
        f"queries/s before the settings, {exact_again:,.0f} after (the ratio uses their mean, "
        f"{reference:,.0f}). Candidates: {n:,} x {candidates.shape[1]} (L2-normalised; "
        f"{learned.shape[0] - 2:,} trained items of `sessionrec prepare "
        f"{' '.join(bench_serving.PREPARE_RECFLOW)}` plus {cold.shape[0]:,} cold-start rows, "
        f"as in `bench_serving.py --parts scann`); queries: {len(queries):,} test users, "
        "batches of 64, no exclusions; every setting through `ScannTopK` in a `tf.function` "
        "(the exported retriever), spherical tree, AH threshold 0.2; default "
        f"partitions for this catalog: {default.num_leaves:,}.")
    record(f"ScaNN parameter search at {n:,} items against the exact retriever (issue 19)",
           body)


if __name__ == "__main__":
    main()
