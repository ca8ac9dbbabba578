"""TF Serving warm-up records: ``assets.extra/tf_serving_warmup_requests`` of an export.

TF Serving replays the ``PredictionLog`` records of this TFRecord file when it loads a version,
before the version serves traffic, so the first real requests do not pay for first-run costs
(kernel set-up, table initialisation, memory pools, and the branch of every length bucket the
SSE runs through). The requests are synthetic, never users' histories: random catalogue items
(sessions of one positive item, so a user's token count equals its session count in both
paradigms), one single-user request for each SSE length bucket up to ``model.max_len``, one
beyond it (the truncation path), a batch mixing every length with random labels, and one
``items`` request.

Writing the file needs ``tensorflow-serving-api`` (``pip install sessionrec_tf[serving]``), the
package that defines ``PredictionLog``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.export.encode import RequestEncoder
from sessionrec_tf.export.query_module import ITEMS_SIGNATURE, SERVING_SIGNATURE
from sessionrec_tf.export.request import ITEM_IDS, RequestSpec
from sessionrec_tf.sse.bucketing import length_bucket_bounds

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
START_TIME = 1_700_000_000  # synthetic session timestamps: hourly from here


def serving_protos() -> tuple[Any, Any]:
    """``(prediction_log_pb2, predict_pb2)`` of tensorflow-serving-api, or a clear error."""
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    except ImportError as e:
        raise DataError("writing TF Serving warm-up requests needs tensorflow-serving-api: "
                        "pip install 'sessionrec_tf[serving]' (or export without warm-up requests)"
                        ) from e
    return prediction_log_pb2, predict_pb2


def session_counts(max_len: int) -> list[int]:
    """Sessions of the single-user warm-up requests: every bucket's upper bound, and one
    user beyond ``max_len``."""
    return [*length_bucket_bounds(max_len), max_len + 1]


def _batch(dataset: PreparedDataset, spec: RequestSpec, counts: list[int],
           rng: np.random.Generator, positives_only: bool) -> dict[str, Any]:
    """A reader-like batch (vocabulary indices) of users with ``counts`` one-item sessions."""
    n = int(sum(counts))
    items = rng.integers(NUM_RESERVED, dataset.num_items, n)
    labels = np.ones(n, np.int64) if positives_only else rng.integers(0, 2, n)
    nested = [np.asarray(counts, np.int64), np.ones(n, np.int64)]
    batch: dict[str, Any] = {
        "item_id": tf.RaggedTensor.from_nested_row_lengths(items, nested),
        "label": tf.RaggedTensor.from_nested_row_lengths(labels, nested),
        "session_timestamp": tf.RaggedTensor.from_row_lengths(
            START_TIME + 3_600 * np.concatenate([np.arange(c) for c in counts]).astype(np.int64),
            nested[0]),
    }
    for f in spec.features:
        size = len(dataset.vocabulary(f.name).tokens) + NUM_RESERVED
        batch[f.name] = tf.RaggedTensor.from_nested_row_lengths(
            rng.integers(NUM_RESERVED, size, n), nested)
    return batch


def warmup_requests(dataset: PreparedDataset, max_len: int, seed: int = 0
                    ) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``(signature name, request arrays)`` of every warm-up record, in replay order."""
    encoder = RequestEncoder(dataset)
    rng = np.random.default_rng(seed)
    counts = session_counts(max_len)
    out = [(SERVING_SIGNATURE, encoder.encode(_batch(dataset, encoder.spec, [c], rng, True)))
           for c in counts]
    out.append((SERVING_SIGNATURE,
                encoder.encode(_batch(dataset, encoder.spec, counts, rng, False))))
    some_items = rng.integers(NUM_RESERVED, dataset.num_items, min(16, dataset.num_items - 2))
    out.append((ITEMS_SIGNATURE, {ITEM_IDS: encoder.item_tokens[some_items]}))
    return out


def write_warmup(export_dir: str | Path, dataset: PreparedDataset, max_len: int,
                 model_name: str = "sessionrec", seed: int = 0) -> tuple[Path, int]:
    """Write ``export_dir/assets.extra/tf_serving_warmup_requests``; returns (path, records)."""
    prediction_log_pb2, predict_pb2 = serving_protos()
    path = Path(export_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    requests = warmup_requests(dataset, max_len, seed)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, arrays in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature
            for name, values in arrays.items():
                values = np.asarray(values)
                if values.dtype == object:
                    values = values.astype(str).astype(object)
                request.inputs[name].CopyFrom(tf.make_tensor_proto(values))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path, len(requests)
