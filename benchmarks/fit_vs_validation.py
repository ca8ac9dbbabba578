"""Does a variant generalise worse, or only train slower? The validation metric against the
training loss, epoch by epoch, for groups of trained runs (no test split read).

    python benchmarks/fit_vs_validation.py \\
        --runs 'HSTU (U gate)=benchmarks/results/kr30_hstu_g0/runs/HSTU/loso' \\
        --runs 'HSTU without U gate=benchmarks/results/kr30_hstu_ng0/runs/HSTU/loso' \\
        --versus 'HSTU (U gate)' --title '...' --output benchmarks/results/kr30_gate_fit

Every ``--runs LABEL=DIR`` (a run, or a directory of ``seed<k>`` runs; several with one label
are pooled) gives one point per epoch: (training loss, validation metric), both from the run's
``history.json``. The first epoch of each run is left out (``--skip-epochs``: its training
loss is the mean over an epoch that starts from random weights). The table bins the training
loss (equal-width bins over the range of all points) and gives each label's mean validation
metric in each bin, and the gap to ``--versus`` in the bins both have points in. A variant
that only trains faster has the same metric at the same training loss, reached in fewer
epochs; one that generalises better has a higher metric at the same training loss.
A second table gives, per label (means over its runs), the epochs run, the best epoch and
its training loss, second validation value (``--second``) and metric, and the epochs to
reach the lowest training loss every run reaches. PNG: the points and the binned means.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

import numpy as np
from _common import (
    add_record_args,
    add_smoke,
    best_epoch,
    pooled_run_dirs,
    publish,
    smoke_comparison,
    write_table,
)


def load_points(runs: list[Path], loss_key: str, metric: str, skip: int = 1,
                second: str = "retrieval_loss") -> list[dict]:
    """Per run: the (training loss, validation metric) arrays of its epochs after the first
    ``skip``, and its best epoch (by the run's recorded selection value)."""
    out = []
    for run in runs:
        history = json.loads((run / "history.json").read_text())
        if len(history) <= skip:
            raise SystemExit(f"error: {run}: history.json has {len(history)} epochs, none "
                             f"after the {skip} skipped (--skip-epochs)")
        for i, h in enumerate(history):
            if loss_key not in h.get("train", {}) or metric not in h.get("valid", {}):
                raise SystemExit(f"error: {run}/history.json epoch {i + 1}: no train "
                                 f"{loss_key!r} or valid {metric!r}")
        best = best_epoch(history, metric)
        out.append({
            "run": str(run),
            "train": np.array([h["train"][loss_key] for h in history[skip:]]),
            "metric": np.array([h["valid"][metric] for h in history[skip:]]),
            "second": np.array([h["valid"].get(second, np.nan) for h in history[skip:]]),
            "epochs": len(history), "best_epoch": best + 1,
            "best_train": history[best]["train"][loss_key],
            "best_second": history[best]["valid"].get(second, float("nan")),
            "best_metric": history[best]["valid"][metric],
            "min_train": min(h["train"][loss_key] for h in history[skip:]),
            "train_by_epoch": [h["train"][loss_key] for h in history],
        })
    return out


def binned(groups: dict[str, list[dict]], bins: int) -> tuple[np.ndarray, dict]:
    """Bin edges over the training-loss range of all points, and per label the mean metric,
    the mean second validation value and the count of epochs in each bin."""
    everything = np.concatenate([r["train"] for runs in groups.values() for r in runs])
    low, high = float(everything.min()), float(everything.max())
    edges = np.linspace(low, max(high, low + 1e-6), bins + 1)
    out = {}
    for label, runs in groups.items():
        x = np.concatenate([r["train"] for r in runs])
        y = np.concatenate([r["metric"] for r in runs])
        z = np.concatenate([r["second"] for r in runs])
        index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
        means, seconds, counts = [], [], []
        for b in range(bins):
            m = index == b
            counts.append(int(m.sum()))
            means.append(float(y[m].mean()) if m.any() else float("nan"))
            seconds.append(float(np.nanmean(z[m])) if np.isfinite(z[m]).any() else float("nan"))
        out[label] = {"mean": means, "second": seconds, "count": counts}
    return edges, out


def epochs_to_reach(runs: list[dict], level: float) -> float:
    """Mean over runs of the first epoch whose training loss is <= ``level``."""
    firsts = [next(i + 1 for i, v in enumerate(r["train_by_epoch"]) if v <= level)
              for r in runs]
    return float(np.mean(firsts))


def tables(groups: dict[str, list[dict]], edges: np.ndarray, stats: dict,
           versus: str | None, metric: str, second: str) -> tuple[str, dict]:
    labels = list(groups)
    head = "| training loss | " + " | ".join(f"{lab}: {metric} (epochs)" for lab in labels)
    head += "".join(f" | {lab}: valid {second}" for lab in labels)
    others = [lab for lab in labels if versus and lab != versus]
    head += "".join(f" | {lab} vs {versus}" for lab in others) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(labels) + len(others))]
    ahead = {lab: [] for lab in others}
    for b in range(len(edges) - 1):
        cells = [f"{stats[lab]['mean'][b]:.4f} ({stats[lab]['count'][b]})"
                 if stats[lab]["count"][b] else "-" for lab in labels]
        cells += [f"{stats[lab]['second'][b]:.4f}" if np.isfinite(stats[lab]["second"][b])
                  else "-" for lab in labels]
        for lab in others:
            a, v = stats[lab]["mean"][b], stats[versus]["mean"][b]
            if stats[lab]["count"][b] and stats[versus]["count"][b] and v > 0:
                gap = 100 * (a - v) / v
                ahead[lab].append(gap)
                cells.append(f"{gap:+.1f}%")
            else:
                cells.append("-")
        lines.append(f"| {edges[b]:.3f}-{edges[b + 1]:.3f} | " + " | ".join(cells) + " |")
    reach = max(r["min_train"] for runs in groups.values() for r in runs)  # every run reaches it
    lines += ["", f"| label | runs | epochs run | best epoch | training loss at best | "
                  f"valid {second} at best | {metric} at best | epochs to training loss "
                  f"{reach:.3f} |", "|---|---|---|---|---|---|---|---|"]
    summary: dict = {"edges": edges.tolist(), "bins": stats, "labels": {}}
    for lab, runs in groups.items():
        row = {k: float(np.mean([r[k] for r in runs]))
               for k in ("epochs", "best_epoch", "best_train", "best_second", "best_metric")}
        row["epochs_to_reach"] = epochs_to_reach(runs, reach)
        row["runs"] = [r["run"] for r in runs]
        summary["labels"][lab] = row
        lines.append(f"| {lab} | {len(runs)} | {row['epochs']:.1f} | {row['best_epoch']:.1f} | "
                     f"{row['best_train']:.4f} | {row['best_second']:.4f} | "
                     f"{row['best_metric']:.4f} | {row['epochs_to_reach']:.1f} |")
    if others:
        lines.append("")
        for lab in others:
            gaps = ahead[lab]
            summary["labels"][lab]["bins_ahead"] = [sum(g > 0 for g in gaps), len(gaps)]
            lines.append(f"At equal training loss, {lab} vs {versus}: ahead in "
                         f"{sum(g > 0 for g in gaps)} of {len(gaps)} shared bins, mean gap "
                         f"{np.mean(gaps):+.1f}%." if gaps else
                         f"{lab} and {versus} share no bin.")
    return "\n".join(lines), summary


