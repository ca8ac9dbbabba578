"""The Keras validation metrics (what early stopping reads) against a numpy brute force: the
full catalog ranked per user, seen positives and reserved rows removed, targets as a set."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_MODEL

from sessionrec_tf.config import load_config
from sessionrec_tf.data import read_dataset
from sessionrec_tf.data.session_batch import SessionBatch
from sessionrec_tf.models.builder import build_model, compile_model
from sessionrec_tf.training import Trainer


def _numpy_metrics(users: np.ndarray, cands: np.ndarray, seen: list, targets: list,
                   ks: list[int]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {f"{m}@{k}": [] for m in ("recall", "ndcg") for k in ks}
    scores = users @ cands.T  # [B, V], or [B, v, V] with several user vectors
    if users.ndim == 3:
        scores = scores.max(axis=1)  # an item's score is its best vector's
    for row, (ex, tgt) in enumerate(zip(seen, targets)):
        wanted = set(tgt)
        if not wanted:
            continue  # a user without a target is not measured
        order = [i for i in np.argsort(-scores[row], kind="stable")
                 if i >= 2 and i not in set(ex)]
        for k in ks:
            hits = [1.0 if i in wanted else 0.0 for i in order[:k]]
            out[f"recall@{k}"].append(sum(hits) / len(wanted))
            dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
            ideal = sum(1 / np.log2(r + 2) for r in range(min(len(wanted), k)))
            out[f"ndcg@{k}"].append(dcg / ideal)
    return out


@pytest.mark.parametrize("options", [[], ["model.user_vectors=2", "task.prefix_weight=1.0"]],
                         ids=["one-vector", "two-vectors"])
def test_validation_metrics_equal_a_numpy_brute_force(tiny_dataset, tmp_path, options):
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "train.epochs=1",
                                             "train.eval_ks=[5, 20]",
                                             "train.early_stopping_metric=recall@20",
                                             *options])
    trainer = Trainer(config, tiny_dataset, tmp_path / "run", verbose=0, log=lambda _m: None)
    trainer.run()
    got = trainer.validate()
    model = trainer.model
    cands = model.candidate_embeddings().numpy()
    per_user: dict[str, list[float]] = {}
    for batch in read_dataset(tiny_dataset, "valid", "loso", 64, deterministic=True):
        items = batch["item_id"].merge_dims(1, 2).to_list()
        labels = batch["label"].merge_dims(1, 2).to_list()
        seen = [[i for i, lab in zip(its, labs) if lab == 1] for its, labs in zip(items, labels)]
        part = _numpy_metrics(model(batch).numpy(), cands, seen,
                              batch["target_item_id"].to_list(), [5, 20])
        for name, values in part.items():
            per_user.setdefault(name, []).extend(values)
    assert len(per_user["recall@20"]) > 100
    for name, values in per_user.items():
        np.testing.assert_allclose(got[name], np.mean(values), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    assert 0.0 < got["recall@20"] < 1.0  # a case where the comparison can fail


SESSION_LENGTHS = lambda b: b["item_id"].row_lengths()  # noqa: E731
ITEM_LENGTHS = lambda b: b["item_id"].merge_dims(1, 2).row_lengths()  # noqa: E731


@pytest.mark.parametrize("name, max_len, per_user, options, encodes", [
    # the partial-session cut: a query token of the same encode (HSTU), or a second encode
    ("sessionrec_hstu", 4, SESSION_LENGTHS, ["task.prefix_weight=0.5"], 1),
    ("sessionrec_hstu", 4, SESSION_LENGTHS, ["task.prefix_weight=0.5", "model.sse=gru"], 2),
    ("sessionrec_hstu", 4, SESSION_LENGTHS, [], 1),
    ("hstu_plus", 12, ITEM_LENGTHS, [], 1),
])
def test_validation_step_encodes_once_and_keeps_the_loss(tiny_dataset, monkeypatch, name,
                                                         max_len, per_user, options, encodes):
    """A validation batch is encoded once (twice for a partial-session cut of a GRU SSE); on
    users whose history fits the window its loss is the training-path loss (compute_loss)."""
    config = load_config(name, [*TINY_MODEL, f"model.max_len={max_len}", *options])
    tf.keras.utils.set_random_seed(0)
    model = compile_model(build_model(config, tiny_dataset), config)
    batch = next(iter(read_dataset(tiny_dataset, "valid", "loso", 64, deterministic=True,
                                   prefetch=False)))
    lengths = per_user(batch)
    assert bool(tf.reduce_any(lengths > max_len)) and bool(tf.reduce_any(lengths <= max_len))
    short = SessionBatch.from_dict(batch, ("item_id", "label", "timestamp")).select_users(
        lengths <= max_len).to_dict()
    want = float(model.compute_loss(short, training=False))
    calls = []
    encode = model._encode_sessions
    monkeypatch.setattr(model, "_encode_sessions",
                        lambda *a, **k: calls.append(1) or encode(*a, **k))
    model.reset_metrics()
    got = model.test_step(short)
    assert len(calls) == encodes
    np.testing.assert_allclose(float(got["loss"]), want, rtol=1e-5)
    assert float(got["recall@100"]) > 0.0  # the ranking was measured in the same step
