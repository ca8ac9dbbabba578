"""Ranking metrics and chunked top-K against numpy references (SESSIONREC.md section 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from sessionrec_tf.metrics import chunked_top_k, ranking_metrics

TOL = {"rtol": 1e-5, "atol": 1e-6}


# ----------------------------------------------------------------- numpy references
def ref_metrics(top: list[int], targets: list[int], k: int) -> dict[str, float]:
    """Spec: targets are a set; NDCG binary relevance, ideal over min(|T|, K) hits."""
    tset = set(targets)
    hits = [item in tset for item in top[:k]]
    dcg = sum(1.0 / math.log2(i + 2) for i, h in enumerate(hits) if h)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(tset), k)))
    first = next((i for i, h in enumerate(hits) if h), None)
    return {
        f"recall@{k}": sum(hits) / len(tset),
        f"ndcg@{k}": dcg / idcg,
        f"hr@{k}": float(any(hits)),
        f"mrr@{k}": 0.0 if first is None else 1.0 / (first + 1),
    }


def ref_top_k(users: np.ndarray, cands: np.ndarray, k: int, exclude: list[list[int]] | None,
              first_item: int) -> tuple[np.ndarray, np.ndarray]:
    scores = users.astype(np.float64) @ cands.astype(np.float64).T
    scores[:, :first_item] = -np.inf
    for b, ex in enumerate(exclude or []):
        scores[b, ex] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: lower index first
    return np.take_along_axis(scores, order, axis=1), order


def run_metrics(top: list[list[int]], targets: list[list[int]], ks) -> dict[str, np.ndarray]:
    out = ranking_metrics(tf.constant(top, tf.int64),
                          tf.ragged.constant(targets, dtype=tf.int64), ks)
    return {name: value.numpy() for name, value in out.items()}


# ----------------------------------------------------------------- ranking metrics
def test_hand_computed_case():
    top = [[5, 3, 9, 1], [7, 8, 2, 4], [2, 4, 6, 8]]
    targets = [[3, 1, 7, 3],  # set {3, 1, 7}; 3 repeated must count once
               [8],
               [6, 8, 2, 4, 10, 11]]  # more targets than K
    got = run_metrics(top, targets, ks=(1, 2, 4))
    l2 = math.log2
    want = {
        "recall@1": [0.0, 0.0, 1 / 6],
        "recall@2": [1 / 3, 1.0, 2 / 6],
        "recall@4": [2 / 3, 1.0, 4 / 6],
        "ndcg@1": [0.0, 0.0, 1.0],
        "ndcg@2": [(1 / l2(3)) / (1 + 1 / l2(3)), 1 / l2(3), 1.0],
        "ndcg@4": [(1 / l2(3) + 1 / l2(5)) / (1 + 1 / l2(3) + 1 / l2(4)), 1 / l2(3), 1.0],
        "hr@1": [0.0, 0.0, 1.0],
        "hr@2": [1.0, 1.0, 1.0],
        "hr@4": [1.0, 1.0, 1.0],
        "mrr@1": [0.0, 0.0, 1.0],
        "mrr@2": [0.5, 0.5, 1.0],
        "mrr@4": [0.5, 0.5, 1.0],
    }
    assert set(got) == set(want)
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, err_msg=name, **TOL)


def test_reference_agrees_with_hand_computation():
    r = ref_metrics([5, 3, 9, 1], [3, 1, 7], 4)
    np.testing.assert_allclose(
        r["ndcg@4"], (1 / math.log2(3) + 1 / math.log2(5))
        / (1 + 1 / math.log2(3) + 1 / math.log2(4)))
    assert r["recall@4"] == pytest.approx(2 / 3) and r["mrr@4"] == 0.5


def _random_case(seed: int, users: int = 64, catalog: int = 40, k_max: int = 20):
    rng = np.random.default_rng(seed)
    top, targets = [], []
    for b in range(users):
        top.append(rng.permutation(catalog)[:k_max].tolist())
        size = int(rng.integers(1, 30))  # up to > K_max, with repeats (drawn with replacement)
        t = rng.integers(0, catalog, size=size).tolist()
        if b % 5 == 0:  # force hits at chosen positions
            t += [top[-1][i] for i in rng.choice(k_max, size=3, replace=False)]
        if b % 7 == 0:  # and some users without any hit in the top list
            t = [i for i in range(catalog) if i not in top[-1]][:int(rng.integers(1, 5))]
        targets.append(t)
    return top, targets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranking_metrics_match_numpy(seed):
    ks = (1, 3, 10, 20)
    top, targets = _random_case(seed)
    got = run_metrics(top, targets, ks)
    for k in ks:
        for b in range(len(top)):
            want = ref_metrics(top[b], targets[b], k)
            for name, value in want.items():
                np.testing.assert_allclose(got[name][b], value, err_msg=f"{name} user {b}",
                                           **TOL)
    # the random cases do exercise what they should
    assert any(len(set(t)) > 10 for t in targets)  # more targets than some K
    assert any(len(set(t)) < len(t) for t in targets)
    assert 0 < np.mean(got["hr@20"]) < 1


def test_metrics_from_scores_with_ties():
    # top-K built from tied scores (ties -> lower index), then measured
    scores = np.array([[1.0, 3.0, 3.0, 2.0, 3.0, 0.0],
                       [0.0, 0.0, 0.0, 0.0, 5.0, 5.0]])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :4]
    assert top.tolist() == [[1, 2, 4, 3], [4, 5, 0, 1]]
    targets = [[4, 0], [1, 1]]
    got = run_metrics(top.tolist(), targets, ks=(2, 4))
    for b in range(2):
        for k in (2, 4):
            for name, value in ref_metrics(top[b].tolist(), targets[b], k).items():
                np.testing.assert_allclose(got[name][b], value, err_msg=name, **TOL)
    np.testing.assert_allclose(got["ndcg@4"][1], (1 / math.log2(5)) / 1.0, **TOL)


def test_repeated_targets_count_once():
    once = run_metrics([[1, 2, 3]], [[2, 9]], ks=(3,))
    many = run_metrics([[1, 2, 3]], [[2, 2, 9, 9, 2]], ks=(3,))
    for name in once:
        np.testing.assert_allclose(once[name], many[name], err_msg=name, **TOL)
    np.testing.assert_allclose(once["recall@3"], [0.5], **TOL)


@pytest.mark.parametrize("graph", [False, True])
def test_empty_target_set_is_refused(graph):
    fn = tf.function(ranking_metrics, reduce_retracing=True) if graph else ranking_metrics
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty target set"):
        out = fn(tf.constant([[1, 2], [3, 4]], tf.int64),
                 tf.ragged.constant([[1], []], dtype=tf.int64), (1, 2))
        {k: v.numpy() for k, v in out.items()}


# ----------------------------------------------------------------- chunked top-K
V = 23


@pytest.fixture(scope="module")
def tied_embeddings() -> tuple[np.ndarray, np.ndarray]:
    # small integer entries: exact float32 scores with many ties
    rng = np.random.default_rng(0)
    users = rng.integers(-1, 2, size=(5, 3)).astype(np.float32)
    users[0] = 0.0  # all candidates tie for user 0
    cands = rng.integers(-1, 2, size=(V, 3)).astype(np.float32)
    return users, cands


EXCLUDE = [[2, 3, 3, 0], [], [22, 5, 1, 10, 11], [7], [4, 2, 20, 21]]


@pytest.mark.parametrize("chunk_size", [1, 2, 5, 7, V, V + 9, 1000])
@pytest.mark.parametrize("k", [1, 4, 15])
@pytest.mark.parametrize("with_exclude", [True, False])
def test_chunked_top_k_matches_numpy(tied_embeddings, chunk_size, k, with_exclude):
    users, cands = tied_embeddings
    exclude = EXCLUDE if with_exclude else None
    scores, ids = chunked_top_k(
        tf.constant(users), tf.constant(cands), k,
        exclude=tf.ragged.constant(exclude, dtype=tf.int64) if exclude else None,
        chunk_size=chunk_size, first_item=2)
    want_scores, want_ids = ref_top_k(users, cands, k, exclude, first_item=2)
    np.testing.assert_array_equal(ids.numpy(), want_ids)
    np.testing.assert_allclose(scores.numpy(), want_scores, **TOL)
    assert ids.numpy().min() >= 2
    if exclude:
        for b, ex in enumerate(exclude):
            assert not set(ids.numpy()[b]) & set(ex)


def test_chunked_top_k_ties_go_to_lower_index(tied_embeddings):
    users, cands = tied_embeddings
    _, ids = chunked_top_k(tf.constant(users[:1]), tf.constant(cands), 6, chunk_size=4,
                           first_item=2)
    assert ids.numpy()[0].tolist() == [2, 3, 4, 5, 6, 7]  # user 0: everything ties


def test_chunked_top_k_all_eligible_items(tied_embeddings):
    users, cands = tied_embeddings
    eligible = V - 2 - max(len(set(e) - {0, 1}) for e in EXCLUDE)
    exclude = tf.ragged.constant(EXCLUDE, dtype=tf.int64)
    for chunk_size in (3, V):
        _, ids = chunked_top_k(tf.constant(users), tf.constant(cands), eligible,
                               exclude=exclude, chunk_size=chunk_size)
        _, want = ref_top_k(users, cands, eligible, EXCLUDE, first_item=2)
        np.testing.assert_array_equal(ids.numpy(), want)


def test_chunked_top_k_in_tf_function(tied_embeddings):
    users, cands = tied_embeddings
    fn = tf.function(lambda u, c, e: chunked_top_k(u, c, 5, exclude=e, chunk_size=6))
    _, ids = fn(tf.constant(users), tf.constant(cands), tf.ragged.constant(EXCLUDE,
                                                                           dtype=tf.int64))
    _, want = ref_top_k(users, cands, 5, EXCLUDE, first_item=2)
    np.testing.assert_array_equal(ids.numpy(), want)


def test_chunked_top_k_random_real_scores():
    rng = np.random.default_rng(4)
    users = rng.normal(size=(7, 8)).astype(np.float32)
    cands = rng.normal(size=(101, 8)).astype(np.float32)
    exclude = [rng.integers(0, 101, size=int(rng.integers(0, 30))).tolist() for _ in range(7)]
    for chunk_size in (1, 10, 33, 101, 500):
        s, ids = chunked_top_k(tf.constant(users), tf.constant(cands), 20,
                               exclude=tf.ragged.constant(exclude, dtype=tf.int64),
                               chunk_size=chunk_size)
        want_s, want_ids = ref_top_k(users, cands, 20, exclude, first_item=2)
        np.testing.assert_array_equal(ids.numpy(), want_ids)
        np.testing.assert_allclose(s.numpy(), want_s, rtol=1e-5, atol=1e-5)


def test_catalog_ranking_averages_over_users_with_targets():
    """The Keras metric = the mean of the numpy per-user reference over users that have a
    target, across batches; empty target sets are skipped and counted; reset clears it."""
    from sessionrec_tf.metrics import CatalogRanking

    rng = np.random.default_rng(7)
    metric = CatalogRanking(ks=(3, 10), metrics=("recall", "ndcg", "hr", "mrr"))
    want: dict[str, list[float]] = {}
    users = skipped = 0
    for _ in range(3):
        top = np.stack([rng.permutation(40)[:10] for _ in range(6)]).astype(np.int64)
        targets = [rng.choice(40, size=int(rng.integers(0, 4))).tolist() for _ in range(6)]
        metric.update_state(tf.constant(top), tf.ragged.constant(targets, dtype=tf.int64))
        for row, tgt in zip(top.tolist(), targets):
            if not tgt:
                skipped += 1
                continue
            users += 1
            for k in (3, 10):
                for name, value in ref_metrics(row, tgt, k).items():
                    want.setdefault(name, []).append(value)
    got = metric.result()
    assert skipped > 0 and int(metric.skipped) == skipped and int(metric.users) == users
    assert set(got) == set(want)
    for name, values in want.items():
        np.testing.assert_allclose(float(got[name]), np.mean(values), **TOL, err_msg=name)
    assert metric.get_config()["ks"] == [3, 10]
    metric.reset_state()
    assert int(metric.users) == 0 and float(metric.result()["recall@3"]) == 0.0
    with pytest.raises(ValueError, match="unknown ranking metric"):
        CatalogRanking(ks=(3,), metrics=("precision",))


@pytest.mark.parametrize("n, k, block", [(1000, 10, 16), (1000, 100, 7), (4096, 50, 256),
                                         (300, 300, 64), (5, 3, 256), (513, 40, 8)])
def test_block_top_k_equals_top_k(n, k, block):
    """Selection through block maxima = tf.math.top_k: values, indices and tie order."""
    from sessionrec_tf.metrics.topk import block_top_k

    rng = np.random.default_rng(n + k)
    scores = rng.integers(-3, 3, size=(6, n)).astype(np.float32)  # many ties
    scores[0] = 0.0  # every column ties
    scores[1, ::3] = -np.inf  # excluded columns
    scores[2, : n - 1] = -np.inf  # one finite column
    want_v, want_i = tf.math.top_k(scores, k=k)
    got_v, got_i = block_top_k(tf.constant(scores), k, block)
    np.testing.assert_array_equal(got_i.numpy(), want_i.numpy())
    np.testing.assert_array_equal(got_v.numpy(), want_v.numpy())


@pytest.mark.parametrize("chunk_size", [3000, 65_536])
def test_chunked_top_k_block_selection_equals_plain_selection(chunk_size):
    """The default selection (block maxima) against block=None (tf.math.top_k over each
    chunk) on a catalog wide enough to use it, ties and exclusions included."""
    rng = np.random.default_rng(11)
    cands = rng.integers(-2, 3, size=(20_000, 4)).astype(np.float32)  # many tied scores
    users = rng.integers(-2, 3, size=(9, 4)).astype(np.float32)
    exclude = tf.ragged.constant([rng.integers(0, 20_000, size=int(rng.integers(0, 500)))
                                  .tolist() for _ in range(9)], dtype=tf.int64)
    want = chunked_top_k(users, cands, 100, exclude=exclude, chunk_size=chunk_size, block=None)
    got = chunked_top_k(users, cands, 100, exclude=exclude, chunk_size=chunk_size)
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())
    _, ref_ids = ref_top_k(users, cands, 100, exclude.to_list(), first_item=2)
    np.testing.assert_array_equal(got[1].numpy(), ref_ids)


@pytest.mark.parametrize("start, width", [(0, 50), (2, 48), (17, 9), (40, 30), (0, 5000)])
@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_exclusions_match_numpy(start, width, dtype):
    """Both ways of excluding items from scores of items [start, start + width), the bitmap
    (exclusion_mask) and the scatter, and the density switch between them: repeats, items
    outside the range (below, above, negative), an empty row and int32/int64 ids. Width 5000
    is sparse enough for the switch to scatter; the others are dense (bitmap)."""
    from sessionrec_tf.metrics import topk

    rows = [[3, 3, 0, 49, 17, 25, -4, 1_000], [], [16, 17, 18, 25, 26, 39, 40, 69, 70],
            list(range(0, 80, 7))]
    want = np.zeros((len(rows), width), bool)
    for b, row in enumerate(rows):
        for item in row:
            if start <= item < start + width:
                want[b, item - start] = True
    exclude = tf.ragged.constant(rows, dtype=dtype)
    np.testing.assert_array_equal(topk.exclusion_mask(exclude, start, width).numpy(), want)
    scores = np.arange(len(rows) * width, dtype=np.float32).reshape(len(rows), width)
    expected = np.where(want, -np.inf, scores)
    for fn in (topk.exclude_scores, topk.scatter_exclusions):
        np.testing.assert_array_equal(fn(tf.constant(scores), exclude, start).numpy(), expected)
    graph = tf.function(lambda e, s, x: topk.exclude_scores(x, e, s))
    np.testing.assert_array_equal(
        graph(exclude, tf.constant(start, tf.int64), tf.constant(scores)).numpy(), expected)
    excluded = int(want.sum())
    assert (excluded * topk.BITMAP_DENSITY > want.size) == (width < 5000)  # both ways covered
