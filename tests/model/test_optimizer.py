"""The fused Adam/AdamW against Keras's own update (dense and sparse gradients)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sessionrec_tf.models.optimizer import FusedAdam, FusedAdamW, make_optimizer


def _train(optimizer: tf.keras.optimizers.Optimizer, steps: int = 5) -> list[np.ndarray]:
    """A few steps on a dense kernel and an embedding table (IndexedSlices gradients)."""
    rng = np.random.default_rng(0)
    kernel = tf.Variable(rng.normal(size=(4, 3)).astype(np.float32))
    table = tf.Variable(rng.normal(size=(6, 3)).astype(np.float32))
    x = tf.constant(rng.normal(size=(5, 4)).astype(np.float32))
    ids = tf.constant([1, 3, 3, 0, 5])

    @tf.function
    def step() -> None:
        with tf.GradientTape() as tape:
            out = tf.matmul(x, kernel) * tf.gather(table, ids)
            loss = tf.reduce_sum(tf.square(out - 0.5))
        grads = tape.gradient(loss, [kernel, table])
        assert isinstance(grads[1], tf.IndexedSlices)
        optimizer.apply_gradients(zip(grads, [kernel, table], strict=True))

    for _ in range(steps):
        step()
    return [kernel.numpy(), table.numpy(), *(v.numpy() for v in optimizer.variables)]


@pytest.mark.parametrize(("fused", "keras", "kwargs"), [
    (FusedAdam, tf.keras.optimizers.Adam, {}),
    (FusedAdam, tf.keras.optimizers.Adam, {"clipnorm": 0.5, "beta_1": 0.8}),
    (FusedAdamW, tf.keras.optimizers.AdamW, {"weight_decay": 0.05}),
])
def test_fused_updates_equal_keras(fused, keras, kwargs):
    ours = _train(fused(learning_rate=0.01, **kwargs))
    reference = _train(keras(learning_rate=0.01, **kwargs))
    assert len(ours) == len(reference)  # same slots (iterations, m, v per variable)
    # the kernel computes 1 - beta in float32 (1 - float32(0.999) = 0.00099999), Keras in
    # Python floats (0.001): the second moment differs by ~1e-5 relative after a few steps
    for a, b in zip(ours, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not np.allclose(ours[0], _train(keras(learning_rate=0.01), steps=0)[0])  # it moved


def test_make_optimizer_picks_adamw_only_with_weight_decay():
    assert type(make_optimizer(1e-3)) is FusedAdam
    opt = make_optimizer(1e-3, weight_decay=1e-4, clipnorm=1.0)
    assert type(opt) is FusedAdamW and opt.weight_decay == 1e-4 and opt.clipnorm == 1.0
