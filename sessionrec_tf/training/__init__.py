"""Training: the epoch loop with validation, early stopping, checkpoints and resume."""

from sessionrec_tf.data.reader import train_item_counts
from sessionrec_tf.training.run import Run, RunDirectory, git_commit
from sessionrec_tf.training.trainer import Trainer

__all__ = ["Run", "RunDirectory", "Trainer", "git_commit", "train_item_counts"]
