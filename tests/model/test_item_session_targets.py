"""``task.item_targets: next_session``: an item-level model trained with SessionRec's queries
(only the state after each session's last input item is a query; it predicts all positives
of the next session), checked against plain-Python references.

- ``ItemView.session_rows``: for every session, the view row of the user's last kept
  interaction at or before that session's end (-1: none, or out of the window), from loops.
- the loss: every query is what serving (``model(history up to that session)``) returns, and
  the rows are the next positive session's positives and negatives, built in Python.
- validation: one encode; its user embedding is serving's; its loss is the training path's.
"""

from __future__ import annotations

import numpy as np
import pytest

# isort: off
import sessionrec_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads)
import tensorflow as tf
# isort: on
from conftest import TINY_MODEL

from sessionrec_tf.config import ConfigError, load_config
from sessionrec_tf.data import read_dataset
from sessionrec_tf.models import ItemView, build_model, compile_model
from sessionrec_tf.tasks.targets import TargetRows

ITEMS = [[[2, 3, 4], [5, 6]], [[7], [8, 9, 10, 11]], [[12]], [], [[13, 14], [15, 16, 17]],
         [[18, 19], [20], [21, 22]]]
LABELS = [[[1, 0, 1], [0, 0]], [[1], [0, 0, 1, 0]], [[0]], [], [[0, 1], [1, 0, 0]],
          [[0, 0], [1], [0, 1]]]
KEYS = ("item_id", "label")


def _ragged(v) -> tf.RaggedTensor:
    return tf.ragged.constant(v, dtype=tf.int64, ragged_rank=2, row_splits_dtype=tf.int64)


def _reference_rows(items, labels, window: int, negatives: bool) -> list[int]:
    """Per session (users in order), the row in the view of the last kept interaction at or
    before the session's end, or -1; one loop per interaction."""
    out, row_start = [], 0
    for user_items, user_labels in zip(items, labels):
        kept_at = []  # for each kept interaction, the number of sessions ended before it
        for j, (session, labs) in enumerate(zip(user_items, user_labels)):
            kept_at += [j for _item, lab in zip(session, labs) if negatives or lab == 1]
        first_in_window = max(0, len(kept_at) - window)
        for j in range(len(user_items)):
            last = max((i for i, s in enumerate(kept_at) if s <= j), default=-1)
            out.append(row_start + last - first_in_window if last >= first_in_window else -1)
        row_start += min(len(kept_at), window)
    return out


@pytest.mark.parametrize("negatives", [False, True])
@pytest.mark.parametrize("max_len, extra", [(1, 0), (2, 0), (2, 1), (3, 0), (50, 0)])
def test_session_rows_equal_a_loop_reference(negatives, max_len, extra):
    batch = {"item_id": _ragged(ITEMS), "label": _ragged(LABELS)}
    view = ItemView(max_len, KEYS, include_negatives=negatives)
    got = view.session_rows(batch, extra).numpy().tolist()
    assert got == _reference_rows(ITEMS, LABELS, max_len + extra, negatives)
    # and each row really holds that interaction: the view's flat items
    flat = view(batch, extra)["item_id"].flat_values.numpy()
    sessions = [s for u in ITEMS for s in u]
    labels = [s for u in LABELS for s in u]
    for j, row in enumerate(got):
        if row >= 0 and (negatives or 1 in labels[j]):
            kept = [i for i, lab in zip(sessions[j], labels[j]) if negatives or lab == 1]
            assert flat[row] == kept[-1]


def _model(tiny_dataset, name: str, overrides: tuple[str, ...] = ()):
    config = load_config(name, [*TINY_MODEL, "task.item_targets=next_session",
                                "model.dropout=0.0", *overrides])
    tf.keras.utils.set_random_seed(0)
    return compile_model(build_model(config, tiny_dataset), config)


def _python_targets(items, labels, queries_from):
    """The loss groups in flat session order: for session j of a user that is not the last
    one, the first later session with a positive is the target, if the history up to j has
    an input interaction (``queries_from(user, j)`` returns the history or None)."""
    histories, positives, negatives = [], [], []
    for u, (user_items, user_labels) in enumerate(zip(items, labels)):
        for j in range(len(user_items) - 1):
            later = [t for t in range(j + 1, len(user_items)) if 1 in user_labels[t]]
            history = queries_from(u, j)
            if not later or history is None:
                continue
            t = later[0]
            pos = [i for i, lab in zip(user_items[t], user_labels[t]) if lab == 1]
            neg = [i for i, lab in zip(user_items[t], user_labels[t])
                   if lab != 1 and i not in pos]
            histories.append(history)
            positives.append(pos)
            negatives.append(neg)
    return histories, positives, negatives


