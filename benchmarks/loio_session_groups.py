"""LOIO test hits split by where the target sits: inside the session the input ends with, or
at the start of a new session.

    python benchmarks/loio_session_groups.py --data tfrecords/kuairand_30m \\
        --output results/kuairand_30m_long [--cells SessionRec-HSTU HSTU ...]

Under leave-one-item-out the target is the user's last positive. When an earlier interaction of
the same session precedes it, the input ends with a partial session, and a session model's last
state was trained to predict the NEXT session, not the rest of the current one. This script
tests whether that is where SessionRec-HSTU loses under LOIO: for every finished LOIO run of
``OUTPUT/runs/<cell>/loio/seed<k>`` it ranks the full catalogue (seen positives excluded, as
the evaluation does) and reports R@10 and R@100 per group. The result is appended to
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sessionrec_tf.data import PreparedDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, add_smoke, record, smoke_data, smoke_runs  # noqa: E402

CELLS = ["SessionRec-HSTU", "HSTU", "HSTU+", "SASRec+", "SASRec", "GRU4Rec"]


def partial_session_targets(data: PreparedDataset) -> dict[bytes, bool]:
    """user id -> whether the LOIO test target shares a session with the input's last
    interaction."""
    import tensorflow as tf

    from sessionrec_tf.data.tfrecord import parse_spec

    spec = parse_spec(data.feature_names)
    out = {}
    for raw in tf.data.TFRecordDataset(data.files).batch(512):
        batch = tf.io.parse_example(raw, spec)
        lengths = batch["item_id"].values.row_lengths().numpy()
        sessions = batch["item_id"].row_lengths().numpy()
        starts = np.concatenate([[0], np.cumsum(sessions)])
        for u, uid in enumerate(batch["user_id"].numpy()):
            lens = lengths[starts[u]:starts[u + 1]]
            session_of = np.repeat(np.arange(len(lens)), lens)
            cut = int(batch["loio_test_cut"][u])
            out[uid] = cut > 0 and session_of[cut] == session_of[cut - 1]
    return out


def group_hits(run_dir: Path, data: PreparedDataset, partial: dict[bytes, bool]
               ) -> dict[bool, np.ndarray]:
    """group -> ``[users, 2]`` recall@10 and recall@100 (0 or 1: one target) of the run's
    LOIO test users, computed by the evaluation's own ``ranking_metrics``."""
    from sessionrec_tf.data import read_dataset
    from sessionrec_tf.metrics.ranking import ranking_metrics
    from sessionrec_tf.metrics.topk import chunked_top_k
    from sessionrec_tf.models.sessionrec import seen_items
    from sessionrec_tf.training import Run

    run = Run.load(run_dir)
    model, _ = run.restore(data.path)
    hits: dict[bool, list[np.ndarray]] = {True: [], False: []}
    candidates = model.candidate_embeddings()
    for batch in read_dataset(data, "test", "loio", 256, deterministic=True):
        _, idx = chunked_top_k(model(batch), candidates, 100,
                               exclude=seen_items(batch, run.config.train.exclude_seen))
        per_user = ranking_metrics(idx, batch["target_item_id"], (10, 100))
        both = np.stack([per_user["recall@10"].numpy(), per_user["recall@100"].numpy()], axis=1)
        in_partial = np.array([partial[uid] for uid in batch["user_id"].numpy()])
        for group in (True, False):
            hits[group].append(both[in_partial == group])
    return {g: np.concatenate(h) for g, h in hits.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    smoke = add_smoke(p)
    p.add_argument("--data", required=not smoke)
    p.add_argument("--output", required=not smoke, help="experiment output holding runs/")
    p.add_argument("--cells", nargs="+", default=CELLS)
    args = p.parse_args()
    if args.smoke:
        args.data, args.cells = str(smoke_data()), ["SessionRec-HSTU"]
        args.output = str(smoke_runs(Path(args.data), "table2", args.cells, ["loio"]))
    import sessionrec_tf  # noqa: F401  (Keras 2 before TensorFlow)
    from sessionrec_tf.data import PreparedDataset

    data = PreparedDataset.load(REPO / args.data)
    partial = partial_session_targets(data)
    n_partial = sum(partial.values())
    rows, pooled = [], {}
    for cell in args.cells:
        for run_dir in sorted((REPO / args.output / "runs" / cell / "loio").glob("seed*")):
            if not (run_dir / "metrics.json").exists():
                continue  # not finished and evaluated
            h = group_hits(run_dir, data, partial)
            pooled.setdefault(cell, []).append(h)
            rows.append(f"| {cell} | {run_dir.name[4:]} | {h[True][:, 0].mean():.3f} | "
                        f"{h[False][:, 0].mean():.3f} | {h[True][:, 1].mean():.3f} | "
                        f"{h[False][:, 1].mean():.3f} |")
            print(rows[-1], flush=True)
    for cell, hs in pooled.items():
        part = np.concatenate([h[True] for h in hs])
        new = np.concatenate([h[False] for h in hs])
        rows.append(f"| {cell} | all {len(hs)} pooled | {part[:, 0].mean():.3f} | "
                    f"{new[:, 0].mean():.3f} | {part[:, 1].mean():.3f} | "
                    f"{new[:, 1].mean():.3f} |")
    body = (f"Data `{args.data}`: {len(partial)} LOIO test users; the target shares a session "
            f"with the input's last interaction for {n_partial} "
            f"({100 * n_partial / len(partial):.1f}%, \"partial\"), and starts a new session "
            f"for {len(partial) - n_partial} (\"new\"). Runs: `{args.output}/runs/<cell>/loio/"
            "seed<k>` (finished ones), full catalogue, seen positives excluded.\n\n"
            "| model | seed | R@10 partial | R@10 new | R@100 partial | R@100 new |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows))
    record(f"LOIO hits by target position (partial vs new session) on {data.name}", body)


if __name__ == "__main__":
    main()
