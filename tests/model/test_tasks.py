"""Task maths against numpy references written from the spec (SESSIONREC.md section 3).

Every reference below is re-derived from the specification, on tiny hand-built batches:
nothing here calls the code under test to produce an expected value.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.tasks import (
    EngagedSampler,
    NextSessionRetrieval,
    PopularitySampler,
    SessionRank,
    Similarity,
    UniformSampler,
    make_sampler,
    next_session_targets,
)

V = 30  # catalog size (ids 0 and 1 reserved)
D = 4
TOL = {"rtol": 1e-5, "atol": 1e-5}

# [user][session] = (item ids, labels); flat session index in comments.
USERS = [
    [  # user A
        ([3, 4, 5], [1, 0, 1]),                # s0
        ([6, 7, 6, 8], [1, 1, 1, 0]),          # s1: repeated positive 6, one negative
        ([9, 10], [0, 0]),                     # s2: no positive -> skipped as a target
        ([11, 12, 5, 13, 12], [1, 0, 1, 0, 0]),  # s3: repeated negative 12
        ([14, 15], [1, 1]),                    # s4: no negatives
    ],
    [  # user B: a single session, no target
        ([3, 6], [1, 0]),                      # s5
    ],
    [  # user C
        ([20, 21], [1, 1]),                    # s6
        ([6, 22, 23], [1, 1, 0]),              # s7
        ([24], [0]),                           # s8: no positive, last -> s7 has no target
    ],
    [  # user D: first session without positives
        ([25], [0]),                           # s9
        ([26, 27], [1, 0]),                    # s10
    ],
]


def ragged_batch(users: list) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    items = tf.ragged.constant([[s[0] for s in u] for u in users], dtype=tf.int64,
                               ragged_rank=2)
    labels = tf.ragged.constant([[s[1] for s in u] for u in users], dtype=tf.int64,
                                ragged_rank=2)
    return items, labels


def ref_targets(users: list) -> dict:
    """Pure-Python targets: first later session of the same user with >= 1 positive."""
    flat = [(u, items, labels) for u, sessions in enumerate(users) for items, labels in sessions]
    out = {"group_position": [], "group_positives": [], "group_negatives": [],
           "row_group": [], "positive_ids": []}
    for s, (user, _, _) in enumerate(flat):
        for t in range(s + 1, len(flat)):
            if flat[t][0] != user:
                break
            items, labels = flat[t][1], flat[t][2]
            pos = [i for i, lab in zip(items, labels) if lab == 1]
            if pos:
                g = len(out["group_position"])
                out["group_position"].append(s)
                out["group_positives"].append(pos)
                out["group_negatives"].append([i for i, lab in zip(items, labels) if lab != 1])
                out["row_group"].extend([g] * len(pos))
                out["positive_ids"].extend(pos)
                break
    return out


REF = ref_targets(USERS)


@pytest.fixture(scope="module")
def targets():
    return next_session_targets(*ragged_batch(USERS))


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(V, D)).astype(np.float32)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    """One query per group (a position and its target session); its rows share it."""
    groups = len(REF["group_position"])
    return np.random.default_rng(1).normal(size=(groups, D)).astype(np.float32)


def lookup(table: np.ndarray):
    t = tf.constant(table)
    return lambda ids: tf.gather(t, ids)


# ----------------------------------------------------------------- numpy references
def np_embed(x: np.ndarray, l2: bool) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True) if l2 else x


def np_score(q: np.ndarray, v: np.ndarray, temperature: float, l2: bool) -> float:
    """One query vector [D], or k user vectors [k, D]: the best match (multi-interest)."""
    return float(np.max(np_embed(q, l2) @ np_embed(v, l2))) / temperature


def np_logsumexp(x: list[float]) -> float:
    x = np.asarray(x, np.float64)
    m = x.max()
    return float(m + np.log(np.exp(x - m).sum()))


def np_softplus(x: float) -> float:
    return float(np.logaddexp(0.0, x))


def np_popularity_log_q(counts: np.ndarray, power: float, smoothing: float, n: int):
    """Sampler doc: p_i ∝ (count_i + smoothing) ** power over real items; log Q = log(n p)."""
    w = np.asarray(counts, np.float64).copy()
    w[:2] = 0.0
    w[2:] += smoothing
    w = w ** power
    p = w / w.sum()
    with np.errstate(divide="ignore"):
        return np.log(p) + np.log(n)


def np_reduce(losses: list[float], row_group: list[int], reduction: str) -> float:
    """``row``: the mean over rows; ``query``: each group's rows averaged, then the groups."""
    if not losses:
        return 0.0
    if reduction == "row":
        return float(np.mean(losses))
    by_group: dict[int, list[float]] = {}
    for loss, g in zip(losses, row_group, strict=True):
        by_group.setdefault(g, []).append(loss)
    return float(np.mean([np.mean(v) for v in by_group.values()]))


