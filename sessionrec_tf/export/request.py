"""The serving request: names, dtypes and shapes of the flat tensors a client sends.

One request holds ``batch`` users. Their histories are flattened: all interactions of user 0
(session by session, oldest first), then user 1, and so on.

=======================  ==================  =================================================
input                    shape               content
=======================  ==================  =================================================
item_ids                 [interactions]      original item ids (int64 or string, as the
                                             dataset's item vocabulary); unknown ids -> OOV
labels                   [interactions]      1 positive / 0 negative
<feature>                [interactions]      one per *interaction* feature of the dataset, raw
                                             value: the token (int64 or string) for a discrete
                                             feature, the number (float64, NaN = missing) for a
                                             binned one (binned inside the graph)
session_lengths          [sessions]          interactions per session (each >= 1)
session_timestamps       [sessions]          Unix seconds of each session (its first
                                             interaction)
user_session_counts      [batch]             sessions per user (each >= 1)
=======================  ==================  =================================================

Static item features are not sent: they are looked up from the item id inside the model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError

ITEM_IDS = "item_ids"
LABELS = "labels"
SESSION_LENGTHS = "session_lengths"
SESSION_TIMESTAMPS = "session_timestamps"
USER_SESSION_COUNTS = "user_session_counts"
RESERVED_INPUTS = (ITEM_IDS, LABELS, SESSION_LENGTHS, SESSION_TIMESTAMPS, USER_SESSION_COUNTS)

INTERACTION_LEVEL = (ITEM_IDS, LABELS)  # plus every feature: aligned with item_ids
SESSION_LEVEL = (SESSION_LENGTHS, SESSION_TIMESTAMPS)

DTYPES = ("int64", "string", "float64")


@dataclass(frozen=True)
class FeatureInput:
    """One interaction feature of the request.

    Attributes:
      name: the dataset's feature name (also the input name).
      dtype: ``int64`` / ``string`` (discrete: the vocabulary's token type) or ``float64``
        (binned continuous feature: the raw value).
      bins: bin edges of a binned feature (``None`` for a discrete one).
    """

    name: str
    dtype: str
    bins: tuple[float, ...] | None = None


@dataclass(frozen=True)
class RequestSpec:
    """What a request for one exported model looks like (see the module docstring).

    Attributes:
      item_dtype: ``int64`` or ``string``, the item vocabulary's token type.
      features: the interaction features, sorted by name.
    """

    item_dtype: str
    features: tuple[FeatureInput, ...] = ()

    def __post_init__(self) -> None:
        if self.item_dtype not in ("int64", "string"):
            raise DataError(f"item ids must be int64 or string, got {self.item_dtype!r}")
        for f in self.features:
            if f.name in RESERVED_INPUTS:
                raise DataError(f"interaction feature {f.name!r} has the name of a reserved "
                                f"serving input {list(RESERVED_INPUTS)}; rename the feature")
            if f.dtype not in DTYPES:
                raise DataError(f"feature {f.name!r}: dtype {f.dtype!r} not in {DTYPES}")

    @classmethod
    def from_dataset(cls, dataset: PreparedDataset) -> RequestSpec:
        """The request of a model trained on ``dataset``."""
        specs = {f.name: f for f in dataset.features}
        features = []
        for name in sorted(dataset.interaction_feature_names):
            bins = specs[name].bins
            dtype = "float64" if bins is not None else dataset.vocabulary(name).dtype
            features.append(FeatureInput(name, dtype, tuple(bins) if bins else None))
        return cls(dataset.vocabulary("item_id").dtype, tuple(features))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def input_names(self) -> tuple[str, ...]:
        """Every input, in the signature's order."""
        return (ITEM_IDS, LABELS, *self.feature_names, SESSION_LENGTHS, SESSION_TIMESTAMPS,
                USER_SESSION_COUNTS)

    def dtype_of(self, name: str) -> str:
        """``int64``, ``string`` or ``float64`` of input ``name``."""
        if name == ITEM_IDS:
            return self.item_dtype
        for f in self.features:
            if f.name == name:
                return f.dtype
        if name in RESERVED_INPUTS:
            return "int64"
        raise DataError(f"{name!r} is not an input of this model; inputs: {self.input_names}")

    def tensor_specs(self) -> dict[str, Any]:
        """``{input name: tf.TensorSpec([None], dtype, name)}`` for the signature."""
        import tensorflow as tf

        return {n: tf.TensorSpec([None], tf.dtypes.as_dtype(self.dtype_of(n)), name=n)
                for n in self.input_names}

    def to_dict(self) -> dict[str, Any]:
        return {"item_dtype": self.item_dtype,
                "features": [{**asdict(f), "bins": list(f.bins) if f.bins else None}
                             for f in self.features]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestSpec:
        feats = tuple(FeatureInput(f["name"], f["dtype"],
                                   tuple(f["bins"]) if f.get("bins") else None)
                      for f in data.get("features", []))
        return cls(data["item_dtype"], feats)

    def describe(self) -> str:
        """A human-readable table of the inputs (for READMEs and error messages)."""
        return json.dumps({n: self.dtype_of(n) for n in self.input_names})
