"""``sessionrec negatives``: do a prepared dataset's negatives say "never this item"? The
statistics of :mod:`sessionrec_tf.data.negative_signal` and a hint on the rank loss."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "negatives", help="do a dataset's negatives say 'never this item'? (rank-loss hint)",
        description="Data-only statistics of a prepared dataset's negatives (how often a "
                    "skipped item is shown again and engaged, how many LOSO targets were "
                    "skipped before, how many negatives fall on items nobody engages with) "
                    "and a one-line hint on the rank loss (task.alpha) to validate. Nothing "
                    "is trained.")
    p.add_argument("data", help="prepared dataset, e.g. tfrecords/NAME")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sessionrec_tf.data.dataset import PreparedDataset
    from sessionrec_tf.data.negative_signal import alpha_hint, negative_signal

    data = PreparedDataset.load(args.data)
    stats = negative_signal(data, progress=not args.quiet)
    hint = alpha_hint(stats)
    if args.json:
        print(json.dumps({**stats, "hint": hint}, indent=1))
        return 0

    def pct(x: float | None) -> str:
        return "n/a (never shown again)" if x is None else f"{100 * x:.1f}%"

    lift = stats["lift"]
    lines = [
        ("users", f"{stats['users']:,}"),
        ("negatives", pct(stats["negative_share"])),
        ("negative pairs shown again", pct(stats["shown_again_share"])),
        ("positive rate when shown again after a negative",
         pct(stats["positive_after_negative"])),
        ("lift (1 = a skip is noise, < 1 = a lasting dislike)",
         "n/a" if lift is None else f"{lift:.2f}"),
        ("LOSO targets skipped before", pct(stats["skipped_target_share"])),
        ("negatives on never-engaged items", pct(stats["never_engaged_negatives"])),
        ("catalogue never engaged", pct(stats["never_engaged_catalog"])),
        ("rank-loss negatives shown in an earlier session",
         "n/a" if stats["rank_negatives_shown_before"] is None
         else pct(stats["rank_negatives_shown_before"])),
    ]
    width = max(len(k) for k, _ in lines)
    print(f"{data.path}:")
    for key, value in lines:
        print(f"  {key:<{width}}  {value}")
    print(f"hint: {hint}")
    return 0
