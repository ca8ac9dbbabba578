"""model.fit / evaluate on the reader's dataset; determinism; resume (in process and killed)."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import PAPER_OPTIONS, REPO, SHIPPED_OPTIONS, TINY_MODEL
from tensorflow.python.framework.func_graph import FuncGraph

from sessionrec_tf.config import ConfigError, load_config
from sessionrec_tf.data import DataError, PrepareOptions, prepare_dataset, read_dataset
from sessionrec_tf.models import build_model, compile_model
from sessionrec_tf.training import Run, RunDirectory, Trainer
from sessionrec_tf.training import trainer as trainer_module
from sessionrec_tf.training.run import best_prefix


class _TFWarnings(logging.Handler):
    """Collects what TensorFlow's Python logger writes (it does not propagate to root)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> _TFWarnings:
        tf.get_logger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        tf.get_logger().removeHandler(self)


def _weights(model: tf.keras.Model) -> list[np.ndarray]:
    """The model's weights; metric accumulators (reset before every validation, and the
    ranking metric's are not checkpointed) are not model state."""
    metric_state = {id(v) for m in model.metrics for v in m.variables}
    return [w.numpy() for w in model.weights if id(w) not in metric_state]


def _step_graphs() -> list[FuncGraph]:
    """The live traced Keras train/test steps of this process."""
    return [g for g in gc.get_objects() if isinstance(g, FuncGraph)
            and g.name.startswith(("train_function", "test_function"))]