def ref_softmax(queries, table, neg_ids, temperature=1.0, l2=False, rah=True, log_q=None,
                in_batch=False, ref=REF, reduction="row") -> float:
    rows = list(zip(ref["row_group"], ref["positive_ids"]))
    losses = []
    for r, (g, p) in enumerate(rows):
        session = set(ref["group_positives"][g])

        def logit(item: int, q=queries[g]) -> float:
            s = np_score(q, table[item], temperature, l2)
            return s - log_q[item] if log_q is not None else s

        logits = [logit(p)]
        if in_batch:
            for j, (gj, pj) in enumerate(rows):
                if j == r or gj == g or (rah and pj in session):
                    continue
                logits.append(logit(pj))
        logits += [logit(n) for n in neg_ids if not (rah and n in session)]
        losses.append(np_logsumexp(logits) - logits[0])
    return np_reduce(losses, ref["row_group"], reduction)


def ref_bce(queries, table, neg_ids, temperature=1.0, l2=False, rah=True,
            reduction="row") -> float:
    losses = []
    for r, (g, p) in enumerate(zip(REF["row_group"], REF["positive_ids"])):
        n = neg_ids[r]
        weight = 0.0 if rah and n in REF["group_positives"][g] else 1.0
        losses.append(np_softplus(-np_score(queries[g], table[p], temperature, l2))
                      + weight * np_softplus(np_score(queries[g], table[n], temperature, l2)))
    return np_reduce(losses, REF["row_group"], reduction)


def ref_rank(queries, table, temperature=1.0, l2=False, reduction="row") -> float:
    return ref_rank_with(queries, table, REF["group_negatives"], temperature, l2, reduction)


def ref_rank_with(queries, table, group_negatives, temperature=1.0, l2=False,
                  reduction="row") -> float:
    """Eq. 9 with each group's negatives given; a negative that is also a positive of the
    same session is contradictory: left out."""
    losses = []
    for g, p in zip(REF["row_group"], REF["positive_ids"]):
        negs = [n for n in group_negatives[g] if n not in REF["group_positives"][g]]
        if not negs:
            losses.append(0.0)
            continue
        pos = np_score(queries[g], table[p], temperature, l2)
        logits = [pos] + [np_score(queries[g], table[n], temperature, l2) for n in negs]
        losses.append(np_logsumexp(logits) - pos)
    return np_reduce(losses, REF["row_group"], reduction)


# Shared negatives: 7 and 6 are positives of g0's session (s1); 5 of g1/g2's (s3); 14 of g3's
# (s4); 6 and 22 of g4's (s7). Each is ALSO a positive of some other session, where it must
# stay a negative. 17 is drawn twice.
NEG = [7, 5, 6, 14, 2, 17, 17, 25, 22]
COUNTS = np.array([0, 0, 40, 3, 0, 25, 60, 8, 1, 0, 2, 9, 4, 0, 30, 5, 0, 0, 12, 1,
                   7, 3, 50, 2, 0, 6, 11, 0, 1, 20], np.float64)
CONFIGS = [(1.0, False), (0.5, False), (0.2, True), (1.0, True)]


def neg_tensor(ids: list[int]) -> tf.Tensor:
    return tf.constant(ids, tf.int64)


# ----------------------------------------------------------------- 1. targets
def test_reference_targets_cover_the_hand_built_cases():
    # guard the hand-built batch itself: s2 skipped, single-session and trailing users
    assert REF["group_position"] == [0, 1, 2, 3, 6, 9]
    assert REF["group_positives"] == [[6, 7, 6], [11, 5], [11, 5], [14, 15], [6, 22], [26]]
    assert REF["group_negatives"] == [[8], [12, 13, 12], [12, 13, 12], [], [23], [27]]


def test_next_session_targets_matches_reference(targets):
    assert targets.group_position.numpy().tolist() == REF["group_position"]
    assert targets.group_positives.to_list() == REF["group_positives"]
    assert targets.group_negatives.to_list() == REF["group_negatives"]
    assert targets.row_group.numpy().tolist() == REF["row_group"]
    assert targets.positive_ids.numpy().tolist() == REF["positive_ids"]
    assert int(targets.num_rows) == len(REF["positive_ids"])


def test_next_session_targets_single_session_users_have_no_rows():
    t = next_session_targets(*ragged_batch([[([3, 4], [1, 0])], [([5], [1])]]))
    assert t.group_position.numpy().size == 0
    assert t.positive_ids.numpy().size == 0
    assert t.group_positives.to_list() == []


def test_next_session_targets_batch_without_any_positive():
    t = next_session_targets(*ragged_batch([[([3, 4], [0, 0]), ([5], [0])], [([6], [0])]]))
    assert t.positive_ids.numpy().size == 0
    assert t.group_position.numpy().size == 0


