"""Model layers checked against independent NumPy references, on tiny cases.

Every reference below is written from the specification (``../shared/spec/SESSIONREC.md``
sections 2 and 4 and the layers' documented contracts), not from the code under test: the
tests only *read* the layers' weights (or set them to random values so that every term
matters) and recompute the forward pass in float64 NumPy.

- HSTU block / encoder forward pass and the log time buckets (incl. clipping at 128).
- Causality of every SSE and of whole models (session view and item view) built from configs
  on a tiny prepared dataset.
- ISEs: pooling vs segment reductions, bucketed GRU/Transformer vs a per-session loop.
- ItemEmbedding: candidate vs interaction tokens, static features from the item table.
- Views: ItemView / SessionView contents, truncation and session timestamps.
- Bad inputs: unknown names, indivisible head counts, bad rates, mismatched tables.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

# isort: off
import sessionrec_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads)
import tensorflow as tf
# isort: on
from helpers import loaded_log, random_log

from sessionrec_tf.config import config_from_dict
from sessionrec_tf.data import FilterOptions, PrepareOptions, prepare_log, read_dataset
from sessionrec_tf.embedding import ItemEmbedding
from sessionrec_tf.ise import ISE_NAMES, GruISE, PoolingISE, TransformerISE, make_ise
from sessionrec_tf.layers import MatmulMultiHeadAttention, SeededDropout, TransformerBlock
from sessionrec_tf.models import ItemView, SessionView, build_model, make_view
from sessionrec_tf.sse import SSE_NAMES, TransformerEncoder, make_sse
from sessionrec_tf.sse.hstu import HSTUBlock, HSTUEncoder, time_buckets

# ---------------------------------------------------------------------------------------------
# NumPy reference building blocks
# ---------------------------------------------------------------------------------------------


def np_silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def np_gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x) (Keras' ``gelu`` activation, approximate=False)."""
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def np_layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def np_time_bucket(ti: np.ndarray, tj: np.ndarray, num_buckets: int = 128) -> np.ndarray:
    """Spec: clip(floor(ln(max(|t_i - t_j|, 1)) / 0.301), 0, num_buckets)."""
    dt = np.abs(ti.astype(np.float64) - tj.astype(np.float64))
    return np.clip(np.floor(np.log(np.maximum(dt, 1.0)) / 0.301), 0, num_buckets).astype(int)


def w(var: tf.Variable) -> np.ndarray:
    return var.numpy().astype(np.float64)


def randomize_weights(layer: tf.keras.layers.Layer, seed: int, scale: float = 0.5) -> None:
    """Set every float weight to random values, so biases, gammas and rab tables all matter."""
    rng = np.random.default_rng(seed)
    for var in layer.weights:
        if var.dtype.is_floating:
            var.assign(rng.normal(0.0, scale, var.shape).astype(np.float32))


def np_hstu_block(block: HSTUBlock, x: np.ndarray, ts: np.ndarray, attn_mask: np.ndarray,
                  max_len: int, num_heads: int, qk_dim: int, v_dim: int,
                  softmax: bool = False, terms: str = "position_time",
                  gating: bool = True) -> np.ndarray:
    """The HSTU block of spec section 4, in float64, from the block's weights; ``softmax``:
    weights ``exp(s_ij) / sum_j' exp(s_ij')`` over the allowed keys, ``s = q.k / sqrt(dqk) +
    rab``, instead of ``SiLU(q.k + rab) / n``; ``terms``: the rab tables that exist (a
    missing table adds zero); ``gating=False``: no ``U`` (the projection is ``V, Q, K``) and
    the normalised attention output is not multiplied by it."""
    batch, length, _ = x.shape
    h = num_heads
    x_hat = np_layer_norm(x, w(block.norm_in.gamma), w(block.norm_in.beta),
                          block.norm_in.epsilon)
    uvqk = np_silu(x_hat @ w(block.uvqk.kernel) + w(block.uvqk.bias))
    o = h * v_dim if gating else 0  # width of U (absent without the gate)
    u = uvqk[..., :o]
    v = uvqk[..., o: o + h * v_dim].reshape(batch, length, h, v_dim)
    q = uvqk[..., o + h * v_dim: o + h * v_dim + h * qk_dim].reshape(batch, length, h, qk_dim)
    k = uvqk[..., o + h * v_dim + h * qk_dim:].reshape(batch, length, h, qk_dim)
    assert k.shape[-1] == qk_dim
    pos_w = (w(block.bias.pos_weights) if "position" in terms
             else np.zeros(2 * max_len - 1))
    time_w = w(block.bias.time_weights) if "time" in terms else np.zeros(129)
    av = np.zeros((batch, length, h, v_dim))
    for b in range(batch):
        for head in range(h):
            for i in range(length):
                allowed = [j for j in range(length) if attn_mask[b, i, j]]
                scale = qk_dim ** -0.5 if softmax else 1.0
                scores = np.array([q[b, i, head] @ k[b, j, head] * scale
                                   + pos_w[j - i + max_len - 1]
                                   + time_w[np_time_bucket(ts[b, i], ts[b, j])]
                                   for j in allowed])
                if softmax and allowed:
                    weights = np.exp(scores - scores.max())
                    weights /= weights.sum()
                else:
                    weights = np_silu(scores) / max_len
                for j, weight in zip(allowed, weights):
                    av[b, i, head] += weight * v[b, j, head]
    av = av.reshape(batch, length, h * v_dim)
    normed = np_layer_norm(av, w(block.norm_attn.gamma), w(block.norm_attn.beta),
                           block.norm_attn.epsilon)
    return x + ((u * normed) if gating else normed) @ w(block.out.kernel) + w(block.out.bias)


def causal_padding_mask(mask: np.ndarray) -> np.ndarray:
    """``[B, L]`` validity -> ``[B, L, L]``: query i may read key j iff j <= i and j valid."""
    length = mask.shape[1]
    causal = np.tril(np.ones((length, length), bool))
    return causal[None] & mask[:, None, :]


# A tiny HSTU case: B=2, L=4 (second row has a padded last position), d=8, 2 heads.
BASE_T = 1_700_000_000
# gaps between consecutive tokens: 0 s, 1 s, 30 s / 2 h, 30 days, huge (clips at 128)
TIMES = np.array([
    [BASE_T, BASE_T, BASE_T + 1, BASE_T + 31],
    [BASE_T, BASE_T + 7_200, BASE_T + 7_200 + 30 * 86_400, 0],
], dtype=np.int64)
MASK = np.array([[True, True, True, True], [True, True, True, False]])


def tiny_input(seed: int = 0, batch: int = 2, length: int = 4, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, length, dim)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# 1. HSTU
# ---------------------------------------------------------------------------------------------


def test_time_buckets_follow_the_log_formula():
    ts = np.array([[BASE_T, BASE_T, BASE_T + 1, BASE_T + 30, BASE_T + 7_200,
                    BASE_T + 30 * 86_400, BASE_T + 10**17]], dtype=np.int64)
    got = time_buckets(tf.constant(ts), 128).numpy()
    want = np_time_bucket(ts[0][:, None], ts[0][None, :])
    np.testing.assert_array_equal(got[0], want)
    # the gaps land in distinct buckets, and the table is indexed symmetrically
    dt0 = {g: want[0, i] for i, g in enumerate(["0s", "0s", "1s", "30s", "2h", "30d", "huge"])}
    assert dt0["0s"] == 0 and dt0["1s"] == 0  # ln(max(1, 1)) = 0
    assert dt0["30s"] == int(math.log(30) / 0.301) == 11
    assert dt0["2h"] == int(math.log(7_200) / 0.301) == 29
    assert dt0["30d"] == int(math.log(30 * 86_400) / 0.301) == 49
    assert dt0["huge"] == 128  # floor(ln(1e17) / 0.301) = 130, clipped to 128
    np.testing.assert_array_equal(got[0], got[0].T)
    assert got.dtype == np.int32 and got.shape == (1, 7, 7)
    # a smaller table clips there
    assert time_buckets(tf.constant(ts), 20).numpy().max() == 20


@pytest.mark.parametrize("max_len", [4, 7])
def test_hstu_block_matches_numpy_reference(max_len):
    dim, heads = 8, 2
    block = HSTUBlock(dim, heads, qk_dim=4, v_dim=4, max_len=max_len, dropout=0.0)
    x = tiny_input(1)
    attn = causal_padding_mask(MASK)
    block(tf.constant(x), tf.constant(TIMES), tf.constant(attn))  # build
    randomize_weights(block, seed=2)
    got = block(tf.constant(x), tf.constant(TIMES), tf.constant(attn), training=False).numpy()
    want = np_hstu_block(block, x.astype(np.float64), TIMES, attn, max_len, heads, 4, 4)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    assert block.bias.pos_weights.shape == (2 * max_len - 1,)
    assert block.bias.time_weights.shape == (129,)


