"""Hyper-parameter search on validation (``sessionrec tune``): search spaces, an Optuna
pruning callback for Keras, and the resumable study runner."""

from __future__ import annotations

from sessionrec_tf.tuning.pruning import PruningCallback
from sessionrec_tf.tuning.space import DEFAULT_SPACE, Param, SearchSpace
from sessionrec_tf.tuning.study import tune, tuned_overrides

__all__ = ["DEFAULT_SPACE", "Param", "PruningCallback", "SearchSpace", "tune", "tuned_overrides"]
