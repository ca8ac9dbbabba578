"""The in-graph retrievers against the library's chunked exact top-K (ties, exclusions)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.metrics.topk import chunked_top_k
from sessionrec_tf.retrieval.exact import ExactTopK, candidate_variable
from sessionrec_tf.retrieval.scann import ScannTopK
from sessionrec_tf.retrieval.scann_options import ScannOptions


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, tf.RaggedTensor]:
    rng = np.random.default_rng(seed)
    cands = rng.normal(size=(300, 8)).astype(np.float32)
    cands[50:60] = cands[40]  # ties: equal scores must go to the lower index
    cands[0] = cands[1] = cands[40] * 10  # padding/OOV rows would win if not removed
    users = rng.normal(size=(6, 8)).astype(np.float32)
    users[1] = cands[40]
    exclude = tf.ragged.constant([[40, 51, 7], [], [3, 3, 299], [0, 1], [150] * 4, []],
                                 dtype=tf.int64)
    return cands, users, exclude


def test_exact_retriever_equals_chunked_top_k():
    cands, users, exclude = _data()
    want_s, want_i = chunked_top_k(users, cands, 25, exclude=exclude, chunk_size=64)
    for chunk in (1024, 100):  # one pass, and the chunked path
        retriever = ExactTopK(25, chunk_size=chunk).index(candidate_variable(cands))
        got_s, got_i = tf.function(retriever)(tf.constant(users), exclude)
        np.testing.assert_array_equal(got_i.numpy(), want_i.numpy())
        np.testing.assert_allclose(got_s.numpy(), want_s.numpy(), rtol=1e-6)
    got_s, got_i = ExactTopK(25).index(cands)(tf.constant(users))
    assert not np.isin(got_i.numpy(), [0, 1]).any()


def test_exhaustive_scann_retriever_equals_exact():
    cands, users, exclude = _data(1)
    cands[50:60] += np.arange(10, dtype=np.float32)[:, None] * 1e-3  # ScaNN breaks ties freely
    options = ScannOptions(num_leaves=4, num_leaves_to_search=4, num_reordering_candidates=298)
    retriever = ScannTopK(25, options).index(cands)
    got_s, got_i = tf.function(retriever.query_with_exclusions)(tf.constant(users), exclude)
    want_s, want_i = chunked_top_k(users, cands, 25, exclude=exclude)
    np.testing.assert_array_equal(got_i.numpy(), want_i.numpy())
    np.testing.assert_allclose(got_s.numpy(), want_s.numpy(), rtol=1e-4, atol=1e-4)


def test_query_time_parameters_share_one_built_index():
    """``searching`` changes the partitions searched and the re-scored candidates per query,
    over the same index: all partitions and every candidate give exact top-K; one partition
    of 16 does not (the parameter reaches the searcher)."""
    cands, users, exclude = _data(1)
    cands[50:60] += np.arange(10, dtype=np.float32)[:, None] * 1e-3  # ScaNN breaks ties freely
    narrow = ScannTopK(25, ScannOptions(num_leaves=16, num_leaves_to_search=1,
                                        num_reordering_candidates=100)).index(cands)
    wide = narrow.searching(num_leaves_to_search=16, num_reordering_candidates=298)
    assert (narrow.options.num_leaves_to_search, wide.options.num_leaves_to_search) == (1, 16)
    assert wide.scann_state is narrow.scann_state  # not rebuilt
    want_s, want_i = chunked_top_k(users, cands, 25, exclude=exclude)
    got_s, got_i = tf.function(wide)(tf.constant(users), exclude)
    np.testing.assert_array_equal(got_i.numpy(), want_i.numpy())
    np.testing.assert_allclose(got_s.numpy(), want_s.numpy(), rtol=1e-4, atol=1e-4)
    _, one_leaf = tf.function(narrow)(tf.constant(users), exclude)
    assert not np.array_equal(one_leaf.numpy(), want_i.numpy())
    with pytest.raises(DataError, match="num_leaves_to_search=17 must be in"):
        narrow.searching(num_leaves_to_search=17)


def _numpy_top_k(cands: np.ndarray, users: np.ndarray, exclude: list[list[int]], k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Independent reference: eligible = rows >= 2 not excluded, best first (ties: lower
    index), then unfilled slots as (-inf, 0). ``users`` ``[B, d]``, or ``[B, v, d]``: an
    item's score is its best vector's."""
    scores = users @ cands.T
    if users.ndim == 3:
        scores = scores.max(axis=1)
    out_s = np.full((len(users), k), -np.inf, np.float32)
    out_i = np.zeros((len(users), k), np.int64)
    for row, ex in enumerate(exclude):
        eligible = [i for i in range(2, len(cands)) if i not in set(ex)]
        order = sorted(eligible, key=lambda i: (-scores[row, i], i))[:k]
        out_s[row, :len(order)] = scores[row, order]
        out_i[row, :len(order)] = order
    return out_s, out_i


