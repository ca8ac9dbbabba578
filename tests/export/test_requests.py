"""Requests the serving graph refuses (InvalidArgument from its own asserts), unknown ids
(mapped to OOV and counted, never an error) and histories longer than max_len."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

BAD = "bad serving request"


@pytest.fixture(scope="module")
def stock(tiny_export):
    return tf.saved_model.load(str(tiny_export.path)).signatures["serving_default"]


@pytest.fixture(scope="module")
def feature_stock(feature_export):
    return tf.saved_model.load(str(feature_export.path)).signatures["serving_default"]


def _tokens(export, name: str = "item_id") -> np.ndarray:
    return np.asarray(export.exporter.dataset.vocabulary(name).tokens)


def _request(export, sessions: list[list[int]], seed: int = 0) -> dict[str, np.ndarray]:
    """A valid request: ``sessions[u]`` = the session lengths of user u."""
    rng = np.random.default_rng(seed)
    lengths = np.array([n for user in sessions for n in user], np.int64)
    n = int(lengths.sum())
    tokens = _tokens(export)
    req = {"item_ids": tokens[rng.integers(0, len(tokens), n)],
           "labels": rng.integers(0, 2, n).astype(np.int64),
           "session_lengths": lengths,
           "session_timestamps": 1_700_000_000 + 7_200 * np.arange(len(lengths), dtype=np.int64),
           "user_session_counts": np.array([len(u) for u in sessions], np.int64)}
    for f in export.exporter.spec.features:
        if f.bins:
            req[f.name] = rng.uniform(0, 200, n)
        else:
            req[f.name] = _tokens(export, f.name)[rng.integers(0, 3, n) % len(
                _tokens(export, f.name))]
    return req


def _call(signature, req: dict) -> dict[str, np.ndarray]:
    specs = signature.structured_input_signature[1]
    tensors = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in req.items()}
    return {k: v.numpy() for k, v in signature(**tensors).items()}


@pytest.mark.parametrize("change, message", [
    ({"session_lengths": [2, 1, 4]}, r"sum\(session_lengths\) must equal the number of "
                                     r"interactions, len\(item_ids\)"),
    ({"session_lengths": [3, -1, 4]}, r"every session_lengths value must be >= 1"),
    ({"session_lengths": [2, 0, 4]}, r"every session_lengths value must be >= 1"),
    ({"user_session_counts": [2, 0, 1]}, r"each user needs at least one session"),
    ({"user_session_counts": [2, 2]}, r"sum\(user_session_counts\) must equal the number of "
                                      r"sessions"),
    ({"labels": [1, 0, 1]}, r"len\(labels\) must equal len\(item_ids\)"),
    ({"labels": [1, 0, 2, 1, 1, 0]}, r"labels must be 0 \(negative\) or 1 \(positive\)"),
    ({"session_timestamps": [1, 2]}, r"len\(session_timestamps\) must equal "
                                     r"len\(session_lengths\)"),
])
def test_bad_requests_fail_with_actionable_messages(tiny_export, stock, change, message):
    req = _request(tiny_export, [[2, 1], [3]])
    req.update({k: np.asarray(v, np.int64) for k, v in change.items()})
    with pytest.raises(tf.errors.InvalidArgumentError, match=message) as err:
        _call(stock, req)
    assert BAD in str(err.value)


def test_mismatched_feature_lengths(feature_export, feature_stock):
    req = _request(feature_export, [[2, 2]])
    _call(feature_stock, req)  # valid as built
    req["device"] = req["device"][:3]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"len\(device\) must equal len\(item_ids\)"):
        _call(feature_stock, req)
    req = _request(feature_export, [[2, 2]])
    req["dwell"] = np.append(req["dwell"], 1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"len\(dwell\)"):
        _call(feature_stock, req)


def _batch_of(export, req: dict, item_index: np.ndarray) -> dict:
    """The model's ragged batch for ``req`` with the given item vocabulary indices."""
    counts, lengths = req["user_session_counts"], req["session_lengths"]

    def ragged(values: np.ndarray) -> tf.RaggedTensor:
        return tf.RaggedTensor.from_nested_row_lengths(tf.constant(values, tf.int64),
                                                       [counts, lengths])

    session_of = np.repeat(np.arange(len(lengths)), lengths)
    batch = {"item_id": ragged(item_index), "label": ragged(req["labels"]),
             "timestamp": ragged(req["session_timestamps"][session_of]),
             "session_timestamp": tf.RaggedTensor.from_row_lengths(
                 tf.constant(req["session_timestamps"]), counts)}
    for f in export.exporter.spec.features:
        vocab = export.exporter.dataset.vocabulary(f.name)
        raw = req[f.name]
        if f.bins:
            raw = np.where(np.isnan(raw), len(f.bins) + 1, np.searchsorted(f.bins, raw, "right"))
        batch[f.name] = ragged(vocab.lookup(raw))
    return batch


@pytest.mark.parametrize("which", ["tiny", "features"])
def test_unknown_ids_map_to_oov_and_are_counted(tiny_export, feature_export, stock,
                                                feature_stock, which):
    export, signature = ((tiny_export, stock) if which == "tiny"
                         else (feature_export, feature_stock))
    req = _request(export, [[3, 2], [4], [1, 1, 2]], seed=1)
    unknown = np.array([1, 4, 5, 9]) if which == "tiny" else np.array([0, 6])
    req["item_ids"] = req["item_ids"].astype(object if which == "features" else np.int64)
    req["item_ids"][unknown] = -12345 if which == "tiny" else "no-such-item"
    if which == "features":
        req["device"][2] = "never-seen-device"  # an unknown feature token is OOV too
        req["dwell"][3] = np.nan  # missing value -> its own bucket
    out = _call(signature, req)
    expected = [2, 1, 1] if which == "tiny" else [1, 1, 0]  # users hold items 0-4, 5-8, 9-12
    np.testing.assert_array_equal(out["oov_count"], expected)
    index = export.exporter.dataset.vocabulary("item_id").lookup(req["item_ids"])
    assert (index[unknown] == 1).all()
    users = export.exporter.model(_batch_of(export, req, index)).numpy()
    np.testing.assert_allclose(out["user_embedding"], users, atol=1e-5)
    assert not np.isin(out["top_k_ids"], [-1, b""]).any()  # padding/OOV never recommended


def test_long_history_truncated_to_recent_sessions(tiny_export, stock):
    """40 sessions, max_len 4: the embedding is the model's on the last 4 sessions alone."""
    max_len = tiny_export.metadata["max_len"]
    assert max_len == 4
    req = _request(tiny_export, [[3] * 40], seed=2)
    out = _call(stock, req)
    keep = 4 * 3
    recent = {"item_ids": req["item_ids"][-keep:], "labels": req["labels"][-keep:],
              "session_lengths": req["session_lengths"][-4:],
              "session_timestamps": req["session_timestamps"][-4:],
              "user_session_counts": np.array([4])}
    np.testing.assert_allclose(_call(stock, recent)["user_embedding"], out["user_embedding"],
                               atol=1e-6)
    # top-K differs only through exclusion of the older sessions' positives
    older_positives = set(req["item_ids"][:-keep][req["labels"][:-keep] == 1].tolist())
    assert not older_positives & set(out["top_k_ids"][0].tolist())


def test_empty_batch(tiny_export, stock):
    req = _request(tiny_export, [])
    out = _call(stock, req)
    vectors = tiny_export.metadata.get("user_vectors", 1)
    assert out["user_embedding"].shape == ((0, 16) if vectors == 1 else (0, vectors, 16))
    assert out["top_k_ids"].shape == (0, tiny_export.metadata["k"])