def plot(groups: dict[str, list[dict]], edges: np.ndarray, stats: dict, metric: str,
         title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sessionrec_tf.files import atomic_save_figure

    fig, ax = plt.subplots(figsize=(7, 4.5))
    centres = (edges[:-1] + edges[1:]) / 2
    for i, (label, runs) in enumerate(groups.items()):
        colour = f"C{i}"
        x = np.concatenate([r["train"] for r in runs])
        y = np.concatenate([r["metric"] for r in runs])
        ax.scatter(x, y, s=6, alpha=0.3, color=colour)
        ax.plot(centres, stats[label]["mean"], "o-", color=colour, label=label)
    ax.set_xlabel("training loss (epoch mean)")
    ax.set_ylabel(f"validation {metric}")
    ax.invert_xaxis()  # training progresses to the right
    ax.set_title("\n".join(textwrap.wrap(title, 90)), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    smoke = add_smoke(p)
    p.add_argument("--runs", action="append", required=not smoke, metavar="LABEL=DIR")
    p.add_argument("--versus", default=None, help="label the others are compared with")
    p.add_argument("--metric", default="recall@100")
    p.add_argument("--loss", default="retrieval_loss",
                   help="training loss key of history.json (default: the retrieval loss, "
                        "which every model has)")
    p.add_argument("--second", default="retrieval_loss",
                   help="a second validation value binned alike (default: the validation "
                        "retrieval loss, the training objective on the validation targets)")
    p.add_argument("--bins", type=int, default=8)
    p.add_argument("--skip-epochs", type=int, default=1,
                   help="leave out each run's first N epochs (default 1)")
    add_record_args(p, smoke, "fit_vs_validation.md/json/png")
    args = p.parse_args()
    if args.smoke:
        smoke_comparison(args, "smoke: fit vs validation", "fit_vs_validation")
        args.skip_epochs = 0  # smoke runs train one epoch
    if args.bins < 1 or args.skip_epochs < 0:
        raise SystemExit("error: --bins must be >= 1 and --skip-epochs >= 0")
    groups = {label: load_points(runs, args.loss, args.metric, args.skip_epochs, args.second)
              for label, runs in pooled_run_dirs(args.runs).items()}
    if args.versus is not None and args.versus not in groups:
        raise SystemExit(f"error: --versus {args.versus!r} is not a --runs label "
                         f"({', '.join(groups)})")
    edges, stats = binned(groups, args.bins)
    text, summary = tables(groups, edges, stats, args.versus, args.metric, args.second)
    body = (f"Validation {args.metric} by training loss ({args.loss}), epoch by epoch, the "
            f"first {args.skip_epochs} epoch(s) of each run left out; mean over the epochs of "
            f"all of a label's runs in each bin (count in brackets), and of the validation "
            f"{args.second}. {args.note}".strip()
            + "\n\n" + text)
    if args.output:
        from sessionrec_tf.files import atomic_write_text

        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        write_table(out / "fit_vs_validation.md", args.title, body)
        atomic_write_text(out / "fit_vs_validation.json", json.dumps(summary, indent=1))
        plot(groups, edges, stats, args.metric, args.title, out / "fit_vs_validation.png")
        body += f"\n\nFiles: `{out}/fit_vs_validation.{{md,json,png}}`."
    publish(args.title, body, args.no_record)


if __name__ == "__main__":
    main()
