"""Load an export back in Python and call its serving signature on request arrays."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.export.exporter import FORMAT, METADATA, SCANN_MODEL
from sessionrec_tf.export.query_module import SERVING_SIGNATURE
from sessionrec_tf.export.request import RequestSpec


def read_metadata(version_dir: Path) -> dict[str, Any]:
    """``assets.extra/sessionrec_export.json`` of an export version directory."""
    path = version_dir / METADATA
    if not path.exists():
        hint = ""
        if version_dir.exists() and any(p.name.isdigit() for p in version_dir.iterdir()):
            hint = (" (it looks like a base path: pass a version directory such as "
                    f"{version_dir}/<N>)")
        raise DataError(f"{version_dir} is not a sessionrec export: {METADATA} is missing"
                        f"{hint}")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise DataError(f"{path}: not a sessionrec export (format {meta.get('format')!r})")
    return meta


class ExportedModel:
    """A loaded export: ``predict(request arrays) -> output arrays``.

    Args:
      version_dir: ``export/NAME/<version>``.
      scann: load the ScaNN retrieval model (``<version>/scann``) instead of the stock one;
        imports ``scann`` first (its ops must be registered before loading).
    """

    def __init__(self, version_dir: str | Path, scann: bool = False) -> None:
        self.path = Path(version_dir)
        self.metadata = read_metadata(self.path)
        self.spec = RequestSpec.from_dict(self.metadata["request"])
        model_dir = self.path
        if scann:
            if not self.metadata.get("scann_model"):
                raise DataError(f"{self.path} was exported without a ScaNN model "
                                "(export it with the scann index, or both)")
            import scann  # noqa: F401

            model_dir = self.path / SCANN_MODEL
        self.loaded = tf.saved_model.load(str(model_dir))
        self.signature = self.loaded.signatures[SERVING_SIGNATURE]
        self.has_top_k = bool(scann or self.metadata.get("exact_top_k"))

    @property
    def k(self) -> int:
        return int(self.metadata["k"])

    def tensors(self, request: Mapping[str, Any]) -> dict[str, tf.Tensor]:
        """Request arrays/lists -> tensors of the signature's dtypes (as TF Serving does)."""
        missing = [n for n in self.spec.input_names if n not in request]
        if missing:
            raise DataError(f"request misses inputs {missing}; inputs: {self.spec.input_names}")
        return {n: tf.constant(np.asarray(request[n]) if self.spec.dtype_of(n) != "string"
                               else np.asarray(request[n], dtype=object),
                               dtype=tf.dtypes.as_dtype(self.spec.dtype_of(n)))
                for n in self.spec.input_names}

    def predict(self, request: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Call ``serving_default``; outputs as numpy arrays (strings as ``bytes``)."""
        out = self.signature(**self.tensors(request))
        return {k: v.numpy() for k, v in out.items()}
