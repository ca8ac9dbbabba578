"""HSTU sequence encoder (Zhai et al. 2024, "Actions Speak Louder than Words"), causal.

One block, as in the reference implementation::

    x_hat      = LayerNorm(x)
    U, V, Q, K = split(SiLU(x_hat W + b))             # per head: U, V [dv], Q, K [dqk]
    A          = SiLU(Q K^T + rab_pos + rab_time) / n   # pointwise, NO softmax; causal mask
    y          = x + Linear(Dropout(U * LayerNorm(A V)))

``n`` is a constant, the maximum sequence length. Option ``gating=False`` (ours; the shipped
``sessionrec_hstu`` uses it) drops ``U``: ``y = x + Linear(Dropout(LayerNorm(A V)))``. Option
``relative_bias`` keeps only some of the ``rab`` terms (ablations). Option
``attention="softmax"`` (ours, a diagnostic ablation, not the reference) replaces the pointwise
line by the usual ``A = softmax_j(Q K^T / sqrt(dqk) + rab_pos + rab_time)`` over the allowed
keys (rows with no allowed key are zero); everything else in the block stays. ``rab_pos[i, j]``
is a learned bias per relative position ``j - i``; ``rab_time[i, j]`` a learned bias per
log-bucket of the time gap ``bucket = floor(ln(max(|t_i - t_j|, 1)) / 0.301)``, clipped to
``num_time_buckets``. Both are shared by the heads of a block. For session tokens the time is
the session's first interaction. (The reference buckets ``t_{i+1} - t_j``, the time of the
*next* event; we use ``t_i - t_j`` so the user state never depends on when the next session
happens.)
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from sessionrec_tf.layers.dropout import SeededDropout
from sessionrec_tf.sse.registry import HSTU_ATTENTIONS, HSTU_RELATIVE_BIASES

TIME_BUCKET_DIVISOR = 0.301


def time_buckets(timestamps: tf.Tensor, num_buckets: int) -> tf.Tensor:
    """``[B, L]`` seconds -> ``[B, L, L]`` bucket of ``|t_i - t_j|`` (row i = query)."""
    dt = tf.abs(tf.cast(timestamps[:, :, None] - timestamps[:, None, :], tf.float32))
    bucket = tf.floor(tf.math.log(tf.maximum(dt, 1.0)) / TIME_BUCKET_DIVISOR)
    return tf.cast(tf.clip_by_value(bucket, 0.0, float(num_buckets)), tf.int32)


MASKED_BIAS = -1e9  # the bias of a pair the query may not read: SiLU(s - 1e9) is exactly 0


class RelativeBias(tf.keras.layers.Layer):
    """``rab_pos + rab_time`` of one block: a ``[2 max_len - 1]`` relative-position table and
    a ``[num_time_buckets + 1]`` time-bucket table, read through :func:`bias_index`.

    ``terms``: which of the two tables exist, ``position_time`` (the reference), ``position``,
    ``time`` or ``none`` (an ablation: the bias is zero).

    A stack gathers every block's bias with one index and one gather (:func:`masked_biases`)
    instead of two gathers, an add and a mask multiply per block: the bias is already masked.
    """

    def __init__(self, max_len: int, num_time_buckets: int = 128,
                 terms: str = "position_time", **kwargs: object) -> None:
        super().__init__(**kwargs)
        if terms not in HSTU_RELATIVE_BIASES:
            raise ValueError(f"relative_bias: unknown value {terms!r}; valid values: "
                             f"{list(HSTU_RELATIVE_BIASES)}")
        self.max_len = max_len
        self.num_time_buckets = num_time_buckets
        self.terms = terms
        self.use_position = terms in ("position_time", "position")
        self.use_time = terms in ("position_time", "time")

    def build(self, input_shape: tf.TensorShape) -> None:
        if self.use_position:
            self.pos_weights = self.add_weight(
                name="pos", shape=(2 * self.max_len - 1,),
                initializer=tf.keras.initializers.TruncatedNormal(stddev=0.02))
        if self.use_time:
            self.time_weights = self.add_weight(
                name="time", shape=(self.num_time_buckets + 1,),
                initializer=tf.keras.initializers.TruncatedNormal(stddev=0.02))
        super().build(input_shape)

    def tables(self) -> tuple[tf.Tensor, tf.Tensor]:
        """``(pos [P], time [T])``; a missing term is one 0."""
        return (self.pos_weights if self.use_position else tf.zeros([1]),
                self.time_weights if self.use_time else tf.zeros([1]))

    def index(self, timestamps: tf.Tensor, attn_mask: tf.Tensor,
              positions: tf.Tensor | None = None) -> BiasIndex:
        """:func:`bias_index` with this layer's sizes."""
        return bias_index(timestamps, attn_mask, self.max_len, self.num_time_buckets,
                          self.use_position, self.use_time, positions)

    def call(self, timestamps: tf.Tensor, attn_mask: tf.Tensor,
             positions: tf.Tensor | None = None) -> tf.Tensor:
        """``[B, L, L]`` bias: ``rab_pos + rab_time`` where ``attn_mask`` allows the pair,
        :data:`MASKED_BIAS` elsewhere."""
        return masked_biases([self], self.index(timestamps, attn_mask, positions))[0]