# ----------------------------------------------------------------- 2. sampled softmax
@pytest.mark.parametrize("rah", [True, False])
@pytest.mark.parametrize(("temperature", "l2"), CONFIGS)
def test_sampled_softmax_matches_numpy(targets, table, queries, temperature, l2, rah):
    task = NextSessionRetrieval(UniformSampler(V), num_negatives=len(NEG),
                                similarity=Similarity(l2_normalize=l2, temperature=temperature),
                                remove_accidental_hits=rah)
    got = task(tf.constant(queries), targets, lookup(table), training=False,
               negative_ids=neg_tensor(NEG))
    want = ref_softmax(queries, table, NEG, temperature, l2, rah)
    np.testing.assert_allclose(float(got), want, **TOL)


def test_accidental_hit_masking_changes_the_loss(table, queries):
    # sensitivity guard: the masked and unmasked references must differ on this batch
    assert abs(ref_softmax(queries, table, NEG, rah=True)
               - ref_softmax(queries, table, NEG, rah=False)) > 1e-2


def test_masking_is_per_target_session_not_global(targets, table, queries):
    # a global mask (any positive of the batch) would give this, which must NOT be the loss
    all_pos = set(REF["positive_ids"])
    global_masked = [n for n in NEG if n not in all_pos]
    task = NextSessionRetrieval(UniformSampler(V), num_negatives=len(NEG))
    got = float(task(tf.constant(queries), targets, lookup(table), negative_ids=neg_tensor(NEG)))
    wrong = ref_softmax(queries, table, global_masked, rah=False)
    assert abs(got - wrong) > 1e-2
    np.testing.assert_allclose(got, ref_softmax(queries, table, NEG), **TOL)


@pytest.mark.parametrize(("temperature", "l2"), [(1.0, False), (0.25, True)])
@pytest.mark.parametrize("power", [1.0, 0.75])
def test_sampled_softmax_with_popularity_logq(targets, table, queries, temperature, l2, power):
    sampler = PopularitySampler(COUNTS, power=power, smoothing=1.0)
    log_q = np_popularity_log_q(COUNTS, power, 1.0, len(NEG))
    np.testing.assert_allclose(
        sampler.log_q(tf.range(2, V), len(NEG)).numpy(), log_q[2:], **TOL)
    task = NextSessionRetrieval(sampler, num_negatives=len(NEG),
                                similarity=Similarity(l2_normalize=l2, temperature=temperature))
    assert task.logq_correction  # default on for the popularity sampler
    got = task(tf.constant(queries), targets, lookup(table), negative_ids=neg_tensor(NEG))
    want = ref_softmax(queries, table, NEG, temperature, l2, log_q=log_q)
    np.testing.assert_allclose(float(got), want, **TOL)
    # and the correction matters on this batch
    assert abs(want - ref_softmax(queries, table, NEG, temperature, l2)) > 1e-2


def test_uniform_logq_correction_is_a_no_op(targets, table, queries):
    losses = []
    for logq in (False, True):
        task = NextSessionRetrieval(UniformSampler(V), num_negatives=len(NEG),
                                    logq_correction=logq)
        losses.append(float(task(tf.constant(queries), targets, lookup(table),
                                 negative_ids=neg_tensor(NEG))))
    np.testing.assert_allclose(losses[0], losses[1], **TOL)
    np.testing.assert_allclose(losses[0], ref_softmax(queries, table, NEG), **TOL)


# ----------------------------------------------------------------- 3. fast path vs TFRS path
def _paths(task: NextSessionRetrieval, targets, table, queries, neg_ids, in_batch: bool):
    sim = task.similarity
    cand = lookup(table)
    q = sim.embed(tf.constant(queries))  # [G, D]
    pos_emb = sim.embed(cand(targets.positive_ids))
    neg = neg_tensor(neg_ids)
    neg_emb = sim.embed(cand(neg))
    fast = task.sampled_softmax_loss(q, pos_emb, neg_emb, targets, neg)
    via_tfrs = task.tfrs_loss(tf.gather(q, targets.row_group), pos_emb, neg_emb, targets, neg,
                              in_batch=in_batch)
    return float(fast), float(via_tfrs)


@pytest.mark.parametrize("sampler_kind", ["uniform", "popularity", "engaged"])
@pytest.mark.parametrize("rah", [True, False])
@pytest.mark.parametrize(("temperature", "l2"), CONFIGS)
def test_fast_path_equals_tfrs_path(targets, table, queries, temperature, l2, rah, sampler_kind):
    sampler = {"uniform": UniformSampler(V), "popularity": PopularitySampler(COUNTS),
               "engaged": EngagedSampler(COUNTS)}[sampler_kind]
    task = NextSessionRetrieval(sampler, num_negatives=len(NEG),
                                similarity=Similarity(l2_normalize=l2, temperature=temperature),
                                remove_accidental_hits=rah)
    fast, via_tfrs = _paths(task, targets, table, queries, NEG, in_batch=False)
    np.testing.assert_allclose(fast, via_tfrs, **TOL)
    # uniform and engaged: a constant log-Q, which cancels (the reference applies none)
    log_q = np_popularity_log_q(COUNTS, 1.0, 1.0, len(NEG)) if sampler_kind == "popularity" \
        else None
    np.testing.assert_allclose(fast, ref_softmax(queries, table, NEG, temperature, l2, rah,
                                                 log_q=log_q), **TOL)


