"""``model.fit`` one epoch at a time, with validation, early stopping, checkpoints, resume.

Each epoch is a ``model.fit`` call on that epoch's data, whose shuffle order is a pure
function of ``(seed, epoch)``. Every ``checkpoint_every_steps`` steps and at every epoch end
the whole training state is saved (model weights, optimizer slots, the dropout and sampling
counters, epoch and step, early-stopping state). Running the same command again resumes from
the latest checkpoint: a run killed mid-epoch continues at the step after its last
checkpoint. Because all training randomness is stateless and keyed by checkpointed counters,
a run interrupted at an epoch boundary or mid-epoch and resumed ends with the same weights as
an uninterrupted one (with ``deterministic: true``).

Resume is this checkpoint plus skipping the epoch's trained batches in the input, not
``tf.keras.callbacks.BackupAndRestore``: on restore with ``save_freq=N`` Keras restarts the
step count at the saved batch but feeds the dataset from its first batch (the epoch's first
batches are trained twice, its last ones never), it deletes its backup at the end of every
``fit`` call (here one per epoch, with validation between) and it does not hold the
early-stopping state or the best weights. ``tests/training/test_training.py`` checks that a
mid-epoch resume gives the uninterrupted weights.

After each epoch the validation split of ``train.protocol`` is evaluated over the full catalog;
the best epoch by ``early_stopping_metric`` is kept in ``best/``, and training stops after
``early_stopping_patience`` epochs without improvement (not before
``early_stopping_start_epoch`` epochs). With ``early_stopping_window = w > 1`` an epoch is
judged by the mean of the metric over the last ``w`` epochs (fewer at the start), which
smooths out single-epoch spikes on small validation sets; the weights kept are those of the
last epoch of the best window.

An epoch ends in two phases, so a kill at any point leaves history, checkpoint and best
weights agreeing: the epoch's record (``history.json``, written atomically) and, if it is the
new best, its weights (``best_pending_<epoch>/``) are written first; the epoch checkpoint
(which holds the epoch counter and the early-stopping state) is the commit point; then the
pending best weights replace ``best/``. On resume, records after the checkpoint's epoch are
dropped (that epoch runs again) and a pending best is promoted if the checkpoint committed it,
discarded if not. A run directory holding no checkpoint and no best weights (a run that
failed before its first checkpoint) is replaced by the next command, whatever its config.

Under a ``tf.distribute`` strategy (``train.strategy``, :mod:`~sessionrec_tf.training.strategy`)
the model, optimizer and counters live in the strategy's scope and each epoch's input comes
from ``strategy.distribute_datasets_from_function`` (per-replica batch = global batch /
replicas, the pipelines' shares given by ``train.input_sharding``). Validation runs on a
host-local copy of the model, given the trained weights after each epoch: the ragged
validation batches never cross replicas (tf-keras#76), and every worker computes the same
numbers, so all workers take the same early-stopping decisions without exchanging them
(each worker evaluates the whole validation split). Only the chief writes the run directory.

``callbacks`` (Keras callbacks) get ``on_epoch_end(epoch, logs)`` after each validation, with
``logs`` = ``{"val_<metric>": value, ..., "val_selection": the windowed value}``: e.g. a
hyper-parameter search's pruning callback (:mod:`sessionrec_tf.tuning`).
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from sessionrec_tf.config import ExperimentConfig
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.reader import read_dataset, train_item_counts
from sessionrec_tf.models.builder import build_model, build_with_dummy_batch, compile_model
from sessionrec_tf.models.sessionrec import SessionRec
from sessionrec_tf.tasks.samplers import NEEDS_COUNTS
from sessionrec_tf.training.run import RunDirectory, best_prefix
from sessionrec_tf.training.strategy import (
    input_shard,
    is_chief,
    make_strategy,
    per_replica_batch_size,
    wait_for_all_workers,
    worker_id,
)

# validation batches are cached in memory when the dataset's shards total at most this
VALID_CACHE_MAX_BYTES = 256 * 2**20


class _StepCheckpoint(tf.keras.callbacks.Callback):
    """Save the training state every ``every`` steps (step counted within the epoch)."""

    def __init__(self, save: Callable[[int], None], every: int, offset: int) -> None:
        super().__init__()
        self.save, self.every, self.offset = save, every, offset

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = self.offset + batch + 1
        if self.every and step % self.every == 0:
            self.save(step)


class Trainer:
    """Train ``config`` on ``data`` into ``run_dir`` (resuming if it holds this run).

    Args:
      config: the experiment.
      data: the prepared dataset.
      run_dir: the run directory (created; resumed if it holds the same config and data).
      overwrite: start over even if ``run_dir`` holds a run.
      verbose: Keras progress bar verbosity (1 bar, 2 one line per epoch, 0 silent).
      log: where messages go.
      callbacks: Keras callbacks told of every epoch's validation (see the module docstring).
    """

    def __init__(self, config: ExperimentConfig, data: PreparedDataset, run_dir: str | Path,
                 overwrite: bool = False, verbose: int = 1,
                 log: Callable[[str], None] = print,
                 callbacks: Sequence[tf.keras.callbacks.Callback] = ()) -> None:
        # first: a multi-worker strategy must exist before TensorFlow runs any op
        self.strategy = make_strategy(config.train.strategy)
        self.distributed = config.train.strategy != "default"
        self.chief = is_chief(self.strategy)
        self.config = config
        self.callbacks = list(callbacks)
        self.data = data
        self.run_dir = Path(run_dir)
        self.verbose = verbose if self.chief else 0
        self.log = log if self.chief else (lambda message: None)
        # the chief writes the run directory; another worker follows it read-only, writes its
        # share of each checkpoint to a private directory and reads the chief's to resume
        self.save_dir = self.run_dir
        if self.chief:
            self.directory = RunDirectory.prepare(self.run_dir, config, data, overwrite, log)
        else:
            self.directory = RunDirectory.follow(self.run_dir, config)
            self.save_dir = Path(tempfile.mkdtemp(
                prefix=f"sessionrec-{worker_id(self.strategy)}-"))
        try:
            self.directory.update_info(status="training")
            self._setup()
        except BaseException:
            self.directory.discard_if_empty()
            self._remove_scratch()
            raise

    def _remove_scratch(self) -> None:
        """A worker's private checkpoint directory (the chief has none)."""
        if self.save_dir != self.run_dir:
            shutil.rmtree(self.save_dir, ignore_errors=True)

    def _setup(self) -> None:
        config, data = self.config, self.data
        tr = config.train
        if tr.deterministic:
            tf.config.experimental.enable_op_determinism()
        tf.keras.utils.set_random_seed(tr.seed)
        # counted once here for both models below (build_model would count them itself)
        counts = train_item_counts(data, tr.protocol) if config.task.sampler in NEEDS_COUNTS \
            else None
        per_replica_batch_size(self.strategy, tr.batch_size)  # checks that it divides
        with self.strategy.scope():
            # built below, in replica context (compile_model's own build would repeat it)
            self.model: SessionRec = compile_model(build_model(config, data, counts), config,
                                                   build=False)
        # under the strategy, in replica context: the tasks' losses all-reduce their row counts
        self.strategy.run(lambda: build_with_dummy_batch(self.model))
        with self.strategy.scope():
            self.state = {
                "epoch": tf.Variable(0, dtype=tf.int64, trainable=False),
                "step": tf.Variable(0, dtype=tf.int64, trainable=False),
                "best": tf.Variable(-np.inf, dtype=tf.float64, trainable=False),
                "best_epoch": tf.Variable(-1, dtype=tf.int64, trainable=False),
                "wait": tf.Variable(0, dtype=tf.int64, trainable=False),
            }
            self.model.optimizer.build(self.model.trainable_variables)
            self.checkpoint = tf.train.Checkpoint(model=self.model,
                                                  optimizer=self.model.optimizer, **self.state)
        self.manager = tf.train.CheckpointManager(self.checkpoint,
                                                  str(self.save_dir / "checkpoints"),
                                                  max_to_keep=2)
        # validation (and the best weights) on a host-local copy under a strategy
        self.eval_model: SessionRec = self.model
        if self.distributed:
            self.eval_model = compile_model(build_model(config, data, counts), config)
        self.best_checkpoint = tf.train.Checkpoint(model=self.eval_model)
        self.steps_per_epoch = tr.steps_per_epoch or math.ceil(
            data.counts["users"] / tr.batch_size)
        self._valid: tf.data.Dataset | None = None
        latest = tf.train.latest_checkpoint(str(self.run_dir / "checkpoints"))
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            self.log(f"resuming {self.run_dir} from {latest}: epoch "
                     f"{self._count('epoch')}, step {self._count('step')}")
        self.history: list[dict[str, Any]] = self.directory.recover(
            self._count("epoch"), self._count("best_epoch"), self.log)

    def _count(self, name: str) -> int:
        """A counter of the training state (``epoch``, ``step``, ``best_epoch``, ``wait``)."""
        return int(self.state[name].numpy())  # .numpy(): a MirroredVariable under a strategy

    def _best(self) -> float:
        return float(self.state["best"].numpy())

    def _save(self, epoch: int, step: int) -> None:
        self.state["epoch"].assign(epoch)
        self.state["step"].assign(step)
        self.manager.save(checkpoint_number=epoch * self.steps_per_epoch + step)

    # ------------------------------------------------------------------ training
    def epoch_dataset(self, epoch: int, skip: int) -> tf.data.Dataset:
        """Epoch ``epoch``'s batches after step ``skip`` (distributed under a strategy)."""
        tr = self.config.train
        steps = self.steps_per_epoch - skip

        def make(context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
            size, shard, per_step = tr.batch_size, None, 1
            if context is not None:
                size = context.get_per_replica_batch_size(tr.batch_size)
                shard = input_shard(context, tr.batch_size, tr.input_sharding)
                # a pipeline feeds its replicas one batch each per step
                per_step = context.num_replicas_in_sync // context.num_input_pipelines
            ds = read_dataset(self.data, "train", tr.protocol, size, shuffle=True,
                              seed=tr.seed, epoch=epoch, repeat=tr.steps_per_epoch is not None,
                              shuffle_buffer=tr.shuffle_buffer, shard=shard)
            return ds.skip(skip * per_step).take(steps * per_step)

        if not self.distributed:
            return make()
        return self.strategy.distribute_datasets_from_function(make)

    def validation_dataset(self) -> tf.data.Dataset:
        """The validation batches, built once per trainer and reused every epoch.

        Building a pipeline traces its parse function again (~1-2 s on one thread for
        KuaiRand, as long as the evaluation itself); the parsed batches are also cached in
        memory when the dataset's shards total at most ``VALID_CACHE_MAX_BYTES``.
        """
        if self._valid is None:
            tr = self.config.train
            valid = read_dataset(self.data, "valid", tr.protocol, tr.eval_batch_size,
                                 deterministic=True, prefetch=False)
            if sum(Path(f).stat().st_size for f in self.data.files) <= VALID_CACHE_MAX_BYTES:
                valid = valid.cache()
            self._valid = valid.prefetch(tf.data.AUTOTUNE)
        return self._valid

    def validate(self) -> dict[str, float]:
        valid = self.validation_dataset()
        if self.eval_model is not self.model:
            self.eval_model.set_weights(self.model.get_weights())
        for metric in self.eval_model.metrics:
            metric.reset_state()
        result = self.eval_model.evaluate(valid, verbose=0, return_dict=True)
        return {k: float(v) for k, v in result.items()}

    def _should_stop(self) -> bool:
        tr = self.config.train
        return (self._count("wait") >= tr.early_stopping_patience
                and self._count("epoch") >= tr.early_stopping_start_epoch)

    def run(self) -> dict[str, Any]:
        """Train to the configured number of epochs or early stop; return the summary."""
        try:
            return self._run()
        except BaseException:
            self.directory.discard_if_empty()
            raise
        finally:
            self._remove_scratch()

    def _run(self) -> dict[str, Any]:
        tr = self.config.train
        metric = tr.early_stopping_metric
        directory = self.directory
        # TensorBoard logs: the chief's
        writer = tf.summary.create_file_writer(str(self.run_dir / "tensorboard" / "validation")) \
            if self.chief else None
        keras_callbacks: list[tf.keras.callbacks.Callback] = [tf.keras.callbacks.TensorBoard(
            str(self.run_dir / "tensorboard"), update_freq="epoch", profile_batch=0)
        ] if self.chief else []
        t_start = time.time()
        stopped_early = False
        while self._count("epoch") < tr.epochs:
            epoch, skip = self._count("epoch"), self._count("step")
            if self._should_stop():
                stopped_early = True
                break
            t0 = time.time()
            saver = _StepCheckpoint(lambda s, e=epoch: self._save(e, s),
                                    tr.checkpoint_every_steps, skip)
            # steps_per_epoch must be explicit: without it Keras calls the train function once
            # more and aborts it at OutOfRange, and that aborted call still advances every
            # data-independent counter (optimizer iterations, dropout and sampling streams).
            fit = self.model.fit(self.epoch_dataset(epoch, skip), epochs=epoch + 1,
                                 initial_epoch=epoch, verbose=self.verbose,
                                 steps_per_epoch=self.steps_per_epoch - skip,
                                 callbacks=[saver, *keras_callbacks])
            train_seconds = time.time() - t0
            for callback in keras_callbacks:
                # one fit() per epoch: the TensorBoard callback would write the training graph
                # (3.6 MB on the demo preset) into a new event file every epoch
                callback.write_graph = False
            val = self.validate()
            if metric not in val:
                raise DataError(f"early_stopping_metric {metric!r} is not computed; "
                                f"available: {sorted(val)}")
            values = [*(h["valid"][metric] for h in self.history), val[metric]]
            score = float(np.mean(values[max(0, len(values) - tr.early_stopping_window):]))
            improved = score > self._best()
            if improved:
                self.state["best"].assign(score)
                self.state["best_epoch"].assign(epoch)
                self.state["wait"].assign(0)
                directory.write_best(self.best_checkpoint, epoch)
            else:
                self.state["wait"].assign_add(1)
            record = {"epoch": epoch + 1, "train_seconds": round(train_seconds, 2),
                      "train": {k: float(v[-1]) for k, v in fit.history.items()},
                      "valid": val, "selection": score, "best": bool(improved)}
            self.history.append(record)
            directory.write_history(self.history)
            self._save(epoch + 1, 0)  # the commit point of the epoch
            if improved:
                directory.promote_best(epoch)
            if writer is not None:
                with writer.as_default():
                    for k, v in val.items():
                        tf.summary.scalar(f"valid/{k}", v, step=epoch + 1)
            self.log(f"epoch {epoch + 1}: valid {metric} {val[metric]:.4f} "
                     f"(best {self._best():.4f} at epoch "
                     f"{self._count('best_epoch') + 1}); {train_seconds:.1f}s training")
            logs = {**{f"val_{k}": v for k, v in val.items()}, "val_selection": score}
            for callback in self.callbacks:
                callback.on_epoch_end(epoch, logs)
        if self._should_stop():
            stopped_early = True
        # Every worker decides alike from the (mirrored) training state, not from the best
        # weights' files: the chief may be replacing best/ right now (promote_best), and a
        # worker that skipped the collective set_weights below would leave the chief's hanging.
        # The barrier lets the chief finish promoting before the other workers read best/.
        wait_for_all_workers(self.strategy)
        if self._count("best_epoch") >= 0:
            self.best_checkpoint.read(best_prefix(self.run_dir)).assert_existing_objects_matched()
            if self.eval_model is not self.model:
                self.model.set_weights(self.eval_model.get_weights())
        # set_weights is the last collective op: no worker may exit before all have finished it
        wait_for_all_workers(self.strategy)
        summary = {
            "status": "finished",
            "epochs_run": self._count("epoch"),
            "stopped_early": stopped_early,
            "best_epoch": self._count("best_epoch") + 1,
            f"best_valid_{metric}": self._best(),
            "seconds_this_session": round(time.time() - t_start, 2),
        }
        directory.update_info(**summary)
        return summary
