"""The evaluator against a brute-force numpy evaluation, and its error messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_MODEL

from sessionrec_tf.config import load_config
from sessionrec_tf.data import DataError, read_dataset
from sessionrec_tf.evaluation import Evaluator, MostPopular, evaluate_run
from sessionrec_tf.training import Trainer, train_item_counts


@pytest.fixture(scope="module")
def trained_run(tiny_dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "tiny_hstu"
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "train.epochs=2"])
    trainer = Trainer(config, tiny_dataset, run_dir, verbose=0, log=lambda _m: None)
    trainer.run()
    return run_dir, trainer.model


def brute_force_users(model, data, protocol, ks, policy, split="test"):
    """Score every item for every user in numpy, full argsort, metrics by definition:
    ``(user ids, {metric: [per-user value]})``."""
    cands = model.candidate_embeddings().numpy()
    out = {f"{m}@{k}": [] for m in ("recall", "ndcg", "hr", "mrr") for k in ks}
    ids = []
    for batch in read_dataset(data, split, protocol, 64, deterministic=True):
        ids += [u.decode() for u in batch["user_id"].numpy()]
        users = model(batch).numpy()
        items = batch["item_id"].to_list()
        labels = batch["label"].to_list()
        for u, emb in enumerate(users):
            # [d], or [v, d] with several user vectors: an item's score is its best vector's
            scores = cands @ emb if emb.ndim == 1 else (emb @ cands.T).max(axis=0)
            scores[:2] = -np.inf
            flat = [(i, y) for s, ls in zip(items[u], labels[u]) for i, y in zip(s, ls)]
            seen = {i for i, y in flat if policy == "all" or (policy == "positives" and y == 1)}
            scores[list(seen)] = -np.inf
            order = np.argsort(-scores, kind="stable")
            targets = set(batch["target_item_id"][u].numpy().tolist())
            for k in ks:
                top = order[:k]
                hits = np.array([i in targets for i in top], dtype=float)
                disc = 1 / np.log2(np.arange(k) + 2)
                out[f"recall@{k}"].append(hits.sum() / len(targets))
                out[f"ndcg@{k}"].append((hits * disc).sum() / disc[:min(len(targets), k)].sum())
                out[f"hr@{k}"].append(float(hits.any()))
                out[f"mrr@{k}"].append(1 / (np.argmax(hits) + 1) if hits.any() else 0.0)
    return ids, out


def brute_force(model, data, protocol, ks, policy):
    return {k: float(np.mean(v))
            for k, v in brute_force_users(model, data, protocol, ks, policy)[1].items()}


@pytest.mark.parametrize("protocol, policy", [("loso", "positives"), ("loio", "all"),
                                              ("loso", "none")])
def test_evaluator_matches_brute_force(trained_run, tiny_dataset, protocol, policy):
    _, model = trained_run
    ks = (5, 20, 100)
    got = Evaluator(model, tiny_dataset, ks, policy, batch_size=37, chunk_size=101).evaluate(
        "test", protocol, progress=False)
    want = brute_force(model, tiny_dataset, protocol, ks, policy)
    assert got["exclude_seen"] == policy and got["ks"] == list(ks)
    assert got["users"] == tiny_dataset.splits[protocol]["test"]["users"]
    for name, value in want.items():
        assert got["metrics"][name] == pytest.approx(value, abs=1e-5), name


@pytest.mark.parametrize("split", ["valid", "test"])
def test_per_user_metrics_match_brute_force(trained_run, tiny_dataset, split):
    _, model = trained_run
    ks = (5, 20)
    ids, got = Evaluator(model, tiny_dataset, ks, "positives", batch_size=29).per_user(
        split, "loso", progress=False)
    want_ids, want = brute_force_users(model, tiny_dataset, "loso", ks, "positives", split)
    assert ids == want_ids and len(ids) > 10  # every tiny user has a target
    assert set(got) == set(want)
    for name, values in got.items():
        np.testing.assert_allclose(values, want[name], atol=1e-5, err_msg=name)


def test_top_items_are_the_brute_force_ranking(trained_run, tiny_dataset):
    """``Evaluator.top_items``: the numpy argsort's top K, seen positives excluded."""
    _, model = trained_run
    ev = Evaluator(model, tiny_dataset, (5, 20), "positives", chunk_size=101)
    cands = model.candidate_embeddings().numpy()
    batch = next(iter(read_dataset(tiny_dataset, "test", "loso", 16, deterministic=True)))
    top = ev.top_items(batch).numpy()
    assert top.shape == (16, 20)
    for u, (emb, items, labels) in enumerate(zip(model(batch).numpy(),
                                                 batch["item_id"].to_list(),
                                                 batch["label"].to_list())):
        scores = cands @ emb
        scores[:2] = -np.inf
        seen = [i for s, ls in zip(items, labels) for i, y in zip(s, ls) if y == 1]
        scores[seen] = -np.inf
        want = np.argsort(-scores, kind="stable")[:20]
        np.testing.assert_allclose(scores[top[u]], scores[want], rtol=1e-5)  # ties may swap
        assert not set(top[u]) & set(seen)


