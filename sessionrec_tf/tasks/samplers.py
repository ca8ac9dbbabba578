"""Negative samplers: uniform over the catalog, uniform over the engaged items (those with a
positive in the training split), or by popularity with log-Q correction.

``engaged`` is for catalogues where many items are only ever negatives (KuaiRand: 64-72% of
the items are disliked and liked by nobody): a uniform sampler spends that share of its
negatives on items no query is near, an engaged one spends none on them and is otherwise
uniform (no popularity shift, constant log-Q).

Both draw with stateless random ops from an explicit ``seed`` (a ``[2]`` int64 tensor), so a
training step's negatives are a pure function of (sampler seed, step): reproducible and
unaffected by interruption and resumption.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.tasks.registry import SAMPLERS


class UniformSampler:
    """Item indices uniform over ``[NUM_RESERVED, num_items)`` (never padding or OOV)."""

    def __init__(self, num_items: int) -> None:
        if num_items <= NUM_RESERVED:
            raise ValueError(f"catalog has no items (vocabulary size {num_items})")
        self.num_items = num_items

    def sample(self, n: int, seed: tf.Tensor) -> tf.Tensor:
        return tf.random.stateless_uniform([n], seed, minval=NUM_RESERVED,
                                           maxval=self.num_items, dtype=tf.int64)

    def log_q(self, ids: tf.Tensor, n: int) -> tf.Tensor:
        """log of the expected number of times ``ids`` appear among ``n`` draws."""
        value = np.log(n / (self.num_items - NUM_RESERVED))
        return tf.fill(tf.shape(ids), tf.constant(value, tf.float32))


class PopularitySampler:
    """Item indices with probability proportional to ``counts ** power`` (inverse CDF).

    Args:
      counts: ``[num_items]`` interaction counts (e.g. positives in the training split).
      power: flattening exponent (word2vec uses 0.75); 1 = proportional to counts.
      smoothing: added to every real item's count so that no item has probability 0.
    """

    def __init__(self, counts: np.ndarray, power: float = 1.0, smoothing: float = 1.0) -> None:
        counts = np.asarray(counts, dtype=np.float64).copy()
        counts[:NUM_RESERVED] = 0.0
        counts[NUM_RESERVED:] += smoothing
        weights = counts ** power
        probs = weights / weights.sum()
        self.num_items = len(counts)
        self.log_probs = tf.constant(np.log(np.maximum(probs, 1e-30)), tf.float32)
        self.cdf = tf.constant(np.cumsum(probs), tf.float64)

    def sample(self, n: int, seed: tf.Tensor) -> tf.Tensor:
        u = tf.random.stateless_uniform([n], seed, dtype=tf.float64)
        ids = tf.searchsorted(self.cdf, u * self.cdf[-1], side="right")
        return tf.clip_by_value(tf.cast(ids, tf.int64), NUM_RESERVED, self.num_items - 1)

    def log_q(self, ids: tf.Tensor, n: int) -> tf.Tensor:
        return tf.gather(self.log_probs, ids) + float(np.log(n))


class EngagedSampler:
    """Item indices uniform over the items with a positive count (never padding or OOV).

    Args:
      counts: ``[num_items]`` positive counts in the training split.
    """

    def __init__(self, counts: np.ndarray) -> None:
        counts = np.asarray(counts)
        ids = np.flatnonzero(counts[NUM_RESERVED:] > 0) + NUM_RESERVED
        if not len(ids):
            raise ValueError("no item has a positive in the training split: nothing to sample")
        self.num_items = len(counts)
        self.size = len(ids)
        self.ids = tf.constant(ids, tf.int64)

    def sample(self, n: int, seed: tf.Tensor) -> tf.Tensor:
        at = tf.random.stateless_uniform([n], seed, minval=0, maxval=self.size, dtype=tf.int64)
        return tf.gather(self.ids, at)

    def log_q(self, ids: tf.Tensor, n: int) -> tf.Tensor:
        """log of the expected number of times an engaged item appears among ``n`` draws
        (constant, so it cancels from the softmax as the uniform sampler's does)."""
        return tf.fill(tf.shape(ids), tf.constant(np.log(n / self.size), tf.float32))


# samplers built from the training split's positive counts
NEEDS_COUNTS = ("popularity", "engaged")


def make_sampler(name: str, num_items: int, counts: np.ndarray | None = None
                 ) -> UniformSampler | PopularitySampler | EngagedSampler:
    if name == "uniform":
        return UniformSampler(num_items)
    if name in NEEDS_COUNTS:
        if counts is None:
            raise ValueError(f"the {name} sampler needs item counts")
        return PopularitySampler(counts) if name == "popularity" else EngagedSampler(counts)
    raise ValueError(SAMPLERS.unknown(name))
