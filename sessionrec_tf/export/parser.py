"""Inside the serving graph: validate a flat request and rebuild the model's ragged batch.

    item_ids, labels, <features>  [interactions]
    session_lengths, session_timestamps  [sessions]        --> batch [B, S, I] ragged_rank 2
    user_session_counts  [B]

Every check is a ``tf.debugging`` assert in the graph, so a bad request fails with an
``InvalidArgument`` error whose message names the input and the rule it breaks, raised by the
model server itself (TF Serving returns it to the client). The checks run one after the other,
most basic first, so a request breaking several rules reports the first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import tensorflow as tf

from sessionrec_tf.data.batch_ops import repeat_range, splits_from_lengths, true_indices
from sessionrec_tf.export.request import (
    ITEM_IDS,
    LABELS,
    SESSION_LENGTHS,
    SESSION_TIMESTAMPS,
    USER_SESSION_COUNTS,
    FeatureInput,
    RequestSpec,
)
from sessionrec_tf.export.tables import VocabularyTable

PREFIX = "bad serving request: "


class RequestParser(tf.Module):
    """Request tensors -> ``(batch, oov_count)``.

    Args:
      spec: the request's inputs.
      tables: ``item_id`` and every discrete interaction feature's vocabulary table (binned
        features too: their vocabulary maps bucket numbers to indices).
    """

    def __init__(self, spec: RequestSpec, tables: Mapping[str, VocabularyTable]) -> None:
        super().__init__(name="request_parser")
        missing = [n for n in ("item_id", *spec.feature_names) if n not in tables]
        if missing:
            raise ValueError(f"RequestParser: no vocabulary table for {missing}")
        self.spec = spec
        self.tables = dict(tables)

    # ------------------------------------------------------------------ checks
    def _rules(self, inputs: Mapping[str, tf.Tensor]) -> list[Callable[[], tf.Operation]]:
        """The asserts, most basic first; each is created when called."""
        lengths = inputs[SESSION_LENGTHS]
        counts = inputs[USER_SESSION_COUNTS]

        def n_items() -> tf.Tensor:
            return tf.size(inputs[ITEM_IDS], out_type=tf.int64)

        def n_sessions() -> tf.Tensor:
            return tf.size(lengths, out_type=tf.int64)

        def same_length(name: str) -> Callable[[], tf.Operation]:
            return lambda: tf.debugging.assert_equal(
                tf.size(inputs[name], out_type=tf.int64), n_items(),
                message=PREFIX + f"len({name}) must equal len({ITEM_IDS}) (one value per "
                "interaction)")

        def labels_binary() -> tf.Operation:
            labels = inputs[LABELS]
            ok = tf.reduce_all(tf.logical_or(tf.equal(labels, 0), tf.equal(labels, 1)))
            return tf.debugging.assert_equal(
                ok, True, message=PREFIX + f"{LABELS} must be 0 (negative) or 1 (positive)")

        return [
            lambda: tf.debugging.assert_positive(
                lengths, message=PREFIX + f"every {SESSION_LENGTHS} value must be >= 1 (a "
                "session holds at least one interaction); found a zero or negative length"),
            lambda: tf.debugging.assert_positive(
                counts, message=PREFIX + f"every {USER_SESSION_COUNTS} value must be >= 1 "
                "(each user needs at least one session); found a user with no sessions"),
            lambda: tf.debugging.assert_equal(
                tf.reduce_sum(counts), n_sessions(), message=PREFIX +
                f"sum({USER_SESSION_COUNTS}) must equal the number of sessions, "
                f"len({SESSION_LENGTHS})"),
            lambda: tf.debugging.assert_equal(
                tf.reduce_sum(lengths), n_items(), message=PREFIX + f"sum({SESSION_LENGTHS}) "
                f"must equal the number of interactions, len({ITEM_IDS})"),
            lambda: tf.debugging.assert_equal(
                tf.size(inputs[SESSION_TIMESTAMPS], out_type=tf.int64), n_sessions(),
                message=PREFIX + f"len({SESSION_TIMESTAMPS}) must equal len({SESSION_LENGTHS}) "
                "(one timestamp per session)"),
            *[same_length(name) for name in (LABELS, *self.spec.feature_names)],
            labels_binary,
        ]

    def validate(self, inputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """The inputs, as identities that depend on every check having passed."""
        done: list[tf.Operation] = []
        for rule in self._rules(inputs):
            with tf.control_dependencies(done):
                done = [rule()]
        with tf.control_dependencies(done):
            return {k: tf.identity(v) for k, v in inputs.items()}

    # ------------------------------------------------------------------ parse
    def _feature_index(self, feature: FeatureInput, values: tf.Tensor) -> tf.Tensor:
        """Vocabulary indices of one interaction feature's raw values."""
        table = self.tables[feature.name]
        if feature.bins is None:
            return table.lookup(values)[0]
        edges = tf.constant(feature.bins, tf.float64)
        bucket = tf.searchsorted(edges[None, :], values[None, :], side="right",
                                 out_type=tf.int64)[0]
        bucket = tf.where(tf.math.is_nan(values), tf.constant(len(feature.bins) + 1, tf.int64),
                          bucket)
        return table.lookup(bucket)[0]

    def parse(self, inputs: Mapping[str, tf.Tensor]
              ) -> tuple[dict[str, tf.RaggedTensor], tf.Tensor]:
        """``(batch, oov_count [B] int64)`` from validated request tensors.

        ``batch`` has ``item_id``, ``label``, ``timestamp`` and each interaction feature as
        ``[B, S, I]`` int64 RaggedTensors and ``session_timestamp`` ``[B, S]``. Each
        interaction's ``timestamp`` is its session's timestamp (the request carries session
        timestamps only).
        """
        inputs = self.validate(inputs)
        counts = inputs[USER_SESSION_COUNTS]
        lengths = inputs[SESSION_LENGTHS]
        item_index, is_oov = self.tables["item_id"].lookup(inputs[ITEM_IDS])
        session_of_item = repeat_range(lengths)
        # the user of each unknown item only (few): no per-interaction user ids
        user_items = tf.gather(splits_from_lengths(lengths), splits_from_lengths(counts))
        oov_user = tf.searchsorted(user_items[1:], true_indices(is_oov), side="right",
                                   out_type=tf.int64)
        oov_count = tf.math.unsorted_segment_sum(
            tf.ones_like(oov_user), oov_user, tf.size(counts, out_type=tf.int64))
        flat = {
            "item_id": item_index,
            "label": inputs[LABELS],
            "timestamp": tf.gather(inputs[SESSION_TIMESTAMPS], session_of_item),
        }
        for feature in self.spec.features:
            flat[feature.name] = self._feature_index(feature, inputs[feature.name])
        batch = {k: tf.RaggedTensor.from_nested_row_lengths(v, [counts, lengths],
                                                            validate=False)
                 for k, v in flat.items()}
        batch["session_timestamp"] = tf.RaggedTensor.from_row_lengths(
            inputs[SESSION_TIMESTAMPS], counts, validate=False)
        return batch, oov_count
