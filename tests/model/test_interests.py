"""Several user vectors per position (model.user_vectors): the layer, the best-match scoring
and top-K against numpy, and the model/export path end to end."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_MODEL

from sessionrec_tf.config import ConfigError, load_config
from sessionrec_tf.data import read_dataset
from sessionrec_tf.layers import UserVectors
from sessionrec_tf.layers.interests import max_match, max_match_rows
from sessionrec_tf.metrics.topk import chunked_top_k
from sessionrec_tf.retrieval.exact import ExactTopK


def test_user_vectors_layer_is_h_plus_w_h():
    layer = UserVectors(3, init_scale=0.5, seed=4)
    states = np.random.default_rng(0).normal(size=(2, 5, 6)).astype(np.float32)
    out = layer(tf.constant(states)).numpy()
    kernel = layer.kernel.numpy()  # [3, 6, 6]
    want = states[:, :, None, :] + np.einsum("bld,kde->blke", states, kernel)
    assert out.shape == (2, 5, 3, 6)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out[:, :, 0], out[:, :, 1])  # the vectors start apart
    clone = UserVectors.from_config(layer.get_config())
    assert (clone.k, clone.init_scale, clone.seed) == (3, 0.5, 4)
    with pytest.raises(ValueError, match="k >= 2"):
        UserVectors(1)


def test_best_match_scores_against_numpy():
    rng = np.random.default_rng(1)
    users, items = rng.normal(size=(4, 3, 5)), rng.normal(size=(7, 5))
    want = np.max(np.einsum("bkd,cd->bkc", users, items), axis=1)
    np.testing.assert_allclose(max_match(tf.constant(users), tf.constant(items)).numpy(),
                               want, rtol=1e-6)
    rows = rng.normal(size=(4, 5))
    np.testing.assert_allclose(
        max_match_rows(tf.constant(users), tf.constant(rows)).numpy(),
        np.max(np.einsum("bkd,bd->bk", users, rows), axis=1), rtol=1e-6)
    one = users[:, 0]
    np.testing.assert_allclose(max_match(tf.constant(one), tf.constant(items)).numpy(),
                               one @ items.T, rtol=1e-6)
    # a batch without users (e.g. no partial-session cut in it) keeps the catalog axis
    assert max_match(tf.constant(users[:0]), tf.constant(items)).shape == (0, 7)


def test_user_vectors_gradient_equals_numpy():
    """The layer's kernel gradient (it is a reshaped matmul, not an einsum) vs numpy."""
    layer = UserVectors(2, init_scale=0.5, seed=1)
    states = np.random.default_rng(3).normal(size=(3, 4, 5)).astype(np.float32)
    weights = np.random.default_rng(4).normal(size=(3, 4, 2, 5)).astype(np.float32)
    x = tf.constant(states)
    layer(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * weights)
    got = tape.gradient(loss, layer.kernel).numpy()
    want = np.einsum("bld,blke->kde", states, weights)  # d loss / d W_j = sum h (x) g_j
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_top_k_of_several_user_vectors_against_numpy():
    """chunked_top_k and the export's retriever rank by the best vector, with exclusions."""
    rng = np.random.default_rng(2)
    cands = rng.normal(size=(60, 4)).astype(np.float32)
    users = rng.normal(size=(3, 2, 4)).astype(np.float32)
    exclude = [[5, 9], [], [2, 3, 4]]
    scores = np.max(np.einsum("bkd,cd->bkc", users, cands), axis=1)
    want = []
    for row, ex in enumerate(exclude):
        order = [i for i in np.argsort(-scores[row], kind="stable") if i >= 2 and i not in ex]
        want.append(order[:10])
    ragged = tf.ragged.constant(exclude, dtype=tf.int64)
    _, got = chunked_top_k(tf.constant(users), cands, 10, exclude=ragged, chunk_size=16)
    np.testing.assert_array_equal(got.numpy(), np.array(want))
    for chunk in (1024, 16):
        retriever = ExactTopK(10, chunk_size=chunk).index(cands)
        _, got = retriever(tf.constant(users), ragged)
        np.testing.assert_array_equal(got.numpy(), np.array(want))


def test_config_checks():
    with pytest.raises(ConfigError, match="model.user_vectors: must be >= 1"):
        load_config("sessionrec_hstu", ["model.user_vectors=0"])
    with pytest.raises(ConfigError, match="in_batch_negatives=false"):
        load_config("sessionrec_hstu", ["model.user_vectors=2",
                                        "task.in_batch_negatives=true"])


