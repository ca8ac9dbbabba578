"""tf.distribute: a MirroredStrategy step over 2 replicas with global batch B is the
single-device step with batch B (the loss is normalised by the GLOBAL row count, the sampled
negatives are the same on every replica). Run in a fresh process: the CPU is split into two
logical devices, which must happen before TensorFlow initialises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO, TINY_MODEL

SCRIPT = textwrap.dedent("""
    import json, sys
    import sessionrec_tf  # noqa: F401
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from sessionrec_tf.config import load_config
    from sessionrec_tf.data import PreparedDataset, read_dataset
    from sessionrec_tf.models import build_model, compile_model
    from sessionrec_tf.models.builder import build_with_dummy_batch

    data = PreparedDataset.load(sys.argv[1])
    config = load_config("sessionrec_hstu", json.loads(sys.argv[2]))
    GLOBAL, STEPS = 32, 3

    def batches(size):
        return read_dataset(data, "train", batch_size=size, shuffle=False, deterministic=True,
                            drop_remainder=True, prefetch=False)

    tf.keras.utils.set_random_seed(0)
    single = compile_model(build_model(config, data), config)
    build_with_dummy_batch(single)
    start = single.get_weights()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        tf.keras.utils.set_random_seed(0)
        dist = compile_model(build_model(config, data), config)
    strategy.run(lambda: build_with_dummy_batch(dist))
    dist.set_weights(start)
    # steps_per_epoch given: without it Keras runs one more (aborted) step that still
    # advances the sampling counters
    one = single.fit(batches(GLOBAL), epochs=1, steps_per_epoch=STEPS, verbose=0)
    inputs = strategy.distribute_datasets_from_function(
        lambda ctx: batches(ctx.get_per_replica_batch_size(GLOBAL)))
    two = dist.fit(inputs, epochs=1, steps_per_epoch=STEPS, verbose=0)
    trainable = [v.name for v in single.trainable_variables]
    now = dict(zip([v.name for v in single.variables], single.get_weights()))
    diff = {v.name: float(np.max(np.abs(now[v.name] - v.numpy())))
            for v in dist.variables if v.name in now}
    before = dict(zip([v.name for v in single.variables], start))
    moved = max(float(np.max(np.abs(now[n] - before[n]))) for n in trainable)
    print(json.dumps({"diff": max(diff[n] for n in trainable), "moved": moved,
                      "other": {n: d for n, d in diff.items() if n not in trainable and d},
                      "replicas": strategy.num_replicas_in_sync,
                      "loss": [one.history["loss"][-1], two.history["loss"][-1]]}))
""")


@pytest.mark.parametrize("reduction", ["row", "query"])
def test_two_replicas_equal_one_device_with_the_same_global_batch(tiny_dataset, tmp_path,
                                                                  reduction):
    script = tmp_path / "distribute.py"
    script.write_text(SCRIPT)
    # partial-session queries draw one cut per user: each replica must draw its own users'
    # numbers of the global stream (replica_offset), or the step differs from one device's.
    # "query": the losses are means over the GLOBAL batch's queries (all-reduced count)
    overrides = [*TINY_MODEL, "model.dropout=0.0", "task.alpha=0.5", "task.prefix_weight=1.0",
                 f"task.reduction={reduction}", f"task.prefix_reduction={reduction}"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(script), str(tiny_dataset.path),
                           json.dumps(overrides)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    assert out["moved"] > 1e-3  # training changed the weights
    assert out["diff"] < 1e-4, out
    assert not out["other"], out  # counters (sampling streams) advanced alike
    assert abs(out["loss"][0] - out["loss"][1]) < 1e-4 * max(1.0, abs(out["loss"][0])), out


TRAINER_SCRIPT = textwrap.dedent("""
    import json, sys
    import sessionrec_tf  # noqa: F401
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from sessionrec_tf.config import load_config
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.training import Trainer

    config = load_config("sessionrec_hstu", json.loads(sys.argv[2]))
    trainer = Trainer(config, PreparedDataset.load(sys.argv[1]), sys.argv[3], verbose=0,
                      log=lambda _m: None)
    trainer.run()
    print(json.dumps({"replicas": trainer.strategy.num_replicas_in_sync}))
""")


def test_trainer_under_mirrored_strategy_equals_one_device(tiny_dataset, tmp_path):
    """`train.strategy: mirrored` over 2 logical CPUs (one input pipeline feeding both
    replicas, a partial last batch: 177 users, global batch 32) gives the single-device
    Trainer's validation metrics and best weights."""
    from sessionrec_tf.config import load_config
    from sessionrec_tf.training import Trainer
    from sessionrec_tf.training.run import RunDirectory

    overrides = [*TINY_MODEL, "model.dropout=0.0", "task.alpha=0.5", "train.epochs=2",
                 "train.deterministic=true"]
    Trainer(load_config("sessionrec_hstu", overrides), tiny_dataset, tmp_path / "one",
            verbose=0, log=lambda _m: None).run()
    script = tmp_path / "mirrored.py"
    script.write_text(TRAINER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(script), str(tiny_dataset.path),
                           json.dumps([*overrides, "train.strategy=mirrored"]),
                           str(tmp_path / "two")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["replicas"] == 2
    assert tiny_dataset.counts["users"] % 32  # the last step's batch is partial
    one, two = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("one", "two"))
    assert [h["valid"]["recall@100"] for h in one] == pytest.approx(
        [h["valid"]["recall@100"] for h in two], abs=1e-6)
    w1, w2 = (RunDirectory.load(tmp_path / d).restore()[0].get_weights()
              for d in ("one", "two"))
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2) if a.size) < 1e-4
