"""SessionBatch against plain-Python references on random ragged histories."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sessionrec_tf.data import batch_ops
from sessionrec_tf.data.session_batch import SessionBatch


def _random_histories(seed: int, users: int = 7) -> list[list[list[tuple[int, int, int]]]]:
    """users -> sessions -> (item, label, timestamp); some users with 1 session, none empty."""
    rng = np.random.default_rng(seed)
    out, t = [], 1000
    for _ in range(users):
        user = []
        for _ in range(int(rng.integers(1, 5))):
            session = []
            for _ in range(int(rng.integers(1, 5))):
                t += int(rng.integers(1, 50))
                session.append((int(rng.integers(1, 30)), int(rng.integers(0, 2)), t))
            user.append(session)
        out.append(user)
    return out


def _batch(hist: list) -> SessionBatch:
    def field(i: int) -> tf.RaggedTensor:
        return tf.ragged.constant([[[x[i] for x in s] for s in u] for u in hist], tf.int64,
                                  ragged_rank=2)
    return SessionBatch({"item_id": field(0), "label": field(1), "timestamp": field(2)},
                        {"user_id": tf.constant([f"u{b}" for b in range(len(hist))])})


def _as_lists(batch: SessionBatch) -> list:
    items, labels, times = (batch[k].to_list() for k in ("item_id", "label", "timestamp"))
    return [[list(zip(si, sl, st, strict=True)) for si, sl, st in zip(ui, ul, ut, strict=True)]
            for ui, ul, ut in zip(items, labels, times, strict=True)]


def _prefix(user: list, keep: int) -> list:
    out, n = [], 0
    for s in user:
        part = s[:max(0, keep - n)]
        n += len(s)
        if part:
            out.append(part)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cuts_match_the_reference(seed):
    hist = _random_histories(seed)
    batch = _batch(hist)
    rng = np.random.default_rng(seed + 10)
    keep = [int(rng.integers(0, 12)) for _ in hist]
    assert _as_lists(batch.take_prefix(tf.constant(keep, tf.int64))) == [
        _prefix(u, k) for u, k in zip(hist, keep, strict=True)]
    assert _as_lists(batch.keep_last_sessions(2)) == [u[-2:] for u in hist]
    dropped, new_index = batch.drop_last_session()
    assert _as_lists(dropped) == [u[:-1] for u in hist]
    want_index, n = [], 0
    for u in hist:
        for j in range(len(u)):
            want_index.append(-1 if j == len(u) - 1 else n)
            n += j != len(u) - 1
    assert new_index.numpy().tolist() == want_index
    # session_timestamp follows the cut
    assert dropped["session_timestamp"].to_list() == [[s[0][2] for s in u[:-1]] for u in hist]


def _check_cached_session_ids(batch: SessionBatch) -> None:
    sessions = batch["item_id"].values
    for name in batch.keys_:  # every field shares the partition that caches the ids
        assert batch[name].values._row_partition._has_precomputed_value_rowids()  # noqa: SLF001
    want = np.repeat(np.arange(len(sessions.row_lengths())), sessions.row_lengths())
    np.testing.assert_array_equal(batch_ops.row_ids(sessions), want)
    np.testing.assert_array_equal(batch.layout.inter_session, want)


@pytest.mark.parametrize("seed", [5, 6])
def test_cuts_with_empty_users_and_sessions(seed):
    """Users without sessions and empty sessions (first, inside, last): ``keep_last_sessions``
    (every ``max``), ``take_prefix`` (empty sessions inside the prefix disappear too) and
    ``select_users`` against the Python reference, with the partition's cached session ids
    (``row_ids`` and ``Layout.inter_session`` read them) equal to the lengths' expansion."""
    hist = _random_histories(seed, users=6)
    hist[1] = []
    hist[-1] = []
    hist[2].insert(0, [])
    hist[3].append([])
    hist[4].insert(1, [])
    batch = _batch(hist)
    for max_sessions in (1, 2, 3, 10):
        kept = batch.keep_last_sessions(max_sessions)
        assert _as_lists(kept) == [u[-max_sessions:] for u in hist]
        _check_cached_session_ids(kept)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        keep = [int(rng.integers(0, 12)) for _ in hist]
        prefix = batch.take_prefix(tf.constant(keep, tf.int64))
        assert _as_lists(prefix) == [_prefix(u, k) for u, k in zip(hist, keep, strict=True)]
        _check_cached_session_ids(prefix)
        users = rng.integers(0, 2, len(hist)).astype(bool)
        chosen = batch.select_users(tf.constant(users))
        assert _as_lists(chosen) == [u for u, k in zip(hist, users, strict=True) if k]
        assert chosen.extras["user_id"].numpy().tolist() == [
            f"u{b}".encode() for b in range(len(hist)) if users[b]]
        _check_cached_session_ids(chosen)
    traced = tf.function(lambda fields: SessionBatch(fields).keep_last_sessions(2)[
        "item_id"].to_tensor())
    want = tf.ragged.constant([[[x[0] for x in s] for s in u[-2:]] for u in hist], tf.int64,
                              ragged_rank=2)
    np.testing.assert_array_equal(traced(dict(batch.fields)), want.to_tensor())