class BiasIndex(NamedTuple):
    """Where each (query i, key j) pair of a ``[B, L, L]`` attention reads its block's rab:
    ``pair`` (int32 ``[B, L, L]``) indexes the joint table of ``P * T`` entries ``pos[p] +
    time[t]`` at ``p * T + t``, and ``P * T`` (the masked entry) where the mask forbids the
    pair; ``sizes`` is ``(P, T)``."""

    pair: tf.Tensor
    sizes: tuple[int, int]


def bias_index(timestamps: tf.Tensor, attn_mask: tf.Tensor, max_len: int,
               num_time_buckets: int, use_position: bool, use_time: bool,
               positions: tf.Tensor | None = None) -> BiasIndex:
    """The :class:`BiasIndex` of ``[B, L]`` timestamps under ``attn_mask`` ``[B, L, L]``:
    ``p = j - i + max_len - 1`` (``P = 2 max_len - 1``), ``t = bucket(|t_i - t_j|)``
    (``T = num_time_buckets + 1``); a missing term has ``P`` (or ``T``) = 1 and index 0.

    ``positions`` ``[B, L]``: the position of each token (default ``0 .. L-1``; query tokens,
    :mod:`sessionrec_tf.sse.query_tokens`, take the position of the session they cut). An
    allowed pair is causal (``j - i <= 0``), so ``p`` stays in ``[0, P)``; a sequence longer
    than ``max_len`` gives a negative index, which the gather refuses."""
    num_pos = 2 * max_len - 1 if use_position else 1
    num_time = num_time_buckets + 1 if use_time else 1
    pair = tf.zeros([1, 1, 1], tf.int32)  # broadcast: no [B, L, L] pass for a missing term
    if use_position:
        if positions is None:
            idx = tf.range(tf.shape(attn_mask)[-1])
            rel = (idx[None, :] - idx[:, None])[None]  # j - i, [1, L, L]
        else:
            rel = positions[:, None, :] - positions[:, :, None]  # [B, L, L]
        pair = pair + (rel + (max_len - 1)) * num_time
    if use_time:
        pair = pair + time_buckets(timestamps, num_time_buckets)
    return BiasIndex(pair=tf.where(attn_mask, pair, num_pos * num_time),
                     sizes=(num_pos, num_time))


