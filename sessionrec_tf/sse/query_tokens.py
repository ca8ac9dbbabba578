"""Query tokens: extra SSE tokens that each read a prefix of their user's sequence.

A partial-session training query (the history up to a cut inside session ``j``, pooled
into tokens) differs from the user's own sequence only in its last token: the partial session
``j`` instead of the whole one. With an attention SSE it need not be encoded as a sequence of
its own: its token is appended to the user's sequence with an attention row that sees the
user's tokens ``0 .. j-1`` and itself, at position ``j`` and session ``j``'s time. Because the
SSE is causal, tokens ``0 .. j-1`` have the same states in both encodings, so the appended
token's state equals the last state of the separately encoded cut history (tested, dropout
off), at the cost of ``Q`` more tokens per user instead of ``Q`` more sequences.

Layout of the extended input, ``[B, L + Q]`` (``L`` the padded sequence, ``Q`` query slots)::

    row i < L    (sequence token):  sees tokens k <= i of the sequence (the causal mask)
    row L + q    (query token q):   sees tokens k < position[b, q] of the sequence, and itself

The SSEs that take ``positions`` and ``attn_mask`` (HSTU, Transformer) declare
``accepts_query_tokens = True``; a recurrent SSE cannot skip tokens and keeps the separate
encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf


@dataclass
class QueryTokens:
    """``Q`` query tokens per user.

    Attributes:
      tokens: ``[B, Q, d]`` the tokens (zeros in an unused slot).
      position: ``[B, Q]`` int32: the position each token takes; it reads the sequence's
        tokens before it (``0`` in an unused slot: it reads only itself).
      timestamp: ``[B, Q]`` the time of each token (as the sequence's timestamps).
    """

    tokens: tf.Tensor
    position: tf.Tensor
    timestamp: tf.Tensor

    @property
    def slots(self) -> int:
        return int(self.tokens.shape[1])

    def rows(self, rows: tf.Tensor) -> QueryTokens:
        """The query tokens of the users ``rows`` (``[n]``)."""
        return QueryTokens(tf.gather(self.tokens, rows), tf.gather(self.position, rows),
                           tf.gather(self.timestamp, rows))


def extend_with_queries(x: tf.Tensor, mask: tf.Tensor, timestamps: tf.Tensor,
                        queries: QueryTokens
                        ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """The SSE input of a padded batch and its query tokens (module docstring).

    Args:
      x: ``[B, L, d]`` right-padded tokens; mask: ``[B, L]``; timestamps: ``[B, L]``.
      queries: their :class:`QueryTokens` (positions at most ``L``).

    Returns:
      ``(x [B, L+Q, d], timestamps [B, L+Q], positions [B, L+Q] int32,
      attn_mask [B, L+Q, L+Q] bool)``.
    """
    batch, length = tf.shape(x)[0], tf.shape(x)[1]
    slots = queries.slots
    index = tf.range(length)
    causal = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
    top = tf.concat([tf.logical_and(causal[None], mask[:, None, :]),
                     tf.zeros([batch, length, slots], tf.bool)], axis=2)
    position = tf.cast(queries.position, tf.int32)
    reads = tf.logical_and(index[None, None, :] < position[:, :, None], mask[:, None, :])
    itself = tf.broadcast_to(tf.eye(slots, dtype=tf.bool)[None], [batch, slots, slots])
    attn_mask = tf.concat([top, tf.concat([reads, itself], axis=2)], axis=1)
    positions = tf.concat([tf.broadcast_to(index[None], [batch, length]), position], axis=1)
    return (tf.concat([x, tf.cast(queries.tokens, x.dtype)], axis=1),
            tf.concat([timestamps, tf.cast(queries.timestamp, timestamps.dtype)], axis=1),
            positions, attn_mask)


def encode_with_queries(sse: tf.keras.layers.Layer, x: tf.Tensor, mask: tf.Tensor,
                        timestamps: tf.Tensor, queries: QueryTokens,
                        training: bool | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """``(states [B, L, d], query states [B, Q, d])`` of one SSE call over the sequence and
    its query tokens."""
    if not getattr(sse, "accepts_query_tokens", False):
        raise ValueError(f"SSE {type(sse).__name__} does not take query tokens "
                         "(positions and an attention mask)")
    length = tf.shape(x)[1]
    ext_x, ext_t, positions, attn_mask = extend_with_queries(x, mask, timestamps, queries)
    ext_mask = tf.concat([mask, tf.ones(tf.shape(queries.position), tf.bool)], axis=1)
    states = sse(ext_x, mask=ext_mask, timestamps=ext_t, training=training,
                 positions=positions, attn_mask=attn_mask)
    return states[:, :length], states[:, length:]