def test_hstu_block_softmax_attention_matches_numpy_reference():
    """``attention="softmax"``: softmax over the allowed keys (scaled q.k + rab); a query
    row with no allowed key gives a zero attention output, not NaN."""
    block = HSTUBlock(8, 2, qk_dim=4, v_dim=4, max_len=5, dropout=0.0, attention="softmax")
    x = tiny_input(11)
    attn = causal_padding_mask(MASK)
    attn[1, 0, :] = False  # query row without any allowed key
    block(tf.constant(x), tf.constant(TIMES), tf.constant(attn))
    randomize_weights(block, seed=12)
    got = block(tf.constant(x), tf.constant(TIMES), tf.constant(attn), training=False).numpy()
    want = np_hstu_block(block, x.astype(np.float64), TIMES, attn, 5, 2, 4, 4, softmax=True)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    silu = np_hstu_block(block, x.astype(np.float64), TIMES, attn, 5, 2, 4, 4)
    assert np.abs(silu - want).max() > 1e-3  # the two attentions really differ here
    with pytest.raises(ValueError, match="attention: unknown value 'relu'"):
        HSTUBlock(8, 2, qk_dim=4, v_dim=4, max_len=5, dropout=0.0, attention="relu")


@pytest.mark.parametrize("terms", ["position", "time", "none"])
def test_hstu_block_relative_bias_ablations_match_numpy_reference(terms):
    """``relative_bias``: only the named tables exist; the others add nothing."""
    block = HSTUBlock(8, 2, qk_dim=4, v_dim=4, max_len=5, dropout=0.0, relative_bias=terms)
    x, attn = tiny_input(13), causal_padding_mask(MASK)
    block(tf.constant(x), tf.constant(TIMES), tf.constant(attn))
    randomize_weights(block, seed=14)
    names = sorted(v.name.split("/")[-1].split(":")[0] for v in block.bias.weights)
    assert names == sorted({"position": ["pos"], "time": ["time"], "none": []}[terms])
    got = block(tf.constant(x), tf.constant(TIMES), tf.constant(attn), training=False).numpy()
    want = np_hstu_block(block, x.astype(np.float64), TIMES, attn, 5, 2, 4, 4, terms=terms)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="relative_bias: unknown value 'rope'"):
        HSTUBlock(8, 2, qk_dim=4, v_dim=4, max_len=5, dropout=0.0, relative_bias="rope")


def test_hstu_block_without_gate_matches_numpy_reference():
    block = HSTUBlock(8, 2, qk_dim=3, v_dim=4, max_len=5, dropout=0.0, gating=False)
    x, attn = tiny_input(15), causal_padding_mask(MASK)
    block(tf.constant(x), tf.constant(TIMES), tf.constant(attn))
    assert block.uvqk.kernel.shape == (8, 2 * (4 + 2 * 3))  # V, Q, K only
    randomize_weights(block, seed=16)
    got = block(tf.constant(x), tf.constant(TIMES), tf.constant(attn), training=False).numpy()
    want = np_hstu_block(block, x.astype(np.float64), TIMES, attn, 5, 2, 3, 4, gating=False)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_hstu_block_reference_is_sensitive_to_time_and_position_bias():
    """Guard against a vacuous comparison: the rab tables really change the output."""
    block = HSTUBlock(8, 2, qk_dim=4, v_dim=4, max_len=5, dropout=0.0)
    x, attn = tiny_input(3), causal_padding_mask(MASK)
    block(tf.constant(x), tf.constant(TIMES), tf.constant(attn))
    randomize_weights(block, seed=4)
    base = block(tf.constant(x), tf.constant(TIMES), tf.constant(attn)).numpy()
    # bucket 49 (the 30-day gap) only occurs in row 1
    t = block.bias.time_weights.numpy()
    t[49] += 3.0
    block.bias.time_weights.assign(t)
    moved = block(tf.constant(x), tf.constant(TIMES), tf.constant(attn)).numpy()
    assert np.abs(moved[1] - base[1]).max() > 1e-3
    np.testing.assert_allclose(moved[0], base[0], atol=1e-6)
    want = np_hstu_block(block, x.astype(np.float64), TIMES, attn, 5, 2, 4, 4)
    np.testing.assert_allclose(moved, want, atol=1e-5, rtol=1e-5)


def test_hstu_block_with_unequal_qk_and_v_widths():
    block = HSTUBlock(6, 3, qk_dim=2, v_dim=5, max_len=4, dropout=0.0)
    x, attn = tiny_input(5, dim=6), causal_padding_mask(MASK)
    block(tf.constant(x), tf.constant(TIMES), tf.constant(attn))
    randomize_weights(block, seed=6)
    got = block(tf.constant(x), tf.constant(TIMES), tf.constant(attn)).numpy()
    want = np_hstu_block(block, x.astype(np.float64), TIMES, attn, 4, 3, 2, 5)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("final_norm", [True, False])
def test_hstu_encoder_is_stacked_blocks_then_final_layer_norm(final_norm):
    """The states are the stacked blocks' output, LayerNorm-ed unless ``final_norm=False``
    (the reference, which L2-normalises the last block's output directly)."""
    enc = HSTUEncoder(8, num_layers=2, num_heads=2, max_len=6, dropout=0.3,
                      final_norm=final_norm)
    x = tiny_input(7)
    enc(tf.constant(x), mask=tf.constant(MASK), timestamps=tf.constant(TIMES))
    randomize_weights(enc, seed=8)
    got = enc(tf.constant(x), mask=tf.constant(MASK), timestamps=tf.constant(TIMES),
              training=False).numpy()
    h = x.astype(np.float64)
    attn = causal_padding_mask(MASK)
    for block in enc.blocks:
        h = np_hstu_block(block, h, TIMES, attn, 6, 2, 4, 4)
    if final_norm:
        fn = enc.final_norm
        want = np_layer_norm(h, w(fn.gamma), w(fn.beta), fn.epsilon)
    else:
        assert enc.final_norm is None and not [v for v in enc.weights if "final_norm" in v.name]
        want = h
        # the un-normalised reference is not a normalised one in disguise
        assert np.abs(np_layer_norm(h, np.ones(8), np.zeros(8), 1e-6) - h).max() > 1e-2
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("scale, positions", [(True, False), (False, True), (True, True)])
def test_hstu_encoder_input_scale_and_positions_match_numpy_reference(scale, positions):
    """The reference HSTU's input: x * sqrt(d) + P[0..L-1] (P learned), then the blocks."""
    enc = HSTUEncoder(8, num_layers=1, num_heads=2, max_len=6, dropout=0.3,
                      input_scale=scale, position_embedding=positions)
    x = tiny_input(9)
    enc(tf.constant(x), mask=tf.constant(MASK), timestamps=tf.constant(TIMES))
    randomize_weights(enc, seed=3)
    got = enc(tf.constant(x), mask=tf.constant(MASK), timestamps=tf.constant(TIMES),
              training=False).numpy()
    h = x.astype(np.float64) * (math.sqrt(8) if scale else 1.0)
    if positions:
        table = w(enc.positions.embeddings)
        assert table.shape == (6, 8)
        h = h + table[: x.shape[1]][None]
    h = np_hstu_block(enc.blocks[0], h, TIMES, causal_padding_mask(MASK), 6, 2, 4, 4)
    fn = enc.final_norm
    want = np_layer_norm(h, w(fn.gamma), w(fn.beta), fn.epsilon)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    plain = HSTUEncoder(8, num_layers=1, num_heads=2, max_len=6, dropout=0.3)
    plain(tf.constant(x), mask=tf.constant(MASK), timestamps=tf.constant(TIMES))
    for a, b in zip(plain.weights, [v for v in enc.weights if "positions" not in v.name]):
        a.assign(b)
    other = plain(tf.constant(x), mask=tf.constant(MASK), timestamps=tf.constant(TIMES),
                  training=False).numpy()
    assert np.abs(other - got).max() > 1e-3  # the options do change the states


