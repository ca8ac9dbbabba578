"""The data path: raw log -> sessions -> TFRecord -> ragged batch.

- :mod:`contract` the raw-log contract (columns, mapping, side features)
- :mod:`sources` converters from each log format to the contract (and the simulator)
- :mod:`sessions` de-duplication, time sort and sessionization
- :mod:`filters` the paper's filters to a fixed point, history cap
- :mod:`vocab` vocabularies with padding and OOV
- :mod:`splits` loso / loio / temporal splits as per-user cut points
- :mod:`tfrecord` the record layout; :mod:`prepare` the pipeline; :mod:`reader` tf.data
- :mod:`beam_prepare` the same preparation as Apache Beam pipelines (``runner="beam"``)
"""

from sessionrec_tf.data.contract import ColumnMapping, FeatureSpec, to_canonical
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.filters import FilterOptions
from sessionrec_tf.data.prepare import PrepareOptions, prepare_dataset, prepare_log
from sessionrec_tf.data.reader import InputShard, read_dataset
from sessionrec_tf.data.sources import LoadedLog, load_source

__all__ = [
    "ColumnMapping",
    "DataError",
    "FeatureSpec",
    "FilterOptions",
    "LoadedLog",
    "PrepareOptions",
    "PreparedDataset",
    "load_source",
    "prepare_dataset",
    "prepare_log",
    "InputShard",
    "read_dataset",
    "to_canonical",
]