@pytest.mark.parametrize("name, overrides", [
    ("hstu", ("task.alpha=0.5",)),  # positives in the input; rank loss on
    ("hstu_plus", ("model.user_vectors=2",)),  # negatives in the input; 2 user vectors
])
def test_loss_queries_are_serving_states_of_each_history(tiny_dataset, name, overrides):
    model = _model(tiny_dataset, name, ("model.max_len=200", *overrides))
    batch = next(iter(read_dataset(tiny_dataset, "train", batch_size=16, deterministic=True,
                                   prefetch=False)))
    got = float(model.compute_loss(batch, training=False))
    fields = {k: batch[k].to_list() for k in model.view.keys}
    items, labels = fields["item_id"], fields["label"]
    longest = max(sum(len(s) for s in u) for u in items)
    assert longest < 200  # every history fits the window: a query is serving's state

    def history(u: int, j: int):
        kept = [lab == 1 or model.view.include_negatives
                for s in labels[u][:j + 1] for lab in s]
        if not any(kept):
            return None
        return {k: v[u][:j + 1] for k, v in fields.items()}

    # the training input drops each user's last session; its targets include it
    histories, positives, negatives = _python_targets(items, labels, history)
    assert len(histories) > 16  # several queries per user
    request = {k: _ragged([h[k] for h in histories]) for k in model.view.keys}
    states, mask, _ = model.encode(request, vectors=False)
    lengths = tf.reduce_sum(tf.cast(mask, tf.int64), 1)
    queries = model.user_vectors_of(tf.gather(states, lengths - 1, batch_dims=1))
    pos = tf.ragged.constant(positives, dtype=tf.int64, row_splits_dtype=tf.int64)
    neg = tf.ragged.constant(negatives, dtype=tf.int64, row_splits_dtype=tf.int64,
                             ragged_rank=1)
    rows = TargetRows(group_position=tf.range(len(histories), dtype=tf.int64),
                      group_positives=pos, group_negatives=neg,
                      row_group=tf.cast(pos.value_rowids(), tf.int64),
                      positive_ids=pos.flat_values)
    want = model.retrieval(queries, rows, model.candidates, training=False)
    if model.rank is not None:
        want += model.alpha * model.rank(queries, rows, model.candidates, training=False)
    np.testing.assert_allclose(got, float(want), rtol=1e-5)
    # the default (next item) is a different loss on the same weights
    model.item_session_targets = False
    assert abs(float(model.compute_loss(batch, training=False)) - got) > 1e-3


def test_validation_encodes_once_with_servings_user_embedding(tiny_dataset):
    model = _model(tiny_dataset, "hstu", ("model.max_len=12",))
    batch = next(iter(read_dataset(tiny_dataset, "valid", "loso", 64, deterministic=True,
                                   prefetch=False)))
    lengths = batch["item_id"].merge_dims(1, 2).row_lengths()
    assert bool(tf.reduce_any(lengths > 12))  # users longer than the window are in it
    loss, states, mask = model._validation_encode(batch)
    last = tf.reduce_sum(tf.cast(mask, tf.int64), 1) - 1
    users = model.retrieval.similarity.embed(tf.gather(states, tf.maximum(last, 0),
                                                       batch_dims=1))
    np.testing.assert_allclose(users.numpy(), model(batch).numpy(), rtol=1e-5, atol=1e-6)
    # on users whose history fits the window, the validation loss is the training path's
    # on the same sessions (which the training path encodes without the last one)
    short = {k: tf.ragged.boolean_mask(batch[k], lengths <= 12) for k in model.view.keys}
    short_loss = model._validation_encode(short)[0]
    np.testing.assert_allclose(float(short_loss), float(model.compute_loss(short)),
                               rtol=1e-5)
    assert np.isfinite(float(loss))


def test_next_session_targets_are_for_item_level_models_only():
    with pytest.raises(ConfigError, match="task.item_targets: next_session is for "
                                          "model.paradigm='item'"):
        load_config("sessionrec_hstu", ["task.item_targets=next_session"])
    with pytest.raises(ConfigError, match="task.item_targets"):
        load_config("hstu", ["task.item_targets=next_query"])
