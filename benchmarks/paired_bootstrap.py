"""Is a gap between two configs real, or the luck of which users the split holds?

    python benchmarks/paired_bootstrap.py --split valid \\
        --runs "alpha 0.2=/work/exp/results/kuairand_2h_default/runs/SessionRec-HSTU/loso" \\
        --runs "alpha 0=/work/exp/results/kuairand_2h_alpha0/runs/SessionRec-HSTU/loso" \\
        --versus "alpha 0.2" --output benchmarks/results/kuairand_2h_alpha_bootstrap \\
        --title "..."

Every run (``LABEL=DIR``: a run directory, or a directory of ``seed<k>`` runs) ranks the whole
catalogue for every user of the split (:meth:`~sessionrec_tf.evaluation.Evaluator.per_user`:
the exact top-K and seen-item policy of the run's evaluation); each user's metric is averaged
over the label's seeds, and each other label is compared with ``--versus`` by a paired
bootstrap over users (:func:`~sessionrec_tf.evaluation.significance.paired_bootstrap`).
Seeds agreeing on a gap say the gap is not training noise; they do not say it would hold on
other users (every seed is measured on the same users). The bootstrap interval says that.

Per comparison and metric: the users, both means, the relative gap, its interval, the share
of resamples where the label is not ahead, the per-seed gaps (seed k against seed k) and a
verdict (ahead / behind when the interval excludes 0, else tie). Validation by default: the
test split is not read again. With ``--output``, each run's per-user metrics are cached in
``OUTPUT/cache/`` and the table, JSON and a PNG (gaps with their intervals) are written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _common import (
    add_record_args,
    add_run_args,
    add_smoke,
    json_cached,
    publish,
    run_dirs,
    smoke_comparison,
)

DEFAULT_METRICS = ("ndcg@10", "recall@10", "recall@100", "recall@500")


def per_user(run: Path, split: str, protocol: str, ks: tuple[int, ...], batch_size: int
             ) -> tuple[list[str], dict[str, list[float]]]:
    """``(user ids, {metric: values})`` of one run on ``split``."""
    from sessionrec_tf.evaluation import Evaluator
    from sessionrec_tf.training.run import RunDirectory

    r = RunDirectory.load(run)
    model, data = r.restore()
    evaluator = Evaluator(model, data, ks=ks, exclude_seen=r.config.train.exclude_seen,
                          batch_size=batch_size)
    ids, values = evaluator.per_user(split, protocol)
    return ids, {k: v.tolist() for k, v in values.items()}


def cached(run: Path, split: str, protocol: str, ks: tuple[int, ...], batch_size: int,
           cache: Path | None) -> tuple[list[str], dict[str, list[float]]]:
    """:func:`per_user` through a per-run JSON cache in ``cache`` (if given)."""
    def compute() -> dict:
        ids, values = per_user(run, split, protocol, ks, batch_size)
        return {"run": str(run), "ids": ids, "metrics": values}

    return json_cached(cache, f"{run.resolve()}|{split}|{protocol}|{ks}", compute,
                       lambda saved: (saved["ids"], saved["metrics"]))


def short(metric: str) -> str:
    name, _, k = metric.partition("@")
    return {"ndcg": "N", "recall": "R", "hr": "HR", "mrr": "MRR"}.get(name, name) + "@" + k


def compare(seeds: dict[str, list[tuple[list[str], dict[str, list[float]]]]], versus: str,
            metrics: list[str], rounds: int, seed: int, resample_seeds: bool = False
            ) -> tuple[list[list[str]], list[dict]]:
    """Table rows and JSON records: every label other than ``versus`` against it (with
    ``resample_seeds``, also the two-level interval: users and each label's seeds)."""
    from sessionrec_tf.evaluation.significance import paired_bootstrap

    ids = seeds[versus][0][0]
    for label, runs in seeds.items():
        for k, (run_ids, _) in enumerate(runs):
            if run_ids != ids:
                raise SystemExit(f"error: {label} seed run {k} is measured on other users than "
                                 f"{versus} (not the same data or split): nothing to pair")
    per_seed_users = {label: {m: np.stack([np.asarray(v[m]) for _, v in runs]) for m in metrics}
                      for label, runs in seeds.items()}  # [seeds, users]
    mean = {label: {m: x.mean(axis=0) for m, x in by.items()}
            for label, by in per_seed_users.items()}
    rows, records = [], []
    for label, runs in seeds.items():
        if label == versus:
            continue
        for m in metrics:
            gap = paired_bootstrap(mean[label][m], mean[versus][m], rounds=rounds, seed=seed)
            pairs = min(len(runs), len(seeds[versus]))
            per_seed = [100 * (np.mean(runs[k][1][m]) - np.mean(seeds[versus][k][1][m]))
                        / np.mean(seeds[versus][k][1][m]) for k in range(pairs)]
            row = [f"{label} vs {versus}", short(m), f"{gap.users:,}",
                   f"{gap.reference:.4f}", f"{gap.ours:.4f}", f"{gap.gap:+.1f}%",
                   f"[{gap.low:+.1f}%, {gap.high:+.1f}%]", f"{gap.share_not_ahead:.3f}",
                   " / ".join(f"{g:+.1f}%" for g in per_seed), gap.verdict()]
            record = {"label": label, "versus": versus, "metric": m, **gap.to_dict(),
                      "per_seed_gaps": per_seed, "verdict": gap.verdict()}
            if resample_seeds:
                both = paired_bootstrap(per_seed_users[label][m], per_seed_users[versus][m],
                                        rounds=rounds, seed=seed)
                row += [f"[{both.low:+.1f}%, {both.high:+.1f}%]", both.verdict()]
                record["seeds_resampled"] = {**both.to_dict(), "verdict": both.verdict()}
            rows.append(row)
            records.append(record)
    return rows, records


def figure(records: list[dict], title: str):  # noqa: ANN201
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(records) + 1.5))
    names = [f"{r['label']}: {short(r['metric'])}" for r in records]
    y = np.arange(len(records))[::-1]
    gaps = np.array([r["gap"] for r in records])
    err = np.array([[r["gap"] - r["low"] for r in records],
                    [r["high"] - r["gap"] for r in records]])
    ax.errorbar(gaps, y, xerr=err, fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel(f"gap vs {records[0]['versus']} (%), {100 * records[0]['level']:.0f}% "
                  "bootstrap interval over users")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return fig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    smoke = add_smoke(p)
    add_run_args(p, smoke)
    p.add_argument("--versus", required=not smoke, metavar="LABEL",
                   help="the label every other one is compared with")
    p.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS))
    p.add_argument("--rounds", type=int, default=2000, help="bootstrap resamples of the users")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    p.add_argument("--resample-seeds", action="store_true",
                   help="also a two-level interval that resamples each label's seeds as well "
                        "as the users (training noise as well as user sampling)")
    add_record_args(p, smoke, "bootstrap.md/json/png")
    args = p.parse_args()
    if args.smoke:
        smoke_comparison(args, "smoke: paired bootstrap", "bootstrap")
        args.metrics, args.rounds = ["ndcg@10", "recall@50"], 200
        args.resample_seeds = True
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.experiments.outputs import markdown_table, write_outputs
    from sessionrec_tf.metrics.ranking import METRIC_NAMES

    ks: list[int] = []
    for m in args.metrics:
        name, _, k = m.partition("@")
        if name not in METRIC_NAMES or not k.isdigit() or int(k) < 1:
            raise SystemExit(f"error: --metrics {m!r}: expected NAME@K with NAME one of "
                             f"{list(METRIC_NAMES)}")
        ks.append(int(k))
    specs = [run_dirs(s) for s in args.runs]
    labels = [lab for lab, _ in specs]
    if len(set(labels)) != len(labels) or len(labels) < 2:
        raise SystemExit(f"error: --runs needs at least two distinct labels, got {labels}")
    if args.versus not in labels:
        raise SystemExit(f"error: --versus {args.versus!r} is not a --runs label ({labels})")
    cache = Path(args.output) / "cache" if args.output else None
    seeds = {}
    for label, dirs in specs:
        seeds[label] = []
        for d in dirs:
            print(f"{label}: {d}", flush=True)
            seeds[label].append(cached(d, args.split, args.protocol, tuple(sorted(set(ks))),
                                       args.batch_size, cache))
    rows, records = compare(seeds, args.versus, args.metrics, args.rounds, args.seed,
                            args.resample_seeds)
    header = ["comparison", "metric", "users", "reference", "label", "gap",
              "95% interval", "share not ahead", "per-seed gaps", "verdict"]
    if args.resample_seeds:
        header += ["95% interval, seeds resampled too", "verdict, seeds resampled too"]
    runs = "; ".join(f"{lab}: " + ", ".join(f"`{d}`" for d in dirs) for lab, dirs in specs)
    body = markdown_table(header, rows) + (
        f"\n\nSplit {args.protocol}/{args.split}. Each user's metric is the mean over the "
        f"label's seeds; gap = (label - reference) / reference of the means over users; "
        f"interval: {args.rounds} paired bootstrap resamples of the users (seed {args.seed}); "
        "share not ahead: resamples where the label is not ahead (a one-sided p-value); "
        "per-seed gaps: seed k against seed k on all users; verdict: ahead / behind when the "
        "interval excludes 0, else tie. " + (
            "Seeds resampled too: each round also draws each label's seeds with replacement "
            "(a two-level bootstrap: training noise as well as user sampling). "
            if args.resample_seeds else "") + f"Runs: {runs}." + (f"\n\n{args.note}" if args.note
                                                              else ""))
    if args.output:
        write_outputs(Path(args.output), "bootstrap", args.title, body,
                      {"title": args.title, "split": args.split, "protocol": args.protocol,
                       "rounds": args.rounds, "seed": args.seed,
                       "runs": {lab: [str(d) for d in dirs] for lab, dirs in specs},
                       "rows": records}, figure(records, args.title))
    publish(args.title, body, args.no_record)


if __name__ == "__main__":
    main()