def test_k_close_to_the_catalog_leaves_unfilled_slots_never_excluded_items():
    """k = every eligible item: a user with exclusions gets -inf/index-0 slots at the end,
    never an excluded, padding or duplicated item (issue 18: placeholder rows)."""
    cands, users, exclude = _data(2)
    cands[50:60] += np.arange(10, dtype=np.float32)[:, None] * 1e-3  # no ties for ScaNN
    k = len(cands) - 2
    want_s, want_i = _numpy_top_k(cands, users, exclude.to_list(), k)
    assert (want_i == 0).any()  # the case is exercised
    got = {"chunked": chunked_top_k(users, cands, k, exclude=exclude, chunk_size=64)}
    for chunk in (1024, 100):
        retriever = ExactTopK(k, chunk_size=chunk).index(cands)
        got[f"exact/{chunk}"] = tf.function(retriever)(tf.constant(users), exclude)
    options = ScannOptions(num_leaves=4, num_leaves_to_search=4, num_reordering_candidates=298)
    got["scann"] = tf.function(ScannTopK(k, options).index(cands))(
        tf.constant(users), exclude)
    for name, (s, i) in got.items():
        np.testing.assert_array_equal(i.numpy(), want_i, err_msg=name)
        np.testing.assert_allclose(s.numpy(), want_s, rtol=1e-4, atol=1e-4, err_msg=name)


def test_several_user_vectors_score_items_by_their_best_vector():
    """[B, v, d] queries (model.user_vectors = v): exhaustive ScaNN (per-vector search, lists
    merged) and the exact retriever both equal the numpy best-vector top-K, with exclusions,
    items found by several vectors, and k up to every eligible item."""
    cands, _, exclude = _data(3)
    cands[50:60] += np.arange(10, dtype=np.float32)[:, None] * 1e-3  # no ties for ScaNN
    rng = np.random.default_rng(4)
    users = rng.normal(size=(6, 3, 8)).astype(np.float32)
    users[2, 1] = users[2, 0] * 1.01  # two vectors of one user find the same items
    options = ScannOptions(num_leaves=4, num_leaves_to_search=4, num_reordering_candidates=298)
    for k in (25, len(cands) - 2):
        want_s, want_i = _numpy_top_k(cands, users, exclude.to_list(), k)
        got = {"exact": tf.function(ExactTopK(k).index(cands))(tf.constant(users), exclude),
               "scann": tf.function(ScannTopK(k, options).index(cands))(
                   tf.constant(users), exclude)}
        for name, (s, i) in got.items():
            np.testing.assert_array_equal(i.numpy(), want_i, err_msg=f"{name} k={k}")
            np.testing.assert_allclose(s.numpy(), want_s, rtol=1e-4, atol=1e-4,
                                       err_msg=f"{name} k={k}")
            assert len(set(i.numpy()[2][i.numpy()[2] > 0])) == (i.numpy()[2] > 0).sum()
