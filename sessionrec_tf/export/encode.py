"""Client side: reader batches -> serving requests, and requests -> TF Serving REST JSON.

A reader batch holds vocabulary *indices*; a serving request holds the client's *raw* values
(original item ids, feature tokens). :class:`RequestEncoder` maps one to the other with the
dataset's vocabularies, vectorised (numpy), so batch scoring and tests send exactly what an
online client would. For a binned feature the raw value sent is a representative of its
bucket (the bucket's lower edge; below the first edge: ``edges[0] - 1``; missing: NaN), which
the graph bins back to the same bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.vocab import NUM_RESERVED, Vocabulary
from sessionrec_tf.export.request import (
    ITEM_IDS,
    LABELS,
    SESSION_LENGTHS,
    SESSION_TIMESTAMPS,
    USER_SESSION_COUNTS,
    FeatureInput,
    RequestSpec,
)


def _token_array(vocab: Vocabulary) -> np.ndarray:
    """``[V]`` raw tokens by vocabulary index (reserved rows hold a placeholder)."""
    if vocab.dtype == "int64":
        return np.concatenate([[-1, -1], np.asarray(vocab.tokens, np.int64)])
    return np.concatenate([np.array(["[PAD]", "[OOV]"], dtype=object),
                           np.asarray(vocab.tokens, dtype=object)])


def _bucket_values(vocab: Vocabulary, bins: tuple[float, ...]) -> np.ndarray:
    """``[V]`` float64 raw value representing each bucket-vocabulary index."""
    edges = np.asarray(bins, np.float64)
    buckets = np.asarray(vocab.tokens, np.int64)
    reps = np.where(buckets == 0, edges[0] - 1.0,
                    np.where(buckets <= len(edges), edges[np.clip(buckets - 1, 0, len(edges) - 1)],
                             np.nan))
    return np.concatenate([[np.nan, np.nan], reps])


class RequestEncoder:
    """Reader batches (vocabulary indices) -> request arrays (raw values).

    Args:
      dataset: the dataset the export was made from (its vocabularies).
      spec: the request spec (default: from ``dataset``).
    """

    def __init__(self, dataset: PreparedDataset, spec: RequestSpec | None = None) -> None:
        self.spec = spec or RequestSpec.from_dataset(dataset)
        self.item_tokens = _token_array(dataset.vocabulary("item_id"))
        self.feature_values: dict[str, np.ndarray] = {}
        for f in self.spec.features:
            vocab = dataset.vocabulary(f.name)
            self.feature_values[f.name] = (_bucket_values(vocab, f.bins) if f.bins
                                           else _token_array(vocab))

    def _raw(self, table: np.ndarray, indices: np.ndarray, name: str) -> np.ndarray:
        if indices.size and (indices.min() < NUM_RESERVED or indices.max() >= len(table)):
            bad = indices[(indices < NUM_RESERVED) | (indices >= len(table))][0]
            raise DataError(f"request encoder: {name} index {bad} is padding/OOV or outside "
                            f"the vocabulary (size {len(table)}); the batch does not come "
                            "from the export's dataset")
        return table[indices]

    def encode(self, batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Request arrays for a reader batch (``item_id`` etc. ``[B, S, I]`` ragged).

        Users with no sessions must have been removed (the request refuses them).
        """
        items = batch["item_id"]
        out: dict[str, np.ndarray] = {
            ITEM_IDS: self._raw(self.item_tokens, items.flat_values.numpy(), ITEM_IDS),
            LABELS: batch["label"].flat_values.numpy().astype(np.int64),
        }
        for f in self.spec.features:
            idx = batch[f.name].flat_values.numpy()
            out[f.name] = self._raw(self.feature_values[f.name], idx, f.name)
        out[SESSION_LENGTHS] = items.values.row_lengths().numpy().astype(np.int64)
        out[SESSION_TIMESTAMPS] = batch["session_timestamp"].flat_values.numpy().astype(
            np.int64)
        out[USER_SESSION_COUNTS] = items.row_lengths().numpy().astype(np.int64)
        return out


def _json_value(values: np.ndarray, feature: FeatureInput | None) -> list[Any]:
    if values.dtype == object:
        return [str(v) for v in values]
    if feature is not None and feature.dtype == "float64":
        return [float(v) for v in values]  # NaN -> NaN (TF Serving's JSON accepts NaN)
    return values.astype(np.int64).tolist()


def rest_body(request: Mapping[str, np.ndarray], spec: RequestSpec,
              signature_name: str = "serving_default") -> dict[str, Any]:
    """The TF Serving REST ``:predict`` body in the columnar ``"inputs"`` format."""
    features = {f.name: f for f in spec.features}
    inputs = {name: _json_value(np.asarray(request[name]), features.get(name))
              for name in spec.input_names}
    return {"signature_name": signature_name, "inputs": inputs}
