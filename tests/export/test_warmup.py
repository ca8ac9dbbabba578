"""TF Serving warm-up records: what the file holds, and that every record replays through the
exported SavedModel (what TF Serving does with them on load)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sessionrec_tf.data import DataError
from sessionrec_tf.export import ExportOptions
from sessionrec_tf.export.warmup import WARMUP_FILE, session_counts, warmup_requests

prediction_log_pb2 = pytest.importorskip(
    "tensorflow_serving.apis.prediction_log_pb2",
    reason="tensorflow-serving-api (the `serving` extra, installed by `make`) is needed to "
           "read PredictionLog records")


def _records(export_dir) -> list:
    logs = []
    for raw in tf.data.TFRecordDataset(str(export_dir / WARMUP_FILE)):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw.numpy())
        logs.append(log)
    return logs


def test_session_counts_cover_every_length_bucket():
    # buckets (0, 16], (16, 32], (32, 64], (64, 128], (128, 200] and the truncated > 200
    assert session_counts(200) == [16, 32, 64, 128, 200, 201]
    assert session_counts(4) == [4, 5]


@pytest.mark.parametrize("which", ["tiny_export", "feature_export"])
def test_warmup_records_decode_to_the_requests_and_replay(which, request):
    result = request.getfixturevalue(which)
    exporter = result.exporter
    max_len = exporter.config.model.max_len
    logs = _records(result.path)
    want = warmup_requests(exporter.dataset, max_len)
    assert len(logs) == len(want) == len(session_counts(max_len)) + 2
    assert result.metadata["warmup_requests"] == len(want)
    loaded = tf.saved_model.load(str(result.path))
    for log, (signature, arrays) in zip(logs, want):
        req = log.predict_log.request
        assert log.WhichOneof("log_type") == "predict_log"
        assert req.model_spec.name == "sessionrec"
        assert req.model_spec.signature_name == signature
        assert set(req.inputs) == set(arrays)
        decoded = {k: tf.make_ndarray(v) for k, v in req.inputs.items()}
        for name, values in arrays.items():
            got = decoded[name]
            if got.dtype == object:  # strings come back as bytes
                got = np.array([v.decode() for v in got], dtype=object)
                values = np.asarray(values).astype(str).astype(object)
            np.testing.assert_array_equal(got, values, err_msg=name)
        outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in decoded.items()})
        key = "user_embedding" if signature == "serving_default" else "item_embedding"
        emb = outputs[key].numpy()
        assert np.all(np.isfinite(emb))
        if signature == "serving_default":
            assert emb.shape[0] == len(decoded["user_session_counts"])
    counts = [int(c) for log in logs[:-2]
              for c in tf.make_ndarray(log.predict_log.request.inputs["user_session_counts"])]
    assert counts == session_counts(max_len)
    mixed = tf.make_ndarray(logs[-2].predict_log.request.inputs["labels"])
    assert set(np.unique(mixed)) == {0, 1}


def test_warmup_without_the_package(tiny_run, tmp_path, monkeypatch):
    import sessionrec_tf.export.warmup as warmup
    from sessionrec_tf.export import Exporter

    def missing():
        raise DataError("writing TF Serving warm-up requests needs tensorflow-serving-api")

    monkeypatch.setattr(warmup, "serving_protos", missing)
    exporter = Exporter.from_run(tiny_run)
    said = []
    result = exporter.export(tmp_path / "auto", ExportOptions(k=5), log=said.append)
    assert not (result.path / WARMUP_FILE).exists()
    assert result.metadata["warmup_requests"] is None
    assert any("no TF Serving warm-up file" in m for m in said)
    with pytest.raises(DataError, match="tensorflow-serving-api"):
        exporter.export(tmp_path / "required", ExportOptions(k=5, warmup=True))
    off = exporter.export(tmp_path / "off", ExportOptions(k=5, warmup=False))
    assert not (off.path / WARMUP_FILE).exists() and off.metadata["warmup_requests"] is None