def test_hstu_input_options_are_refused_for_other_sses():
    with pytest.raises(ValueError, match="options of the hstu SSE"):
        make_sse("gru", 8, hstu_options={"position_embedding": True})
    with pytest.raises(ValueError, match="options of the hstu SSE"):
        make_sse("transformer", 8, hstu_options={"attention": "softmax"})
    cfg = {"model": {"sse": "transformer", "sse_input_scale": True}}
    with pytest.raises(ValueError, match="model.sse_input_scale: an option of the hstu SSE"):
        config_from_dict(cfg)
    cfg = {"model": {"sse": "gru", "sse_attention": "softmax"}}
    with pytest.raises(ValueError, match="model.sse_attention: an option of the hstu SSE"):
        config_from_dict(cfg)
    with pytest.raises(ValueError, match="model.sse_attention: unknown value 'relu'"):
        config_from_dict({"model": {"sse_attention": "relu"}})
    cfg = {"model": {"sse": "transformer", "sse_relative_bias": "none"}}
    with pytest.raises(ValueError, match="model.sse_relative_bias: an option of the hstu SSE"):
        config_from_dict(cfg)
    cfg = {"model": {"sse": "gru", "sse_gating": False}}
    with pytest.raises(ValueError, match="model.sse_gating: an option of the hstu SSE"):
        config_from_dict(cfg)


def np_transformer_block(block: TransformerBlock, x: np.ndarray, attn_mask: np.ndarray,
                         num_heads: int) -> np.ndarray:
    """Pre-LN block ``x + MHA(LN(x))``, ``+ FFN(LN(x))``, in float64 from the block's weights."""
    mha = block.mha
    weights = {v.name.split("/")[-2] + "/" + v.name.split("/")[-1].split(":")[0]: w(v)
               for v in mha.weights}
    h = np_layer_norm(x, w(block.ln1.gamma), w(block.ln1.beta), block.ln1.epsilon)
    q = np.einsum("bld,dhk->blhk", h, weights["query/kernel"]) + weights["query/bias"]
    k = np.einsum("bld,dhk->blhk", h, weights["key/kernel"]) + weights["key/bias"]
    v = np.einsum("bld,dhk->blhk", h, weights["value/kernel"]) + weights["value/bias"]
    batch, length, _ = x.shape
    ctx = np.zeros_like(q)
    for b in range(batch):
        for head in range(num_heads):
            for i in range(length):
                allowed = [j for j in range(length) if attn_mask[b, i, j]]
                scores = np.array([q[b, i, head] @ k[b, j, head] for j in allowed])
                scores /= math.sqrt(q.shape[-1])
                probs = np.exp(scores - scores.max())
                probs /= probs.sum()
                ctx[b, i, head] = sum(p * v[b, j, head] for p, j in zip(probs, allowed))
    att = (np.einsum("blhk,hkd->bld", ctx, weights["attention_output/kernel"])
           + weights["attention_output/bias"])
    x = x + att
    h = np_layer_norm(x, w(block.ln2.gamma), w(block.ln2.beta), block.ln2.epsilon)
    ff = np_gelu(h @ w(block.ff1.kernel) + w(block.ff1.bias))
    return x + ff @ w(block.ff2.kernel) + w(block.ff2.bias)


