"""Build a model from an experiment config and a prepared dataset."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import tensorflow as tf

from sessionrec_tf.config import ExperimentConfig, hstu_options
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.reader import train_item_counts
from sessionrec_tf.data.tfrecord import INTERACTION_KEYS
from sessionrec_tf.embedding.item_embedding import ItemEmbedding
from sessionrec_tf.ise import make_ise
from sessionrec_tf.models.optimizer import make_optimizer
from sessionrec_tf.models.sessionrec import SessionRec
from sessionrec_tf.models.views import make_view
from sessionrec_tf.sse import make_sse
from sessionrec_tf.sse.bucketing import length_bucket_bounds
from sessionrec_tf.tasks import NextSessionRetrieval, SessionRank, Similarity, make_sampler
from sessionrec_tf.tasks.samplers import NEEDS_COUNTS

MODEL_NAMES = ("sessionrec_hstu", "sessionrec_hstu_paper", "sessionrec_transformer",
               "sessionrec_gru", "hstu", "hstu_plus", "sasrec", "sasrec_plus", "gru4rec")


def build_model(config: ExperimentConfig, dataset: PreparedDataset,
                item_counts: np.ndarray | None = None) -> SessionRec:
    """The model described by ``config`` for the vocabularies and features of ``dataset``.

    Args:
      config: the experiment config.
      dataset: prepared dataset (vocabulary sizes, item feature table, feature names).
      item_counts: ``[num_items]`` positive counts in the training split for the popularity
        and engaged samplers (counted from ``dataset``'s training split of
        ``config.train.protocol`` when not given: a restored run rebuilds the same sampler).
    """
    m, t = config.model, config.task
    if t.sampler in NEEDS_COUNTS and item_counts is None:
        item_counts = train_item_counts(dataset, config.train.protocol)
    sizes = dataset.vocab_sizes
    embedding = ItemEmbedding(
        num_items=dataset.num_items,
        dim=m.embedding_dim,
        item_features=dataset.item_features,
        item_feature_sizes={k: sizes[k] for k in dataset.item_feature_names},
        interaction_feature_sizes={k: sizes[k] for k in dataset.interaction_feature_names},
        feature_dim=m.feature_dim,
        use_label=m.use_label,
        mlp_units=m.embedding_mlp,
        name="embedding",
    )
    seed = config.train.seed
    ise = make_ise(m.ise, m.embedding_dim, num_layers=m.ise_layers, num_heads=m.ise_heads,
                   dropout=m.dropout, max_items=m.ise_max_items, seed=seed + 1,
                   label_split=m.ise_label_split,
                   positives_only=m.ise_input == "positives")
    sse = make_sse(m.sse, m.embedding_dim, num_layers=m.num_layers, num_heads=m.num_heads,
                   max_len=m.max_len, dropout=m.dropout, seed=seed + 2,
                   hstu_options=hstu_options(m))
    keys = (*INTERACTION_KEYS, *dataset.interaction_feature_names)
    view = make_view(m.paradigm, m.max_len, keys, m.item_input)
    similarity = Similarity(t.l2_normalize, t.temperature)
    sampler = make_sampler(t.sampler, dataset.num_items, item_counts)

    def retrieval_task(task_seed: int, name: str, reduction: str) -> NextSessionRetrieval:
        return NextSessionRetrieval(
            sampler, num_negatives=t.num_negatives, similarity=similarity, loss=t.loss,
            in_batch_negatives=t.in_batch_negatives,
            remove_accidental_hits=t.remove_accidental_hits, seed=task_seed,
            reduction=reduction, name=name)

    def rank_task(task_seed: int, name: str, reduction: str) -> SessionRank | None:
        if t.alpha <= 0:
            return None
        return SessionRank(similarity, negatives=t.rank_negatives, num_items=dataset.num_items,
                           seed=task_seed, reduction=reduction, name=name)

    retrieval = retrieval_task(seed + 3, "retrieval", t.reduction)
    rank = rank_task(seed + 7, "rank", t.reduction)
    prefix: dict = {}
    if t.prefix_weight > 0:  # partial-session queries: tasks of their own (own loss metrics)
        prefix = {"prefix_weight": t.prefix_weight, "prefix_queries": t.prefix_queries,
                  "prefix_seed": seed + 4,
                  "prefix_marker": t.prefix_marker,
                  "prefix_min_session": t.prefix_min_session,
                  "prefix_draw": t.prefix_draw,
                  "prefix_retrieval": retrieval_task(seed + 5, "prefix_retrieval",
                                                     t.prefix_reduction),
                  "prefix_rank": rank_task(seed + 8, "prefix_rank", t.prefix_reduction)}
    return SessionRec(embedding, ise, sse, view, retrieval, rank, alpha=t.alpha, **prefix,
                      eval_ks=config.train.eval_ks, exclude_seen=config.train.exclude_seen,
                      user_vectors=m.user_vectors, user_vectors_seed=seed + 6,
                      rank_drop_shown=t.rank_drop_shown,
                      item_session_targets=t.item_targets == "next_session",
                      sse_buckets=length_bucket_bounds(m.max_len) if m.sse_length_buckets
                      else None,
                      name=re.sub(r"[^A-Za-z0-9_.-]", "_", config.name) or "sessionrec")


def compile_model(model: SessionRec, config: ExperimentConfig, build: bool = True
                  ) -> SessionRec:
    """Compile with the configured optimizer; with ``build``, also create the model's and the
    optimizer's variables (skipped under a distribution strategy)."""
    tr = config.train
    optimizer = make_optimizer(tr.learning_rate, tr.weight_decay, tr.clipnorm)
    model.compile(optimizer=optimizer)
    if build and not tf.distribute.has_strategy():
        # variables (model's and optimizer's) exist before fit: its first trace is the only
        # one (otherwise Keras traces the train step twice, ~10 s at tiny size). Under a
        # distribution strategy the caller builds in replica context (see Trainer).
        build_with_dummy_batch(model)
        optimizer.build(model.trainable_variables)
    return model


def build_with_dummy_batch(model: tf.keras.Model) -> None:
    """Create every variable by calling the model (and its loss) on a one-user batch."""
    two = tf.constant([1, 1], tf.int64)
    one_user = tf.constant([2], tf.int64)

    def ragged(values: list[int]) -> tf.RaggedTensor:
        return tf.RaggedTensor.from_nested_row_lengths(
            tf.constant(values, tf.int64), [one_user, two])

    batch: dict[str, Any] = {
        "item_id": ragged([2, 2]),
        "label": ragged([1, 1]),
        "timestamp": ragged([0, 1]),
        "session_timestamp": tf.RaggedTensor.from_row_lengths(
            tf.constant([0, 1], tf.int64), one_user),
    }
    for name in model.embedding.interaction_feature_names:
        batch[name] = ragged([1, 1])
    model(batch)
    model.compute_loss(batch, training=False)
