"""Cost of one per-epoch validation (``model.evaluate`` as the trainer runs it), side by side
for several configs and, with ``--old-tree``, an earlier checkout (issue 19).

    python benchmarks/bench_validation.py --data tfrecords/sim_medium \
        [--model "HSTU+=hstu_plus" --model "x4=sessionrec_hstu:task.prefix_queries=4" ...] \
        [--old-tree /path/to/old/checkout]

Each model is ``LABEL=CONFIG[:OVERRIDE,OVERRIDE...]`` (default: HSTU+, SessionRec-HSTU with
the paper's training and with partial sessions x4 + 2 user vectors). Every measurement runs
in its own process (untrained weights: the cost does not depend on them); the old code is
timed just before the current code for each model, and the validation metric and loss of
both are reported so that a change in what is computed shows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SMOKE_MODEL,
    add_smoke,
    old_tree_arg,
    old_tree_note,
    old_tree_path,
    record,
    smoke_data,
)

# sessionrec_hstu ships partial sessions x4 + 2 user vectors; the paper's training has neither
DEFAULT_MODELS = (
    "HSTU+=hstu_plus",
    "SessionRec-HSTU (paper)=sessionrec_hstu:task.prefix_weight=0.0,model.user_vectors=1",
    "SessionRec-HSTU (shipped: x4 + 2uv)=sessionrec_hstu",
)


def parse_model(text: str) -> tuple[str, str, list[str]]:
    label, sep, rest = text.partition("=")
    config, _, overrides = rest.partition(":")
    if not sep or not label.strip() or not config.strip():
        raise SystemExit(f"error: --model {text!r}: expected LABEL=CONFIG[:OVERRIDE,...]")
    return label.strip(), config.strip(), [o.strip() for o in overrides.split(",") if o.strip()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    smoke = add_smoke(p)
    p.add_argument("--data", required=not smoke, help="a prepared dataset (tfrecords/NAME)")
    p.add_argument("--model", action="append", default=None,
                   help="LABEL=CONFIG[:OVERRIDE,...] (repeatable; default: see above)")
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   help="an override applied to every model (repeatable)")
    p.add_argument("--train-steps", type=int, default=0,
                   help="also time this many training steps per model (and tree) and report "
                        "the validation pass against the training epoch they extrapolate to")
    p.add_argument("--repeats", type=int, default=1,
                   help="processes per model and tree (old and new alternate, the order "
                        "flipping each repeat); the table gives medians and ranges")
    old_tree_arg(p, "each model")
    args = p.parse_args()
    if args.smoke:
        # one model: every path of the script (the validation and training workers, the
        # table) runs once per model
        args.data, args.model = str(smoke_data()), list(DEFAULT_MODELS[1:2])
        args.overrides += SMOKE_MODEL
        args.train_steps = 2
    models = [parse_model(m) for m in (args.model or DEFAULT_MODELS)]
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.experiments.efficiency import run_worker

    data = PreparedDataset.load(Path(args.data).resolve())
    old_tree = old_tree_path(args.old_tree)

    def timed(config: str, overrides: list[str], tree: Path | None) -> dict:
        result = run_worker(data.path, config, [*args.overrides, *overrides], 0, code=tree,
                            phase="validate")
        if args.train_steps:  # the training epoch, in another process of the same tree
            result["seconds_per_epoch"] = run_worker(
                data.path, config, [*args.overrides, *overrides], args.train_steps,
                code=tree)["seconds_per_epoch"]
        return result

    def per_epoch(r: dict) -> str:
        return (f" {r['seconds_per_epoch']:.1f} | "
                f"{r['seconds_per_validation'] / r['seconds_per_epoch']:.2f} |")

    def median_of(runs: list[dict]) -> dict:
        out = dict(runs[0])
        for key in ("seconds_per_validation", "seconds_per_epoch"):
            if key in out:
                values = sorted(r[key] for r in runs)
                out[key], out[key + "_range"] = statistics.median(values), values
        return out

    def seconds(r: dict) -> str:
        values = r["seconds_per_validation_range"]
        spread = f" ({values[0]:.1f}-{values[-1]:.1f})" if len(values) > 1 else ""
        return f"{r['seconds_per_validation']:.1f}{spread}"

    results = []
    for label, config, overrides in models:
        print(f"timing {label} ...", flush=True)
        runs: dict[Path | None, list[dict]] = {old_tree: [], None: []}
        for repeat in range(args.repeats):
            trees = [old_tree, None] if old_tree is not None else [None]
            for tree in trees if repeat % 2 == 0 else trees[::-1]:
                runs[tree].append(timed(config, overrides, tree))
        old = median_of(runs[old_tree]) if old_tree is not None else None
        results.append((label, config, overrides, median_of(runs[None]), old))
    metric = next(k for k in results[0][3] if "@" in k)
    head = f"| model | config | s/validation | {metric} | loss |"
    rule = "|---|---|---|---|---|"
    if args.train_steps:
        head += " s/training epoch | validation/epoch |"
        rule += "---|---|"
    if old_tree is not None:
        head += f" old s/validation | old {metric} | old loss |"
        rule += "---|---|---|"
        if args.train_steps:
            head += " old s/training epoch | old validation/epoch |"
            rule += "---|---|"
        head += " new/old |"
        rule += "---|"
    rows = [head, rule]
    for label, config, overrides, r, o in results:
        row = (f"| {label} | `{config} {' '.join(overrides)}` | "
               f"{seconds(r)} | {r[metric]:.4f} | {r['loss']:.4f} |")
        row += per_epoch(r) if args.train_steps else ""
        if o is not None:
            row += f" {seconds(o)} | {o[metric]:.4f} | {o['loss']:.4f} |"
            row += per_epoch(o) if args.train_steps else ""
            row += f" {r['seconds_per_validation'] / o['seconds_per_validation']:.2f} |"
        rows.append(row)
    old_note = old_tree_note(old_tree, "model")
    first = results[0][3]
    body = "\n".join(rows) + (
        f"\n\nOne validation pass over `{Path(args.data).name}` ({first['validation_users']:,}"
        f" users, batch {first['eval_batch_size']}), the second of two in one process "
        "(tracing excluded), untrained weights, each measurement in its own process; "
        f"overrides on every model: {' '.join(args.overrides) or 'none'}." + old_note
        + (f" Training epoch: {args.train_steps} timed training steps (after 3 warm-up steps, "
           "in a process of their own) times the steps of one epoch; validation/epoch is "
           "one validation pass over that epoch." if args.train_steps else "")
        + (f" Each figure is the median of {args.repeats} processes (range in brackets)"
           + (", old and new alternating, the order flipped each repeat."
              if old_tree is not None else ".") if args.repeats > 1 else ""))
    record(f"Per-epoch validation cost on {Path(args.data).name} (issue 19)", body)


if __name__ == "__main__":
    main()
