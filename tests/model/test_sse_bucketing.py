"""Length-bucketed SSE calls equal one call padded to the batch's longest user.

The reference is the plain padded call of the same encoder (the path every SSE test already
checks against NumPy); bucketing must change only the work, not the states or gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

# isort: off
import sessionrec_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads)
import tensorflow as tf
# isort: on
from helpers import loaded_log, random_log

from sessionrec_tf.config import config_from_dict
from sessionrec_tf.data import FilterOptions, PrepareOptions, prepare_log, read_dataset
from sessionrec_tf.models import build_model
from sessionrec_tf.sse import SSE_NAMES, make_sse
from sessionrec_tf.sse.bucketing import encode_in_length_buckets, length_bucket_bounds

DIM = 8
# users in every bucket of bounds [4, 8, 16, 32] and beyond (40: joins the last bucket, padded
# to its own length), plus a user with no sessions
LENGTHS = [0, 1, 3, 4, 5, 9, 16, 17, 40, 2]


def _ragged_inputs(lengths: list[int], seed: int = 0) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    rng = np.random.default_rng(seed)
    total = sum(lengths)
    tokens = tf.RaggedTensor.from_row_lengths(
        rng.normal(size=(total, DIM)).astype(np.float32), np.array(lengths, np.int64))
    gaps = rng.integers(0, 100_000, total)
    times = tf.RaggedTensor.from_row_lengths(
        (1_700_000_000 + np.cumsum(gaps)).astype(np.int64), np.array(lengths, np.int64))
    return tokens, times


def _padded_call(sse, tokens, times, training=False):
    x = tokens.to_tensor()
    mask = tf.sequence_mask(tokens.row_lengths(), maxlen=tf.shape(x, out_type=tf.int64)[1])
    return sse(x, mask=mask, timestamps=times.to_tensor(), training=training), mask


def test_bucket_bounds():
    assert length_bucket_bounds(200) == [16, 32, 64, 128, 200]
    assert length_bucket_bounds(64, smallest=4) == [4, 8, 16, 32, 64]
    assert length_bucket_bounds(10) == [10]


@pytest.mark.parametrize("skip_empty", [True, False])
@pytest.mark.parametrize("name", SSE_NAMES)
def test_bucketed_states_and_gradients_equal_the_padded_call(name, skip_empty):
    tf.keras.utils.set_random_seed(0)
    sse = make_sse(name, DIM, num_layers=2, num_heads=2, max_len=64, dropout=0.2, seed=0)
    tokens, times = _ragged_inputs(LENGTHS)
    bounds = length_bucket_bounds(32, smallest=4)
    weights = tf.constant(np.random.default_rng(1).normal(size=(10, 40, DIM)), tf.float32)

    values = tf.Variable(tokens.flat_values)
    with tf.GradientTape(persistent=True) as tape:
        # through a variable, so the gradient reaching the tokens (the ISE) is checked too
        tokens = tf.RaggedTensor.from_row_splits(values * 1.0, tokens.row_splits)
        want, want_mask = _padded_call(sse, tokens, times)
        got, got_mask = encode_in_length_buckets(sse, tokens, times, bounds,
                                                 skip_empty=skip_empty)
        loss_want = tf.reduce_sum(tf.boolean_mask(want * weights, want_mask))
        loss_got = tf.reduce_sum(tf.boolean_mask(got * weights, got_mask))
    np.testing.assert_array_equal(got_mask.numpy(), want_mask.numpy())
    assert got.shape == want.shape == (10, 40, DIM)
    valid = want_mask.numpy()
    np.testing.assert_allclose(got.numpy()[valid], want.numpy()[valid], atol=2e-5, rtol=1e-5)
    for g_got, g_want in zip(tape.gradient(loss_got, [values, *sse.trainable_variables]),
                             tape.gradient(loss_want, [values, *sse.trainable_variables])):
        np.testing.assert_allclose(tf.convert_to_tensor(g_got).numpy(),
                                   tf.convert_to_tensor(g_want).numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", SSE_NAMES)
def test_empty_buckets_and_a_batch_without_sessions(name, training):
    sse = make_sse(name, DIM, num_layers=1, num_heads=2, max_len=64, dropout=0.0, seed=0)
    fn = tf.function(lambda tok, ts: encode_in_length_buckets(
        sse, tok, ts, [4, 8, 16], training=training))
    tokens, times = _ragged_inputs([2, 3, 1])  # buckets (4, 8] and (8, 16] empty
    states, mask = fn(tokens, times)
    assert states.shape == (3, 3, DIM) and mask.numpy().sum() == 6
    want, _ = _padded_call(sse, tokens, times, training=training)
    np.testing.assert_allclose(states.numpy()[mask.numpy()], want.numpy()[mask.numpy()],
                               atol=2e-5)
    tokens, times = _ragged_inputs([0, 0])
    states, mask = fn(tokens, times)
    assert states.shape == (2, 0, DIM) and mask.shape == (2, 0)


def _count_encoder_calls(sse: tf.keras.layers.Layer) -> list[int]:
    calls = [0]
    inner = sse.call

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls[0] += 1
        return inner(*args, **kwargs)

    sse.call = counting
    return calls


# buckets (0, 4], (4, 8], (8, 16]: the users longer than 16 join the last one
@pytest.mark.parametrize("training,want_calls", [(False, 1), (None, 1), (True, 3)])
def test_inference_skips_empty_buckets_training_does_not(training, want_calls):
    sse = make_sse("hstu", DIM, num_layers=1, num_heads=2, max_len=64, dropout=0.0, seed=0)
    tokens, times = _ragged_inputs([2, 3])  # buckets (4, 8] and (8, 16] empty
    _padded_call(sse, tokens, times)  # build outside the count
    calls = _count_encoder_calls(sse)
    encode_in_length_buckets(sse, tokens, times, [4, 8, 16], training=training)  # eager
    assert calls[0] == want_calls


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    log = loaded_log(random_log(16, 25, seed=5))
    opts = PrepareOptions(filters=FilterOptions(min_item_interactions=1,
                                                min_user_interactions=1), num_shards=1)
    return prepare_log(log, tmp_path_factory.mktemp("bucket_ds") / "tiny", opts,
                       progress=False, log=None)


@pytest.mark.parametrize("paradigm,sse", [("item", "hstu"), ("item", "transformer"),
                                          ("session", "gru")])
def test_model_loss_and_user_embeddings_do_not_depend_on_bucketing(tiny_dataset, paradigm,
                                                                    sse):
    cfg = config_from_dict({
        "name": "bucketing",
        "model": {"paradigm": paradigm, "sse": sse, "embedding_dim": DIM, "feature_dim": 4,
                  "num_layers": 2, "num_heads": 2, "max_len": 40},
        "task": {"num_negatives": 4, "alpha": 0.2},
    })
    model = build_model(cfg, tiny_dataset)  # sse_length_buckets defaults to true
    assert model.sse_buckets == [16, 32, 40]
    if paradigm == "session":  # users have <= 7 sessions here: smaller buckets
        model.sse_buckets = [2, 4]
    batch = next(iter(read_dataset(tiny_dataset, split="full", batch_size=16,
                                   deterministic=True, prefetch=False)))
    lengths = model.view(batch)["item_id"].row_lengths().numpy()
    assert lengths.max() > model.sse_buckets[0]  # the batch spans more than one bucket
    users, loss = model(batch).numpy(), float(model.compute_loss(batch))
    model.sse_buckets = None  # eager calls: the same weights through the single padded call
    np.testing.assert_allclose(users, model(batch).numpy(), atol=1e-5)
    np.testing.assert_allclose(loss, float(model.compute_loss(batch)), rtol=1e-5)
    config_off = config_from_dict({**cfg.to_dict(), "model": {
        **cfg.to_dict()["model"], "sse_length_buckets": False}})
    assert build_model(config_off, tiny_dataset).sse_buckets is None
