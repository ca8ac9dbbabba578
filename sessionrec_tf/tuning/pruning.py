"""Optuna pruning through a Keras callback: report each epoch's validation, stop bad trials."""

from __future__ import annotations

from typing import Any

import optuna
import tensorflow as tf


class PruningCallback(tf.keras.callbacks.Callback):
    """Reports ``logs[monitor]`` to an Optuna trial at every epoch end and raises
    :class:`optuna.TrialPruned` when the trial's pruner says so.

    Works with :class:`~sessionrec_tf.training.trainer.Trainer` (``callbacks=[...]``, which
    passes ``val_<metric>`` and ``val_selection``) and with plain ``model.fit(...,
    validation_data=...)``.

    Args:
      trial: the Optuna trial.
      monitor: the log key to report (default: the Trainer's selection value).
    """

    def __init__(self, trial: optuna.Trial, monitor: str = "val_selection") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(f"PruningCallback: {self.monitor!r} is not in the epoch logs "
                           f"{sorted(logs)}")
        value = float(logs[self.monitor])
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"epoch {epoch + 1}: {self.monitor} {value:.4f} is below "
                                     "the median of earlier trials at this epoch")