@pytest.fixture(scope="module")
def two_vector_model(tiny_dataset, tmp_path_factory):
    """Partial sessions + 2 user vectors (the shipped options; one draw per step, as in
    every tiny config: the evaluation does not depend on the number of draws)."""
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "train.epochs=1",
                                             "model.user_vectors=2", "task.prefix_weight=1.0"])
    trainer = Trainer(config, tiny_dataset, tmp_path_factory.mktemp("runs") / "two",
                      verbose=0, log=lambda _m: None)
    trainer.run()
    return trainer.model


def test_evaluator_with_two_user_vectors_matches_brute_force(two_vector_model, tiny_dataset):
    ks = (5, 20, 100)
    ev = Evaluator(two_vector_model, tiny_dataset, ks, "positives", batch_size=37,
                   chunk_size=101)
    got = ev.evaluate("test", "loso", progress=False)
    assert two_vector_model(next(iter(read_dataset(tiny_dataset, "test", batch_size=4)))
                            ).shape[1] == 2
    want = brute_force(two_vector_model, tiny_dataset, "loso", ks, "positives")
    for name, value in want.items():
        assert got["metrics"][name] == pytest.approx(value, abs=1e-5), name
    # exhaustive ScaNN merges the two vectors' lists into the same ranking
    approx = ev.evaluate(index="scann", progress=False,
                         scann_options={"num_leaves": 4, "num_leaves_to_search": 4,
                                        "num_reordering_candidates": 400})
    assert approx["scann_recall@100_vs_exact"] == pytest.approx(1.0, abs=0.01)


def test_scann_evaluation_reports_recall_against_exact(trained_run, tiny_dataset):
    _, model = trained_run
    ev = Evaluator(model, tiny_dataset, (10, 50), "positives")
    exact = ev.evaluate(progress=False)
    approx = ev.evaluate(index="scann", progress=False,
                         scann_options={"num_leaves": 4, "num_leaves_to_search": 4})
    # searching every leaf with reordering finds the exact neighbours
    assert approx["scann_recall@50_vs_exact"] == pytest.approx(1.0, abs=0.02)
    assert approx["metrics"]["recall@50"] == pytest.approx(exact["metrics"]["recall@50"],
                                                           abs=0.02)


def test_evaluate_run_writes_metrics_json(trained_run, tiny_dataset, tmp_path):
    run_dir, _ = trained_run
    out = tmp_path / "metrics.json"
    record = evaluate_run(run_dir, "loso", "test", ks=(10, 100), progress=False, output=out)
    saved = json.loads(out.read_text())
    assert saved["latest"] == "loso/test/exact"
    entry = saved["evaluations"]["loso/test/exact"]
    assert entry["metrics"] == record["metrics"]
    assert entry["config"]["name"] == "sessionrec_hstu" and entry["exclude_seen"] == "positives"
    assert "git_commit" in entry and entry["users"] > 0
    # another seen-item policy gets its own key; the run's own result stays
    none = evaluate_run(run_dir, "loso", "test", ks=(10, 100), exclude_seen="none",
                        progress=False, output=out)
    saved = json.loads(out.read_text())
    assert saved["latest"] == "loso/test/exact/exclude_seen=none"
    assert saved["evaluations"]["loso/test/exact"]["metrics"] == record["metrics"]
    assert saved["evaluations"]["loso/test/exact/exclude_seen=none"]["metrics"] == none["metrics"]
    assert none["exclude_seen"] == "none"


def test_model_beats_most_popular_is_measurable(trained_run, tiny_dataset):
    _, model = trained_run
    pop = MostPopular(train_item_counts(tiny_dataset)).evaluate(tiny_dataset, "test",
                                                                ks=(10, 100))
    assert 0 < pop["recall@100"] < 1


def test_bad_requests(trained_run, tiny_dataset, tmp_path):
    run_dir, model = trained_run
    with pytest.raises(DataError, match=r"unknown protocol 'next'"):
        evaluate_run(run_dir, "next", progress=False, output=tmp_path / "m.json")
    with pytest.raises(DataError, match=r"K=\[100000\] is larger than the catalog"):
        evaluate_run(run_dir, "loso", ks=(10, 100000), progress=False,
                     output=tmp_path / "m.json")
    with pytest.raises(DataError, match=r"unknown metric\(s\) \['auc'\]"):
        from sessionrec_tf.evaluation import check_request
        check_request(tiny_dataset, "loso", (10,), "positives", metrics=("recall", "auc"))
    with pytest.raises(DataError, match="unknown seen-item policy 'some'"):
        Evaluator(model, tiny_dataset, (10,), "some")
    with pytest.raises(DataError, match="is not a run directory"):
        evaluate_run(tmp_path, progress=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty target set"):
        from sessionrec_tf.metrics import ranking_metrics
        empty = tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.int64),
                                                 tf.constant([0], tf.int64))
        ranking_metrics(tf.constant([[3, 4]], tf.int64), empty, (1,))
