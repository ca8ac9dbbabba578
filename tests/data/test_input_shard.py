"""InputShard: the input pipelines of a tf.distribute run share each global batch.

By users: the pipelines' batches of one step, concatenated in pipeline order, are exactly
the single-process batch of the same global size (the same users, the same interactions).
By files: the pipelines read disjoint files that together hold every user."""

from __future__ import annotations

import pytest

from sessionrec_tf.data import InputShard, read_dataset
from sessionrec_tf.data.errors import DataError

GLOBAL = 32


def _batches(data, **kwargs) -> list[dict]:
    ds = read_dataset(data, "train", shuffle=True, seed=3, epoch=1, deterministic=True,
                      prefetch=False, **kwargs)
    return [{k: v.numpy().tolist() if k == "user_id" else v.flat_values.numpy().tolist()
             for k, v in b.items() if k in ("user_id", "item_id")} for b in ds]


@pytest.mark.parametrize("pipelines,replicas_each", [(2, 1), (4, 1), (2, 2)])
def test_user_shards_rebuild_the_single_process_batches(tiny_dataset, pipelines,
                                                        replicas_each):
    whole = _batches(tiny_dataset, batch_size=GLOBAL)
    per_replica = GLOBAL // (pipelines * replicas_each)
    parts = [_batches(tiny_dataset, batch_size=per_replica,
                      shard=InputShard(i, pipelines, GLOBAL)) for i in range(pipelines)]
    for step, batch in enumerate(whole):
        users: list = []
        items: list = []
        for part in parts:  # a pipeline's replicas take consecutive batches of the step
            for b in part[step * replicas_each:(step + 1) * replicas_each]:
                users += b["user_id"]
                items += b["item_id"]
        assert users == batch["user_id"], step
        assert items == batch["item_id"], step
    leftover = [b for part in parts for b in part[len(whole) * replicas_each:]]
    assert not leftover  # nothing read beyond the single-process epoch
    assert len({u for b in whole for u in b["user_id"]}) == tiny_dataset.counts["users"]


def test_file_shards_are_disjoint_and_cover_every_user(tiny_dataset):
    count = len(tiny_dataset.files)
    assert count >= 2
    users = [{u for b in _batches(tiny_dataset, batch_size=16,
                                  shard=InputShard(i, count, GLOBAL, "files"))
              for u in b["user_id"]} for i in range(count)]
    assert all(users)
    assert sum(len(u) for u in users) == len(set().union(*users)) == \
        tiny_dataset.counts["users"]


def test_bad_shards_are_refused_with_the_reason(tiny_dataset):
    with pytest.raises(DataError, match="cannot be split over"):
        read_dataset(tiny_dataset, "train", batch_size=8,
                     shard=InputShard(0, len(tiny_dataset.files) + 1, 8 * 3, "files"))
    with pytest.raises(DataError, match="not divisible"):
        InputShard(0, 3, 32)
    with pytest.raises(DataError, match="unknown"):
        InputShard(0, 2, 32, "rows")
    with pytest.raises(DataError, match="out of range"):
        InputShard(2, 2, 32)