# Regression: TFRS clips candidate_sampling_probability to >= 1e-6; the task must not.
def test_tfrs_path_logq_for_items_rarer_than_1e6(targets, table, queries):
    counts = COUNTS.copy()
    counts[2] = 1e8  # every other item: p = (count + 1) / ~1e8, between 1e-8 and 6e-7
    task = NextSessionRetrieval(PopularitySampler(counts), num_negatives=len(NEG))
    log_q = np_popularity_log_q(counts, 1.0, 1.0, len(NEG))
    want = ref_softmax(queries, table, NEG, log_q=log_q)
    fast, via_tfrs = _paths(task, targets, table, queries, NEG, in_batch=False)
    np.testing.assert_allclose(fast, want, **TOL)  # the fast path is right
    np.testing.assert_allclose(via_tfrs, want, **TOL)


@pytest.mark.parametrize("logq", [False, True])
@pytest.mark.parametrize("rah", [True, False])
@pytest.mark.parametrize(("temperature", "l2"), CONFIGS)
def test_in_batch_negatives_match_numpy(targets, table, queries, temperature, l2, rah, logq):
    sampler = PopularitySampler(COUNTS) if logq else UniformSampler(V)
    task = NextSessionRetrieval(sampler, num_negatives=len(NEG), in_batch_negatives=True,
                                similarity=Similarity(l2_normalize=l2, temperature=temperature),
                                remove_accidental_hits=rah)
    got = task(tf.constant(queries), targets, lookup(table), training=False,
               negative_ids=neg_tensor(NEG))
    log_q = np_popularity_log_q(COUNTS, 1.0, 1.0, len(NEG)) if logq else None
    want = ref_softmax(queries, table, NEG, temperature, l2, rah, log_q=log_q, in_batch=True)
    np.testing.assert_allclose(float(got), want, **TOL)
    # in-batch negatives change the loss (the test would not see them otherwise)
    assert abs(want - ref_softmax(queries, table, NEG, temperature, l2, rah, log_q=log_q)) > 1e-3


# ----------------------------------------------------------------- 4. BCE (SASRec)
# one negative per row; rows are (g0: 6 7 6)(g1: 11 5)(g2: 11 5)(g3: 14 15)(g4: 6 22)(g5: 26)
BCE_NEG = [7, 2, 6, 5, 6, 11, 14, 15, 3, 22, 14, 27]
BCE_HITS = [True, False, True, True, False, True, False, True, False, True, False, False]


def test_bce_hand_built_hits():
    assert len(BCE_NEG) == len(REF["positive_ids"])
    hits = [n in REF["group_positives"][g] for n, g in zip(BCE_NEG, REF["row_group"])]
    assert hits == BCE_HITS


@pytest.mark.parametrize("rah", [True, False])
@pytest.mark.parametrize(("temperature", "l2"), CONFIGS)
def test_bce_matches_numpy(targets, table, queries, temperature, l2, rah):
    task = NextSessionRetrieval(UniformSampler(V), loss="bce", remove_accidental_hits=rah,
                                similarity=Similarity(l2_normalize=l2, temperature=temperature))
    got = task(tf.constant(queries), targets, lookup(table), training=False,
               negative_ids=neg_tensor(BCE_NEG))
    want = ref_bce(queries, table, BCE_NEG, temperature, l2, rah)
    np.testing.assert_allclose(float(got), want, **TOL)


def test_bce_masking_matters(table, queries):
    assert abs(ref_bce(queries, table, BCE_NEG, rah=True)
               - ref_bce(queries, table, BCE_NEG, rah=False)) > 1e-2


# ----------------------------------------------------------------- 5. rank (Eq. 9)
@pytest.mark.parametrize(("temperature", "l2"), CONFIGS + [(0.05, True)])
def test_rank_matches_numpy(targets, table, queries, temperature, l2):
    task = SessionRank(Similarity(l2_normalize=l2, temperature=temperature))
    got = task(tf.constant(queries), targets, lookup(table))
    want = ref_rank(queries, table, temperature, l2)
    np.testing.assert_allclose(float(got), want, **TOL)


def test_rank_is_zero_when_no_session_has_negatives(table):
    users = [[([3], [1]), ([4, 5], [1, 1])], [([6], [1]), ([7], [1])]]
    t = next_session_targets(*ragged_batch(users))
    q = tf.constant(np.ones((len(t.group_position), D), np.float32))
    assert float(SessionRank()(q, t, lookup(table))) == 0.0


