"""How users and items are scored: dot product, optionally cosine (L2) with a temperature."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class Similarity:
    """``score(u, v) = <f(u), f(v)> / temperature`` with ``f`` = L2 normalisation or identity.

    The HSTU reference uses L2-normalised embeddings with temperature 0.05. Ranking a
    catalog for one user only depends on ``f(v)``, so exported candidate embeddings are
    ``f(v)`` and serving uses a plain dot product.
    """

    l2_normalize: bool = False
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")

    def embed(self, x: tf.Tensor) -> tf.Tensor:
        return tf.math.l2_normalize(x, axis=-1, epsilon=1e-12) if self.l2_normalize else x

    def scale(self, scores: tf.Tensor) -> tf.Tensor:
        return scores / self.temperature if self.temperature != 1.0 else scores
