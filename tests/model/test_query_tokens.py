"""Query tokens: a token appended to a user's sequence that reads the tokens before its
position equals the last state of the prefix-plus-token sequence encoded on its own.

The reference is the SSE's plain padded call over explicitly built sequences (the path the
other SSE tests check against NumPy and the bucketing tests against buckets).
"""

from __future__ import annotations

import numpy as np
import pytest

# isort: off
import sessionrec_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads)
import tensorflow as tf
# isort: on

from sessionrec_tf.sse import make_sse
from sessionrec_tf.sse.bucketing import encode_in_length_buckets
from sessionrec_tf.sse.query_tokens import QueryTokens, encode_with_queries

DIM = 8
LENGTHS = [0, 3, 6, 1, 9]  # tokens per user (user 0 has none: a cut in its only session)
# (user, slot) -> position; other slots are unused (position 0, zero token)
QUERIES = {(0, 0): 0, (1, 0): 3, (1, 1): 1, (2, 1): 6, (2, 0): 2, (4, 0): 9, (4, 1): 5}
SLOTS = 2


def _inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    tokens = [rng.normal(size=(n, DIM)).astype(np.float32) for n in LENGTHS]
    times = [(1_700_000_000 + np.cumsum(rng.integers(1, 100_000, n))).astype(np.int64)
             for n in LENGTHS]
    query_tokens = np.zeros((len(LENGTHS), SLOTS, DIM), np.float32)
    query_times = np.zeros((len(LENGTHS), SLOTS), np.int64)
    position = np.zeros((len(LENGTHS), SLOTS), np.int32)
    for (user, slot), j in QUERIES.items():
        query_tokens[user, slot] = rng.normal(size=DIM)
        # the cut session's time: after the tokens it reads
        query_times[user, slot] = (times[user][j - 1] if j else 1_700_000_000) + 50
        position[user, slot] = j
    queries = QueryTokens(tf.constant(query_tokens), tf.constant(position),
                          tf.constant(query_times))
    return tokens, times, queries


def _padded(rows: list[np.ndarray], dtype) -> tuple[tf.Tensor, tf.Tensor]:
    width = max(1, max(len(r) for r in rows))
    out = np.zeros((len(rows), width, *rows[0].shape[1:]), dtype)
    mask = np.zeros((len(rows), width), bool)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
        mask[i, :len(r)] = True
    return tf.constant(out), tf.constant(mask)


def _sse(name: str):
    tf.keras.utils.set_random_seed(0)
    if name == "hstu_positions":
        return make_sse("hstu", DIM, num_layers=2, num_heads=2, max_len=16, dropout=0.0,
                        hstu_options={"position_embedding": True, "input_scale": True})
    return make_sse(name, DIM, num_layers=2, num_heads=2, max_len=16, dropout=0.0)


@pytest.mark.parametrize("name", ["hstu", "hstu_positions", "transformer"])
def test_query_token_state_is_the_last_state_of_its_own_sequence(name):
    sse = _sse(name)
    tokens, times, queries = _inputs()
    x, mask = _padded(tokens, np.float32)
    t, _ = _padded(times, np.int64)
    states, query_states = encode_with_queries(sse, x, mask, t, queries)
    plain = sse(x, mask=mask, timestamps=t)
    # the sequence's own states do not see the query tokens
    np.testing.assert_allclose(states.numpy()[mask.numpy()], plain.numpy()[mask.numpy()],
                               atol=1e-5, rtol=1e-5)
    # each query: the sequence of the tokens before its position and the query token
    keys = sorted(QUERIES)
    seqs = [np.concatenate([tokens[u][:QUERIES[u, s]], queries.tokens.numpy()[u, s][None]])
            for u, s in keys]
    seq_times = [np.concatenate([times[u][:QUERIES[u, s]], [queries.timestamp.numpy()[u, s]]])
                 for u, s in keys]
    rx, rmask = _padded(seqs, np.float32)
    rt, _ = _padded(seq_times, np.int64)
    ref = sse(rx, mask=rmask, timestamps=rt).numpy()
    want = np.stack([ref[i, len(s) - 1] for i, s in enumerate(seqs)])
    got = np.stack([query_states.numpy()[u, s] for u, s in keys])
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("skip_empty", [True, False])
def test_bucketed_query_states_equal_one_call(skip_empty):
    sse = _sse("hstu")
    tokens, times, queries = _inputs(1)
    lengths = np.array(LENGTHS, np.int64)
    ragged = tf.RaggedTensor.from_row_lengths(np.concatenate(tokens), lengths)
    ragged_t = tf.RaggedTensor.from_row_lengths(np.concatenate(times), lengths)
    x, mask = _padded(tokens, np.float32)
    t, _ = _padded(times, np.int64)
    want, want_q = encode_with_queries(sse, x, mask, t, queries)
    got, got_mask, got_q = encode_in_length_buckets(sse, ragged, ragged_t, [2, 4, 8],
                                                    skip_empty=skip_empty, queries=queries)
    valid = mask.numpy()
    np.testing.assert_array_equal(got_mask.numpy(), valid)
    np.testing.assert_allclose(got.numpy()[valid], want.numpy()[valid], atol=1e-5, rtol=1e-5)
    used = np.zeros((len(LENGTHS), SLOTS), bool)
    for key in QUERIES:
        used[key] = True
    np.testing.assert_allclose(got_q.numpy()[used], want_q.numpy()[used], atol=1e-5, rtol=1e-5)


def test_a_recurrent_sse_refuses_query_tokens():
    sse = make_sse("gru", DIM, num_layers=1)
    tokens, times, queries = _inputs()
    x, mask = _padded(tokens, np.float32)
    t, _ = _padded(times, np.int64)
    with pytest.raises(ValueError, match="does not take query tokens"):
        encode_with_queries(sse, x, mask, t, queries)
