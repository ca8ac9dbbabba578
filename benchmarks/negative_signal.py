"""Do a dataset's negatives say "never this item"? Data-only statistics that tell whether
SessionRec's rank loss (``task.alpha``) is likely to help or hurt, before training anything.
The statistics are :mod:`sessionrec_tf.data.negative_signal`'s (``sessionrec negatives``
prints them for one dataset); this script tables several and records them.

    python benchmarks/negative_signal.py --data tfrecords/demo tfrecords/kuairand_2h \\
        [--label demo kuairand_2h] [--no-record]

The rank loss (Eq. 9) pushes each target session's negatives below its positives. That is
right when a negative is a lasting dislike of that item, and wrong when a skip is noise: then
the loss demotes items the user is about to engage with (issue 17: 82% of SessionRec-HSTU's
head-of-list gap on the simulator was on targets the user had been shown before and skipped).
For each prepared dataset (histories in time order, every session):

- ``negatives``: share of interactions that are negative;
- ``negative pairs shown again``: share of (user, item) pairs with a negative that are shown
  to the user again later;
- ``positive rate when shown again after a negative``: of those later exposures, and
  its ``lift`` over the dataset's positive rate (1 = a skip says nothing about the item for
  this user; well below 1 = a lasting dislike; n/a = negatives are never shown again);
- ``LOSO targets skipped before``: share of the last session's positive items (the LOSO test
  targets, mean over users) that were negatives and never positives in the input: the
  targets the rank loss has taught the model to demote;
- ``negatives on never-engaged items``: share of negatives whose item is a positive of no
  user (in any session): a negative that says "nobody wants this item" rather than "not
  now", and ``catalog never engaged``: those items' share of the catalogue (the share of a
  uniform sampler's negatives spent on them).

The result (one row per dataset) is appended to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, add_smoke, publish, smoke_data  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    smoke = add_smoke(p)
    p.add_argument("--data", nargs="+", required=not smoke,
                   help="prepared datasets, e.g. tfrecords/demo tfrecords/kuairand_2h")
    p.add_argument("--label", nargs="+", help="a name per dataset for the table (default: "
                                              "each dataset's name)")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    if args.smoke:
        args.data = [str(smoke_data()), str(smoke_data("tiny_taste", taste_sd=3.0))]
    if args.label and len(args.label) != len(args.data):
        p.error(f"--label needs one name per --data ({len(args.data)}), got {len(args.label)}")
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.data.negative_signal import negative_signal
    from sessionrec_tf.experiments.outputs import markdown_table

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    rows = []
    for i, path in enumerate(args.data):
        data = PreparedDataset.load(REPO / path)
        r = negative_signal(data)
        rows.append([args.label[i] if args.label else data.name, f"{r['users']:,}",
                     pct(r["negative_share"]), pct(r["shown_again_share"]),
                     pct(r["positive_after_negative"]),
                     "n/a" if r["lift"] is None else f"{r['lift']:.2f}",
                     pct(r["skipped_target_share"]), pct(r["never_engaged_negatives"]),
                     pct(r["never_engaged_catalog"])])
    table = markdown_table(["dataset", "users", "negatives", "negative pairs shown again",
                            "positive rate when shown again after a negative", "lift",
                            "LOSO targets skipped before", "negatives on never-engaged items",
                            "catalog never engaged"], rows)
    body = (f"{table}\n\nHistories of every user in time order (prepared data: after the "
            f"filters). Lift = that positive rate / the dataset's positive "
            f"rate: 1 means a skip says nothing lasting about that item for that user (the rank "
            f"loss then demotes future targets), well below 1 a lasting dislike. Targets "
            f"skipped before: mean over users of the share of the last session's positive "
            f"items that were negatives, never positives, in the earlier sessions. Never "
            f"engaged: items that are a positive of no user in any session (their share of the "
            f"negatives, and of the catalogue = of a uniform sampler's negatives).")
    publish("Negatives as a lasting dislike: " + ", ".join(r[0] for r in rows), body,
            args.no_record)


if __name__ == "__main__":
    main()