def test_rank_leaves_out_negatives_that_are_positives_of_the_same_session(table):
    # session 2 shows item 9 twice: engaged once (positive), ignored once (negative); 4 is a
    # plain negative. Row "9" and row "8" must be scored against {4} only.
    contradictory = [[([3], [1]), ([8, 9, 9, 4], [1, 1, 0, 0])]]
    clean = [[([3], [1]), ([8, 9, 4], [1, 1, 0])]]
    t_bad = next_session_targets(*ragged_batch(contradictory))
    t_ok = next_session_targets(*ragged_batch(clean))
    assert t_bad.group_negatives.to_list() == [[4]]  # 9 is a positive of that session
    q = tf.constant(np.random.default_rng(7).normal(size=(1, D)).astype(np.float32))
    rank = SessionRank(Similarity(temperature=0.5))
    got = float(rank(q, t_bad, lookup(table)))
    np.testing.assert_allclose(got, float(rank(q, t_ok, lookup(table))), **TOL)
    want = np.mean([
        np_logsumexp([np_score(q.numpy()[0], table[p], 0.5, False),
                      np_score(q.numpy()[0], table[4], 0.5, False)])
        - np_score(q.numpy()[0], table[p], 0.5, False)
        for p in [8, 9]])
    np.testing.assert_allclose(got, want, **TOL)


# ----------------------------------------------------------------- 6. empty batches, gradients
def _all_tasks():
    return {
        "softmax": NextSessionRetrieval(UniformSampler(V), num_negatives=5),
        "softmax_l2_logq": NextSessionRetrieval(
            PopularitySampler(COUNTS), num_negatives=5,
            similarity=Similarity(l2_normalize=True, temperature=0.1)),
        "in_batch": NextSessionRetrieval(UniformSampler(V), num_negatives=5,
                                         in_batch_negatives=True),
        "bce": NextSessionRetrieval(UniformSampler(V), loss="bce"),
        "rank": SessionRank(Similarity(l2_normalize=True, temperature=0.1)),
        # the mean over queries (each query's rows first): same guarantees
        "softmax_query": NextSessionRetrieval(UniformSampler(V), num_negatives=5,
                                              reduction="query"),
        "in_batch_query": NextSessionRetrieval(UniformSampler(V), num_negatives=5,
                                               in_batch_negatives=True, reduction="query"),
        "bce_query": NextSessionRetrieval(UniformSampler(V), loss="bce", reduction="query"),
        "rank_query": SessionRank(Similarity(l2_normalize=True, temperature=0.1),
                                  reduction="query"),
    }


def _loss_and_grads(task, targets, table: np.ndarray, groups: int, negative_ids=None):
    q = tf.Variable(np.random.default_rng(2).normal(size=(groups, D)).astype(np.float32))
    t = tf.Variable(table)
    kwargs = {} if negative_ids is None else {"negative_ids": neg_tensor(negative_ids)}
    with tf.GradientTape() as tape:
        loss = task(q, targets, lambda ids: tf.gather(t, ids), training=True, **kwargs)
    gq, gt = tape.gradient(loss, [q, t])
    return float(loss), [tf.convert_to_tensor(g).numpy() if g is not None else None
                         for g in (gq, gt)]


@pytest.mark.parametrize("name", list(_all_tasks()))
def test_batch_without_rows_gives_zero_loss_and_finite_grads(name, table):
    t = next_session_targets(*ragged_batch([[([3, 4], [1, 0])], [([5, 6], [1, 1])]]))
    assert int(t.num_rows) == 0
    loss, grads = _loss_and_grads(_all_tasks()[name], t, table, groups=0)
    assert loss == 0.0
    for g in grads:
        assert g is None or np.all(np.isfinite(g))


@pytest.mark.parametrize("name", list(_all_tasks()))
def test_grads_are_finite_with_masked_candidates(name, targets, table):
    # fixed negatives holding accidental hits, so the masks are exercised
    negs = {"rank": None, "bce": BCE_NEG, "rank_query": None, "bce_query": BCE_NEG}.get(name, NEG)
    loss, grads = _loss_and_grads(_all_tasks()[name], targets, table,
                                  groups=len(targets.group_position), negative_ids=negs)
    assert np.isfinite(loss) and loss > 0
    assert grads[0] is not None and np.all(np.isfinite(grads[0]))
    assert np.any(grads[0] != 0)
    assert grads[1] is not None and np.all(np.isfinite(grads[1]))


def test_masked_negative_is_exactly_absent_loss_and_gradient(table):
    # one row: positive 6; negatives [6, 9] with 6 an accidental hit == negatives [9] alone
    t = next_session_targets(*ragged_batch([[([3], [1]), ([6, 8], [1, 0])]]))
    assert t.positive_ids.numpy().tolist() == [6]
    q = tf.constant(np.random.default_rng(3).normal(size=(1, D)).astype(np.float32))
    out = []
    for negs in ([6, 9], [9]):
        var = tf.Variable(table)
        task = NextSessionRetrieval(UniformSampler(V), num_negatives=len(negs))
        with tf.GradientTape() as tape:
            loss = task(q, t, lambda ids, v=var: tf.gather(v, ids),
                        negative_ids=neg_tensor(negs))
        out.append((float(loss), tf.convert_to_tensor(tape.gradient(loss, var)).numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], **TOL)
    np.testing.assert_allclose(out[0][1], out[1][1], **TOL)
    s6 = float(q.numpy()[0] @ table[6])
    s9 = float(q.numpy()[0] @ table[9])
    np.testing.assert_allclose(out[0][0], np_logsumexp([s6, s9]) - s6, **TOL)


