"""A prepared dataset on disk: TFRecord shards, vocabularies, item features, splits, report.

Layout of ``tfrecords/NAME/``::

    dataset.json          what this is (written last: its presence marks a complete dataset)
    users-*.tfrecord      one record per user (see sessionrec_tf.data.tfrecord)
    vocab/<name>.tsv      vocabularies (item_id and each side feature)
    item_features.npz     per item index, the index of each static item feature
    splits.json           split definitions and their user/target counts
    data_report.json      counts after every preparation step, rows removed and why
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from sessionrec_tf.data.contract import FeatureSpec
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.vocab import Vocabulary

FORMAT = "sessionrec_tf/prepared-dataset"
FORMAT_VERSION = 1
METADATA = "dataset.json"


def fingerprint_files(paths: list[Path]) -> str:
    """Content fingerprint of files (names and bytes, in order): the vocabulary fingerprint."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class PreparedDataset:
    """Handle on a prepared dataset directory (see module docstring)."""

    path: Path
    metadata: dict[str, Any] = field(repr=False)

    @classmethod
    def load(cls, path: str | Path) -> PreparedDataset:
        """Open ``path``; raises DataError if it is not a complete prepared dataset."""
        if isinstance(path, PreparedDataset):
            return path
        path = Path(path)
        meta_path = path / METADATA
        if not path.exists():
            raise DataError(
                f"{path} does not exist: prepare a dataset there first with "
                f"`sessionrec prepare --source ... --output {path}`"
            )
        if not meta_path.exists():
            raise DataError(
                f"{path} is not a prepared dataset: it has no {METADATA}. Use a "
                "directory written by `sessionrec prepare` (e.g. tfrecords/NAME)."
            )
        try:
            metadata = json.loads(meta_path.read_text())
        except json.JSONDecodeError as err:
            raise DataError(f"{meta_path} is not valid JSON: {err}") from None
        if metadata.get("format") != FORMAT:
            raise DataError(f"{meta_path}: not a sessionrec_tf dataset (format field missing)")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise DataError(
                f"{meta_path}: dataset format version {metadata.get('format_version')} is not "
                f"the supported version {FORMAT_VERSION}; prepare it again"
            )
        try:
            missing = [s for s in metadata["shards"] if not (path / s).exists()]
            missing += [info.get("file", f"vocab/{name}.tsv")
                        for name, info in metadata["vocab"].items()
                        if not (path / info.get("file", f"vocab/{name}.tsv")).exists()]
        except (KeyError, AttributeError, TypeError) as err:
            raise DataError(f"{meta_path}: damaged metadata ({type(err).__name__}: {err}); "
                            "prepare the dataset again") from None
        if missing:
            raise DataError(f"{path}: files listed in {METADATA} are missing: {missing[:3]}; "
                            "prepare the dataset again")
        return cls(path, metadata)

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def features(self) -> tuple[FeatureSpec, ...]:
        return tuple(FeatureSpec.from_dict(f) for f in self.metadata["features"])

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def item_feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features if f.kind == "item")

    @property
    def interaction_feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features if f.kind == "interaction")

    @property
    def files(self) -> list[str]:
        return [str(self.path / s) for s in self.metadata["shards"]]

    @property
    def vocab_sizes(self) -> dict[str, int]:
        return {k: int(v["size"]) for k, v in self.metadata["vocab"].items()}

    @property
    def num_items(self) -> int:
        """Size of the item vocabulary, reserved indices (padding, OOV) included."""
        return self.vocab_sizes["item_id"]

    @property
    def vocab_fingerprint(self) -> str:
        return str(self.metadata["vocab_fingerprint"])

    @property
    def counts(self) -> dict[str, Any]:
        return dict(self.metadata["counts"])

    def vocabulary(self, name: str) -> Vocabulary:
        info = self.metadata["vocab"].get(name)
        if info is None:
            raise DataError(f"{self.path}: no vocabulary {name!r}; have {list(self.vocab_sizes)}")
        return Vocabulary.load(self.path / "vocab", name, info["dtype"])

    @cached_property
    def item_features(self) -> dict[str, np.ndarray]:
        """Per item index ``[num_items]``, the vocabulary index of each static item feature."""
        if not self.item_feature_names:
            return {}
        with np.load(self.path / "item_features.npz") as npz:
            return {k: npz[k] for k in self.item_feature_names}

    @property
    def splits(self) -> dict[str, Any]:
        return json.loads((self.path / "splits.json").read_text())

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.path / "data_report.json").read_text())
