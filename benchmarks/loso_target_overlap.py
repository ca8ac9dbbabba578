"""Where the LOSO test targets already are in the input: the last session, an older one, or the
seen positives that the evaluation removes from the ranking.

    python benchmarks/loso_target_overlap.py --data tfrecords/sim_medium [--feature category] \\
        [--lag 5] [--no-record]

Under leave-one-session-out the targets are all positives of the user's last session and the
input is every earlier session. For each user this measures, as shares of the targets (averaged
over users, like Recall):

- ``seen positive``: targets the user already engaged with positively in the input. The
  evaluation's default seen-item policy (``exclude_seen = positives``) drops those items from
  the ranking, so no model can hit them: ``1 - share`` is the largest LOSO Recall@K any model
  can reach at any K.
- ``in last session`` / ``in session -lag``: targets that are positives of the input's last
  session, or of the session ``lag`` sessions before the target (one fixed older session, for
  comparison with the last one).
- the same three for the targets' values of an item feature (``--feature``, e.g. the
  simulator's ``category``, which is its interest cluster): how much of the next session's
  interests the last session shows, compared with an older session and with the whole history.

A large gap between "last session" and "session -lag" means short-term, session-to-session
structure; both small and "any earlier session" large means the next session is predicted by
the user's long-run profile. Users with fewer than ``lag + 1`` sessions are left out of the
``-lag`` column (counted). The result is appended to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from sessionrec_tf.data import PreparedDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, add_smoke, publish, smoke_data  # noqa: E402


def _share(target: set[int], source: set[int]) -> float:
    return len(target & source) / len(target)


def overlaps(data: PreparedDataset, feature: str | None, lag: int) -> dict[str, object]:
    """Per-user shares (see the module docstring), averaged over users."""
    from sessionrec_tf.data.negative_signal import user_histories

    cols: dict[str, list[float]] = {k: [] for k in (
        "item_seen", "item_last", "item_lag", "feat_any", "feat_last", "feat_lag")}
    users = targets = seen_targets = short = 0
    for sessions, labels, values in tqdm(user_histories(data, feature), desc="users",
                                         total=data.counts.get("users")):
        pos = [{i for i, y in zip(s, ls) if y == 1} for s, ls in zip(sessions, labels)]
        target = pos[-1]
        if not target:  # cannot happen with the default filters (>= 1 positive per session)
            continue
        users += 1
        targets += len(target)
        history = set().union(*pos[:-1])
        seen_targets += len(target & history)
        cols["item_seen"].append(_share(target, history))
        cols["item_last"].append(_share(target, pos[-2]))
        if len(pos) > lag:
            cols["item_lag"].append(_share(target, pos[-1 - lag]))
        else:
            short += 1
        if feature:
            fpos = [{v for v, y in zip(s, ls) if y == 1} for s, ls in zip(values, labels)]
            ftarget = fpos[-1]
            cols["feat_any"].append(_share(ftarget, set().union(*fpos[:-1])))
            cols["feat_last"].append(_share(ftarget, fpos[-2]))
            if len(fpos) > lag:
                cols["feat_lag"].append(_share(ftarget, fpos[-1 - lag]))
    return {"users": users, "targets": targets, "seen_targets": seen_targets,
            "users_without_lag": short,
            **{k: float(np.mean(v)) if v else None for k, v in cols.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    smoke = add_smoke(p)
    p.add_argument("--data", required=not smoke,
                   help="prepared dataset, e.g. tfrecords/sim_medium")
    p.add_argument("--feature", help="an item feature to compare too, e.g. category")
    p.add_argument("--lag", type=int, default=5,
                   help="the older session compared with the last one (sessions before the "
                        "target; default 5)")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    if args.smoke:
        args.data, args.feature, args.lag = str(smoke_data()), "category", 2
    if args.lag < 2:
        p.error("--lag must be >= 2 (lag 1 is the last session)")
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.experiments.outputs import markdown_table

    data = PreparedDataset.load(REPO / args.data)
    from sessionrec_tf.data.errors import DataError

    try:
        r = overlaps(data, args.feature, args.lag)
    except DataError as err:  # e.g. a --feature the dataset does not have
        raise SystemExit(f"error: {err}") from None

    def pct(x: object) -> str:
        return "n/a" if x is None else f"{100 * float(x):.1f}%"

    rows = [("target items", "already a seen positive (unreachable)", pct(r["item_seen"])),
            ("target items", "positives of the input's last session", pct(r["item_last"])),
            ("target items", f"positives of session -{args.lag}", pct(r["item_lag"]))]
    if args.feature:
        what = f"target {args.feature} values"
        rows += [(what, "in any input positive", pct(r["feat_any"])),
                 (what, "in the input's last session", pct(r["feat_last"])),
                 (what, f"in session -{args.lag}", pct(r["feat_lag"]))]
    table = markdown_table(["what", "found among", "share (mean over users)"], rows)
    body = (f"{table}\n\n{r['users']:,} users, {r['targets']:,} distinct LOSO test target "
            f"items, of which "
            f"{r['seen_targets']:,} ({100 * r['seen_targets'] / max(r['targets'], 1):.1f}%) are "
            f"seen positives; so no model can exceed LOSO Recall@K = "
            f"{1 - float(r['item_seen']):.4f} (mean over users) with the default "
            f"`exclude_seen = positives`. {r['users_without_lag']:,} users have no session "
            f"-{args.lag} (left out of that row).")
    publish(f"LOSO targets vs the input on {data.name}", body, args.no_record)


if __name__ == "__main__":
    main()
