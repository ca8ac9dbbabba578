"""Fixtures for the export tests: a trained tiny run, a dataset with interaction features, and
their exports (built once per test session)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_MODEL

EXPORT_K = 20
# Exhaustive ScaNN settings for the tiny catalog: every leaf searched, every item re-scored,
# so the ScaNN model's top-K must equal the exact one.
EXHAUSTIVE_SCANN = {"num_leaves": 4, "num_leaves_to_search": 4, "num_reordering_candidates": 400}


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory):
    """SessionRec-HSTU trained one epoch on the tiny preset; max_len 4 sessions, so most test
    users' histories are truncated inside the serving signature."""
    from sessionrec_tf.config import load_config
    from sessionrec_tf.training import Trainer

    config = load_config("sessionrec_hstu", [*TINY_MODEL, "model.max_len=4", "train.epochs=1",
                                             "train.deterministic=true"])
    run_dir = tmp_path_factory.mktemp("runs") / "tiny_hstu"
    Trainer(config, tiny_dataset, run_dir, verbose=0, log=lambda _m: None).run()
    return run_dir


@pytest.fixture(scope="session")
def tiny_export(tiny_run, tmp_path_factory):
    """``--index both`` export of ``tiny_run``: ExportResult."""
    from sessionrec_tf.export import Exporter, ExportOptions, ScannOptions

    base = tmp_path_factory.mktemp("export") / "sessionrec"
    exporter = Exporter.from_run(tiny_run)
    result = exporter.export(base, ExportOptions(k=EXPORT_K, index="both",
                                                 scann=ScannOptions(**EXHAUSTIVE_SCANN)))
    result.exporter = exporter
    return result


@pytest.fixture(scope="session")
def feature_dataset(tmp_path_factory):
    """String item ids, a static item feature, a binned interaction feature (with missing
    values) and a discrete string interaction feature."""
    from helpers import random_log

    from sessionrec_tf.data import (
        ColumnMapping,
        FeatureSpec,
        FilterOptions,
        LoadedLog,
        PrepareOptions,
        prepare_log,
        to_canonical,
    )

    raw = random_log(num_users=30, num_items=40, seed=7)
    rng = np.random.default_rng(7)
    raw["item_id"] = "item-" + raw["item_id"].astype(str)
    raw.loc[rng.random(len(raw)) < 0.1, "dwell"] = np.nan
    raw["device"] = rng.choice(["ios", "android", "web"], len(raw))
    mapping = ColumnMapping(features=(
        FeatureSpec("cat", kind="item"),
        FeatureSpec("dwell", kind="interaction", bins=(5.0, 30.0, 120.0)),
        FeatureSpec("device", kind="interaction")))
    loaded = LoadedLog(to_canonical(raw, mapping, "memory"), mapping, "memory log")
    opts = PrepareOptions(filters=FilterOptions(min_item_interactions=1,
                                                min_user_interactions=1), num_shards=1)
    out = tmp_path_factory.mktemp("features") / "features"
    return prepare_log(loaded, out, opts, progress=False, log=None)


@pytest.fixture(scope="session")
def feature_export(feature_dataset, tmp_path_factory):
    """An untrained item-level model (HSTU+, negatives in the input, max_len 6 items) on
    ``feature_dataset``, exported with exact top-K."""
    import tensorflow as tf

    from sessionrec_tf.config import load_config
    from sessionrec_tf.export import Exporter, ExportOptions
    from sessionrec_tf.models import build_model
    from sessionrec_tf.models.builder import build_with_dummy_batch

    config = load_config("hstu_plus", [*TINY_MODEL, "model.max_len=6"])
    tf.keras.utils.set_random_seed(3)
    model = build_model(config, feature_dataset)
    build_with_dummy_batch(model)
    exporter = Exporter(model, feature_dataset, config)
    base = tmp_path_factory.mktemp("export_features") / "features"
    result = exporter.export(base, ExportOptions(k=10, index="exact"))
    result.exporter = exporter
    return result


def session_time_batch(batch: dict) -> dict:
    """``batch`` with each interaction's timestamp replaced by its session's timestamp: what
    the serving signature sees (the request carries session timestamps only)."""
    import tensorflow as tf

    ts = batch["timestamp"]
    per_item = tf.gather(batch["session_timestamp"].flat_values, ts.values.value_rowids())
    return {**batch, "timestamp": ts.with_flat_values(per_item)}


def in_process(exporter, batch: dict, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(user embeddings [B, d], top-k original item ids [B, k])`` of the in-process model,
    with the run's seen-item exclusion, as evaluation computes them."""
    from sessionrec_tf.metrics.topk import chunked_top_k
    from sessionrec_tf.models.sessionrec import seen_items

    model = exporter.model
    users = model(batch)
    _, idx = chunked_top_k(users, model.candidate_embeddings(), k,
                           exclude=seen_items(batch, exporter.config.train.exclude_seen))
    vocab = exporter.dataset.vocabulary("item_id")
    tokens = np.concatenate([np.array([None, None], dtype=object),
                             np.asarray(vocab.tokens, dtype=object)])
    return users.numpy(), tokens[idx.numpy()]


@pytest.fixture(scope="session")
def reference():
    """The helpers above, for test modules (``conftest`` itself is not importable by name)."""
    return {"session_time_batch": session_time_batch, "in_process": in_process}
