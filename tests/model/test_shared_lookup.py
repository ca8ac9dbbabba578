"""The retrieval and rank tasks of one step share the positives' embedding lookup."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from conftest import TINY_MODEL

import sessionrec_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads)
from sessionrec_tf.config import load_config
from sessionrec_tf.data import read_dataset
from sessionrec_tf.models import build_model, compile_model
from sessionrec_tf.models import sessionrec as sessionrec_module


def test_positives_are_embedded_once_and_the_loss_is_unchanged(tiny_dataset, monkeypatch):
    # the next-session tasks only (partial-session queries add lookups of their own)
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "task.alpha=0.5", "task.prefix_weight=0"])
    tf.keras.utils.set_random_seed(0)
    model = compile_model(build_model(config, tiny_dataset), config)
    batch = next(iter(read_dataset(tiny_dataset, "train", batch_size=16, deterministic=True,
                                   prefetch=False)))
    model.compute_loss(batch, training=False)  # build
    looked_up = []
    embed = model.embedding.candidates
    monkeypatch.setattr(model.embedding, "candidates",
                        lambda ids: looked_up.append(int(tf.size(ids))) or embed(ids))
    shared = float(model.compute_loss(batch, training=False))
    # positives once, the sampled negatives, the session negatives: 3 lookups, not 4
    assert len(looked_up) == 3
    looked_up.clear()
    monkeypatch.setattr(sessionrec_module, "_SharedLookup", lambda fn: fn)  # no sharing
    plain = float(model.compute_loss(batch, training=False))
    assert len(looked_up) == 4
    np.testing.assert_allclose(shared, plain, rtol=1e-6)