def test_transformer_block_matches_numpy_reference():
    block = TransformerBlock(8, num_heads=2, dropout=0.3)
    x = tiny_input(21)
    attn = causal_padding_mask(MASK)
    block(tf.constant(x), tf.constant(attn))
    randomize_weights(block, seed=22)
    got = block(tf.constant(x), tf.constant(attn), training=False).numpy()
    want = np_transformer_block(block, x.astype(np.float64), attn, num_heads=2)
    # padded query rows attend to valid keys only; compare every row that has a valid key
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_matmul_attention_equals_keras_attention_and_loads_its_checkpoints(tmp_path):
    """Same variables, same names, same outputs as ``tf.keras.layers.MultiHeadAttention``."""
    x = tf.constant(np.random.default_rng(3).normal(size=(3, 7, 8)).astype(np.float32))
    mask = tf.constant(np.random.default_rng(4).random((3, 7, 7)) < 0.7)
    keras_mha = tf.keras.layers.MultiHeadAttention(2, 4, name="mha")
    keras_mha(x, x, attention_mask=mask)
    randomize_weights(keras_mha, seed=5)
    path = tf.train.Checkpoint(mha=keras_mha).write(str(tmp_path / "ckpt"))
    fast = MatmulMultiHeadAttention(2, 4, name="mha")
    fast(x, x, attention_mask=mask)
    tf.train.Checkpoint(mha=fast).read(path).assert_existing_objects_matched()
    assert [v.name for v in fast.weights] == [v.name for v in keras_mha.weights]
    want, want_scores = keras_mha(x, x, attention_mask=mask, return_attention_scores=True)
    got, got_scores = fast(x, x, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(got_scores.numpy(), want_scores.numpy(), atol=1e-6)
    with tf.GradientTape(persistent=True) as tape:
        loss_keras = tf.reduce_sum(keras_mha(x, x, attention_mask=mask) ** 2)
        loss_fast = tf.reduce_sum(fast(x, x, attention_mask=mask) ** 2)
    for gk, gf in zip(tape.gradient(loss_keras, keras_mha.trainable_weights),
                      tape.gradient(loss_fast, fast.trainable_weights)):
        np.testing.assert_allclose(gf.numpy(), gk.numpy(), atol=1e-4, rtol=1e-4)


def test_matmul_attention_refuses_other_attention_axes():
    layer = MatmulMultiHeadAttention(2, 4, attention_axes=(1, 2))
    x = tf.zeros([2, 3, 5, 8])
    with pytest.raises(ValueError, match="attending over the length axis only"):
        layer(x, x)


# ---------------------------------------------------------------------------------------------
# 2. Causality: SSEs alone, then whole models
# ---------------------------------------------------------------------------------------------

SSE_LEN = 6
SSE_MASK = np.array([[True] * 6, [True] * 4 + [False] * 2])
SSE_TIMES = BASE_T + np.cumsum(np.array([[0, 5, 60, 4_000, 90_000, 10],
                                         [0, 3_000, 3_000, 86_400, 0, 0]]), axis=1)


def _sse(name: str) -> tf.keras.layers.Layer:
    tf.keras.utils.set_random_seed(0)
    layer = make_sse(name, 8, num_layers=2, num_heads=2, max_len=10, dropout=0.2, seed=0)
    layer(tf.constant(tiny_input(0, length=SSE_LEN)), mask=tf.constant(SSE_MASK),
          timestamps=tf.constant(SSE_TIMES))
    randomize_weights(layer, seed=11, scale=0.3)
    return layer


def _run_sse(layer: tf.keras.layers.Layer, x: np.ndarray, mask: np.ndarray,
             times: np.ndarray) -> np.ndarray:
    return layer(tf.constant(x), mask=tf.constant(mask), timestamps=tf.constant(times),
                 training=False).numpy()


@pytest.mark.parametrize("name", SSE_NAMES)
def test_sse_future_tokens_never_change_past_states(name):
    layer = _sse(name)
    x = tiny_input(12, length=SSE_LEN)
    base = _run_sse(layer, x, SSE_MASK, SSE_TIMES)
    rng = np.random.default_rng(13)
    for j in range(SSE_LEN):
        x2, t2 = x.copy(), SSE_TIMES.copy()
        x2[:, j:] = rng.normal(size=x2[:, j:].shape)
        t2[:, j:] += rng.integers(1, 10**6, size=t2[:, j:].shape)
        out = _run_sse(layer, x2, SSE_MASK, t2)
        np.testing.assert_allclose(out[:, :j], base[:, :j], atol=1e-6, err_msg=f"j={j}")
        for b in range(2):
            if SSE_MASK[b, j]:  # a valid position j: its own state must move
                assert np.abs(out[b, j] - base[b, j]).max() > 1e-4, (name, b, j)


@pytest.mark.parametrize("name", SSE_NAMES)
def test_sse_padding_content_is_ignored(name):
    layer = _sse(name)
    x = tiny_input(14, length=SSE_LEN)
    base = _run_sse(layer, x, SSE_MASK, SSE_TIMES)
    x2, t2 = x.copy(), SSE_TIMES.copy()
    x2[1, 4:] = 100.0
    t2[1, 4:] = 123
    out = _run_sse(layer, x2, SSE_MASK, t2)
    np.testing.assert_allclose(out[SSE_MASK], base[SSE_MASK], atol=1e-6)


def _prefix_check(name: str) -> None:
    layer = _sse(name)
    x = tiny_input(15, length=SSE_LEN)
    full = _run_sse(layer, x, SSE_MASK, SSE_TIMES)
    for m in range(1, SSE_LEN):
        cut = _run_sse(layer, x[:, :m], SSE_MASK[:, :m], SSE_TIMES[:, :m])
        valid = SSE_MASK[:, :m]
        np.testing.assert_allclose(cut[valid], full[:, :m][valid], atol=1e-6,
                                   err_msg=f"{name}: prefix of length {m}")


@pytest.mark.parametrize("name", ["hstu", "gru"])
def test_sse_state_after_token_i_does_not_depend_on_later_tokens_existing(name):
    """The state after token i is the same whether or not later tokens exist (serving = a
    prefix of a training sequence)."""
    _prefix_check(name)


def test_transformer_sse_state_does_not_depend_on_later_tokens_existing():
    _prefix_check("transformer")


# --- whole models --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    log = loaded_log(random_log(12, 25, seed=3))
    opts = PrepareOptions(filters=FilterOptions(min_item_interactions=1,
                                                min_user_interactions=1), num_shards=1)
    out = tmp_path_factory.mktemp("layers_ds") / "tiny"
    return prepare_log(log, out, opts, progress=False, log=None)


@pytest.fixture(scope="module")
def tiny_batch(tiny_dataset):
    ds = read_dataset(tiny_dataset, split="full", batch_size=6, deterministic=True,
                      prefetch=False)
    return next(iter(ds))


MODEL_CASES = {
    # name: (paradigm, item_input, sse)
    "session_hstu": ("session", "all", "hstu"),
    "session_transformer": ("session", "all", "transformer"),
    "session_gru": ("session", "all", "gru"),
    "item_all_hstu": ("item", "all", "hstu"),
    "item_positives_hstu": ("item", "positives", "hstu"),
    "item_positives_gru": ("item", "positives", "gru"),
    "item_all_transformer": ("item", "all", "transformer"),
    "session_hstu_label_split": ("session", "all", "hstu", {"ise_label_split": True}),
    "session_hstu_ise_positives": ("session", "all", "hstu", {"ise_input": "positives"}),
    "item_all_hstu_reference_input": ("item", "all", "hstu", {"sse_input_scale": True,
                                                              "sse_position_embedding": True}),
    "session_hstu_softmax": ("session", "all", "hstu", {"sse_attention": "softmax"}),
    "session_hstu_no_relative_bias": ("session", "all", "hstu", {"sse_relative_bias": "none"}),
    "session_hstu_time_bias_only": ("session", "all", "hstu", {"sse_relative_bias": "time"}),
    "session_hstu_no_gate": ("session", "all", "hstu", {"sse_gating": False}),
    "session_hstu_no_final_norm": ("session", "all", "hstu", {"sse_final_norm": False}),
}


def _model(dataset, paradigm: str, item_input: str, sse: str, extra: dict | None = None):
    cfg = config_from_dict({
        "name": f"t_{paradigm}_{sse}",
        "model": {"paradigm": paradigm, "item_input": item_input, "sse": sse,
                  "embedding_dim": 8, "feature_dim": 4, "num_layers": 2, "num_heads": 2,
                  "dropout": 0.2, "max_len": 60, **(extra or {})},
        "task": {"num_negatives": 4, "alpha": 0.2},
    })
    tf.keras.utils.set_random_seed(1)
    return build_model(cfg, dataset)


INTER_KEYS = ("item_id", "label", "timestamp", "dwell", "cat")


def _as_lists(batch) -> dict[str, list]:
    return {k: batch[k].to_list() for k in INTER_KEYS}


def _to_batch(lists: dict[str, list]) -> dict[str, tf.RaggedTensor]:
    out = {k: tf.ragged.constant(v, dtype=tf.int64, ragged_rank=2, row_splits_dtype=tf.int64)
           for k, v in lists.items()}
    ts = out["timestamp"]
    out["session_timestamp"] = tf.RaggedTensor.from_row_splits(
        tf.gather(ts.flat_values, ts.values.row_splits[:-1]), ts.row_splits)
    return out


def _view_tokens_before(lists, b: int, j: int, item_input: str, paradigm: str) -> int:
    """Number of SSE tokens of user b that come from sessions < j (in the unchanged part)."""
    if paradigm == "session":
        return j
    labels = lists["label"][b][:j]
    return sum(len(s) if item_input == "all" else sum(lab == 1 for lab in s) for s in labels)


def _perturb_session(lists, b: int, j: int, num_items: int, rng) -> dict[str, list]:
    new = {k: [[list(s) for s in u] for u in v] for k, v in lists.items()}
    n = len(new["item_id"][b][j])
    new["item_id"][b][j] = [int(i) for i in rng.integers(2, num_items, n)]
    labels = [1 - lab for lab in new["label"][b][j]]
    labels[0] = 1  # at least one positive, so the item view (positives) also sees it
    new["label"][b][j] = labels
    new["dwell"][b][j] = [int(i) for i in rng.integers(0, 3, n)]
    shift = int(rng.integers(1, 5_000))
    new["timestamp"][b][j] = [t + shift for t in new["timestamp"][b][j]]
    return new


def _check_model_causality(dataset, batch, paradigm, item_input, sse, extra=None) -> None:
    model = _model(dataset, paradigm, item_input, sse, extra)
    lists = _as_lists(batch)
    base_states, base_mask, _ = model.encode(_to_batch(lists), training=False)
    base_states, base_mask = base_states.numpy(), base_mask.numpy()
    rng = np.random.default_rng(21)
    checked = 0
    for b in range(3):
        for j in range(len(lists["item_id"][b])):
            new = _perturb_session(lists, b, j, dataset.num_items, rng)
            states, mask, _ = model.encode(_to_batch(new), training=False)
            states, mask = states.numpy(), mask.numpy()
            p = _view_tokens_before(lists, b, j, item_input, paradigm)
            np.testing.assert_allclose(states[b, :p], base_states[b, :p], atol=1e-6,
                                       err_msg=f"user {b}, session {j}")
            assert mask[b].sum() > p
            n_after = min(mask[b].sum(), base_mask[b].sum())
            assert np.abs(states[b, p:n_after] - base_states[b, p:n_after]).max() > 1e-5, \
                f"changing session {j} of user {b} changed nothing"
            for other in range(len(lists["item_id"])):  # other users are independent
                if other != b:
                    n = int(base_mask[other].sum())
                    assert int(mask[other].sum()) == n
                    # float32 noise only: the batch's padded length can change with user b's
                    np.testing.assert_allclose(states[other, :n], base_states[other, :n],
                                               atol=1e-5)
            checked += 1
    assert checked >= 9


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_model_changing_session_j_never_changes_earlier_states(tiny_dataset, tiny_batch, case):
    _check_model_causality(tiny_dataset, tiny_batch, *MODEL_CASES[case])


def test_sasrec_model_changing_session_j_never_changes_earlier_states(tiny_dataset,
                                                                       tiny_batch):
    _check_model_causality(tiny_dataset, tiny_batch, "item", "positives", "transformer")


def test_transformer_position_used_at_serving_is_trained(tiny_dataset):
    batch = next(iter(read_dataset(tiny_dataset, split="train", batch_size=12,
                                   deterministic=True, prefetch=False)))
    model = _model(tiny_dataset, "session", "all", "transformer")
    with tf.GradientTape() as tape:
        loss = model.compute_loss(batch, training=False)
    grad = tf.convert_to_tensor(tape.gradient(loss, model.sse.positions.embeddings)).numpy()
    assert np.linalg.norm(grad[1]) > 0  # the test can see gradients at all
    assert np.linalg.norm(grad[0]) > 0, "positions[0] is never trained"


def test_ise_input_positives_reads_no_negative(tiny_dataset, tiny_batch):
    """With ``model.ise_input: positives`` the user embedding ignores which items the user
    rejected; with the default ``all`` it does not."""
    label = tiny_batch["label"]
    assert (label.flat_values.numpy() == 0).any()
    ids = tiny_batch["item_id"]
    other = tf.where(tf.equal(label.flat_values, 0), (ids.flat_values % 5) + 1, ids.flat_values)
    changed = {**tiny_batch, "item_id": ids.with_flat_values(other)}
    assert (other.numpy() != ids.flat_values.numpy()).any()
    moved = {}
    for ise_input in ("positives", "all"):
        model = _model(tiny_dataset, "session", "all", "hstu", {"ise_input": ise_input})
        before = model(tiny_batch, training=False).numpy()
        moved[ise_input] = np.abs(model(changed, training=False).numpy() - before).max()
    assert moved["positives"] < 1e-6 and moved["all"] > 1e-4, moved


def test_model_call_is_the_state_after_the_last_session(tiny_dataset, tiny_batch):
    model = _model(tiny_dataset, "session", "all", "hstu")
    states, mask, _ = model.encode(tiny_batch, training=False)
    user = model(tiny_batch, training=False).numpy()
    last = mask.numpy().sum(axis=1) - 1
    raw = states.numpy()[np.arange(len(last)), last]
    want = raw / np.linalg.norm(raw, axis=1, keepdims=True)  # task uses l2_normalize
    np.testing.assert_allclose(user, want, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# 3. ISE
# ---------------------------------------------------------------------------------------------

# users -> session lengths; user 1 has no session at all
ISE_LAYOUT = [[1, 2, 3], [], [4, 5, 6, 7, 8, 9], [9]]
ISE_DIM = 5


def ise_tokens(seed: int = 0, layout=ISE_LAYOUT, dim: int = ISE_DIM):
    """Ragged ``[B, S, I, d]`` tokens and the per-session NumPy arrays."""
    rng = np.random.default_rng(seed)
    sessions = [rng.normal(size=(n, dim)).astype(np.float32) for u in layout for n in u]
    flat = np.concatenate(sessions) if sessions else np.zeros((0, dim), np.float32)
    rt = tf.RaggedTensor.from_nested_row_lengths(
        flat, [np.array([len(u) for u in layout], np.int64),
               np.array([n for u in layout for n in u], np.int64)])
    return rt, sessions


def _check_structure(out: tf.RaggedTensor, layout, dim: int) -> None:
    assert isinstance(out, tf.RaggedTensor) and out.ragged_rank == 1
    assert out.row_lengths().numpy().tolist() == [len(u) for u in layout]
    assert out.flat_values.shape[-1] == dim


@pytest.mark.parametrize("mode", ["mean", "max", "max_relu"])
def test_pooling_ise_matches_numpy_segment_reductions(mode):
    rt, sessions = ise_tokens(1)
    out = make_ise(mode, ISE_DIM)(rt)
    _check_structure(out, ISE_LAYOUT, ISE_DIM)
    ref = {"mean": lambda s: s.mean(0), "max": lambda s: s.max(0),
           "max_relu": lambda s: np.maximum(s, 0).max(0)}[mode]
    want = np.stack([ref(s.astype(np.float64)) for s in sessions])
    np.testing.assert_allclose(out.flat_values.numpy(), want, atol=1e-6)


def _ise_labels(sessions, seed: int) -> tuple[tf.RaggedTensor, list[np.ndarray]]:
    """Random 0/1 labels for ``ise_tokens``' sessions, with an all-positive and an
    all-negative session of several items among them."""
    rng = np.random.default_rng(seed)
    labels = [rng.integers(0, 2, len(s)) for s in sessions]
    labels[0][:] = 1
    labels[2][:] = 0
    flat = np.concatenate(labels).astype(np.int64)
    per_user = [len(u) for u in ISE_LAYOUT]
    rt = tf.RaggedTensor.from_nested_row_lengths(
        flat, [np.array(per_user, np.int64), np.array([len(s) for s in sessions], np.int64)])
    return rt, labels


@pytest.mark.parametrize("mode", ["mean", "max", "max_relu"])
def test_label_split_pooling_equals_numpy_reference(mode):
    rt, sessions = ise_tokens(7)
    labels, per_session = _ise_labels(sessions, seed=8)
    layer = PoolingISE(mode, label_split=True)
    layer(rt, labels=labels)
    randomize_weights(layer, seed=5)
    out = layer(rt, labels=labels)
    _check_structure(out, ISE_LAYOUT, ISE_DIM)
    pool = {"mean": lambda s: s.mean(0), "max": lambda s: s.max(0),
            "max_relu": lambda s: np.maximum(s, 0).max(0)}[mode]

    def side(s: np.ndarray) -> np.ndarray:  # an empty side pools to zeros
        return pool(s.astype(np.float64)) if len(s) else np.zeros(ISE_DIM)

    kernel = w(layer.merge.kernel)
    want = np.stack([side(s) + np.concatenate([side(s[lab == 0]), side(s[lab == 1])]) @ kernel
                     for s, lab in zip(sessions, per_session)])
    np.testing.assert_allclose(out.flat_values.numpy(), want, atol=1e-5)
    # freshly built, the split adds nothing: it starts as the plain pooling
    fresh = PoolingISE(mode, label_split=True)
    np.testing.assert_allclose(fresh(rt, labels=labels).flat_values.numpy(),
                               PoolingISE(mode)(rt).flat_values.numpy(), atol=1e-6)


def test_linear_tokens_mean_pooling_hides_which_items_were_positive():
    """The defect ``label_split`` fixes: with a linear embedding (no hidden MLP layer) the
    mean-pooled session token depends on how many items were positive, not which."""
    emb = _embedding(mlp_units=())
    items = tf.ragged.constant([[[2, 3, 4]]], dtype=tf.int64, ragged_rank=2)
    dwell = tf.ragged.constant([[[1, 1, 1]]], dtype=tf.int64, ragged_rank=2)
    first = tf.ragged.constant([[[1, 0, 0]]], dtype=tf.int64, ragged_rank=2)
    second = tf.ragged.constant([[[0, 0, 1]]], dtype=tf.int64, ragged_rank=2)
    labels = (first, second)
    tokens = [emb.interactions({"item_id": items, "label": lab, "dwell": dwell})
              for lab in labels]
    plain = PoolingISE("mean")
    split = PoolingISE("mean", label_split=True)
    split(tokens[0], labels=first)
    randomize_weights(split, seed=2)
    same = [plain(t).flat_values.numpy() for t in tokens]
    np.testing.assert_allclose(same[0], same[1], atol=1e-6)
    assert np.abs(tokens[0].flat_values.numpy()
                  - tokens[1].flat_values.numpy()).max() > 1e-3  # tokens do differ
    apart = [split(t, labels=lab).flat_values.numpy() for t, lab in zip(tokens, labels)]
    assert np.abs(apart[0] - apart[1]).max() > 1e-3


@pytest.mark.parametrize("mode", ["mean", "max", "max_relu"])
def test_positives_only_pooling_equals_numpy_reference(mode):
    rt, sessions = ise_tokens(11)
    labels, per_session = _ise_labels(sessions, seed=12)
    assert any(not lab.any() for lab in per_session)  # a session without positives
    out = PoolingISE(mode, positives_only=True)(rt, labels=labels)
    _check_structure(out, ISE_LAYOUT, ISE_DIM)
    pool = {"mean": lambda s: s.mean(0), "max": lambda s: s.max(0),
            "max_relu": lambda s: np.maximum(s, 0).max(0)}[mode]
    want = np.stack([pool(s[lab == 1].astype(np.float64)) if lab.any() else np.zeros(ISE_DIM)
                     for s, lab in zip(sessions, per_session)])
    np.testing.assert_allclose(out.flat_values.numpy(), want, atol=1e-5)


@pytest.mark.parametrize("mode", ["mean", "max", "max_relu"])
def test_pooling_of_empty_sessions_and_its_gradient_match_numpy(mode):
    """Empty sessions inside the batch and after its last non-empty session (the sorted
    segment reductions size their output by the last id) pool to zeros; the gradient with
    respect to every token is the numpy one (mean: ``w / n``; max: ``w`` at the argmax)."""
    layout = [[2, 0, 3], [0], [], [1, 0, 0]]  # sessions of 0 items, the last two trailing
    rt, sessions = ise_tokens(21, layout=layout)
    rng = np.random.default_rng(22)
    weights = rng.normal(size=(sum(len(u) for u in layout), ISE_DIM))
    values = tf.Variable(rt.flat_values)
    with tf.GradientTape() as tape:
        out = PoolingISE(mode)(rt.with_flat_values(values))
        loss = tf.reduce_sum(out.flat_values * tf.constant(weights, tf.float32))
    grad = tf.convert_to_tensor(tape.gradient(loss, values)).numpy()
    want, want_grad = [], []
    for s, w_s in zip(sessions, weights):
        x = np.maximum(s, 0) if mode == "max_relu" else s
        if not len(s):
            want.append(np.zeros(ISE_DIM))
            continue
        if mode == "mean":
            want.append(x.mean(0))
            want_grad.append(np.tile(w_s / len(s), (len(s), 1)))
        else:
            want.append(x.max(0))
            g = np.zeros_like(s, dtype=np.float64)
            g[x.argmax(0), np.arange(ISE_DIM)] = w_s
            if mode == "max_relu":
                g[s <= 0] = 0.0
            want_grad.append(g)
    _check_structure(out, layout, ISE_DIM)
    np.testing.assert_allclose(out.flat_values.numpy(), np.stack(want), atol=1e-6)
    np.testing.assert_allclose(grad, np.concatenate(want_grad), atol=1e-6)


def test_positives_only_needs_labels_a_pooling_ise_and_no_label_split():
    rt, _ = ise_tokens(1)
    with pytest.raises(ValueError, match="needs the interaction labels"):
        PoolingISE("mean", positives_only=True)(rt)
    with pytest.raises(ValueError, match="exclude each other"):
        PoolingISE("mean", label_split=True, positives_only=True)
    with pytest.raises(ValueError, match="positives_only is only for the pooling ISEs"):
        make_ise("transformer", ISE_DIM, positives_only=True)
    assert make_ise("mean", ISE_DIM, positives_only=True).uses_labels
    assert PoolingISE("max", positives_only=True).get_config()["positives_only"] is True


def test_label_split_needs_labels_and_a_pooling_ise():
    rt, _ = ise_tokens(1)
    with pytest.raises(ValueError, match="needs the interaction labels"):
        PoolingISE("mean", label_split=True)(rt)
    with pytest.raises(ValueError, match="only for the pooling ISEs"):
        make_ise("gru", ISE_DIM, label_split=True)
    assert make_ise("max", ISE_DIM, label_split=True).uses_labels
    assert not make_ise("mean", ISE_DIM).uses_labels
    assert PoolingISE("max", label_split=True).get_config()["label_split"] is True


def _seq_ise(kind: str, max_items: int) -> tf.keras.layers.Layer:
    tf.keras.utils.set_random_seed(2)
    if kind == "gru":
        return GruISE(8, num_layers=2, max_items=max_items)
    return TransformerISE(ISE_DIM, num_layers=2, num_heads=1, dropout=0.3,
                          max_items=max_items, seed=1)


def _ise_reference(layer, kind: str, session: np.ndarray) -> np.ndarray:
    """The layer's own encoder on ONE session, unpadded (slow reference)."""
    x = tf.constant(session[None])
    if kind == "gru":
        for gru in layer.grus:
            x = gru(x)
        return x.numpy()[0]
    # bidirectional pre-LN blocks + final LN + mean, written from TransformerISE's contract
    for blk in layer.blocks:
        h = blk["ln1"](x)
        x = x + blk["mha"](h, h)
        h = blk["ln2"](x)
        x = x + blk["ff2"](blk["ff1"](h))
    return tf.reduce_mean(layer.final_ln(x), axis=1).numpy()[0]


@pytest.mark.parametrize("kind", ["gru", "transformer"])
@pytest.mark.parametrize("max_items", [6, 16])
def test_sequence_ise_buckets_equal_per_session_loop(kind, max_items):
    rt, sessions = ise_tokens(3)
    layer = _seq_ise(kind, max_items)
    layer(rt)
    randomize_weights(layer, seed=4, scale=0.3)
    out = layer(rt, training=False)
    width = 8 if kind == "gru" else ISE_DIM
    _check_structure(out, ISE_LAYOUT, width)
    want = np.stack([_ise_reference(layer, kind, s[-max_items:]) for s in sessions])
    np.testing.assert_allclose(out.flat_values.numpy(), want, atol=1e-5, rtol=1e-5)
    if max_items == 6:  # sessions of 7..9 items: only their last 6 items count
        long = [i for i, s in enumerate(sessions) if len(s) > 6]
        assert long
        for i in long:
            changed = [s.copy() for s in sessions]
            changed[i][: len(changed[i]) - 6] += 5.0
            out2 = layer(tf.RaggedTensor.from_row_splits(
                tf.RaggedTensor.from_row_lengths(np.concatenate(changed),
                                                 [len(s) for s in changed]),
                rt.row_splits), training=False)
            np.testing.assert_allclose(out2.flat_values.numpy(), out.flat_values.numpy(),
                                       atol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_sequence_ise_with_empty_buckets(kind):
    layout = [[1, 1], [1], [16]]  # only the first and last buckets are used
    rt, sessions = ise_tokens(5, layout)
    layer = _seq_ise(kind, 8)
    layer(rt)
    out = layer(rt, training=False)
    _check_structure(out, layout, 8 if kind == "gru" else ISE_DIM)
    want = np.stack([_ise_reference(layer, kind, s[-8:]) for s in sessions])
    np.testing.assert_allclose(out.flat_values.numpy(), want, atol=1e-5, rtol=1e-5)


def test_ise_handles_a_batch_without_sessions():
    rt, _ = ise_tokens(6, [[], []])
    for name in ISE_NAMES:
        out = make_ise(name, ISE_DIM, max_items=4)(rt)
        assert out.row_lengths().numpy().tolist() == [0, 0], name


# ---------------------------------------------------------------------------------------------
# 4. ItemEmbedding
# ---------------------------------------------------------------------------------------------

N_ITEMS = 10
CAT_TABLE = np.array([0, 0, 1, 2, 3, 1, 2, 3, 1, 2], np.int64)


def _embedding(mlp_units=(6,)) -> ItemEmbedding:
    tf.keras.utils.set_random_seed(3)
    emb = ItemEmbedding(N_ITEMS, 8, item_features={"cat": CAT_TABLE},
                        item_feature_sizes={"cat": 4},
                        interaction_feature_sizes={"dwell": 5}, feature_dim=3,
                        mlp_units=mlp_units)
    emb.candidates(tf.constant([2], tf.int64))
    emb.interactions({"item_id": tf.constant([2], tf.int64),
                      "label": tf.constant([1], tf.int64), "dwell": tf.constant([1], tf.int64)})
    randomize_weights(emb, seed=9)
    return emb


def _np_mlp(mlp, x: np.ndarray) -> np.ndarray:
    layers = mlp.layers_
    for i, dense in enumerate(layers):
        x = x @ w(dense.kernel) + w(dense.bias)
        if i < len(layers) - 1:
            x = np_gelu(x)
    return x


def _emb_batch():
    items = [[[2, 3], [4]], [[5, 6, 7]], []]
    labels = [[[1, 0], [1]], [[0, 0, 1]], []]
    dwell = [[[0, 4], [2]], [[1, 1, 3]], []]
    mk = lambda v: tf.ragged.constant(v, dtype=tf.int64, ragged_rank=2,  # noqa: E731
                                      row_splits_dtype=tf.int64)
    return {"item_id": mk(items), "label": mk(labels), "dwell": mk(dwell)}


def test_item_embedding_matches_numpy_reference():
    emb = _embedding()
    ids = np.arange(N_ITEMS)
    item_t = w(emb.item_table.embeddings)
    cat_t = w(emb.feature_tables["cat"].embeddings)
    dwell_t = w(emb.feature_tables["dwell"].embeddings)
    label_t = w(emb.label_table.embeddings)
    want_c = _np_mlp(emb.candidate_mlp, np.concatenate([item_t[ids], cat_t[CAT_TABLE]], -1))
    np.testing.assert_allclose(emb.all_candidates().numpy(), want_c, atol=1e-5)
    batch = _emb_batch()
    out = emb.interactions(batch)
    it, lab, dw = (batch[k].flat_values.numpy() for k in ("item_id", "label", "dwell"))
    want_i = _np_mlp(emb.interaction_mlp, np.concatenate(
        [item_t[it], cat_t[CAT_TABLE[it]], dwell_t[dw], label_t[lab + 1]], -1))
    np.testing.assert_allclose(out.flat_values.numpy(), want_i, atol=1e-5)


def test_interaction_tokens_keep_the_ragged_structure():
    emb = _embedding()
    batch = _emb_batch()
    out = emb.interactions(batch)
    assert isinstance(out, tf.RaggedTensor) and out.ragged_rank == 2
    assert out.shape.as_list() == [3, None, None, 8]
    for a, b in zip(out.nested_row_splits, batch["item_id"].nested_row_splits):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    dense = emb.interactions({k: v.values.values[None] for k, v in batch.items()})
    assert dense.shape == (1, 6, 8)
    np.testing.assert_allclose(dense.numpy()[0], out.flat_values.numpy(), atol=1e-6)


def test_candidates_ignore_interaction_features_and_labels():
    emb = _embedding()
    before = emb.all_candidates().numpy()
    batch = _emb_batch()
    tokens = {}
    for label in (0, 1):
        for dwell in (0, 4):
            b = {"item_id": batch["item_id"],
                 "label": tf.ones_like(batch["label"]) * label,
                 "dwell": tf.ones_like(batch["dwell"]) * dwell}
            tokens[label, dwell] = emb.interactions(b).flat_values.numpy()
            np.testing.assert_array_equal(emb.all_candidates().numpy(), before)
    # the same item appears with different labels/features: one candidate, many tokens
    assert np.abs(tokens[0, 0] - tokens[1, 0]).min() > 1e-6  # label matters, every token
    assert np.abs(tokens[0, 0] - tokens[0, 4]).min() > 1e-6  # dwell matters, every token
    # the candidate MLP reads only the item id and static features: no hidden inputs
    width = emb.item_table.output_dim + emb.feature_tables["cat"].output_dim
    assert emb.candidate_mlp.layers_[0].kernel.shape[0] == width


def test_static_item_features_come_from_the_item_table():
    emb = _embedding()
    before = emb.all_candidates().numpy()
    batch = _emb_batch()
    tok_before = emb.interactions(batch).flat_values.numpy()
    # a "cat" column in the batch is not read: the table is the source of static features
    with_cat = dict(batch, cat=tf.zeros_like(batch["item_id"]))
    np.testing.assert_array_equal(emb.interactions(with_cat).flat_values.numpy(), tok_before)
    table = CAT_TABLE.copy()
    table[4] = 0  # item 4: category 3 -> 0
    emb.item_feature_lookup["cat"].assign(table)
    after = emb.all_candidates().numpy()
    assert np.abs(after[4] - before[4]).max() > 1e-4
    np.testing.assert_array_equal(np.delete(after, 4, 0), np.delete(before, 4, 0))
    tok_after = emb.interactions(batch).flat_values.numpy()
    is4 = batch["item_id"].flat_values.numpy() == 4
    assert np.abs(tok_after[is4] - tok_before[is4]).max() > 1e-4
    np.testing.assert_array_equal(tok_after[~is4], tok_before[~is4])
    # and an embedding built from the changed table agrees with the assigned one
    rebuilt = ItemEmbedding(N_ITEMS, 8, item_features={"cat": table},
                            item_feature_sizes={"cat": 4},
                            interaction_feature_sizes={"dwell": 5}, feature_dim=3,
                            mlp_units=(6,))
    rebuilt.build()
    np.testing.assert_array_equal(rebuilt.item_feature_lookup["cat"].numpy(), table)


def test_item_embedding_without_label():
    emb = ItemEmbedding(N_ITEMS, 4, use_label=False)
    items = tf.ragged.constant([[[2, 3]], [[4]]], dtype=tf.int64, ragged_rank=2)
    a = emb.interactions({"item_id": items, "label": tf.zeros_like(items)})
    b = emb.interactions({"item_id": items, "label": tf.ones_like(items)})
    np.testing.assert_array_equal(a.flat_values.numpy(), b.flat_values.numpy())


# ---------------------------------------------------------------------------------------------
# 5. Views
# ---------------------------------------------------------------------------------------------

VIEW_KEYS = ("item_id", "label", "timestamp")
# user 0: 3 sessions; user 1: one session of negatives only; user 2: 2 sessions
V_ITEMS = [[[10, 11, 12], [13], [14, 15]], [[20, 21]], [[30], [31, 32, 33]]]
V_LABELS = [[[1, 0, 1], [0], [1, 1]], [[0, 0]], [[1], [0, 1, 1]]]
V_TIMES = [[[100, 101, 102], [200], [300, 301]], [[50, 51]], [[7], [9, 10, 11]]]


def _view_batch():
    mk = lambda v: tf.ragged.constant(v, dtype=tf.int64, ragged_rank=2,  # noqa: E731
                                      row_splits_dtype=tf.int64)
    return {"item_id": mk(V_ITEMS), "label": mk(V_LABELS), "timestamp": mk(V_TIMES)}


def _flat_user(u: int, keep_negatives: bool) -> list[tuple[int, int, int]]:
    return [(i, lab, t)
            for s_i, s_l, s_t in zip(V_ITEMS[u], V_LABELS[u], V_TIMES[u])
            for i, lab, t in zip(s_i, s_l, s_t) if keep_negatives or lab == 1]


@pytest.mark.parametrize("include_negatives", [False, True])
@pytest.mark.parametrize("max_len", [2, 3, 100])
def test_item_view_each_item_its_own_session(include_negatives, max_len):
    out = ItemView(max_len, VIEW_KEYS, include_negatives=include_negatives)(_view_batch())
    for u in range(3):
        kept = _flat_user(u, include_negatives)[-max_len:]
        assert out["item_id"][u].to_list() == [[i] for i, _, _ in kept]
        assert out["label"][u].to_list() == [[lab] for _, lab, _ in kept]
        assert out["timestamp"][u].to_list() == [[t] for _, _, t in kept]
        assert out["session_timestamp"][u].numpy().tolist() == [t for _, _, t in kept]
    assert out["item_id"].ragged_rank == 2


@pytest.mark.parametrize("max_len", [1, 2, 100])
def test_session_view_keeps_the_last_sessions(max_len):
    out = SessionView(max_len, VIEW_KEYS)(_view_batch())
    for u in range(3):
        assert out["item_id"][u].to_list() == V_ITEMS[u][-max_len:]
        assert out["label"][u].to_list() == V_LABELS[u][-max_len:]
        assert out["timestamp"][u].to_list() == V_TIMES[u][-max_len:]
        assert out["session_timestamp"][u].numpy().tolist() == \
            [s[0] for s in V_TIMES[u][-max_len:]]


def test_make_view_maps_config_names():
    assert isinstance(make_view("session", 5, VIEW_KEYS), SessionView)
    v = make_view("item", 5, VIEW_KEYS, "positives")
    assert isinstance(v, ItemView) and not v.include_negatives
    assert make_view("item", 5, VIEW_KEYS, "all").include_negatives


# ---------------------------------------------------------------------------------------------
# 6. Bad input
# ---------------------------------------------------------------------------------------------


def test_unknown_ise_lists_valid_names():
    with pytest.raises(ValueError, match="unknown ISE") as err:
        make_ise("median", 8)
    for name in ISE_NAMES:
        assert name in str(err.value)


def test_unknown_sse_lists_valid_names():
    with pytest.raises(ValueError, match="unknown SSE") as err:
        make_sse("lstm", 8)
    for name in SSE_NAMES:
        assert name in str(err.value)


def test_indivisible_heads_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        make_ise("transformer", 10, num_heads=3)
    with pytest.raises(ValueError, match="divisible"):
        make_sse("transformer", 10, num_heads=3)
    with pytest.raises(ValueError, match="divisible"):
        TransformerEncoder(6, num_heads=4)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="pooling mode"):
        PoolingISE("median")
    with pytest.raises(ValueError, match="at least one layer"):
        GruISE(8, num_layers=0)
    with pytest.raises(ValueError, match="dropout rate"):
        SeededDropout(1.0)
    with pytest.raises(ValueError, match="dropout rate"):
        make_sse("hstu", 8, dropout=-0.1)
    with pytest.raises(ValueError, match="paradigm"):
        make_view("items", 5, VIEW_KEYS)
    with pytest.raises(ValueError, match="item_input"):
        make_view("item", 5, VIEW_KEYS, "negatives")
    with pytest.raises(ValueError, match="different features"):
        ItemEmbedding(N_ITEMS, 8, item_features={"cat": CAT_TABLE}, item_feature_sizes={})
    with pytest.raises(ValueError, match="rows"):
        ItemEmbedding(N_ITEMS, 8, item_features={"cat": CAT_TABLE[:5]},
                      item_feature_sizes={"cat": 4})


def test_hstu_refuses_sequences_longer_than_max_len():
    enc = make_sse("hstu", 8, num_layers=1, num_heads=2, max_len=3, dropout=0.0)
    x = tiny_input(0, length=4)
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
        enc(tf.constant(x), mask=tf.constant(MASK), timestamps=tf.constant(TIMES))


def plain_hstu_stack(enc: HSTUEncoder, x: tf.Tensor, times: tf.Tensor, attn_mask: tf.Tensor,
                     positions: tf.Tensor | None) -> tf.Tensor:
    """HSTU's blocks written plainly in TensorFlow (the per-block form the encoder had before
    the stacked bias): two ``tf.gather`` of the rab tables, an add, ``SiLU(.) * mask / n``;
    the block's own sublayers for the projections and norms. No dropout, no final norm."""
    length = x.shape[1]
    pos = positions if positions is not None else tf.range(length)[None]
    rel = pos[:, None, :] - pos[:, :, None]  # j - i
    buckets = time_buckets(times, 128)
    allowed = tf.cast(attn_mask, tf.float32)[:, None]
    for block in enc.blocks:
        h, dv, dqk = block.num_heads, block.v_dim, block.qk_dim
        uvqk = tf.nn.silu(block.uvqk(block.norm_in(x)))
        u, v, q, k = tf.split(uvqk, [h * dv, h * dv, h * dqk, h * dqk], axis=-1)
        heads = [tf.transpose(tf.reshape(t, [t.shape[0], length, h, -1]), [0, 2, 1, 3])
                 for t in (v, q, k)]
        v, q, k = heads
        bias = tf.zeros([1, length, length])
        if block.bias.use_position:
            bias = bias + tf.gather(block.bias.pos_weights, rel + block.max_len - 1)
        if block.bias.use_time:
            bias = bias + tf.gather(block.bias.time_weights, buckets)
        attn = tf.nn.silu(tf.matmul(q, k, transpose_b=True) + bias[:, None]) * allowed
        av = tf.matmul(attn / float(block.max_len), v)
        av = tf.reshape(tf.transpose(av, [0, 2, 1, 3]), [x.shape[0], length, h * dv])
        x = x + block.out(u * block.norm_attn(av))
    return x


@pytest.mark.parametrize("terms", ["position_time", "position", "time", "none"])
@pytest.mark.parametrize("query_positions", [False, True])
def test_hstu_stacked_masked_bias_matches_plain_blocks_with_gradients(terms, query_positions):
    """The encoder gathers every block's rab (position and time tables, and the mask) with
    one index and one gather (``masked_biases``): its states and its gradients, rab tables
    included, equal the plain per-block computation; also with query-token positions and an
    explicit attention mask (repeated positions, pairs left out)."""
    enc = HSTUEncoder(8, num_layers=3, num_heads=2, max_len=6, dropout=0.0,
                      relative_bias=terms, final_norm=False)
    x, mask, times = tf.constant(tiny_input(21)), tf.constant(MASK), tf.constant(TIMES)
    positions = attn = None
    if query_positions:
        positions = tf.constant([[0, 1, 1, 3], [0, 1, 2, 2]], tf.int32)
        allowed = causal_padding_mask(MASK)
        allowed[0, 2, 1] = False  # a query token that does not read the session it cuts
        attn = tf.constant(allowed)
    enc(x, mask=mask, timestamps=times, positions=positions, attn_mask=attn)
    randomize_weights(enc, seed=22)
    up = tf.constant(np.random.default_rng(23).normal(size=(2, 4, 8)).astype(np.float32))
    keep = tf.cast(mask, tf.float32)[..., None]  # padded positions' states are not used
    with tf.GradientTape(persistent=True) as tape:
        got = enc(x, mask=mask, timestamps=times, positions=positions, attn_mask=attn,
                  training=False)
        want = plain_hstu_stack(enc, x, times, attn if attn is not None
                                else tf.constant(causal_padding_mask(MASK)), positions)
        got_loss = tf.reduce_sum(got * up * keep)
        want_loss = tf.reduce_sum(want * up * keep)
    np.testing.assert_allclose((got * keep).numpy(), (want * keep).numpy(),
                               atol=1e-5, rtol=1e-5)
    rab = [v for v in enc.trainable_variables if "/rab/" in v.name]
    assert len(rab) == 3 * {"position_time": 2, "none": 0}.get(terms, 1)
    for var, g, r in zip(enc.trainable_variables, tape.gradient(got_loss, enc.trainable_variables),
                         tape.gradient(want_loss, enc.trainable_variables), strict=True):
        g, r = tf.convert_to_tensor(g).numpy(), tf.convert_to_tensor(r).numpy()
        scale = max(float(np.abs(r).max()), 1e-3)
        np.testing.assert_allclose(g, r, atol=2e-5 * scale, rtol=1e-4, err_msg=var.name)
        if "/rab/" in var.name:
            assert np.abs(r).max() > 1e-4, var.name  # the tables really get a gradient


def test_bias_index_follows_positions_buckets_and_mask():
    """Pair (i, j) reads joint entry ``p * 129 + t`` (``p = j - i + max_len - 1``, ``t`` its
    time bucket) where allowed, the masked entry ``9 * 129`` elsewhere; the bias is
    ``pos[p] + time[t]`` there and :data:`MASKED_BIAS` where forbidden."""
    from sessionrec_tf.sse.hstu import MASKED_BIAS, RelativeBias

    layer = RelativeBias(max_len=5)
    allowed = causal_padding_mask(MASK)
    index = layer.index(tf.constant(TIMES), tf.constant(allowed))
    assert index.sizes == (9, 129)
    layer.build(None)
    randomize_weights(layer, seed=24)
    bias = layer(tf.constant(TIMES), tf.constant(allowed)).numpy()
    pos, time = w(layer.pos_weights), w(layer.time_weights)
    for b in range(2):
        for i in range(4):
            for j in range(4):
                p, t = j - i + 4, np_time_bucket(TIMES[b, i], TIMES[b, j])
                if allowed[b, i, j]:
                    assert int(index.pair[b, i, j]) == p * 129 + t, (b, i, j)
                    assert bias[b, i, j] == pytest.approx(pos[p] + time[t], rel=1e-6)
                else:
                    assert int(index.pair[b, i, j]) == 9 * 129, (b, i, j)
                    assert bias[b, i, j] == MASKED_BIAS


def test_traced_hstu_gradient_step_is_freed_when_custom_gradients_are_released():
    """HSTU's ``tf.custom_gradient`` functions (``tf.nn.silu``, :func:`masked_biases`),
    traced in graph mode, register gradients whose closures hold the traced graph
    (tensorflow#97697). A step traced inside :func:`released_custom_gradients` is freed
    with its function and gives the eager gradients; what was registered before stays."""
    import gc
    import weakref

    from tensorflow.python.framework import ops

    from sessionrec_tf.models.gradient_registry import released_custom_gradients

    tf.keras.utils.set_random_seed(0)
    enc = make_sse("hstu", 8, num_layers=1, num_heads=2, max_len=8, dropout=0.0)
    x, mask, times = tf.constant(tiny_input(0)), tf.constant(MASK), tf.constant(TIMES)

    def loss() -> tf.Tensor:
        return tf.reduce_sum(enc(x, mask=mask, timestamps=times) ** 2)

    loss()  # variables exist before the trace
    with tf.GradientTape() as tape:
        eager = [tf.convert_to_tensor(g).numpy()
                 for g in tape.gradient(loss(), enc.trainable_variables)]
    # float32 round-off between the eager and the traced computation is relative to the
    # gradient's scale (largest entries ~30 here, differences up to ~2e-5 over weight seeds),
    # not to each entry: an entry near 0 is a difference of large terms
    atol = 1e-5 * max(float(np.max(np.abs(g))) for g in eager)
    earlier = tf.function(lambda: tf.nn.silu(x)).get_concrete_function()  # outside: kept
    registered = set(ops.gradient_registry.list())

    def graph_of_one_step() -> weakref.ref:
        @tf.function
        def step() -> list[tf.Tensor]:
            with released_custom_gradients():
                with tf.GradientTape() as tape:
                    value = loss()
                return tape.gradient(value, enc.trainable_variables)

        concrete = step.get_concrete_function()
        for got, want in zip(concrete(), eager):
            np.testing.assert_allclose(tf.convert_to_tensor(got).numpy(), want,
                                       rtol=1e-4, atol=atol)
        return weakref.ref(concrete.graph)

    graph = graph_of_one_step()
    gc.collect()
    assert graph() is None, "the traced graph outlived its function"
    assert set(ops.gradient_registry.list()) == registered
    assert earlier is not None


@pytest.mark.parametrize("mlp_units", [(6,), ()])
def test_serving_token_tables_give_the_same_tokens(mlp_units):
    """Export-time tables (first MLP layer precomputed per part) = the normal token path,
    with and without a hidden layer; the layer's own weights are untouched."""
    emb = _embedding(mlp_units)
    batch = _emb_batch()
    want = emb.interactions(batch).flat_values.numpy()
    weights = [v.name for v in emb.weights]
    with emb.serving_tokens(chunk=3) as tables:  # chunks smaller than the catalog
        assert [tuple(t.shape) for t in tables] == [
            (N_ITEMS, emb.interaction_mlp.units[0]), (5, emb.interaction_mlp.units[0]),
            (3, emb.interaction_mlp.units[0])]
        got = emb.interactions(batch).flat_values.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert [v.name for v in emb.weights] == weights  # the tables are not the layer's
    np.testing.assert_array_equal(emb.interactions(batch).flat_values.numpy(), want)
