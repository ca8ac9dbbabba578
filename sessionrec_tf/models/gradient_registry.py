"""Release the gradient functions that ``tf.custom_gradient`` registers while a step is traced.

In graph mode (inside ``tf.function``), every call of a ``tf.custom_gradient`` function
(``tf.nn.silu`` is one; so is :func:`sessionrec_tf.sse.hstu.masked_biases`) registers a
gradient function under a fresh name (``CustomGradient-<uid>``) in TensorFlow's global
gradient registry, and its closure holds tensors of the traced graph. Nothing ever removes
it (tensorflow/tensorflow#97697, open in the pinned TensorFlow 2.20), so every traced
training step stays in memory for the life of the process: each training of a search, an
experiment runner or a test suite added 50-280 MB.

The registry entries are read only while gradients are BUILT (``tape.gradient``, or
``tf.gradients`` of a nested graph during that call); a traced step whose backward graph is
built no longer needs them. :func:`released_custom_gradients` drops the entries registered
inside its block, so a step traced in it is freed with its function::

    with released_custom_gradients():
        with tf.GradientTape() as tape:
            loss = model.compute_loss(batch, training=True)
        grads = tape.gradient(loss, model.trainable_variables)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tensorflow.python.framework import ops

CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


def _registry() -> dict[str, object] | None:
    """TensorFlow's name -> gradient-function table, or None if this TensorFlow has none."""
    table = getattr(ops.gradient_registry, "_registry", None)
    return table if isinstance(table, dict) else None


@contextlib.contextmanager
def released_custom_gradients() -> Iterator[None]:
    """Within the block, register custom gradients as usual; on exit, drop those it added.

    Build the backward pass (``tape.gradient``) INSIDE the block: a gradient function
    released before it is used is an error (``LookupError: No gradient defined``).
    """
    table = _registry()
    before = set(table) if table is not None else set()
    try:
        yield
    finally:
        if table is not None:
            for name in [n for n in table if n not in before]:
                if name.startswith(CUSTOM_GRADIENT_PREFIX):
                    del table[name]
