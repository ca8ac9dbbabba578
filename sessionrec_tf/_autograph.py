"""AutoGraph leaves this package's code as written.

Inside ``tf.function`` (Keras' training and evaluation steps, ``tf.data`` maps, the exported
signatures) TensorFlow's AutoGraph rewrites every Python function it reaches, so that Python
``if``/``for``/``while`` over tensors become graph control flow. This package does not need
that: its control flow over tensors is explicit (``tf.cond``, ``tf.while_loop``,
``tf.switch_case``), and the rewrite cost seconds per process before the first trace (5.5 s
of the shipped model's first training step on sim_medium, 3.5 s of an export:
``benchmarks/bench_tracing.py``). With :func:`skip_library_code` AutoGraph calls this
package's functions as they are; user code (a custom layer, a user's own ``tf.function``) is
still converted as usual. (A function handed to ``tf.function`` itself is always converted,
e.g. the exported signature's body; what it calls here is not.)

``SESSIONREC_AUTOGRAPH=1`` in the environment turns the rule off (everything converted, as
TensorFlow does by default; for comparisons, ``benchmarks/bench_tracing.py``).

A function here that relied on AutoGraph would fail loudly when traced (TensorFlow's
"using a ``tf.Tensor`` as a Python ``bool``" errors), which the test suite, tracing every
model, export and input pipeline with this rule in place, would show.
"""

from __future__ import annotations

import os

PACKAGE = __name__.split(".")[0]


def skip_library_code() -> None:
    """Add a "do not convert ``sessionrec_tf``" rule in front of AutoGraph's conversion rules
    (once; idempotent). Called when the data path's base module (``data.batch_ops``) is
    imported, which the models, the input pipelines, the evaluator and the exports all import:
    the rule is in place before any of them is traced. A layer traced on its own, without
    them, is converted like user code (same graph, slower trace)."""
    if os.environ.get("SESSIONREC_AUTOGRAPH") == "1":
        return
    from tensorflow.python.autograph.core import config

    for rule in config.CONVERSION_RULES:
        if isinstance(rule, config.DoNotConvert) and rule.matches(PACKAGE):
            return
    config.CONVERSION_RULES = (config.DoNotConvert(PACKAGE), *config.CONVERSION_RULES)
