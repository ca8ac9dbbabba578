"""Partial-session queries (``task.prefix_weight``), checked against plain-Python references.

- ``random_session_cut``: every drawn cut is a valid candidate, every candidate is drawn for
  some seed, the "rest" mask is the cut session from the cut on.
- ``partial_session_queries``: the query input is the history up to the cut; its targets are
  the positives from the cut on, its rank negatives the other items from the cut on.
- the model's partial-session query is exactly what serving (``model(batch)``) returns for
  that truncated history.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

# isort: off
import sessionrec_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads)
import tensorflow as tf
# isort: on
from conftest import TINY_MODEL

from sessionrec_tf.config import ConfigError, load_config
from sessionrec_tf.data import read_dataset
from sessionrec_tf.data.session_batch import SessionBatch
from sessionrec_tf.models import build_model, compile_model
from sessionrec_tf.tasks.targets import CutPolicy, partial_session_queries

ITEMS = [[[2, 3, 4], [5, 6]], [[7], [8, 9, 10, 11]], [[12]], [], [[13, 14], [15, 16, 17]]]
LABELS = [[[1, 0, 1], [0, 1]], [[1], [0, 0, 1, 0]], [[1]], [], [[0, 1], [1, 0, 0]]]


def _ragged(v) -> tf.RaggedTensor:
    return tf.ragged.constant(v, dtype=tf.int64, ragged_rank=2, row_splits_dtype=tf.int64)


def _candidates(labels, min_length: int = 2) -> list[set[int]]:
    """Per user, the flat positions c with c not first in its session, a positive at c or
    later in the same session, and a session of >= ``min_length`` interactions (written from
    the docstring, one loop per interaction)."""
    out = []
    for user in labels:
        found, start = set(), 0
        for session in user:
            for i in range(1, len(session)):
                if len(session) >= min_length and any(lab == 1 for lab in session[i:]):
                    found.add(start + i)
            start += len(session)
        out.append(found)
    return out


def _session_of(user, position: int) -> tuple[int, int]:
    """(session index, position inside it) of a flat history position."""
    for j, session in enumerate(user):
        if position < len(session):
            return j, position
        position -= len(session)
    raise AssertionError("position outside the history")


def test_random_cut_draws_every_candidate_and_nothing_else():
    items, labels = _ragged(ITEMS), _ragged(LABELS)
    want = _candidates(LABELS)
    assert want == [{1, 2, 4}, {2, 3}, set(), set(), {1}]
    drawn: list[set[int]] = [set() for _ in ITEMS]
    for s in range(200):
        cut, rest = SessionBatch({"item_id": items, "label": labels}).random_session_cut(
            tf.constant([3, s], tf.int64))
        cut, rest = cut.numpy(), rest.numpy()
        flat = 0
        want_rest = []
        for b, user in enumerate(LABELS):
            if want[b]:
                assert cut[b] in want[b]
                drawn[b].add(int(cut[b]))
                j, at = _session_of(user, int(cut[b]))
            else:
                assert cut[b] == -1
                j, at = -1, 0
            for jj, session in enumerate(user):
                want_rest += [jj == j and i >= at for i in range(len(session))]
                flat += len(session)
        assert rest.tolist() == want_rest, s
    assert drawn == want


def _session_draw_probabilities(labels) -> list[dict[int, float]]:
    """Per user, P(cut = c) when a cuttable session is drawn uniformly, then a candidate of
    it uniformly (candidates as in :func:`_candidates`)."""
    out = []
    for user in labels:
        per_session, start = [], 0
        for session in user:
            found = [start + i for i in range(1, len(session))
                     if any(lab == 1 for lab in session[i:])]
            if found:
                per_session.append(found)
            start += len(session)
        out.append({c: 1 / len(per_session) / len(found)
                    for found in per_session for c in found})
    return out


def test_session_draw_gives_every_cuttable_session_the_same_chance():
    # ITEMS user 0: session 0 has candidates {1, 2}, session 1 has {4}: a uniform position
    # gives 4 a third of the cuts, a uniform session half of them
    want = _session_draw_probabilities(LABELS)
    assert want[0] == {1: 0.25, 2: 0.25, 4: 0.5}
    fields = {"item_id": _ragged(ITEMS), "label": _ragged(LABELS)}
    draws = 1600
    counts: list[dict[int, int]] = [{} for _ in ITEMS]

    @tf.function  # traced once (the seed is an argument): 3,200 eager draws cost ~30 s
    def session_cut(seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return SessionBatch(fields).random_session_cut(seed, draw="session")

    @tf.function
    def position_cut(seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return SessionBatch(fields).random_session_cut(seed)

    for s in range(draws):
        cut, rest = (t.numpy() for t in session_cut(tf.constant([7, s], tf.int64)))
        plain, _ = position_cut(tf.constant([7, s], tf.int64))
        for b, c in enumerate(cut):
            if want[b]:
                assert c in want[b]
                counts[b][int(c)] = counts[b].get(int(c), 0) + 1
            else:
                assert c == -1 and plain[b] == -1
        flat = 0  # rest: the cut session from the cut on, as in position draws
        for b, user in enumerate(ITEMS):
            j, at = _session_of(LABELS[b], int(cut[b])) if cut[b] >= 0 else (-1, 0)
            for jj, session in enumerate(user):
                for i in range(len(session)):
                    assert rest[flat] == (jj == j and i >= at)
                    flat += 1
    for b, probabilities in enumerate(want):
        for c, p in probabilities.items():  # binomial sd <= 0.0125 at 1600 draws
            assert abs(counts[b].get(c, 0) / draws - p) < 0.05, (b, c)


def test_session_draw_of_a_replica_equals_the_global_draw():
    # rows [offset, offset + B) of a global batch draw what one device draws for them
    seq = SessionBatch({"item_id": _ragged(ITEMS), "label": _ragged(LABELS)})
    tail = SessionBatch({"item_id": _ragged(ITEMS[2:]), "label": _ragged(LABELS[2:])})
    for s in range(20):
        seed = tf.constant([9, s], tf.int64)
        whole, _ = seq.random_session_cut(seed, draw="session")
        part, _ = tail.random_session_cut(seed, offset=2, draw="session")
        assert part.numpy().tolist() == whole.numpy()[2:].tolist(), s  # per-user positions


@pytest.mark.parametrize("min_length, want", [
    (3, [{1, 2}, {2, 3}, set(), set(), set()]),
    (4, [set(), {2, 3}, set(), set(), set()]),
])
def test_random_cut_min_length_draws_only_in_long_sessions(min_length, want):
    items, labels = _ragged(ITEMS), _ragged(LABELS)
    assert _candidates(LABELS, min_length) == want
    drawn: list[set[int]] = [set() for _ in ITEMS]
    for s in range(200):
        cut, _ = SessionBatch({"item_id": items, "label": labels}).random_session_cut(
            tf.constant([3, s], tf.int64), min_length=min_length)
        for b, c in enumerate(cut):
            if want[b]:
                drawn[b].add(int(c))
            else:
                assert c == -1
    assert drawn == want


def test_partial_session_queries_inputs_and_targets():
    seq = SessionBatch({"item_id": _ragged(ITEMS), "label": _ragged(LABELS)})
    seed = tf.constant([5, 1], tf.int64)
    cut, _ = seq.random_session_cut(seed)
    inputs, targets = partial_session_queries(seq, seed)
    users = [b for b in range(len(ITEMS)) if cut[b] >= 0]
    assert users == [0, 1, 4]
    want_inputs, want_pos, want_neg = [], [], []
    for b in users:
        j, at = _session_of(LABELS[b], int(cut[b]))
        want_inputs.append([*ITEMS[b][:j], ITEMS[b][j][:at]])
        rest = list(zip(ITEMS[b][j][at:], LABELS[b][j][at:]))
        want_pos.append([i for i, lab in rest if lab == 1])
        want_neg.append([i for i, lab in rest if lab == 0])
    assert inputs["item_id"].to_list() == want_inputs
    assert targets.group_positives.to_list() == want_pos
    assert targets.group_negatives.to_list() == want_neg
    assert targets.positive_ids.numpy().tolist() == [i for p in want_pos for i in p]
    assert targets.row_group.numpy().tolist() == [g for g, p in enumerate(want_pos) for _ in p]


def _model(tiny_dataset, weight: float):
    # one cut per user (the shipped default draws 4): the loss compared is that one query's
    config = load_config("sessionrec_hstu", [*TINY_MODEL, f"task.prefix_weight={weight}",
                                             "task.prefix_queries=1"])
    tf.keras.utils.set_random_seed(0)
    return compile_model(build_model(config, tiny_dataset), config)


def test_partial_session_query_is_the_serving_embedding_of_the_cut_history(tiny_dataset):
    model = _model(tiny_dataset, 0.5)
    batch = next(iter(read_dataset(tiny_dataset, "train", batch_size=16, deterministic=True,
                                   prefetch=False)))
    model.compute_loss(batch, training=False)  # builds every layer
    seq = model.view(batch, extra=1)
    loss = model.partial_session_loss(seq, training=False).numpy()
    inputs, targets = partial_session_queries(seq, tf.constant([model.prefix_seed, -1],
                                                               tf.int64),
                                              policy=CutPolicy(max_sessions=model.view.max_len))
    assert int(targets.num_rows) > 0
    # what serving returns for the cut histories
    queries = model(inputs.to_dict(), training=False)
    want = model.prefix_retrieval(queries, targets, model.candidates, training=False)
    want += model.alpha * model.prefix_rank(queries, targets, model.candidates, training=False)
    np.testing.assert_allclose(loss, want.numpy(), rtol=1e-5)
    # and the model's loss is the next-session loss plus the weighted partial-session loss
    plain = model.compute_loss(batch, training=False).numpy()
    model.prefix_weight = 0.0
    without = model.compute_loss(batch, training=False).numpy()
    np.testing.assert_allclose(plain, without + 0.5 * loss, rtol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"min_length": 1}, r"min_length must be >= 2"),
    ({"draw": "item"}, r"draw must be one of \['position', 'session'\]"),
    ({"max_sessions": 0}, r"max_sessions must be >= 1"),
])
def test_cut_policy_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CutPolicy(**kwargs)


def test_model_cut_policy_follows_its_settings(tiny_dataset):
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "task.prefix_weight=0.5",
                                             "task.prefix_min_session=3",
                                             "task.prefix_draw=session",
                                             "task.rank_drop_shown=true"])
    model = build_model(config, tiny_dataset)
    assert model.cut_policy == CutPolicy(max_sessions=model.view.max_len, min_length=3,
                                         draw="session", drop_shown=True)
    # no rank loss: nothing to drop from
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "task.prefix_weight=0.5",
                                             "task.alpha=0", "task.rank_drop_shown=true"])
    assert not build_model(config, tiny_dataset).cut_policy.drop_shown


@pytest.mark.parametrize("overrides, main, prefix", [
    ((), "row", "row"),
    (("task.prefix_reduction=query",), "row", "query"),
    (("task.reduction=query",), "query", "row"),
])
def test_reductions_reach_their_tasks(tiny_dataset, overrides, main, prefix):
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "task.prefix_weight=0.5",
                                             *overrides])
    model = build_model(config, tiny_dataset)
    assert (model.retrieval.reduction, model.rank.reduction) == (main, main)
    assert (model.prefix_retrieval.reduction, model.prefix_rank.reduction) == (prefix, prefix)


def _dropout_free(tiny_dataset, weight: float, draws: int, vectors: int, step: int,
                  overrides: tuple[str, ...] = ()):
    """A tiny model without dropout at optimizer step ``step``, and a 16-user batch."""
    config = load_config("sessionrec_hstu", [*TINY_MODEL, f"task.prefix_weight={weight}",
                                             f"task.prefix_queries={draws}", "model.dropout=0.0",
                                             f"model.user_vectors={vectors}", *overrides])
    tf.keras.utils.set_random_seed(0)
    model = compile_model(build_model(config, tiny_dataset), config)
    batch = next(iter(read_dataset(tiny_dataset, "train", batch_size=16, deterministic=True,
                                   prefetch=False)))
    model.optimizer.iterations.assign(step)
    return model, batch


@pytest.mark.parametrize("training, vectors", [(False, 1), (True, 1), (False, 2), (True, 2)])
def test_several_cuts_per_user_average_independent_draws(tiny_dataset, training, vectors):
    # partial_session_loss encodes every draw's cut histories in one encoder call; the
    # reference is one partial_session_draw per seed (dropout off, so training mode with
    # its step-dependent seeds and 2 user vectors must agree too)
    model, batch = _dropout_free(tiny_dataset, 1.0, 3, vectors, step=5)
    seq = model.view(batch, extra=1)
    counter = model.prefix_retrieval.counter.numpy()  # the negatives' stream, per call
    got = model.partial_session_loss(seq, training=training).numpy()
    model.prefix_retrieval.counter.assign(counter)  # the draws see the same negatives
    step = 5 if training else -1
    draws = [model.partial_session_draw(
        seq, tf.constant([model.prefix_seed, step * 3 + i], tf.int64), training=training
    ).numpy() for i in range(3)]
    assert len(set(np.round(draws, 6))) == 3  # three different cuts
    np.testing.assert_allclose(got, np.mean(draws), rtol=1e-5)


# (user vectors, overrides): the HSTU stack as shipped (one layer at test size, SSE length
# buckets); 2 layers with a window of 4 sessions (users longer than the window: cuts stay in
# the first max_len sessions, and a later layer reads states the earlier ones built); the
# reference HSTU options (absolute positions); the Transformer SSE; the GRU (no query tokens:
# the cut histories are encoded as sequences in the same call).
ENCODINGS = [
    (1, ()), (2, ()),
    (1, ("model.num_layers=2", "model.max_len=4")),
    (2, ("model.num_layers=2", "model.sse_length_buckets=false", "model.sse_input_scale=true",
         "model.sse_position_embedding=true")),
    (1, ("model.sse=transformer", "model.num_layers=2", "model.max_len=4")),
    (1, ("model.sse=gru",)),
    # the open-session marker on the cut sessions' tokens (both paths; set to random values)
    (2, ("task.prefix_marker=true",)),
    (1, ("model.sse=gru", "task.prefix_marker=true")),
    # cuts only in sessions of >= 3 interactions (fewer users have a query)
    (2, ("task.prefix_min_session=3",)),
    # a cuttable session drawn uniformly, then a position in it
    (2, ("task.prefix_draw=session",)),
    # every loss a mean over queries (each query's rows averaged first)
    (2, ("task.reduction=query", "task.prefix_reduction=query")),
    (1, ("model.sse=gru", "task.prefix_reduction=query")),
]


def _random_marker(model) -> np.ndarray:
    """Give the open-session marker random values (it starts at zeros: a no-op)."""
    value = np.random.default_rng(3).normal(0, 0.5, model.open_marker.vector.shape)
    model.open_marker.vector.assign(value.astype(np.float32))
    return value


@pytest.mark.parametrize("vectors, overrides", ENCODINGS)
def test_one_encoder_call_for_sequences_and_cuts_equals_two(tiny_dataset, vectors, overrides):
    # compute_loss encodes the sequences and the partial-session queries together (attention
    # SSEs: each query one more token of its user's sequence; GRU: the cut histories as more
    # sequences); the reference encodes every cut history as a sequence of its own, apart
    # (the paper's loss + the weighted partial_session_loss). Training mode, dropout off: the
    # cuts' step-dependent seeds and the sampled negatives' streams (reset between the two)
    # are the same.
    model, batch = _dropout_free(tiny_dataset, 0.7, 2, vectors, step=3, overrides=overrides)
    assert model.query_tokens == ("model.sse=gru" not in overrides)
    if model.open_marker is not None:
        _random_marker(model)
    seq = model.view(batch, extra=1)
    if "model.max_len=4" in overrides:  # users longer than the window are in the batch
        assert int(tf.reduce_max(seq["item_id"].row_lengths())) == 5
    tasks = [model.retrieval, model.prefix_retrieval]
    counters = [t.counter.numpy() for t in tasks]
    got = model.compute_loss(batch, training=True).numpy()
    for t, c in zip(tasks, counters, strict=True):
        t.counter.assign(c)
    partial = model.partial_session_loss(seq, training=True).numpy()
    model.prefix_weight = 0.0
    plain = model.compute_loss(batch, training=True).numpy()
    assert partial > 0
    np.testing.assert_allclose(got, plain + 0.7 * partial, rtol=1e-5)


@pytest.mark.parametrize("marker", [False, True])
def test_query_tokens_give_the_gradients_of_separate_cut_histories(tiny_dataset, marker):
    # the fast path (query tokens) against the cut histories encoded as sequences: same loss
    # and the same gradient for every weight (2 layers, users longer than the window); with
    # the open-session marker, its vector too
    model, batch = _dropout_free(tiny_dataset, 1.0, 3, 2, step=7,
                                 overrides=("model.num_layers=2", "model.max_len=4",
                                            f"task.prefix_marker={str(marker).lower()}"))
    if marker:
        _random_marker(model)
    tasks = [model.retrieval, model.prefix_retrieval]
    counters = [t.counter.numpy() for t in tasks]
    results = []
    for tokens in (True, False):
        for t, c in zip(tasks, counters, strict=True):
            t.counter.assign(c)
        model.query_tokens = tokens
        with tf.GradientTape() as tape:
            loss = model.compute_loss(batch, training=True)
        grads = tape.gradient(loss, model.trainable_variables)
        results.append((loss.numpy(), [tf.convert_to_tensor(g).numpy() for g in grads]))
    (fast, fast_grads), (slow, slow_grads) = results
    np.testing.assert_allclose(fast, slow, rtol=1e-5)
    assert len(fast_grads) == len(slow_grads) > 10
    for variable, a, b in zip(model.trainable_variables, fast_grads, slow_grads, strict=True):
        # float32 sums in another order: measured <= 3e-6 of the gradient's largest entry
        # (elementwise rtol fails on a few entries that are sums of cancelling terms)
        assert np.abs(b).max() > 0, variable.name
        np.testing.assert_array_less(np.abs(a - b).max(), 1e-4 * np.abs(b).max(),
                                     err_msg=variable.name)


def _sse_inputs(model, run) -> list[np.ndarray]:
    """The padded token inputs ``[rows, L, d]`` of every SSE call made by ``run()``."""
    seen, call = [], model.sse.call

    def spy(x, *args, **kwargs):
        seen.append(x.numpy())
        return call(x, *args, **kwargs)

    model.sse.call = spy
    try:
        run()
    finally:
        del model.sse.call
    return seen


def test_open_session_marker_is_added_to_the_cut_sessions_only(tiny_dataset):
    # GRU: the sequences and the cut histories go through one SSE call; against the same
    # call with the marker at zero, the only change is +v on each cut history's last token
    model, batch = _dropout_free(tiny_dataset, 1.0, 2, 1, step=2, overrides=(
        "model.sse=gru", "model.sse_length_buckets=false", "task.prefix_marker=true"))
    vector = _random_marker(model)
    seq = model.view(batch, extra=1)
    users = int(seq.drop_last_session()[0].num_users)
    cuts = model._partial_cuts(seq, training=False)
    lengths = np.concatenate([model._cut_histories([c])["item_id"].row_lengths().numpy()
                              for c in cuts])
    assert len(lengths) > 0

    def inputs() -> np.ndarray:
        (x,) = _sse_inputs(model, lambda: model.compute_loss(batch, training=False))
        return x

    marked = inputs()
    model.open_marker.vector.assign(np.zeros_like(vector))
    want = inputs()
    for r, n in enumerate(lengths):  # rows after the users' own sequences: the cut histories
        want[users + r, n - 1] += vector
    np.testing.assert_allclose(marked, want, rtol=1e-6, atol=1e-6)


def test_open_session_marker_leaves_serving_unchanged(tiny_dataset):
    model, batch = _dropout_free(tiny_dataset, 1.0, 2, 2, step=0,
                                 overrides=("task.prefix_marker=true",))
    before = model(batch, training=False).numpy()
    _random_marker(model)
    loss_before = model.partial_session_loss(model.view(batch, extra=1), training=False)
    np.testing.assert_array_equal(model(batch, training=False).numpy(), before)
    model.open_marker.vector.assign(np.zeros(model.open_marker.vector.shape, np.float32))
    loss_zero = model.partial_session_loss(model.view(batch, extra=1), training=False)
    assert abs(float(loss_before) - float(loss_zero)) > 1e-4  # the queries do use it
    layer = type(model.open_marker).from_config(model.open_marker.get_config())
    assert layer.initializer == "zeros" and layer.name == "open_session"


def test_concatenated_batches_keep_every_user_in_order(tiny_dataset):
    batch = next(iter(read_dataset(tiny_dataset, "train", batch_size=8, deterministic=True,
                                   prefetch=False)))
    seq = SessionBatch.from_dict(batch, ("item_id", "label", "timestamp"))
    parts = [seq.select_users(tf.range(8) < 3), seq.select_users(tf.range(8) >= 3), seq]
    both = SessionBatch.concat(parts)
    for key in ("item_id", "label", "timestamp"):
        want = [row for part in parts for row in part[key].to_list()]
        assert both[key].to_list() == want
    assert both["session_timestamp"].to_list() == [
        row for part in parts for row in part["session_timestamp"].to_list()]
    assert both["user_id"].numpy().tolist() == [
        u for part in parts for u in part["user_id"].numpy().tolist()]
    assert SessionBatch.concat([seq]) is seq
    with pytest.raises(ValueError, match="at least one batch"):
        SessionBatch.concat([])


def test_training_with_partial_sessions_reports_their_loss(tiny_dataset):
    model = _model(tiny_dataset, 1.0)
    history = model.fit(read_dataset(tiny_dataset, "train", batch_size=32, deterministic=True),
                        epochs=1, steps_per_epoch=3, verbose=0)
    assert np.isfinite(history.history["prefix_retrieval_loss"][-1])
    assert history.history["prefix_retrieval_loss"][-1] > 0
    assert history.history["loss"][-1] > history.history["retrieval_loss"][-1]


@pytest.mark.parametrize("overrides, match", [
    (["task.prefix_weight=-1"], r"task.prefix_weight: must be >= 0"),
    (["task.prefix_weight=1", "model.paradigm=item"], r"need model.paradigm='session'"),
    (["task.prefix_queries=0"], r"task.prefix_queries: must be >= 1"),
    (["task.prefix_weight=0", "task.prefix_marker=true"], r"task.prefix_marker: .* needs"),
    (["task.prefix_min_session=1"], r"task.prefix_min_session: must be >= 2"),
    (["task.prefix_weight=0", "task.prefix_min_session=3"],
     r"task.prefix_min_session: .* needs"),
    (["task.prefix_draw=item"], r"task.prefix_draw: unknown value 'item'"),
    (["task.prefix_weight=0", "task.prefix_draw=session"], r"task.prefix_draw: .* needs"),
    (["task.prefix_reduction=user"], r"task.prefix_reduction: unknown value 'user'"),
    (["task.reduction=mean"], r"task.reduction: unknown value 'mean'"),
    (["task.prefix_weight=0", "task.prefix_reduction=query"],
     r"task.prefix_reduction: .* needs"),
])
def test_bad_partial_session_settings_are_refused(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config("sessionrec_hstu", overrides)


# users that see items again, in later sessions and inside a session
REPEAT_ITEMS = [[[2, 3, 4], [3, 5, 2, 6, 4]], [[7, 8], [8, 9, 7, 10, 7]], [[11, 12, 11, 13]]]
REPEAT_LABELS = [[[1, 0, 0], [1, 0, 0, 1, 0]], [[0, 1], [0, 1, 0, 0, 1]], [[1, 0, 0, 1]]]


def test_partial_session_queries_drop_negatives_shown_before_the_cut():
    seq = SessionBatch({"item_id": _ragged(REPEAT_ITEMS), "label": _ragged(REPEAT_LABELS)})
    dropped = 0
    for s in range(40):
        seed = tf.constant([9, s], tf.int64)
        cut, _ = seq.random_session_cut(seed)
        _, plain = partial_session_queries(seq, seed)
        _, targets = partial_session_queries(seq, seed, policy=CutPolicy(drop_shown=True))
        want = []
        for b in range(len(REPEAT_ITEMS)):
            if cut[b] < 0:
                continue
            flat = [i for session in REPEAT_ITEMS[b] for i in session]
            shown = set(flat[:int(cut[b])])
            j, at = _session_of(REPEAT_LABELS[b], int(cut[b]))
            rest = list(zip(REPEAT_ITEMS[b][j][at:], REPEAT_LABELS[b][j][at:]))
            pos = {i for i, lab in rest if lab == 1}
            want.append([i for i, lab in rest if lab == 0 and i not in pos and i not in shown])
        assert targets.group_negatives.to_list() == want, s
        assert targets.group_positives.to_list() == plain.group_positives.to_list()
        dropped += plain.group_negatives.flat_values.shape[0] - sum(map(len, want))
    assert dropped > 0


def test_rank_drop_shown_changes_only_the_rank_terms(tiny_dataset):
    """task.rank_drop_shown reaches the model; on the tiny simulator (items come back) it
    changes the loss, and only through the rank losses: with alpha 0 it changes nothing."""
    batch = next(iter(read_dataset(tiny_dataset, "train", batch_size=32, deterministic=True,
                                   prefetch=False)))
    seq = SessionBatch.from_dict(batch, ("item_id", "label"))
    assert bool(tf.reduce_any(seq.shown_before_session()))
    losses = {}
    for alpha in (0.2, 0.0):
        config = load_config("sessionrec_hstu", [*TINY_MODEL, "model.dropout=0",
                                                 f"task.alpha={alpha}",
                                                 "task.rank_drop_shown=true"])
        tf.keras.utils.set_random_seed(0)
        model = compile_model(build_model(config, tiny_dataset), config)
        assert model.rank_drop_shown
        for flag in (True, False):
            model.rank_drop_shown = flag
            model.cut_policy = dataclasses.replace(model.cut_policy, drop_shown=flag)
            losses[alpha, flag] = float(model.compute_loss(batch, training=False))
    assert losses[0.2, True] != pytest.approx(losses[0.2, False], rel=1e-6)
    assert losses[0.0, True] == losses[0.0, False]