@pytest.mark.parametrize("seed", [3, 4])
def test_lookups_and_selection_match_the_reference(seed):
    hist = _random_histories(seed)
    batch = _batch(hist)
    session = [len(u) - 1 for u in hist]
    assert batch.session_positives(tf.constant(session, tf.int64)).to_list() == [
        [i for i, lab, _ in u[-1] if lab == 1] for u in hist]
    starts = [sum(len(s) for s in u[:-1]) for u in hist]
    assert batch.session_start(tf.constant(session, tf.int64)).numpy().tolist() == starts
    flat = [[x for s in u for x in s] for u in hist]
    pos = [1, -1, 0, 100, 2, 0, 3]
    assert batch.interaction_at(tf.constant(pos, tf.int64)).to_list() == [
        [f[p][0]] if 0 <= p < len(f) else [] for f, p in zip(flat, pos, strict=True)]
    assert batch.seen_items("positives").to_list() == [[i for i, lab, _ in f if lab == 1]
                                                       for f in flat]
    assert batch.seen_items("all").to_list() == [[i for i, _, _ in f] for f in flat]
    assert batch.seen_items("none") is None
    with pytest.raises(ValueError, match="exclude_seen must be one of"):
        batch.seen_items("liked")
    n = len(hist)
    for mask in ([b % 2 == 0 for b in range(n)], [b == n - 1 for b in range(n)], [False] * n):
        chosen = batch.select_users(tf.constant(mask))
        assert _as_lists(chosen) == [u for u, m in zip(hist, mask, strict=True) if m]
        assert chosen["user_id"].numpy().tolist() == [f"u{b}".encode() for b in range(n)
                                                      if mask[b]]


def test_the_partition_is_computed_once(monkeypatch):
    batch = _batch(_random_histories(5))
    built = []
    original = batch_ops.Layout.__init__
    monkeypatch.setattr(batch_ops.Layout, "__init__",
                        lambda self, rt: built.append(1) or original(self, rt))
    cut = batch.num_sessions - 1
    batch.session_start(cut), batch.session_positives(cut), batch.random_session_cut(
        tf.constant([1, 2], tf.int64))
    batch.take_prefix(batch.session_start(cut))
    assert len(built) == 1


def test_mapping_view_and_from_dict():
    batch = _batch(_random_histories(6))
    assert list(batch) == ["item_id", "label", "timestamp", "session_timestamp", "user_id"]
    assert len(batch) == 5 and set(batch.to_dict()) == set(batch)
    again = SessionBatch.from_dict(batch.to_dict(), ("item_id", "label", "timestamp"))
    assert again.keys_ == ("item_id", "label", "timestamp") and "user_id" in again.extras
    assert "session_timestamp" not in again.extras  # derived, never carried stale
    with pytest.raises(ValueError, match="at least one interaction-level field"):
        SessionBatch({})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_row_ids_and_mask_innermost_equal_tensorflows_ops(seed):
    rng = np.random.default_rng(seed)
    # 2 and 3 levels, empty rows included (first, middle, last)
    rows = [list(rng.integers(0, 9, size=int(rng.integers(0, 5)))) for _ in range(9)]
    rows[0], rows[-1] = [], []
    flat = tf.ragged.constant(rows, tf.int64)
    nested = tf.RaggedTensor.from_row_lengths(flat, [3, 0, 4, 2])
    built = tf.RaggedTensor.from_value_rowids(flat.flat_values, flat.value_rowids(),
                                              nrows=9)  # cached ids
    for rt in (flat, built):
        np.testing.assert_array_equal(batch_ops.row_ids(rt), rt.value_rowids())
    np.testing.assert_array_equal(batch_ops.row_ids(nested), nested.value_rowids())
    for rt in (flat, nested):
        mask = rt.with_flat_values(tf.constant(rng.integers(0, 2, rt.flat_values.shape[0]),
                                               tf.bool))
        expected = tf.ragged.boolean_mask(rt, mask).to_list()
        assert batch_ops.mask_innermost(rt, mask).to_list() == expected
        assert batch_ops.mask_innermost(rt, mask.flat_values).to_list() == expected
    for rt in (flat, nested):
        rows = tf.constant(rng.integers(0, 2, rt.nrows()).astype(bool))
        assert batch_ops.select_rows(rt, rows).to_list() == tf.ragged.boolean_mask(
            rt, rows).to_list()
    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.int64)])
    def traced(rt: tf.RaggedTensor) -> tf.Tensor:
        return batch_ops.row_ids(rt)
    np.testing.assert_array_equal(traced(flat), flat.value_rowids())


def test_boolean_mask_and_splits_equal_tensorflows_ops():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(6, 4, 3)).astype(np.float32))
    for mask in (rng.integers(0, 2, 6).astype(bool), rng.integers(0, 2, (6, 4)).astype(bool),
                 np.zeros(6, bool)):
        mask = tf.constant(mask)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours, want = batch_ops.boolean_mask(x, mask), tf.boolean_mask(x, mask)
            weights = tf.constant(rng.normal(size=want.shape).astype(np.float32))
            loss_ours, loss_want = (tf.reduce_sum(v * weights) for v in (ours, want))
        np.testing.assert_array_equal(ours, want)
        np.testing.assert_array_equal(tf.convert_to_tensor(tape.gradient(loss_ours, x)),
                                      tf.convert_to_tensor(tape.gradient(loss_want, x)))
    lengths = tf.constant([2, 0, 3, 1], tf.int32)
    np.testing.assert_array_equal(batch_ops.splits_from_lengths(lengths),
                                  tf.RaggedTensor.from_row_lengths(tf.zeros([6]),
                                                                   lengths).row_splits)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_shown_and_shown_before_session_match_the_reference(seed):
    hist = _random_histories(seed, users=9)  # items from 1..29: many repeats per user
    batch = _batch(hist)
    want_first, want_before = [], []
    for user in hist:
        flat = [x[0] for s in user for x in s]
        start = 0
        for s in user:
            for i, x in enumerate(s):
                want_first.append(flat.index(x[0]))
                want_before.append(x[0] in flat[:start])
                assert want_first[-1] <= start + i
            start += len(s)
    assert batch.first_shown().numpy().tolist() == want_first
    assert batch.shown_before_session().numpy().tolist() == want_before
    assert any(want_before) and not all(want_before)
