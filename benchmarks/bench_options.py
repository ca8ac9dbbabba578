"""Training-step cost of SessionRec options, side by side on one prepared dataset (issue 17).

    python benchmarks/bench_options.py --data tfrecords/sim_medium [--steps 20] \
        [--variant "paper=" --variant "2 user vectors=model.user_vectors=2" ...]

Each variant is ``LABEL=OVERRIDE[,OVERRIDE...]`` on top of ``--config`` (default
``sessionrec_hstu`` with its shipped sizes); the default variants are the ones the ablation
compares (paper, several user vectors, partial sessions x4, both). Every variant trains in its
own process (seconds per step after 3 warm-up steps, seconds per epoch, peak RSS); the
ratios to the first variant are measured in the same run.

``--old-tree PATH`` (a checkout of an earlier commit, e.g. a git worktree) also times every
variant with that code, interleaved with the current code, and reports new/old per variant.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SMOKE_MODEL,
    add_smoke,
    old_tree_arg,
    old_tree_note,
    old_tree_path,
    parser,
    record,
    smoke_data,
    training_args,
)

# sessionrec_hstu ships partial sessions x4 + 2 user vectors; the paper's training has neither
# (sessionrec_hstu_paper differs from it only there)
DEFAULT_VARIANTS = (
    "paper=task.prefix_weight=0.0,model.user_vectors=1",
    "2 user vectors=task.prefix_weight=0.0,model.user_vectors=2",
    "partial sessions x4=task.prefix_weight=1.0,task.prefix_queries=4,model.user_vectors=1",
    "shipped (partial x4 + 2 user vectors)=",
)


def parse_variant(text: str) -> tuple[str, list[str]]:
    label, sep, rest = text.partition("=")
    if not sep or not label.strip():
        raise SystemExit(f"error: --variant {text!r}: expected LABEL=OVERRIDE[,OVERRIDE...]")
    return label.strip(), [o.strip() for o in rest.split(",") if o.strip()]


def _opt(result: dict, key: str) -> str:
    """A measurement older code does not report, formatted, or '-'."""
    value = result.get(key)
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.1f}"


def main() -> None:
    p = parser(__doc__)
    training_args(p, add_smoke(p), "an override applied to every variant (repeatable)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--variant", action="append", default=None,
                   help="LABEL=OVERRIDE[,OVERRIDE...] (repeatable; default: the ablation's)")
    old_tree_arg(p, "each variant")
    args = p.parse_args()
    if args.smoke:
        args.data, args.steps, args.variant = str(smoke_data()), 1, list(DEFAULT_VARIANTS[1:2])
        args.overrides += SMOKE_MODEL
    variants = [parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.experiments.efficiency import run_worker

    data = PreparedDataset.load(Path(args.data).resolve())
    old_tree = old_tree_path(args.old_tree)

    def timed(overrides: list[str], tree: Path | None) -> dict:
        """One worker process, with the library of ``tree`` when given."""
        return run_worker(data.path, args.config, [*args.overrides, *overrides], args.steps,
                          code=tree)

    results = []
    for label, overrides in variants:
        print(f"timing {label} ...", flush=True)
        old = timed(overrides, old_tree) if old_tree is not None else None
        results.append((label, overrides, timed(overrides, None), old))
    base = results[0][2]["seconds_per_step"]
    rows = ["| variant | overrides | s/step | x first | s/epoch | peak RSS | first step s "
            "| traced ops |"
            + (" old s/step | new/old | old first step s | old traced ops |" if old_tree else ""),
            "|---|---|---|---|---|---|---|---|" + ("---|---|---|---|" if old_tree else "")]
    for label, overrides, r, o in results:
        row = (f"| {label} | `{' '.join(overrides) or '-'}` | {r['seconds_per_step']:.3f} | "
               f"{r['seconds_per_step'] / base:.2f} | {r['seconds_per_epoch']:.1f} | "
               f"{r['peak_rss_mb'] / 1024:.2f} GiB | {_opt(r, 'first_step_seconds')} | "
               f"{_opt(r, 'traced_ops')} |")
        if o is not None:
            row += (f" {o['seconds_per_step']:.3f} | "
                    f"{r['seconds_per_step'] / o['seconds_per_step']:.2f} | "
                    f"{_opt(o, 'first_step_seconds')} | {_opt(o, 'traced_ops')} |")
        rows.append(row)
    shared = " ".join(args.overrides) or "none"
    old_note = old_tree_note(old_tree, "variant")
    body = "\n".join(rows) + (
        f"\n\n`{args.config}` on `{Path(args.data).name}` ({data.counts['users']:,} users), "
        f"batch {results[0][2]['batch_size']}, {args.steps} timed steps after 3 warm-up "
        f"steps, each variant in its own process; overrides on every variant: {shared}. "
        "First step: the first call of the traced train step (tracing + one step); traced "
        "ops: the operations of that graph, with the functions it calls ('-': code that "
        "does not report it)."
        + old_note)
    record(f"Training-step cost of SessionRec options on {Path(args.data).name} (issue 17)",
           body)


if __name__ == "__main__":
    main()
