"""The ``tf.distribute`` strategy a run trains under, and who writes the run directory.

``train.strategy`` (``sessionrec train --strategy``):

============  ===========================================================================
default       one device (TensorFlow's default strategy)
mirrored      ``MirroredStrategy``: every GPU of this host (or the CPU), one replica each
multi_worker  ``MultiWorkerMirroredStrategy``: the hosts listed in ``TF_CONFIG``; start the
              same command on every host, each with its own ``TF_CONFIG`` task
============  ===========================================================================

``train.batch_size`` is the global batch over all replicas. Only the chief (task ``chief``
0, or ``worker`` 0 of a cluster without a chief) writes the run directory; the other workers
write their share of each checkpoint to a private temporary directory (saving may involve
collective ops, so every worker saves) and read the chief's checkpoints to resume, which
needs the run directory on storage every worker reads (a shared file system or a bucket).

A ``MultiWorkerMirroredStrategy`` must be created before TensorFlow runs any op in the
process: :class:`~sessionrec_tf.training.trainer.Trainer` creates it first.

Example (two workers on one host)::

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:12345", "127.0.0.1:12346"]},
                "task": {"type": "worker", "index": 0}}' \\
        sessionrec train --config sessionrec_hstu --data tfrecords/X --output runs/X \\
        --strategy multi_worker &
    # the same with "index": 1 in a second shell
"""

from __future__ import annotations

import itertools
import json
import os

import tensorflow as tf

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.reader import InputShard

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy called ``name`` (see the module docstring)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        config = os.environ.get("TF_CONFIG")
        if not config:
            raise DataError("train.strategy multi_worker needs the TF_CONFIG environment "
                            "variable (the cluster's workers and this process's task); see "
                            "`sessionrec_tf.training.strategy`")
        try:
            cluster = json.loads(config)["cluster"]
        except (ValueError, KeyError, TypeError):
            raise DataError("TF_CONFIG is not JSON with a \"cluster\" key: "
                            f"{config[:200]!r}") from None
        if not isinstance(cluster, dict) or not cluster:
            raise DataError(f"TF_CONFIG's cluster is empty: {config[:200]!r}")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise DataError(f"unknown train.strategy {name!r}; valid: {list(STRATEGIES)}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run directory (always, outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_id(strategy: tf.distribute.Strategy) -> str:
    """``type-index`` of this process in the cluster (``chief-0`` outside one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "chief-0"
    return f"{resolver.task_type}-{resolver.task_id}"


def input_shard(context: tf.distribute.InputContext, global_batch_size: int, by: str
                ) -> InputShard | None:
    """This input pipeline's share of each global batch (``None`` for a single pipeline)."""
    if context.num_input_pipelines <= 1:
        return None
    return InputShard(context.input_pipeline_id, context.num_input_pipelines,
                      global_batch_size, by)


def per_replica_batch_size(strategy: tf.distribute.Strategy, global_batch_size: int) -> int:
    """``global_batch_size / replicas``; a clear error if it does not divide."""
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise DataError(f"train.batch_size {global_batch_size} is the global batch and must "
                        f"be divisible by the {replicas} replicas of the strategy")
    return global_batch_size // replicas


_barriers = itertools.count()


def wait_for_all_workers(strategy: tf.distribute.Strategy, timeout_seconds: float = 600
                         ) -> None:
    """Block until every worker of a multi-worker cluster reaches this call (nothing otherwise).

    A worker's last collective op can finish before a peer has fetched that worker's share of
    it; a worker that exits right then fails the peer's op ("tasks stopped sending
    heartbeats"). Call this after the last collective op, before a worker may exit: a worker
    reaches it only once its own collective ops are complete, so past it no worker needs
    another's data. Uses the coordination service's barrier (on by default under
    ``MultiWorkerMirroredStrategy``)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    from tensorflow.python.eager import context

    context.context().wait_at_barrier(f"sessionrec-workers-{next(_barriers)}",
                                      int(timeout_seconds * 1000))