# ----------------------------------------------------------------- 7. samplers
def _seed(step: int, base: int = 7) -> tf.Tensor:
    return tf.constant([base, step], tf.int64)


def test_uniform_sampler_range_and_coverage():
    s = UniformSampler(12).sample(20_000, _seed(0)).numpy()
    assert s.min() >= 2 and s.max() < 12
    assert set(s.tolist()) == set(range(2, 12))
    freq = np.bincount(s, minlength=12)[2:] / s.size
    np.testing.assert_allclose(freq, 1 / 10, atol=0.01)
    np.testing.assert_allclose(UniformSampler(12).log_q(tf.constant([2, 5]), 20).numpy(),
                               np.log(20 / 10), **TOL)


def _chi_square_ok(draws: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    n = draws.size
    observed = np.bincount(draws, minlength=probs.size).astype(np.float64)
    support = probs > 0
    assert observed[~support].sum() == 0, "drew an item of probability 0"
    expected = n * probs[support]
    chi2 = float(((observed[support] - expected) ** 2 / expected).sum())
    df = int(support.sum()) - 1
    # generous bound: mean df, sd sqrt(2 df); 6 sd with a fixed seed is never flaky
    return chi2, df + 6.0 * np.sqrt(2.0 * df)


@pytest.mark.parametrize("power", [1.0, 0.75])
def test_popularity_sampler_follows_counts(power):
    sampler = PopularitySampler(COUNTS, power=power, smoothing=1.0)
    draws = sampler.sample(100_000, _seed(3)).numpy()
    assert draws.min() >= 2 and draws.max() < V
    probs = np.exp(np_popularity_log_q(COUNTS, power, 1.0, 1))
    chi2, bound = _chi_square_ok(draws, probs)
    assert chi2 < bound, (chi2, bound)
    # zero-count items are still drawn (smoothing)
    assert np.all(np.bincount(draws, minlength=V)[2:] > 0)


def test_engaged_sampler_is_uniform_over_items_with_a_positive():
    counts = np.zeros(V)
    engaged = [2, 5, 6, 17, 29]
    counts[engaged] = [1, 40, 3, 1, 7]
    counts[0] = 9  # a reserved index is never drawn, whatever its count
    draws = EngagedSampler(counts).sample(50_000, _seed(4)).numpy()
    probs = np.zeros(V)
    probs[engaged] = 1 / len(engaged)
    chi2, bound = _chi_square_ok(draws, probs)  # also: nothing outside the engaged items
    assert chi2 < bound, (chi2, bound)
    # the uniform distribution over the whole catalogue fails the same check
    wrong = UniformSampler(V).sample(50_000, _seed(4)).numpy()
    with pytest.raises(AssertionError, match="probability 0"):
        _chi_square_ok(wrong, probs)
    with pytest.raises(ValueError, match="no item has a positive"):
        EngagedSampler(np.zeros(V))
    with pytest.raises(ValueError, match="engaged sampler needs item counts"):
        make_sampler("engaged", V)


def test_popularity_sampler_rejects_a_wrong_distribution():
    # sensitivity guard for the chi-square check: uniform draws fail it
    draws = UniformSampler(V).sample(100_000, _seed(3)).numpy()
    chi2, bound = _chi_square_ok(draws, np.exp(np_popularity_log_q(COUNTS, 1.0, 1.0, 1)))
    assert chi2 > bound


@pytest.mark.parametrize("sampler", [UniformSampler(V), PopularitySampler(COUNTS),
                                     EngagedSampler(COUNTS)],
                         ids=["uniform", "popularity", "engaged"])
def test_sampler_draws_are_a_function_of_seed_and_step(sampler):
    a = sampler.sample(64, _seed(5)).numpy()
    b = sampler.sample(64, _seed(5)).numpy()
    c = sampler.sample(64, _seed(6)).numpy()
    d = sampler.sample(64, _seed(5, base=8)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, d)


def test_task_sampling_stream_advances_in_training_only(targets, table, queries):
    def run(training: bool) -> list[float]:
        task = NextSessionRetrieval(UniformSampler(V), num_negatives=4, seed=11)
        return [float(task(tf.constant(queries), targets, lookup(table), training=training))
                for _ in range(3)]

    train_a, train_b = run(True), run(True)
    assert train_a == train_b  # same seed -> same stream
    assert len(set(train_a)) == 3  # each step draws fresh negatives
    evals = run(False)
    assert len(set(evals)) == 1  # evaluation draws are fixed


# ----------------------------------------------------------------- 6. several user vectors
@pytest.fixture(scope="module")
def multi_queries() -> np.ndarray:
    groups = len(REF["group_position"])
    return np.random.default_rng(2).normal(size=(groups, 3, D)).astype(np.float32)


@pytest.mark.parametrize(("temperature", "l2"), CONFIGS)
def test_multi_vector_losses_match_numpy(targets, table, multi_queries, temperature, l2):
    """k = 3 user vectors per group: every loss scores an item by its best-matching vector."""
    sim = Similarity(l2_normalize=l2, temperature=temperature)
    q = tf.constant(multi_queries)
    softmax = NextSessionRetrieval(UniformSampler(V), num_negatives=len(NEG), similarity=sim)
    np.testing.assert_allclose(
        float(softmax(q, targets, lookup(table), training=False, negative_ids=neg_tensor(NEG))),
        ref_softmax(multi_queries, table, NEG, temperature, l2), **TOL)
    bce = NextSessionRetrieval(UniformSampler(V), loss="bce", similarity=sim)
    np.testing.assert_allclose(
        float(bce(q, targets, lookup(table), training=False, negative_ids=neg_tensor(BCE_NEG))),
        ref_bce(multi_queries, table, BCE_NEG, temperature, l2), **TOL)
    np.testing.assert_allclose(float(SessionRank(sim)(q, targets, lookup(table))),
                               ref_rank(multi_queries, table, temperature, l2), **TOL)


def test_multi_vector_reference_differs_from_one_vector(table, multi_queries):
    """Sensitivity guard: the max over 3 vectors is not the first vector's loss."""
    assert abs(ref_softmax(multi_queries, table, NEG)
               - ref_softmax(multi_queries[:, 0], table, NEG)) > 1e-2


def test_tfrs_path_refuses_several_user_vectors(targets, table, multi_queries):
    task = NextSessionRetrieval(UniformSampler(V), num_negatives=len(NEG),
                                in_batch_negatives=True)
    with pytest.raises(ValueError, match="one user vector per row"):
        task(tf.constant(multi_queries), targets, lookup(table), training=False,
             negative_ids=neg_tensor(NEG))


def test_tasks_refuse_one_query_per_row(targets, table):
    """Rows of a group share its query: a ``[R, d]`` tensor is refused, not silently gathered."""
    rows = int(targets.num_rows)
    assert rows != len(targets.group_position)
    q = tf.constant(np.zeros((rows, D), np.float32))
    retrieval = NextSessionRetrieval(UniformSampler(V), num_negatives=len(NEG))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one query per group"):
        retrieval(q, targets, lookup(table), negative_ids=neg_tensor(NEG))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one query per group"):
        SessionRank()(q, targets, lookup(table))
    rank = SessionRank()
    rank(tf.zeros([len(targets.group_position), D]), targets, lookup(table))  # builds

    @tf.function(input_signature=[tf.TensorSpec([None, D], tf.float32)])
    def traced(queries: tf.Tensor) -> tf.Tensor:  # shapes unknown: checked when run
        return rank(queries, targets, lookup(table))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one query per group"):
        traced(q)
    assert np.isfinite(traced(tf.zeros([len(targets.group_position), D])).numpy())


# ----------------------------------------------------------------- 5b. rank-loss controls
def test_rank_other_user_scores_the_negatives_of_the_group_half_a_batch_away(
        targets, table, queries):
    own = REF["group_negatives"]
    groups = len(own)
    partner = [own[(g + groups // 2) % groups] for g in range(groups)]
    assert partner != own  # the control changes something on this batch
    task = SessionRank(Similarity(l2_normalize=True, temperature=0.2), negatives="other_user")
    got = float(task(tf.constant(queries), targets, lookup(table)))
    np.testing.assert_allclose(got, ref_rank_with(queries, table, partner, 0.2, True), **TOL)
    assert abs(got - ref_rank(queries, table, 0.2, True)) > 1e-3


def test_rank_uniform_keeps_each_groups_count_and_draws_a_seeded_stream(targets, table,
                                                                         queries):
    task = SessionRank(Similarity(temperature=0.5), negatives="uniform", num_items=V, seed=3)
    q = tf.constant(queries)
    task(q, targets, lookup(table), training=False)  # builds; evaluation does not advance
    assert int(task.counter.numpy()) == 0
    first = task.group_negatives(targets, training=True)
    second = task.group_negatives(targets, training=True)
    drawn = [[n for n in row] for row in first.to_list()]
    assert first.to_list() != second.to_list()  # the stream advances per training step
    # same count per group (minus draws that hit one of the group's own positives)
    for g, row in enumerate(drawn):
        assert all(n not in REF["group_positives"][g] for n in row)
        assert len(row) <= len(REF["group_negatives"][g])
        assert all(NUM_RESERVED <= n < V for n in row)
    assert sum(len(r) for r in drawn) > 0.5 * sum(len(r) for r in REF["group_negatives"])
    # a fresh task with the same seed at the same step draws the same ids (stateless)
    again = SessionRank(Similarity(temperature=0.5), negatives="uniform", num_items=V, seed=3)
    again(q, targets, lookup(table), training=False)
    again.counter.assign(1)
    assert again.group_negatives(targets, training=True).to_list() == second.to_list()
    # the loss is Eq. 9 on the drawn negatives (numpy reference)
    task.counter.assign(0)
    got = float(task(q, targets, lookup(table), training=True))
    np.testing.assert_allclose(got, ref_rank_with(queries, table, drawn, 0.5, False), **TOL)


def test_rank_session_mode_has_no_stream_and_config_round_trips(targets, table, queries):
    plain = SessionRank()
    plain(tf.constant(queries), targets, lookup(table), training=True)
    assert not plain.weights  # Eq. 9 mode: no counter (checkpoints of earlier runs unchanged)
    task = SessionRank(Similarity(l2_normalize=True, temperature=0.05), negatives="uniform",
                       num_items=V, seed=4, name="rank")
    clone = SessionRank.from_config(task.get_config())
    assert (clone.negatives, clone.seed, clone.sampler.num_items, clone.similarity) == (
        "uniform", 4, V, task.similarity)
    with pytest.raises(ValueError, match="unknown value 'users'"):
        SessionRank(negatives="users")
    with pytest.raises(ValueError, match="need num_items"):
        SessionRank(negatives="uniform")


def test_next_session_targets_drop_the_negatives_shown_before():
    """``drop_negatives`` = items shown to the user in an earlier session (any label): those
    negatives leave the groups, every other negative and every positive stays; another
    user's history does not count."""
    from sessionrec_tf.data.session_batch import SessionBatch

    users = [
        [([3, 4, 5], [1, 0, 1]), ([4, 6, 7, 7], [0, 1, 0, 0]), ([3, 8, 7, 9], [0, 1, 1, 0])],
        [([4, 10], [1, 0]), ([10, 11, 4], [1, 0, 0])],
        [([12], [0]), ([12, 13], [1, 0]), ([13], [1])],
    ]
    items, labels = ragged_batch(users)
    shown = SessionBatch({"item_id": items, "label": labels}).shown_before_session()
    got = next_session_targets(items, labels, shown)
    plain = next_session_targets(items, labels)
    want = []
    for sessions in users:
        for t in range(1, len(sessions)):
            before = {i for s in sessions[:t] for i in s[0]}
            pos = {i for i, lab in zip(*sessions[t]) if lab == 1}
            want.append([i for i, lab in zip(*sessions[t])
                         if lab == 0 and i not in pos and i not in before])
    assert got.group_negatives.to_list() == want == [[7, 7], [9], [11], [13], []]
    assert plain.group_negatives.to_list() == [[4, 7, 7], [3, 9], [11, 4], [13], []]
    assert got.group_positives.to_list() == plain.group_positives.to_list()
    assert got.group_position.numpy().tolist() == plain.group_position.numpy().tolist()


# ----------------------------------------------------------------- reductions (row / query)
def _reduced_task(kind: str, temperature: float, l2: bool, reduction: str):
    sim = Similarity(l2_normalize=l2, temperature=temperature)
    if kind == "rank":
        return SessionRank(sim, reduction=reduction), None
    if kind == "bce":
        return NextSessionRetrieval(UniformSampler(V), loss="bce", similarity=sim,
                                    reduction=reduction), BCE_NEG
    return NextSessionRetrieval(UniformSampler(V), num_negatives=len(NEG), similarity=sim,
                                in_batch_negatives=kind == "in_batch",
                                reduction=reduction), NEG


def _reduced_reference(kind: str, queries, table, temperature, l2, reduction) -> float:
    if kind == "rank":
        return ref_rank(queries, table, temperature, l2, reduction=reduction)
    if kind == "bce":
        return ref_bce(queries, table, BCE_NEG, temperature, l2, reduction=reduction)
    return ref_softmax(queries, table, NEG, temperature, l2, in_batch=kind == "in_batch",
                       reduction=reduction)


@pytest.mark.parametrize("kind", ["softmax", "in_batch", "bce", "rank"])
@pytest.mark.parametrize(("temperature", "l2"), [(1.0, False), (0.2, True)])
def test_query_reduction_matches_numpy(targets, table, queries, kind, temperature, l2):
    # REF's groups hold 3, 2, 2, 2, 2 and 1 rows: the two means must differ on this batch
    row = _reduced_reference(kind, queries, table, temperature, l2, "row")
    want = _reduced_reference(kind, queries, table, temperature, l2, "query")
    assert abs(want - row) > 1e-4  # far above the tolerance (~2e-5)
    for reduction, expected in (("row", row), ("query", want)):
        task, negatives = _reduced_task(kind, temperature, l2, reduction)
        kwargs = {} if negatives is None else {"negative_ids": neg_tensor(negatives)}
        got = task(tf.constant(queries), targets, lookup(table), training=False, **kwargs)
        np.testing.assert_allclose(float(got), expected, **TOL)


def test_unknown_reduction_is_refused_and_rank_config_round_trips():
    with pytest.raises(ValueError, match="reduction must be one of"):
        NextSessionRetrieval(UniformSampler(V), reduction="user")
    with pytest.raises(ValueError, match="reduction must be one of"):
        SessionRank(reduction="mean")
    rank = SessionRank(Similarity(temperature=0.1), reduction="query")
    assert SessionRank.from_config(rank.get_config()).reduction == "query"
