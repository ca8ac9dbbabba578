"""Pooling session encoders: mean, max, and max after ReLU over a session's item tokens.

With ``label_split`` the positives and the negatives of a session are pooled separately and
the two pools are merged by a learned linear map. With ``positives_only`` only a session's
positives are pooled (its negatives stay targets of the rank loss but are not read as input,
like the item-level HSTU/SASRec/GRU4Rec baselines); a session without positives pools to zeros.
Why ``label_split`` matters: with the default linear embedding (``model.embedding_mlp: []``)
an interaction token is ``W [e_item; e_label] + b``, so the mean over a session is
``W_item mean(e_item) + W_label mean(e_label) + b``: the token tells how MANY items were
positive but not WHICH ones (swap the labels of two items of a session and the token does not
change). Item-level models read every (item, label) token on its own; a mean-pooled session
token with many negatives mixes the items the user engaged with and the ones they skipped into
one average.
"""

from __future__ import annotations

import tensorflow as tf

from sessionrec_tf.data.batch_ops import row_ids, true_indices

MODES = ("mean", "max", "max_relu")


class PoolingISE(tf.keras.layers.Layer):
    """``[batch, sessions, items, d]`` (ragged) -> ``[batch, sessions, d]`` (ragged_rank 1).

    Reduces over the ragged item dimension with segment ops on the flat values: no session is
    padded. ``mean`` is the paper's best ISE (Table 4).

    With ``label_split=True`` the layer also needs ``labels`` (``[batch, sessions, items]``,
    1 = positive) and returns ``pool(all) + W [pool(negatives); pool(positives)]``, with ``W``
    (``[2d, d]``, no bias) initialised to zeros: training starts from the plain pooling and
    learns what the split adds. A session without negatives (or without positives) pools that
    side to zeros.

    With ``positives_only=True`` (also needs ``labels``) it pools the positives alone.

    Args:
      mode: ``mean``, ``max`` or ``max_relu``.
      label_split: pool positives and negatives separately (see the module docstring).
      positives_only: pool only the positives (exclusive with ``label_split``).

    Example::

        ise = PoolingISE("mean", label_split=True)
        sessions = ise(tokens, labels=batch["label"])   # [B, S, d]
    """

    def __init__(self, mode: str = "mean", label_split: bool = False,
                 positives_only: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"unknown pooling mode {mode!r}; valid: {list(MODES)}")
        if label_split and positives_only:
            raise ValueError("PoolingISE: label_split and positives_only exclude each other")
        self.mode = mode
        self.label_split = bool(label_split)
        self.positives_only = bool(positives_only)
        self.merge: tf.keras.layers.Dense | None = None

    @property
    def uses_labels(self) -> bool:
        """True when :meth:`call` needs the interaction labels."""
        return self.label_split or self.positives_only

    def build(self, input_shape: object = None) -> None:
        if self.label_split and self.merge is None:
            dim = tf.TensorShape(input_shape)[-1]
            if dim is None:
                raise ValueError("label_split pooling needs a static token width")
            self.merge = tf.keras.layers.Dense(int(dim), use_bias=False, name="label_merge",
                                               kernel_initializer="zeros")
            self.merge.build([None, 2 * int(dim)])
        super().build(input_shape)

    def _pool(self, values: tf.Tensor, segments: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
        """``[n, d]``: each segment's pool of ``values [N, d]``, ``segments [N]`` sorted
        (non-decreasing, as the row ids of a ragged tensor are); an empty segment pools to 0.

        TensorFlow's sorted segment reductions: the mean pooling's forward 0.45x and
        forward + gradient 0.38x the time of the unsorted ones for 512k tokens of width 64
        (benchmarks/RESULTS.md, "Per-interaction batch operations"). They reject unsorted ids
        and size their output by the last id, so the sessions after the last non-empty one
        are padded here."""
        if self.mode == "max_relu":
            values = tf.nn.relu(values)
        reduce = tf.math.segment_mean if self.mode == "mean" else tf.math.segment_max
        pooled = reduce(values, segments)  # an empty segment inside the range pools to 0
        return tf.pad(pooled, [[0, tf.cast(n, tf.int32) - tf.shape(pooled)[0]], [0, 0]])

    def _split_pool(self, values: tf.Tensor, segments: tf.Tensor, positive: tf.Tensor,
                    n: tf.Tensor) -> tf.Tensor:
        """``[n, 2d]``: ``[pool(negatives); pool(positives)]`` of each segment."""
        sides = []
        for keep in (tf.logical_not(positive), positive):
            kept = true_indices(keep)
            sides.append(self._pool(tf.gather(values, kept), tf.gather(segments, kept), n))
        return tf.concat(sides, axis=1)

    def call(self, tokens: tf.RaggedTensor, labels: tf.RaggedTensor | None = None,
             training: bool | None = None) -> tf.RaggedTensor:
        values = tokens.flat_values
        session_of_item = row_ids(tokens.values)
        n_sessions = tokens.values.nrows()
        if self.uses_labels and labels is None:
            option = "label_split" if self.label_split else "positives_only"
            raise ValueError(f"PoolingISE({option}=True) needs the interaction labels")
        if self.positives_only:
            kept = true_indices(tf.equal(labels.flat_values, 1))
            values, session_of_item = tf.gather(values, kept), tf.gather(session_of_item, kept)
        pooled = self._pool(values, session_of_item, n_sessions)
        if self.label_split:
            pooled = pooled + self.merge(self._split_pool(
                values, session_of_item, tf.equal(labels.flat_values, 1), n_sessions))
        return tf.RaggedTensor.from_row_splits(pooled, tokens.row_splits, validate=False)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "label_split": self.label_split,
                "positives_only": self.positives_only}
