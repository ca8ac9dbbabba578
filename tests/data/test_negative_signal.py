"""``sessionrec_tf.data.negative_signal``'s per-user counts, checked against a history worked
out by hand (and its dataset statistics against a simulator whose skips are lasting
dislikes); the ``sessionrec negatives`` command."""

from __future__ import annotations

import json

import pytest

from sessionrec_tf.data import negative_signal


def test_user_signal_counts_by_hand():
    # session 0: 1+ 2- 3-; session 1: 2+ 4- 3-; last session: 2+ 3+ 4+ 5+
    sessions = [[1, 2, 3], [2, 4, 3], [2, 3, 4, 5]]
    labels = [[1, 0, 0], [1, 0, 0], [1, 1, 1, 1]]
    got = negative_signal.user_signal(sessions, labels)
    # negative pairs: items 2, 3, 4; all shown again later
    assert got["negative_pairs"] == 3 and got["shown_again"] == 3
    # exposures after the pair's first negative: 2(+) 3(-) in session 1, 2 3 4 in the last
    assert got["after"] == 5 and got["after_pos"] == 4
    assert got["rows"] == 10 and got["positives"] == 6
    # targets {2, 3, 4, 5}; skipped before and never positive: 3, 4 (2 was a positive)
    assert got["skipped_target_share"] == pytest.approx(0.5)
    # rank negatives: session 1's 4, 3 (3 shown in session 0); the last session has none
    assert (got["rank_negatives"], got["rank_negatives_shown"]) == (2, 1)


def test_user_signal_without_negatives_shown_again():
    got = negative_signal.user_signal([[1, 2], [3]], [[1, 0], [1]])
    assert (got["negative_pairs"], got["shown_again"], got["after"]) == (1, 0, 0)
    assert got["skipped_target_share"] == 0.0


def test_dataset_statistics_by_hand():
    from types import SimpleNamespace

    # item indices 2..7 (0, 1 reserved); user a: 2+ 5- | 2+ 3+; user b: 3+ 6- 5- | 4+ 6-
    histories = [([[2, 5], [2, 3]], [[1, 0], [1, 1]], None),
                 ([[3, 6, 5], [4, 6]], [[1, 0, 0], [1, 0]], None)]
    data = SimpleNamespace(name="hand", counts={"users": 2}, num_items=8)
    got = negative_signal.negative_signal(data, lambda _data: iter(histories), progress=False)
    assert (got["users"], got["rows"], got["positives"]) == (2, 9, 5)
    # negatives: 5, 6, 5, 6 -> items 5 and 6 are nobody's positive: every negative is on them
    assert got["never_engaged_negatives"] == pytest.approx(1.0)
    # catalogue 2..7: 5, 6, 7 never a positive
    assert got["never_engaged_catalog"] == pytest.approx(3 / 6)
    # user b's item 6 shown again after its negative and skipped again: rate 0 after a negative
    assert got["after"] == 1 and got["positive_after_negative"] == 0.0
    # rank negatives: user b's second session's 6, shown in its first session
    assert got["rank_negatives"] == 1 and got["rank_negatives_shown_before"] == 1.0



def _stats(skipped: float | None, negative_share: float = 0.3, rows: int = 100) -> dict:
    return {"rows": rows, "negative_share": negative_share, "skipped_target_share": skipped}


def test_alpha_hint_follows_the_share_of_targets_skipped_before():
    assert "validate task.alpha=0" in negative_signal.alpha_hint(_stats(0.086))  # simulator
    assert "validate task.alpha=0" in negative_signal.alpha_hint(_stats(0.02))
    assert "0.2 is a sound start" in negative_signal.alpha_hint(_stats(0.019))
    assert "0.2 is a sound start" in negative_signal.alpha_hint(_stats(0.0))  # KuaiRand
    assert "0.2 is a sound start" in negative_signal.alpha_hint(_stats(None))
    assert "no negatives" in negative_signal.alpha_hint(_stats(None, negative_share=0.0))
    assert "no negatives" in negative_signal.alpha_hint(_stats(None, rows=0))


def test_negatives_command_prints_the_statistics_and_the_hint(tiny_dataset, capsys):
    from sessionrec_tf.cli import main

    want = negative_signal.negative_signal(tiny_dataset, progress=False)
    assert main(["negatives", str(tiny_dataset.path), "--json", "--quiet"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["users"] == want["users"] == tiny_dataset.counts["users"]
    assert got["skipped_target_share"] == pytest.approx(want["skipped_target_share"])
    assert got["hint"] == negative_signal.alpha_hint(want)
    assert main(["negatives", str(tiny_dataset.path), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "LOSO targets skipped before" in text
    assert "rank-loss negatives shown in an earlier session" in text
    assert f"{100 * want['skipped_target_share']:.1f}%" in text
    assert text.strip().endswith(negative_signal.alpha_hint(want))


def test_rank_negatives_shown_before_agrees_with_the_training_path(tiny_dataset):
    """The statistic (plain Python) counts exactly the negatives that
    ``task.rank_drop_shown`` removes in training (TensorFlow: next_session_targets with
    SessionBatch.shown_before_session), on the tiny simulator's full histories."""
    import tensorflow as tf

    from sessionrec_tf.data.session_batch import SessionBatch
    from sessionrec_tf.tasks.targets import next_session_targets

    stats = negative_signal.negative_signal(tiny_dataset, progress=False)
    histories = list(negative_signal.user_histories(tiny_dataset))
    items = tf.ragged.constant([h[0] for h in histories], tf.int64, ragged_rank=2)
    labels = tf.ragged.constant([h[1] for h in histories], tf.int64, ragged_rank=2)
    batch = SessionBatch({"item_id": items, "label": labels})
    kept = next_session_targets(items, labels, batch.shown_before_session())
    every = next_session_targets(items, labels)
    total = int(tf.size(every.group_negatives.flat_values))
    dropped = total - int(tf.size(kept.group_negatives.flat_values))
    assert (stats["rank_negatives"], stats["rank_negatives_shown"]) == (total, dropped)
    assert 0 < dropped < total
