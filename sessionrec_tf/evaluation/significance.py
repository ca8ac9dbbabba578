"""Is a gap between two models on one split real, or the luck of which users the split holds?

A paired bootstrap over users: both models are measured on the same users
(:meth:`~sessionrec_tf.evaluation.Evaluator.per_user`, each user's metric averaged over the
seeds of a model), the users are resampled with replacement ``rounds`` times, and each round's
relative gap ``100 * (mean(ours) - mean(reference)) / mean(reference)`` is recorded. The
percentile interval of those gaps is the confidence interval of the gap; ``share_not_ahead``
(the rounds where ours is not ahead) reads as a one-sided p-value of "ours is ahead".

By default seeds are not resampled (3 seeds say little about a distribution); the seed
spread is reported beside this in every results table. Given ``[seeds, users]`` arrays
instead, the bootstrap is two-level: each round also resamples each model's seeds with
replacement (independently for the two models), so the interval covers training noise too,
not only which users the split holds. Randomness is seeded (``numpy.random.default_rng(seed)``):
the same inputs give the same interval.

Example::

    ids, ours = Evaluator(model_a, data).per_user("valid")
    _, ref = Evaluator(model_b, data).per_user("valid")
    gap = paired_bootstrap(ours["ndcg@10"], ref["ndcg@10"], rounds=2000, seed=0)
    gap.gap, gap.low, gap.high    # e.g. +8.9, +3.1, +14.6 (percent)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BootstrapGap:
    """The relative gap (percent) of ``ours`` over ``reference`` and its bootstrap interval."""

    users: int
    ours: float
    reference: float
    gap: float
    low: float
    high: float
    level: float
    share_not_ahead: float
    rounds: int
    seeds_resampled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def verdict(self) -> str:
        """``ahead`` / ``behind`` when the interval excludes 0, else ``tie``."""
        return "ahead" if self.low > 0 else "behind" if self.high < 0 else "tie"


def paired_bootstrap(ours: np.ndarray, reference: np.ndarray, rounds: int = 2000,
                     seed: int = 0, level: float = 0.95, chunk: int = 256) -> BootstrapGap:
    """Bootstrap interval of the relative gap of two paired per-user metrics.

    Args:
      ours, reference: ``[U]`` one value per user, the same users in the same order; or
        ``[S, U]`` and ``[S', U]``, one row per seed, to resample the seeds too (module
        docstring).
      rounds: resamples of the users (and seeds).
      seed: seed of the resampling.
      level: coverage of the percentile interval.
      chunk: rounds drawn at once (memory ``chunk * U`` indices).
    """
    a = np.asarray(ours, np.float64)
    b = np.asarray(reference, np.float64)
    two_level = a.ndim == 2
    if a.ndim not in (1, 2) or b.ndim != a.ndim or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"paired values must be two [users] (or [seeds, users]) arrays over "
                         f"the same users, got {a.shape} and {b.shape}")
    a2, b2 = (a, b) if two_level else (a[None], b[None])
    n = a2.shape[1]
    if n < 2:
        raise ValueError(f"a bootstrap over users needs at least 2 users, got {n}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired values must be finite")
    if b.mean() <= 0:
        raise ValueError(f"the reference's mean is {b.mean()}: a relative gap needs a "
                         "positive reference")
    if rounds < 1 or not 0 < level < 1:
        raise ValueError(f"rounds must be >= 1 and level in (0, 1), got {rounds}, {level}")
    rng = np.random.default_rng(seed)
    gaps = np.empty(rounds, np.float64)
    def round_means(x: np.ndarray, idx: np.ndarray, size: int) -> np.ndarray:
        """``[size]`` means over each round's users (``idx``) of each user's value: its
        mean over the round's seed draws (two-level), else the given mean."""
        if not two_level:
            return x[0][idx].mean(axis=1)
        draws = rng.integers(0, len(x), size=(size, len(x)))
        weights = (draws[:, :, None] == np.arange(len(x))).mean(axis=1)  # [size, S]
        return np.take_along_axis(weights @ x, idx, axis=1).mean(axis=1)

    for start in range(0, rounds, chunk):
        size = min(chunk, rounds - start)
        idx = rng.integers(0, n, size=(size, n))
        means = [round_means(x, idx, size) for x in (a2, b2)]
        mean_a, mean_b = means
        with np.errstate(divide="ignore", invalid="ignore"):
            gaps[start:start + size] = 100.0 * (mean_a - mean_b) / mean_b
    # a resample whose reference mean is 0 has no relative gap: it counts as not ahead
    finite = np.where(np.isfinite(gaps), gaps, -np.inf)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return BootstrapGap(
        users=n, ours=float(a.mean()), reference=float(b.mean()),
        gap=float(100.0 * (a.mean() - b.mean()) / b.mean()), low=float(low), high=float(high),
        level=level, share_not_ahead=float(np.mean(finite <= 0)), rounds=rounds,
        seeds_resampled=two_level)
