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

import tensorflow as tf

from sessionrec_tf.layers.dropout import SeededDropout
from sessionrec_tf.sse.registry import HSTU_ATTENTIONS, HSTU_RELATIVE_BIASES

TIME_BUCKET_DIVISOR = 0.301


def time_buckets(timestamps: tf.Tensor, num_buckets: int) -> tf.Tensor:
    """``[B, L]`` seconds -> ``[B, L, L]`` bucket of ``|t_i - t_j|`` (row i = query)."""
    dt = tf.abs(tf.cast(timestamps[:, :, None] - timestamps[:, None, :], tf.float32))
    bucket = tf.floor(tf.math.log(tf.maximum(dt, 1.0)) / TIME_BUCKET_DIVISOR)
    return tf.cast(tf.clip_by_value(bucket, 0.0, float(num_buckets)), tf.int32)


def gather_dense_grad(table: tf.Tensor, indices: tf.Tensor) -> tf.Tensor:
    """``tf.gather(table, indices)`` whose gradient is a dense ``[len(table)]`` vector.

    The bias tables are tiny (<= 2 max_len entries) but are read at every one of the
    ``B * L * L`` attention positions; the default sparse gradient would make the optimizer
    deduplicate tens of millions of indices (``Unique`` + segment sums) every step.
    """

    @tf.custom_gradient
    def lookup(values: tf.Tensor) -> tuple[tf.Tensor, object]:
        def grad(upstream: tf.Tensor) -> tf.Tensor:
            return tf.math.unsorted_segment_sum(upstream, indices, tf.shape(values)[0])

        return tf.gather(values, indices), grad

    return lookup(tf.convert_to_tensor(table))


class RelativeBias(tf.keras.layers.Layer):
    """``rab_pos + rab_time``: ``[B, L]`` timestamps -> ``[B, L, L]`` additive attention bias.

    ``terms``: which of the two tables exist, ``position_time`` (the reference), ``position``,
    ``time`` or ``none`` (an ablation: the bias is zero).
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

    def call(self, timestamps: tf.Tensor, buckets: tf.Tensor | None = None,
             positions: tf.Tensor | None = None) -> tf.Tensor:
        """``buckets``: precomputed :func:`time_buckets` (shared by the layers of a stack);
        ``positions``: ``[B, L]`` position of each token (default ``0 .. L-1``; query tokens,
        :mod:`sessionrec_tf.sse.query_tokens`, take the position of the session they cut)."""
        length = tf.shape(timestamps)[1]
        terms = []
        if self.use_position:
            if positions is None:
                idx = tf.range(length)
                rel = (idx[None, :] - idx[:, None])[None]  # j - i, [1, L, L]
            else:
                rel = positions[:, None, :] - positions[:, :, None]  # [B, L, L]
            terms.append(gather_dense_grad(self.pos_weights, rel + self.max_len - 1))  # >= 0
        if self.use_time:
            if buckets is None:
                buckets = time_buckets(timestamps, self.num_time_buckets)
            terms.append(gather_dense_grad(self.time_weights, buckets))
        if not terms:
            return tf.zeros([1, length, length], tf.float32)
        return terms[0] + terms[1] if len(terms) == 2 else terms[0]


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

    def call(self, x: tf.Tensor, timestamps: tf.Tensor, attn_mask: tf.Tensor,
             training: bool | None = None, buckets: tf.Tensor | None = None,
             scaled_mask: tf.Tensor | None = None,
             positions: tf.Tensor | None = None) -> tf.Tensor:
        """``attn_mask`` [B, L, L] bool; a stack passes the shared ``buckets`` and
        ``scaled_mask`` (= mask / n, float [B, 1, L, L]) so they are computed once;
        ``positions`` [B, L] as :class:`RelativeBias`."""
        h, dv, dqk = self.num_heads, self.v_dim, self.qk_dim
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        uvqk = tf.nn.silu(self.uvqk(self.norm_in(x)))
        u_width = h * dv if self.gating else 0
        u, v, q, k = tf.split(uvqk, [u_width, h * dv, h * dqk, h * dqk], axis=-1)
        # [B, L, H*D] -> [B, H, L, D]; batched matmuls (einsum takes a slow path here)
        q = tf.transpose(tf.reshape(q, [batch, length, h, dqk]), [0, 2, 1, 3])
        k = tf.transpose(tf.reshape(k, [batch, length, h, dqk]), [0, 2, 1, 3])
        v = tf.transpose(tf.reshape(v, [batch, length, h, dv]), [0, 2, 1, 3])
        bias = self.bias(timestamps, buckets, positions)[:, None]  # [B or 1, 1, L, L]
        if self.attention == "softmax":
            scores = tf.matmul(q, k, transpose_b=True) * float(dqk) ** -0.5 + bias
            allowed = tf.cast(attn_mask, scores.dtype)[:, None]  # [B, 1, L, L]
            attn = tf.nn.softmax(scores + (1.0 - allowed) * -1e9, axis=-1) * allowed
        else:
            scores = tf.matmul(q, k, transpose_b=True) + bias
            if scaled_mask is None:
                scaled_mask = tf.cast(attn_mask, scores.dtype)[:, None] / float(self.max_len)
            attn = tf.nn.silu(scores) * scaled_mask
        av = tf.transpose(tf.matmul(attn, v), [0, 2, 1, 3])
        av = tf.reshape(av, [batch, length, h * dv])
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
        scaled_mask = tf.cast(attn_mask, x.dtype)[:, None] / float(self.max_len)
        buckets = time_buckets(timestamps, self.blocks[0].bias.num_time_buckets) \
            if self.blocks and self.blocks[0].bias.use_time else None
        if self.input_scale:
            x = x * float(self.dim) ** 0.5
        if self.positions is not None:
            x = x + (self.positions(tf.range(length))[None] if positions is None
                     else self.positions(positions))
        x = self.input_dropout(x, training=training)
        for block in self.blocks:
            x = block(x, timestamps, attn_mask, training=training, buckets=buckets,
                      scaled_mask=scaled_mask, positions=positions)
        return self.final_norm(x) if self.final_norm is not None else x