def masked_biases(layers: list[RelativeBias], index: BiasIndex) -> list[tf.Tensor]:
    """Each layer's ``[B, L, L]`` masked bias (``pos[p] + time[t]`` where allowed,
    :data:`MASKED_BIAS` elsewhere), from ONE gather of a joint ``[P * T + 1, n]`` table of
    all ``n`` layers (a row of ``n`` floats per pair: one gather instead of ``2 n``), then
    one transpose to ``[n, B, L, L]``, whose slices are the layers' biases. The layers must
    have the same sizes (one stack).

    The gradient is dense: per layer one segment sum of its upstream over ``pair`` into the
    joint table (a forbidden pair lands in the masked entry, which is dropped), then the
    joint table's rows and columns summed into ``d pos`` and ``d time``; so the optimiser
    never deduplicates the ``B * L * L`` indices."""
    num_pos, num_time = index.sizes
    pos_tables, time_tables = (tf.stack(list(t), axis=1)  # [P, n], [T, n]
                               for t in zip(*(layer.tables() for layer in layers)))
    n = len(layers)

    @tf.custom_gradient
    def gather(pos: tf.Tensor, time: tf.Tensor) -> tuple[list[tf.Tensor], object]:
        joint = tf.reshape(pos[:, None, :] + time[None, :, :], [num_pos * num_time, n])
        joint = tf.concat([joint, tf.fill([1, n], MASKED_BIAS)], axis=0)
        gathered = tf.gather(joint, index.pair)  # [B, L, L, n]
        biases = ([gathered[..., 0]] if n == 1
                  else tf.unstack(tf.transpose(gathered, [3, 0, 1, 2])))

        def grad(*upstream: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:  # n x [B, L, L]
            joint_grad = tf.stack([tf.math.unsorted_segment_sum(
                g, index.pair, num_pos * num_time + 1)[:-1] for g in upstream], axis=1)
            joint_grad = tf.reshape(joint_grad, [num_pos, num_time, n])
            return tf.reduce_sum(joint_grad, 1), tf.reduce_sum(joint_grad, 0)

        return biases, grad

    return list(gather(pos_tables, time_tables))


class HSTUBlock(tf.keras.layers.Layer):
    """One HSTU layer over ``[B, L, d]`` with a ``[B, L, L]`` attention mask; ``attention``
    ``silu`` (pointwise, the reference) or ``softmax`` (see the module docstring)."""

    def __init__(self, dim: int, num_heads: int, qk_dim: int, v_dim: int, max_len: int,
                 dropout: float, num_time_buckets: int = 128, seed: int = 0,
                 attention: str = "silu", relative_bias: str = "position_time",
                 gating: bool = True, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if attention not in HSTU_ATTENTIONS:
            raise ValueError(f"attention: unknown value {attention!r}; valid values: "
                             f"{list(HSTU_ATTENTIONS)}")
        self.attention = attention
        self.gating = bool(gating)
        self.dim, self.num_heads, self.qk_dim, self.v_dim = dim, num_heads, qk_dim, v_dim
        self.max_len = max_len
        self.norm_in = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="norm_in")
        u_dim = v_dim if self.gating else 0  # without the gate there is no U
        self.uvqk = tf.keras.layers.Dense(num_heads * (u_dim + v_dim + 2 * qk_dim), name="uvqk")
        self.bias = RelativeBias(max_len, num_time_buckets, relative_bias, name="rab")
        self.norm_attn = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="norm_attn")
        self.dropout = SeededDropout(dropout, seed=seed, name="dropout")
        self.out = tf.keras.layers.Dense(dim, name="out")

    def built_bias(self) -> RelativeBias:
        """The block's :class:`RelativeBias`, its tables created under the block's name (as
        its first call would) when a stack reads them before calling the block."""
        if not self.bias.built:
            with tf.name_scope(self.name), tf.name_scope(self.bias.name):
                self.bias.build(tf.TensorShape(None))
        return self.bias

    def call(self, x: tf.Tensor, timestamps: tf.Tensor, attn_mask: tf.Tensor,
             training: bool | None = None, positions: tf.Tensor | None = None,
             bias: tf.Tensor | None = None) -> tf.Tensor:
        """``attn_mask`` [B, L, L] bool; ``positions`` [B, L] as :func:`bias_index`; a stack
        passes every block's ``bias`` ([B, L, L], :func:`masked_biases`: the rab terms where
        the mask allows, :data:`MASKED_BIAS` elsewhere), computed at once."""
        h, dv, dqk = self.num_heads, self.v_dim, self.qk_dim
        uvqk = tf.nn.silu(self.uvqk(self.norm_in(x)))
        u_width = h * dv if self.gating else 0
        # one split into every head's V, Q, K ([B, L, D] each): per-head matmuls need no
        # [B, L, H, D] -> [B, H, L, D] transposes (each a oneDNN call with a fixed cost)
        pieces = tf.split(uvqk, [u_width] + [dv] * h + [dqk] * h + [dqk] * h, axis=-1)
        u, heads = pieces[0], zip(pieces[1:1 + h], pieces[1 + h:1 + 2 * h], pieces[1 + 2 * h:],
                                  strict=True)
        if bias is None:
            bias = self.bias(timestamps, attn_mask, positions)  # [B, L, L], masked
        if self.attention == "softmax":
            allowed = tf.cast(attn_mask, bias.dtype)
            outputs = [tf.matmul(tf.nn.softmax(tf.matmul(q, k, transpose_b=True)
                                               * float(dqk) ** -0.5 + bias, axis=-1) * allowed, v)
                       for v, q, k in heads]
            av = tf.concat(outputs, axis=-1)  # [B, L, H * dv]
        else:
            # SiLU(s + MASKED_BIAS) is exactly 0 (sigmoid underflows to 0, as does its
            # gradient): the mask costs no pass over [B, L, L]; 1/n scales A V instead
            outputs = [tf.matmul(tf.nn.silu(tf.matmul(q, k, transpose_b=True) + bias), v)
                       for v, q, k in heads]
            av = tf.concat(outputs, axis=-1) * (1.0 / float(self.max_len))
        gated = u * self.norm_attn(av) if self.gating else self.norm_attn(av)
        return x + self.out(self.dropout(gated, training=training))