def test_model_trains_and_serves_exact_and_scann(tiny_dataset, tmp_path):
    """k = 2 user vectors, with partial-session queries: training runs, user embeddings are
    [B, 2, d], evaluation's top-K equals numpy's best-match ranking, and the exact export
    and its (exhaustive) ScaNN model both serve that ranking."""
    from sessionrec_tf.export import Exporter, ExportOptions, ScannOptions
    from sessionrec_tf.models.sessionrec import seen_items
    from sessionrec_tf.training import Trainer

    config = load_config("sessionrec_hstu", [*TINY_MODEL, "train.epochs=1",
                                             "model.user_vectors=2", "task.prefix_weight=1.0"])
    trainer = Trainer(config, tiny_dataset, tmp_path / "run", verbose=0, log=lambda _m: None)
    summary = trainer.run()
    assert summary["epochs_run"] == 1 and np.isfinite(summary["best_valid_recall@100"])
    model = trainer.model
    batch = next(iter(read_dataset(tiny_dataset, "test", batch_size=8, deterministic=True)))
    users = model(batch).numpy()
    assert users.shape == (8, 2, 16)
    cands = model.candidate_embeddings().numpy()
    seen = seen_items(batch, "positives")
    _, top = chunked_top_k(tf.constant(users), cands, 10, exclude=seen)
    np.testing.assert_array_equal(top.numpy(), _best_match_top(users, cands, seen.to_list()))
    exporter = Exporter.from_run(tmp_path / "run")
    exhaustive = ScannOptions(num_leaves=4, num_leaves_to_search=4,
                              num_reordering_candidates=400)
    result = exporter.export(tmp_path / "exp", ExportOptions(k=10, index="both",
                                                             scann=exhaustive))
    assert result.metadata["user_vectors"] == 2
    from sessionrec_tf.export.encode import RequestEncoder
    from sessionrec_tf.export.loaded import ExportedModel

    served = ExportedModel(result.path)
    out = served.predict(RequestEncoder(tiny_dataset, served.spec).encode(
        _session_times(batch)))
    vocab = np.asarray(tiny_dataset.vocabulary("item_id").tokens)
    assert out["user_embedding"].shape == (8, 2, 16)
    # the request carries session timestamps only: compare the ranking of that same input
    sess_users = model(_session_times(batch)).numpy()
    np.testing.assert_allclose(out["user_embedding"], sess_users, atol=1e-5)
    want = _best_match_top(sess_users, cands, seen.to_list())
    np.testing.assert_array_equal(out["top_k_ids"], vocab[want - 2])
    scann = ExportedModel(result.path, scann=True).predict(
        RequestEncoder(tiny_dataset, served.spec).encode(_session_times(batch)))
    np.testing.assert_array_equal(scann["top_k_ids"], vocab[want - 2])
    np.testing.assert_allclose(scann["top_k_scores"], out["top_k_scores"], atol=1e-4)


def _best_match_top(users: np.ndarray, cands: np.ndarray, seen: list) -> np.ndarray:
    """numpy: the 10 best items by max over the user's vectors, seen and reserved dropped."""
    scores = np.max(np.einsum("bkd,cd->bkc", users, cands), axis=1)
    return np.array([[i for i in np.argsort(-s, kind="stable") if i >= 2 and i not in ex][:10]
                     for s, ex in zip(scores, seen)])


def _session_times(batch: dict) -> dict:
    ts = batch["timestamp"]
    per_item = tf.gather(batch["session_timestamp"].flat_values, ts.values.value_rowids())
    return {**batch, "timestamp": ts.with_flat_values(per_item)}


def test_vectors_of_the_gathered_states_equal_the_vectors_of_every_state(tiny_dataset):
    """The model maps only the states it uses (the loss queries, the last state) to user
    vectors; the map is position-wise, so this equals mapping every padded state first."""
    from sessionrec_tf.models import build_model, compile_model
    from sessionrec_tf.models.sessionrec import _last_state
    from sessionrec_tf.tasks.targets import next_session_targets

    config = load_config("sessionrec_hstu", [*TINY_MODEL, "model.user_vectors=2",
                                             "model.dropout=0.0"])
    tf.keras.utils.set_random_seed(0)
    model = compile_model(build_model(config, tiny_dataset), config)
    batch = next(iter(read_dataset(tiny_dataset, "train", batch_size=16, deterministic=True,
                                   prefetch=False)))
    seq = model.view(batch, extra=1)
    encoder_input, new_index = seq.drop_last_session()
    states, mask = model.encode_sequence(encoder_input, training=False)  # [B, L, 2, d]
    assert states.shape[2] == 2
    targets = next_session_targets(seq["item_id"], seq["label"])
    queries = tf.gather(tf.boolean_mask(states, mask), tf.gather(new_index,
                                                                 targets.group_position))
    counter = model.retrieval.counter.numpy()
    want = model._eq10(model.retrieval, model.rank, queries, targets, False)
    model.retrieval.counter.assign(counter)
    np.testing.assert_allclose(model.compute_loss(batch, training=False), want, rtol=1e-5)
    users = model.retrieval.similarity.embed(_last_state(*model.encode(batch)[:2]))
    np.testing.assert_allclose(model(batch), users, rtol=1e-5, atol=1e-6)
