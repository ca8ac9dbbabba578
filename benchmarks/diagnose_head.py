"""Where does a model gain or lose at the head of the list? Hit rates by kind of target.

    python benchmarks/diagnose_head.py --split valid \\
        --runs "SessionRec-HSTU=/work/exp/results/demo_table2/runs/SessionRec-HSTU/loso" \\
        --runs "HSTU tuned=/work/exp/results/demo_table2_tuned/runs/HSTU/loso" \\
        --versus "HSTU tuned" --output benchmarks/results/demo_head_diagnosis --title "..."

For every run (``LABEL=DIR``: a run directory, or a directory of ``seed<k>`` runs averaged
over seeds), it ranks the whole catalogue for every user of the split (the exact top-K of
:class:`~sessionrec_tf.evaluation.Evaluator`, seen positives excluded as in the run's
evaluation) and records, for each target positive, whether it is in the top 10 and top 100.
Targets are grouped by what the user's history says about them:

* ``category`` (when the data has that item feature; the simulator's cluster = intent): the
  target's category is among the positives' categories of the LAST history session, only of
  older sessions, or new;
* ``exposure``: the target item itself was shown before (a negative, or a positive: a repeat)
  or never;
* ``popularity``: the target item's tercile of positive counts in the split's histories;
* ``target session``: the number of positives in the user's target session (1, 2-4, 5-9,
  10+).

Per group: the share of targets, each run's micro hit rate (targets found / targets) @10 and
@100, mean and std over seeds, and with ``--versus`` the relative gap. The loss at the head
is then located (e.g. concentrated on targets of the last session's intents, or on popular
items). The split is ``valid`` by default: a diagnosis that should not read the test split
again; nothing is chosen from it. With ``--output``, each run's per-target hits are kept in
``OUTPUT/cache/`` (keyed by run, split and protocol) and reused, so the command can be run
again (e.g. with a ``--note``) without ranking again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _common import (
    add_record_args,
    add_run_args,
    add_smoke,
    json_cached,
    pooled_run_dirs,
    publish,
    smoke_comparison,
    write_table,
)

KS = (10, 100)
GROUPS: dict[str, tuple[str, ...]] = {
    "category": ("last session", "older sessions only", "new"),
    "exposure": ("repeat of a positive", "shown before as negative", "never shown"),
    "popularity": ("top third", "middle third", "bottom third"),
    "target session": ("1 positive", "2-4", "5-9", "10+"),
}


def target_groups(items: list[np.ndarray], labels: list[np.ndarray], targets: np.ndarray,
                  category: np.ndarray | None, tercile: np.ndarray) -> list[dict[str, str]]:
    """The group of each target of one user (history: one array per session); without a
    category feature (``None``) the ``category`` group is left out."""
    if category is not None:
        last = set(category[items[-1][labels[-1] == 1]]) if items else set()
        older = {c for it, lb in zip(items[:-1], labels[:-1]) for c in category[it[lb == 1]]}
    pos = {int(i) for it, lb in zip(items, labels) for i in it[lb == 1]}
    shown = {int(i) for it in items for i in it}
    n = len(targets)
    size = "1 positive" if n == 1 else "2-4" if n <= 4 else "5-9" if n <= 9 else "10+"
    out = []
    for t in targets:
        groups = {}
        if category is not None:
            c = category[t]
            groups["category"] = ("last session" if c in last else
                                  "older sessions only" if c in older else "new")
        out.append({
            **groups,
            "exposure": "repeat of a positive" if int(t) in pos else
                        "shown before as negative" if int(t) in shown else "never shown",
            "popularity": GROUPS["popularity"][tercile[t]],
            "target session": size,
        })
    return out


def diagnose(run: Path, split: str, protocol: str, batch_size: int) -> list[tuple[dict, dict]]:
    """``[(groups, {k: hit})]`` for every target positive of the split."""
    from sessionrec_tf.data.reader import read_dataset
    from sessionrec_tf.evaluation import Evaluator
    from sessionrec_tf.training.run import RunDirectory

    r = RunDirectory.load(run)
    model, data = r.restore()
    evaluator = Evaluator(model, data, ks=KS, exclude_seen=r.config.train.exclude_seen)
    features = data.item_features
    if "category" not in features:
        print(f"note: {data.path} has no item feature 'category': targets are not grouped by "
              "intent", flush=True)
    category = features.get("category")
    batches = list(read_dataset(data, split, protocol, batch_size, deterministic=True))
    counts = np.zeros(data.num_items, np.int64)
    for b in batches:
        flat_items = b["item_id"].flat_values.numpy()
        np.add.at(counts, flat_items[b["label"].flat_values.numpy() == 1], 1)
    order = np.argsort(-counts, kind="stable")
    tercile = np.empty(len(counts), np.int64)
    tercile[order] = np.minimum(np.arange(len(counts)) * 3 // max(int((counts > 0).sum()), 1), 2)
    out = []
    for b in batches:
        top = evaluator.top_items(b).numpy()
        user_items, user_labels = b["item_id"].to_list(), b["label"].to_list()
        for u, target in enumerate(b["target_item_id"].to_list()):
            tu = np.asarray(target, np.int64)
            if not len(tu):
                continue
            items = [np.asarray(s, np.int64) for s in user_items[u]]
            labels = [np.asarray(s, np.int64) for s in user_labels[u]]
            for t, g in zip(tu, target_groups(items, labels, tu, category, tercile)):
                out.append((g, {k: bool(np.isin(t, top[u, :k])) for k in KS}))
    return out


def cached(run: Path, split: str, protocol: str, batch_size: int, cache: Path | None
           ) -> list[tuple[dict, dict]]:
    """:func:`diagnose`, through a per-run JSON cache in ``cache`` (if given)."""
    return json_cached(cache, f"{run.resolve()}|{split}|{protocol}",
                       lambda: diagnose(run, split, protocol, batch_size),
                       lambda saved: [(g, {int(k): v for k, v in h.items()}) for g, h in saved])


def table(results: dict[str, list[list[tuple[dict, dict]]]], versus: str | None
          ) -> tuple[str, list[dict]]:
    """The markdown table and its rows as records (for the JSON file)."""
    labels = list(results)
    records: list[dict] = []
    head = ["group", "value", "share of targets"]
    for lab in labels:
        head += [f"{lab} hit@{k}" for k in KS]
    if versus:
        head += [f"gap hit@{k} vs {versus}" for k in KS]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    first = results[labels[0]][0]
    for group, values in [("all", ("all",)), *GROUPS.items()]:
        for value in values:
            share = np.mean([group == "all" or g.get(group) == value for g, _ in first])
            if share == 0:
                continue
            cells = [group, value, f"{100 * share:.1f}%"]
            means: dict[tuple[str, int], np.ndarray] = {}
            for lab in labels:
                for k in KS:
                    per_seed = np.array([np.mean([h[k] for g, h in seed
                                                  if group == "all" or g.get(group) == value])
                                         for seed in results[lab]])
                    means[lab, k] = per_seed
                    sd = per_seed.std(ddof=1) if len(per_seed) > 1 else 0.0
                    cells.append(f"{per_seed.mean():.4f} ± {sd:.4f}")
            if versus:
                for k in KS:
                    others = [lab for lab in labels if lab != versus]
                    ref = means[versus, k].mean()
                    cells.append(" / ".join(
                        f"{lab} " + (f"{100 * (means[lab, k].mean() - ref) / ref:+.1f}%"
                                     if ref > 0 else "n/a (reference 0)") for lab in others))
            rows.append("| " + " | ".join(cells) + " |")
            records.append({"group": group, "value": value, "share": float(share),
                            "hits": {f"{lab}@{k}": v.tolist() for (lab, k), v in means.items()}})
    return "\n".join(rows), records


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    smoke = add_smoke(p)
    add_run_args(p, smoke)
    p.add_argument("--versus", default=None, metavar="LABEL")
    add_record_args(p, smoke, "diagnosis.md/json")
    args = p.parse_args()
    if args.smoke:
        smoke_comparison(args, "smoke: head diagnosis", "diagnosis")
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.files import atomic_write_text

    groups = pooled_run_dirs(args.runs)  # runs given with one label are pooled
    if args.versus and args.versus not in groups:
        raise SystemExit(f"error: --versus {args.versus!r} is not a --runs label")
    cache = Path(args.output) / "cache" if args.output else None
    results: dict[str, list[list[tuple[dict, dict]]]] = {}
    for label, dirs in groups.items():
        for d in dirs:
            print(f"{label}: {d}", flush=True)
        results[label] = [cached(d, args.split, args.protocol, args.batch_size, cache)
                          for d in dirs]
    body, records = table(results, args.versus)
    runs = "; ".join(f"{lab}: " + ", ".join(f"`{d}`" for d in dirs)
                     for lab, dirs in groups.items())
    body += (f"\n\nSplit {args.protocol}/{args.split}; micro hit rate = target positives in the "
             f"top K / target positives (seen positives excluded, exact top-K); mean ± std over "
             f"seeds. Runs: {runs}." + (f"\n\n{args.note}" if args.note else ""))
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        write_table(out / "diagnosis.md", args.title, body)
        atomic_write_text(out / "diagnosis.json", json.dumps(
            {"title": args.title, "split": args.split, "protocol": args.protocol,
             "runs": {lab: [str(d) for d in dirs] for lab, dirs in groups.items()},
             "rows": records}, indent=1) + "\n")
    publish(args.title, body, args.no_record)


if __name__ == "__main__":
    main()