class HSTUEncoder(tf.keras.layers.Layer):
    """Causal HSTU stack: ``[B, L, d]`` tokens + ``[B, L]`` times -> ``[B, L, d]`` states.

    Args:
      dim: model width d.
      num_layers: blocks (paper: 4).
      num_heads: heads (paper: 2).
      max_len: maximum sequence length, the attention normaliser ``n`` and the size of the
        relative position table.
      dropout: dropout rate (paper: 0.2).
      qk_dim, v_dim: per-head widths (default ``dim // num_heads``).
      num_time_buckets: log time buckets (128).
      seed: seed of the dropout streams.
      input_scale: multiply the input tokens by ``sqrt(d)`` (as the reference implementation's
        input preprocessor does).
      attention: ``silu`` (the reference's pointwise attention) or ``softmax`` (a diagnostic
        ablation; see the module docstring).
      relative_bias: the attention bias tables, ``position_time`` (the reference),
        ``position``, ``time`` or ``none`` (ablations; :class:`RelativeBias`).
      gating: multiply the normalised attention output by ``U`` (the reference); ``False``
        (an ablation) drops ``U`` from the projection: ``y = x + Linear(Dropout(LN(A V)))``.
      position_embedding: add a learned absolute position embedding ``P[i]`` (``i`` = token
        index from the start of the sequence, ``[max_len, d]`` table, truncated-normal init
        with std ``sqrt(1/d)``, as in the reference) before the input dropout.
      final_norm: a LayerNorm over the last block's output (ours); ``False``: the states are
        the last block's output, as in the reference (which L2-normalises it directly).

    The input is ``Dropout(x * (sqrt(d) if input_scale else 1) + (P if position_embedding
    else 0))``.
    """

    def __init__(self, dim: int, num_layers: int = 4, num_heads: int = 2, max_len: int = 200,
                 dropout: float = 0.2, qk_dim: int | None = None, v_dim: int | None = None,
                 num_time_buckets: int = 128, seed: int = 0, input_scale: bool = False,
                 position_embedding: bool = False, attention: str = "silu",
                 relative_bias: str = "position_time", gating: bool = True,
                 final_norm: bool = True, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.max_len = max_len
        self.dim = dim
        self.input_scale = bool(input_scale)
        self.positions = (tf.keras.layers.Embedding(
            max_len, dim, name="positions",
            embeddings_initializer=tf.keras.initializers.TruncatedNormal(stddev=(1.0 / dim) ** 0.5))
            if position_embedding else None)
        per_head = max(dim // num_heads, 1)
        self.input_dropout = SeededDropout(dropout, seed=seed * 1000 + 999, name="input_dropout")
        self.blocks = [
            HSTUBlock(dim, num_heads, qk_dim or per_head, v_dim or per_head, max_len, dropout,
                      num_time_buckets, seed=seed * 1000 + i, attention=attention,
                      relative_bias=relative_bias, gating=gating, name=f"hstu_block_{i}")
            for i in range(num_layers)
        ]
        self.final_norm = (tf.keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")
                           if final_norm else None)

    accepts_query_tokens = True  # positions and attn_mask (sessionrec_tf.sse.query_tokens)

    def call(self, x: tf.Tensor, mask: tf.Tensor, timestamps: tf.Tensor,
             training: bool | None = None, positions: tf.Tensor | None = None,
             attn_mask: tf.Tensor | None = None) -> tf.Tensor:
        """``positions`` ``[B, L]`` (default ``0 .. L-1``) and ``attn_mask`` ``[B, L, L]``
        (default causal over the valid tokens) place query tokens
        (:mod:`sessionrec_tf.sse.query_tokens`)."""
        length = tf.shape(x)[1]
        if attn_mask is None:
            causal = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
            attn_mask = tf.logical_and(causal[None], mask[:, None, :])
        # every block's masked bias from one index and one gather
        layers = [block.built_bias() for block in self.blocks]
        biases = (masked_biases(layers, layers[0].index(timestamps, attn_mask, positions))
                  if layers else [])
        if self.input_scale:
            x = x * float(self.dim) ** 0.5
        if self.positions is not None:
            x = x + (self.positions(tf.range(length))[None] if positions is None
                     else self.positions(positions))
        x = self.input_dropout(x, training=training)
        for block, bias in zip(self.blocks, biases, strict=True):
            x = block(x, timestamps, attn_mask, training=training, positions=positions,
                      bias=bias)
        return self.final_norm(x) if self.final_norm is not None else x