def test_fit_evaluate_and_user_tower(tiny_dataset):
    earlier_steps = weakref.WeakSet(_step_graphs())
    config = load_config("sessionrec_hstu", [*TINY_MODEL, *SHIPPED_OPTIONS])
    tf.keras.utils.set_random_seed(0)
    model = compile_model(build_model(config, tiny_dataset), config)
    train = read_dataset(tiny_dataset, "train", batch_size=32)
    history = model.fit(train, epochs=2, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[1] < losses[0]
    assert {"retrieval_loss", "rank_loss", "users_without_target"} <= set(history.history)
    # compile_model created the variables: fit traces its step once, not twice
    assert model.train_function.experimental_get_tracing_count() == 1
    result = model.evaluate(read_dataset(tiny_dataset, "valid", batch_size=64), verbose=0,
                            return_dict=True)
    for k in (10, 100):
        assert 0.0 <= result[f"recall@{k}"] <= 1.0
        assert 0.0 <= result[f"ndcg@{k}"] <= 1.0
    batch = next(iter(read_dataset(tiny_dataset, "test", batch_size=5, deterministic=True)))
    users = model(batch)
    # the shipped config gives each user several vectors: [batch, user_vectors, d]
    assert config.model.user_vectors == 2 and users.shape == (5, 2, 16)
    # cosine similarity (l2_normalize): every user vector has unit norm
    np.testing.assert_allclose(tf.norm(users, axis=-1).numpy(), 1.0, rtol=1e-5)
    assert model.candidate_embeddings().shape == (tiny_dataset.num_items, 16)
    # the traced steps go with the model (HSTU's custom gradients are released after each
    # trace: tensorflow#97697 kept every trained model's graphs alive for the process)
    steps = [weakref.ref(g) for g in _step_graphs() if g not in earlier_steps]
    assert len(steps) >= 2  # train and test
    del model, history, users
    gc.collect()
    assert [s for s in steps if s() is not None] == []


def _train(data, run_dir: Path, epochs: int, extra: list[str] | None = None) -> Trainer:
    # the shipped options: resumed runs must also repeat the partial-session cuts
    config = load_config("sessionrec_hstu", [
        *TINY_MODEL, *SHIPPED_OPTIONS, f"train.epochs={epochs}", "train.deterministic=true",
        "train.early_stopping_patience=10", *(extra or [])])
    trainer = Trainer(config, data, run_dir, verbose=0, log=lambda _m: None)
    trainer.run()
    return trainer


@pytest.fixture(scope="session")
def uninterrupted_two_epochs(tiny_dataset, tmp_path_factory):
    """The uninterrupted 2-epoch reference run of the resume tests: (trainer, run dir).
    Session scope: a module-scoped fixture is set up again each time a pytest-xdist worker
    comes back to this module after tests of another (three trainings instead of one)."""
    run_dir = tmp_path_factory.mktemp("boundary") / "ref"
    return _train(tiny_dataset, run_dir, 2), run_dir


def test_deterministic_runs_and_resume_at_the_boundary_and_mid_epoch(
        tiny_dataset, tmp_path, monkeypatch, uninterrupted_two_epochs):
    """A run interrupted after epoch 1, resumed, stopped again inside epoch 2 and resumed
    from that step checkpoint ends with the uninterrupted run's weights, bit for bit (so runs
    are deterministic, and the mid-epoch resume trains on the batches it had not seen); a
    different seed gives different weights. (Keras' ``BackupAndRestore(save_freq=N)`` does
    not: on restore its DataHandler restarts the STEP count at the saved batch but feeds the
    dataset from its first batch, so the epoch's first batches are trained twice and its last
    ones never; the Trainer skips them in the input.)"""
    a = _weights(uninterrupted_two_epochs[0].model)
    every = 2  # checkpoints every 2 steps (saving does not change the training)
    assert -(-tiny_dataset.counts["users"] // 32) > every + 1  # the stop lies inside epoch 2
    extra = [f"train.checkpoint_every_steps={every}"]
    _train(tiny_dataset, tmp_path / "c", 1, extra)  # interrupted at the epoch boundary
    save = trainer_module._StepCheckpoint.on_train_batch_end
    calls = {"n": 0}

    class Stop(Exception):
        pass

    def stop_after_the_mid_epoch_save(self, batch, logs=None):
        save(self, batch, logs)
        calls["n"] += 1
        if calls["n"] == every:  # epoch 2, right after its first checkpoint
            raise Stop

    with monkeypatch.context() as patch:
        patch.setattr(trainer_module._StepCheckpoint, "on_train_batch_end",
                      stop_after_the_mid_epoch_save)
        with pytest.raises(Stop):
            _train(tiny_dataset, tmp_path / "c", 2, extra)
    messages: list[str] = []
    config = load_config("sessionrec_hstu", [
        *TINY_MODEL, *SHIPPED_OPTIONS, "train.epochs=2", "train.deterministic=true",
        "train.early_stopping_patience=10", *extra])
    resumed = Trainer(config, tiny_dataset, tmp_path / "c", verbose=0, log=messages.append)
    assert any(f"epoch 1, step {every}" in m for m in messages), messages
    resumed.run()
    c = _weights(resumed.model)
    assert all(np.array_equal(x, y) for x, y in zip(a, c))
    history = json.loads((tmp_path / "c" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    # a different seed gives different weights (the comparison above can fail)
    d = _weights(_train(tiny_dataset, tmp_path / "d", 2, ["train.seed=5"]).model)
    assert not all(np.array_equal(x, y) for x, y in zip(a, d))


@pytest.mark.parametrize("sampler", ["popularity", "engaged"])
def test_count_sampler_run_restores(tiny_dataset, tmp_path, sampler):
    # these samplers need the training split's item counts: a restored run (for evaluation,
    # export) rebuilds them from the dataset instead of failing
    trainer = _train(tiny_dataset, tmp_path / "p", 1, [f"task.sampler={sampler}"])
    model, _ = Run.load(tmp_path / "p").restore()
    batch = next(iter(read_dataset(tiny_dataset, "test", batch_size=4, deterministic=True)))
    np.testing.assert_allclose(model(batch).numpy(), trainer.model(batch).numpy(), atol=1e-6)
    # the same negative distribution as in training
    got, want = model.retrieval.sampler, trainer.model.retrieval.sampler
    attribute = "log_probs" if sampler == "popularity" else "ids"
    np.testing.assert_array_equal(getattr(got, attribute).numpy(),
                                  getattr(want, attribute).numpy())


def test_uniform_rank_negatives_train_and_restore_their_stream(tiny_dataset, tmp_path):
    # the rank-loss control draws its own negatives: its step counter is checkpointed (a
    # resumed run continues the stream), in the main and the partial-session rank tasks
    trainer = _train(tiny_dataset, tmp_path / "u", 1, ["task.rank_negatives=uniform"])
    model, _ = Run.load(tmp_path / "u").restore()
    for name in ("rank", "prefix_rank"):
        steps = int(getattr(trainer.model, name).counter.numpy())
        assert steps > 0
        assert int(getattr(model, name).counter.numpy()) == steps
    assert trainer.model.rank.negatives == "uniform"
    batch = next(iter(read_dataset(tiny_dataset, "test", batch_size=4, deterministic=True)))
    np.testing.assert_allclose(model(batch).numpy(), trainer.model(batch).numpy(), atol=1e-6)


def test_run_directory_and_bad_inputs(tiny_dataset, tmp_path):
    trainer = _train(tiny_dataset, tmp_path / "r", 1)
    run = Run.load(tmp_path / "r")
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["status"] == "finished" and info["vocab_sizes"] == tiny_dataset.vocab_sizes
    assert run.config == trainer.config
    with _TFWarnings() as warnings:
        restored, _ = run.restore()
        del restored
        gc.collect()  # the checkpoint's reader warns about unused values when it is deleted
    # the best checkpoint also holds the optimizer's slots, which inference does not build:
    # restoring must not print a warning per slot
    assert not [m for m in warnings.messages if "could not be found" in m], warnings.messages[:3]
    model, _ = run.restore()
    batch = next(iter(read_dataset(tiny_dataset, "test", batch_size=4, deterministic=True)))
    np.testing.assert_allclose(model(batch).numpy(), trainer.model(batch).numpy(), atol=1e-6)
    # a different config in the same run directory is refused
    config = load_config("sessionrec_hstu", [*TINY_MODEL, *SHIPPED_OPTIONS,
                                             "train.deterministic=true",
                                             "train.early_stopping_patience=10",
                                             "model.sse=gru"])
    # (switching the SSE also resets the shipped config's HSTU-only option sse_gating)
    with pytest.raises(DataError, match=r"different config \(differs in \['model.sse', "
                                        r"'model.sse_gating'\]\)"):
        Trainer(config, tiny_dataset, tmp_path / "r", verbose=0)
    # a dataset with other vocabularies is refused
    other = prepare_dataset("synthetic", None, tmp_path / "other",
                            {"size": "tiny", "seed": 1, "num_items": 300}, PrepareOptions(),
                            progress=False, log=None)
    with pytest.raises(DataError, match="different vocabularies"):
        run.restore(other.path)
    # not a run / no weights
    with pytest.raises(DataError, match="is not a run directory"):
        Run.load(tmp_path)
    (tmp_path / "r" / "best").rename(tmp_path / "r" / "gone")
    with pytest.raises(DataError, match="has no weights yet"):
        _ = Run.load(tmp_path / "r").weights_prefix


def test_killed_mid_epoch_run_resumes(tiny_dataset, tmp_path):
    """Kill a `sessionrec train` subprocess mid-epoch; the same command resumes and finishes."""
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sessionrec_tf.cli", "train", "--data", str(tiny_dataset.path),
           "--config", "sessionrec_hstu", "--output", str(run_dir), "--verbose", "0"]
    for s in [*TINY_MODEL, "train.batch_size=4", "train.checkpoint_every_steps=3",
              "train.epochs=1"]:
        cmd += ["--set", s]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    ckpt_dir = run_dir / "checkpoints"
    deadline = time.time() + 240
    saved_step = None
    while time.time() < deadline and proc.poll() is None:
        latest = tf.train.latest_checkpoint(str(ckpt_dir)) if ckpt_dir.exists() else None
        if latest and int(latest.rsplit("-", 1)[1]) >= 6:
            saved_step = int(latest.rsplit("-", 1)[1])
            break
        time.sleep(0.2)
    assert saved_step is not None, f"no mid-epoch checkpoint: {proc.communicate()[0][-2000:]}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    steps_per_epoch = -(-tiny_dataset.counts["users"] // 4)
    assert saved_step < steps_per_epoch  # killed inside epoch 1
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "resuming" in out.stdout and "epoch 0, step" in out.stdout
    resumed_step = int(out.stdout.split("epoch 0, step ")[1].split()[0])
    assert resumed_step >= 6 and resumed_step % 3 == 0
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "finished" and info["epochs_run"] == 1


def test_one_optimizer_step_per_batch(tiny_dataset, tmp_path):
    """Regression: fit without steps_per_epoch ran one extra, aborted step per epoch that
    still advanced the optimizer's iterations and the sampling/dropout counters."""
    trainer = _train(tiny_dataset, tmp_path / "steps", 2)
    assert int(trainer.model.optimizer.iterations) == 2 * trainer.steps_per_epoch
    assert int(trainer.model.retrieval.counter) == 2 * trainer.steps_per_epoch
    # ragged batches of any size reuse one traced train/test function (no retracing)
    assert trainer.model.train_function.experimental_get_tracing_count() == 1
    assert trainer.model.test_function.experimental_get_tracing_count() == 1
    # TensorBoard: one event file per fit() (one per epoch), the graph in the first only
    import tensorflow as tf

    files = sorted((tmp_path / "steps" / "tensorboard" / "train").iterdir())
    graphs = [sum(e.HasField("graph_def") for e in tf.compat.v1.train.summary_iterator(str(f)))
              for f in files]
    assert len(files) == 2 and sorted(graphs) == [0, 1]


@pytest.mark.parametrize("start_epoch,epochs_run", [(0, 3), (5, 5), (2, 3)])
def test_early_stopping_waits_for_the_start_epoch(tiny_dataset, tmp_path, monkeypatch,
                                                   start_epoch, epochs_run):
    """Scripted validation: an early peak at epoch 1, then flat. Patience 2 stops after
    epoch 3 unless early_stopping_start_epoch holds it longer; the best epoch stays 1."""
    scripted = iter([0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    monkeypatch.setattr(Trainer, "validate", lambda self: {"recall@100": next(scripted)})
    config = load_config("sessionrec_hstu", [
        *TINY_MODEL, "train.epochs=8", "train.early_stopping_patience=2",
        f"train.early_stopping_start_epoch={start_epoch}"])
    summary = Trainer(config, tiny_dataset, tmp_path / "run", verbose=0,
                      log=lambda _m: None).run()
    assert summary["epochs_run"] == epochs_run
    assert summary["stopped_early"] and summary["best_epoch"] == 1


@pytest.mark.parametrize("window,best_epoch,best", [(1, 2, 0.5), (3, 6, 0.31)])
def test_windowed_selection_ignores_a_one_epoch_spike(tiny_dataset, tmp_path, monkeypatch,
                                                      window, best_epoch, best):
    """Scripted validation with a spike at epoch 2; trailing means of 3 (numpy below) pick
    epoch 6. Every epoch's values reach the Trainer's Keras callbacks."""
    values = [0.1, 0.5, 0.1, 0.3, 0.32, 0.31, 0.05, 0.05]
    scripted = iter(values)
    monkeypatch.setattr(Trainer, "validate", lambda self: {"recall@100": next(scripted)})
    seen = []

    class Record(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, dict(logs)))

    config = load_config("sessionrec_hstu", [
        *TINY_MODEL, "train.epochs=8", "train.early_stopping_patience=8",
        f"train.early_stopping_window={window}"])
    summary = Trainer(config, tiny_dataset, tmp_path / "run", verbose=0, log=lambda _m: None,
                      callbacks=[Record()]).run()
    trailing = [np.mean(values[max(0, i + 1 - window):i + 1]) for i in range(len(values))]
    assert int(np.argmax(trailing)) + 1 == best_epoch
    assert summary["best_epoch"] == best_epoch
    assert summary["best_valid_recall@100"] == pytest.approx(best)
    assert [e for e, _ in seen] == list(range(8))
    assert [logs["val_recall@100"] for _, logs in seen] == pytest.approx(values)
    assert [logs["val_selection"] for _, logs in seen] == pytest.approx(trailing)


def test_a_run_directory_with_glob_characters_is_refused(tiny_dataset, tmp_path):
    config = load_config("sessionrec_hstu", TINY_MODEL)
    with pytest.raises(DataError, match=r"contains \[\]: TensorFlow reads checkpoints"):
        Trainer(config, tiny_dataset, tmp_path / "run [a]", verbose=0, log=lambda _m: None)
    assert not (tmp_path / "run [a]").exists()


def test_early_stopping_window_must_be_positive():
    with pytest.raises(ConfigError, match="train.early_stopping_window: must be >= 1"):
        load_config("sessionrec_hstu", ["train.early_stopping_window=0"])


@pytest.mark.parametrize("cache_limit", [256 * 2**20, 0])
def test_validation_pipeline_is_built_once_and_matches_a_fresh_one(tiny_dataset, tmp_path,
                                                                   monkeypatch, cache_limit):
    """The trainer builds its validation batches once (cached in memory below the size
    limit) and every epoch's validation equals one over a freshly built pipeline."""
    import sessionrec_tf.training.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "VALID_CACHE_MAX_BYTES", cache_limit)
    built = []
    real_read = trainer_module.read_dataset

    def counting_read(data, split, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        built.append(split)
        return real_read(data, split, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "read_dataset", counting_read)
    trainer = _train(tiny_dataset, tmp_path / "valid_once", 3)
    assert built.count("valid") == 1 and built.count("train") == 3
    tr = trainer.config.train
    fresh = trainer.model.evaluate(
        real_read(tiny_dataset, "valid", tr.protocol, tr.eval_batch_size, deterministic=True),
        verbose=0, return_dict=True)
    reused = trainer.validate()
    assert reused.keys() == fresh.keys()
    for k in fresh:
        np.testing.assert_allclose(reused[k], fresh[k], rtol=1e-6, err_msg=k)
    assert reused == trainer.validate()  # a second pass over the (cached) batches


class _Killed(Exception):
    """Stands for a kill at one point of the epoch end."""


def _kill_once(monkeypatch, name: str, when, owner: type = Trainer) -> None:
    """Make ``owner.<name>`` (a Trainer or RunDirectory method) raise once, the first time
    ``when(*args)`` holds."""
    original = getattr(owner, name)
    fired = []

    def wrapper(self, *args):
        if not fired and when(*args):
            fired.append(args)
            raise _Killed(name)
        return original(self, *args)

    monkeypatch.setattr(owner, name, wrapper)


@pytest.mark.parametrize("point", ["before_checkpoint", "before_promotion"])
def test_kill_at_the_epoch_boundary_keeps_history_checkpoint_and_best_in_step(
        tiny_dataset, tmp_path, monkeypatch, point, uninterrupted_two_epochs):
    """Killed after epoch 2's history record (before its checkpoint), or after the checkpoint
    (before its best weights replace best/): the resumed run records each epoch once and ends
    with the uninterrupted run's weights and best weights (issue 18)."""
    ref, ref_dir = uninterrupted_two_epochs
    ref_best = tf.train.load_checkpoint(best_prefix(ref_dir))
    ref_history = json.loads((ref_dir / "history.json").read_text())
    assert ref_history[1]["best"]  # epoch 2 improves, so its best weights are pending
    if point == "before_checkpoint":
        _kill_once(monkeypatch, "_save", lambda epoch, step: epoch == 2 and step == 0)
    else:
        _kill_once(monkeypatch, "promote_best", lambda epoch: epoch == 1, RunDirectory)
    with pytest.raises(_Killed):
        _train(tiny_dataset, tmp_path / "k", 2)
    written = json.loads((tmp_path / "k" / "history.json").read_text())
    assert [h["epoch"] for h in written] == [1, 2]  # epoch 2's record is on disk
    monkeypatch.undo()
    resumed = _train(tiny_dataset, tmp_path / "k", 2)
    history = json.loads((tmp_path / "k" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert [h["valid"] for h in history] == [h["valid"] for h in ref_history]
    assert all(np.array_equal(x, y) for x, y in zip(_weights(resumed.model),
                                                    _weights(ref.model)))
    best = tf.train.load_checkpoint(best_prefix(tmp_path / "k"))
    names = [n for n, _ in tf.train.list_variables(best_prefix(ref_dir))
             if "model" in n and "OPTIMIZER" not in n]
    assert names and all(np.array_equal(best.get_tensor(n), ref_best.get_tensor(n))
                         for n in names)
    assert not list((tmp_path / "k").glob("best_pending_*"))


def test_a_run_that_failed_before_its_first_checkpoint_does_not_block_the_fix(
        tiny_dataset, tmp_path, monkeypatch):
    """A run that fails before any checkpoint removes its directory; one killed hard (no
    cleanup: here a trainer built and never run) holds nothing, and the corrected command
    (another config) starts it again instead of refusing "a run with a different config"."""
    _kill_once(monkeypatch, "validate", lambda: True)
    with pytest.raises(_Killed):
        _train(tiny_dataset, tmp_path / "r", 1, ["model.sse=gru", *PAPER_OPTIONS])
    assert not (tmp_path / "r").exists()
    monkeypatch.undo()
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "model.sse=gru"])
    Trainer(config, tiny_dataset, tmp_path / "r", verbose=0, log=lambda _m: None)
    assert (tmp_path / "r" / "run.json").exists()
    _train(tiny_dataset, tmp_path / "r", 1, PAPER_OPTIONS)
    assert load_config(tmp_path / "r" / "config.yaml").model.sse == "hstu"
    # a run that did commit an epoch is still protected
    with pytest.raises(DataError, match="different config"):
        _train(tiny_dataset, tmp_path / "r", 1, ["model.sse=gru"])
