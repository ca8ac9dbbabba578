"""What fills a model's top-K lists? The share of list slots held by never-engaged items.

    python benchmarks/topk_composition.py --split valid \\
        --runs "uniform=/work/exp/results/kuairand_2h_default/runs/SessionRec-HSTU/loso" \\
        --runs "engaged=/work/exp/results/kuairand_2h_engaged/runs/SessionRec-HSTU/loso" \\
        --title "..."

Every run (``LABEL=DIR``: a run directory, or a directory of ``seed<k>`` runs averaged over
seeds; several ``--runs`` with one label are averaged together) ranks the whole catalogue
for every user of the split (the exact top-K of :class:`~sessionrec_tf.evaluation.Evaluator`,
seen items excluded as in the run's evaluation).
Per cut-off K: the share of the top-K slots held by items with no positive in the training
split (``never engaged``: nothing in the data says anyone wants them; on KuaiRand 64-72% of
the catalogue are such items, only ever disliked) and the catalogue's share of them. A model
whose negatives never cover those items (e.g. ``task.sampler=engaged``) leaves their
embeddings where they started, and they can crowd the lists.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np
from _common import (
    add_record_args,
    add_run_args,
    add_smoke,
    pooled_run_dirs,
    publish,
    smoke_comparison,
)

KS = (10, 100)


def never_engaged_share(top: np.ndarray, counts: np.ndarray, k: int) -> float:
    """Share of the ``[users, >=k]`` top lists' first ``k`` slots on items whose training
    positive count is 0."""
    return float((counts[top[:, :k]] == 0).mean())


@functools.cache
def _train_counts(data_path: str, protocol: str) -> np.ndarray:
    """Training positive counts of a prepared dataset (counted once for all its runs)."""
    from sessionrec_tf.data.dataset import PreparedDataset
    from sessionrec_tf.data.reader import train_item_counts

    return train_item_counts(PreparedDataset.load(data_path), protocol)


def composition(run: Path, split: str, protocol: str, batch_size: int) -> dict[str, float]:
    """``{"never@10": share, "never@100": share, "catalog": share}`` of one run."""
    from sessionrec_tf.data.reader import read_dataset
    from sessionrec_tf.data.vocab import NUM_RESERVED
    from sessionrec_tf.evaluation import Evaluator
    from sessionrec_tf.training.run import RunDirectory

    r = RunDirectory.load(run)
    model, data = r.restore()
    counts = _train_counts(str(Path(data.path).resolve()), protocol)
    evaluator = Evaluator(model, data, ks=KS, exclude_seen=r.config.train.exclude_seen)
    top = np.concatenate([evaluator.top_items(b).numpy() for b in
                          read_dataset(data, split, protocol, batch_size, deterministic=True)])
    return {**{f"never@{k}": never_engaged_share(top, counts, k) for k in KS},
            "catalog": float((counts[NUM_RESERVED:] == 0).mean())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    smoke = add_smoke(p)
    add_run_args(p, smoke)
    add_record_args(p, smoke, None)
    args = p.parse_args()
    if args.smoke:
        smoke_comparison(args, "smoke: top-K composition", "composition")
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.experiments.outputs import markdown_table

    rows = []
    for label, dirs in pooled_run_dirs(args.runs).items():  # one label's runs pooled
        per_seed = [composition(d, args.split, args.protocol, args.batch_size) for d in dirs]
        means = {key: np.mean([s[key] for s in per_seed]) for key in per_seed[0]}
        rows.append([label, str(len(dirs)), f"{100 * means['catalog']:.1f}%",
                     *[f"{100 * means[f'never@{k}']:.2f}%" for k in KS]])
    body = markdown_table(["runs", "seeds", "catalog never engaged",
                           *[f"top-{k} slots on never-engaged items" for k in KS]], rows)
    body += (f"\n\nSplit {args.protocol}/{args.split}; exact top-K, seen items excluded as in "
             "each run's evaluation; never engaged = no positive in the training split; mean "
             "over seeds." + (f"\n\n{args.note}" if args.note else ""))
    publish(args.title, body, args.no_record)


if __name__ == "__main__":
    main()
