"""The Beam transforms of :mod:`~sessionrec_tf.export.beam_scorer` (imports ``apache_beam``:
import this module only where the ``beam`` extra is installed).

Example::

    rows = (pipeline | beam.Create(dataset.files)
            | ScoreUsers("tfrecords/demo", "export/sessionrec/1", k=100))
    # rows: a PCollection of pyarrow tables (user_id, rank, item_id, score)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
import tensorflow as tf
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.reader import _parse_fn
from sessionrec_tf.export.encode import RequestEncoder
from sessionrec_tf.export.loaded import ExportedModel
from sessionrec_tf.export.request import RequestSpec
from sessionrec_tf.export.scorer import batch_request, rows_schema, rows_table

__all__ = ["ExportHandler", "ScoreUsers", "beam", "rows_schema"]

NAMESPACE = "sessionrec_score"


Request = tuple[Any, dict[str, Any]]  # (user ids [n], request arrays)


class ExportHandler(ModelHandler[Request, PredictionResult, ExportedModel]):
    """A ``RunInference`` model handler for an export version directory: each element is
    one request ``(user ids [n], request arrays)`` (already a batch of users), answered by
    the export's ``serving_default``.

    Built on ``ModelHandler`` rather than Beam's ``tensorflow_inference`` handlers: those
    load a Keras model (``tf.keras.models.load_model``; the export is a ``tf.Module``
    SavedModel, loaded here with ``tf.saved_model.load`` by
    :class:`~sessionrec_tf.export.loaded.ExportedModel`, which also registers the ScaNN ops),
    and their module imports ``tensorflow_hub``, which needs ``pkg_resources`` (gone from
    current setuptools).
    """

    def __init__(self, model_dir: str, scann: bool = False) -> None:
        super().__init__(min_batch_size=1, max_batch_size=1)
        self.model_dir, self.scann = model_dir, scann

    def load_model(self) -> ExportedModel:
        return ExportedModel(self.model_dir, scann=self.scann)

    def run_inference(self, batch: Sequence[Request], model: ExportedModel,
                      inference_args: dict[str, Any] | None = None
                      ) -> Iterable[PredictionResult]:
        return [PredictionResult(users, model.predict(request), self.model_dir)
                for users, request in batch]

    def get_metrics_namespace(self) -> str:
        return "sessionrec_export"


class _Requests(beam.DoFn):
    """Serialized users ``[n]`` -> ``(user ids, request)`` of those with a history."""

    def __init__(self, data: str, protocol: str, split: str, request: dict[str, Any]) -> None:
        self.args = (data, protocol, split, request)

    def setup(self) -> None:
        data, protocol, split, request = self.args
        self.dataset = PreparedDataset.load(data)
        self.encoder = RequestEncoder(self.dataset, RequestSpec.from_dict(request))
        self.parse = _parse_fn(tuple(self.dataset.feature_names), protocol, split)
        self.skipped = beam.metrics.Metrics.counter(NAMESPACE, "users_without_history")

    def process(self, records: list[bytes]) -> Iterable[tuple[Any, dict[str, Any]]]:
        batch = self.parse(tf.constant(records))
        users, request = batch_request(batch, self.encoder, self.dataset.feature_names)
        self.skipped.inc(int(batch["user_id"].shape[0]) - len(users))
        if request is not None:
            yield users, request


class _Rows(beam.DoFn):
    """A prediction -> the pyarrow table of its rows (users, rows, short users counted)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def setup(self) -> None:
        self.users = beam.metrics.Metrics.counter(NAMESPACE, "users")
        self.rows = beam.metrics.Metrics.counter(NAMESPACE, "rows")
        self.short = beam.metrics.Metrics.counter(NAMESPACE, "short_users")

    def process(self, result: PredictionResult) -> Iterable[Any]:
        table, short = rows_table(result.example, result.inference, self.k)
        self.users.inc(len(result.example))
        self.rows.inc(table.num_rows)
        self.short.inc(short)
        yield table


class ScoreUsers(beam.PTransform):
    """TFRecord file names -> pyarrow tables of ``(user_id, rank, item_id, score)`` rows.

    Args:
      data: the prepared dataset directory.
      model_dir: the export version directory.
      k: rows per user.
      protocol, split: whose input histories are scored.
      batch_size: users per request.
      scann: use the export's ScaNN model.
      request: the export's request spec (its metadata's ``request``).
    """

    def __init__(self, data: str, model_dir: str, k: int, protocol: str, split: str,
                 batch_size: int, scann: bool, request: dict[str, Any]) -> None:
        super().__init__()
        self.data, self.model_dir, self.k = data, model_dir, k
        self.protocol, self.split, self.batch_size = protocol, split, batch_size
        self.scann, self.request = scann, request

    def expand(self, files: beam.PCollection) -> beam.PCollection:
        return (files
                | "Read" >> beam.io.ReadAllFromTFRecord()
                | "Batch" >> beam.BatchElements(min_batch_size=self.batch_size,
                                                max_batch_size=self.batch_size)
                | "Requests" >> beam.ParDo(_Requests(self.data, self.protocol, self.split,
                                                     self.request))
                | "Model" >> RunInference(ExportHandler(self.model_dir, self.scann))
                | "Rows" >> beam.ParDo(_Rows(self.k)))
