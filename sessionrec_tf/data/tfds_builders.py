"""TensorFlow Datasets builders: ``tfds.load`` gives the same user histories as our reader.

Importing this module registers two builders (nothing is downloaded, ever: the simulator
generates its data, raw logs come from a local ``manual_dir``):

``session_rec_simulator``
  the embedded session simulator; one config per preset (``tiny``, ``demo``, ``small``,
  ``medium``, ``recflow``; seed 0, default preparation options)::

      import tensorflow_datasets as tfds
      import sessionrec_tf.data.tfds_builders  # noqa: F401  (registers the builders)

      splits, info = tfds.load("session_rec_simulator/tiny", data_dir="/data/tfds", split=None,
                               with_info=True)
      train = splits["train"].ragged_batch(64)    # [batch, sessions, items], ragged_rank 2

``session_rec_raw_log``
  a raw log placed in the manual directory; one config per source (``kuairand``,
  ``kuaisar``, ``movielens``, ``csv``) naming the file it expects there (see
  :data:`RAW_SOURCES`, or ``SessionRecRawLog.MANUAL_DOWNLOAD_INSTRUCTIONS``)::

      ds = tfds.load(
          "session_rec_raw_log/kuaisar", data_dir="/data/tfds", split="test",
          download_and_prepare_kwargs={
              "download_config": tfds.download.DownloadConfig(manual_dir="/data/raw/kuaisar")},
      )  # reads /data/raw/kuaisar/rec_inter.csv

Other options (another seed, simulator knobs, relaxed filters, a session gap, another file
name, the ``loio``/``temporal`` protocol, a csv log with side features) go into a custom config
made by :func:`simulator_config` or :func:`raw_log_config`, passed as ``builder_kwargs``::

    from sessionrec_tf.data import FilterOptions, PrepareOptions
    from sessionrec_tf.data.tfds_builders import raw_log_config, simulator_config

    cfg = simulator_config("tiny", seed=3, drift=0.2)           # name "tiny_<hash>"
    ds = tfds.load("session_rec_simulator", builder_kwargs={"config": cfg}, split="train")

    cfg = raw_log_config("csv", side_features=("price_bucket", "category", "device"),
                         prepare_options=PrepareOptions(session_gap_seconds=3600,
                                                        filters=FilterOptions(min_user_sessions=2)))
    ds = tfds.load("session_rec_raw_log", builder_kwargs={"config": cfg}, split="full",
                   download_and_prepare_kwargs={"download_config":
                                                tfds.download.DownloadConfig(manual_dir=...)})

A custom config's default name carries a hash of all its options, so different options never
share (or silently reuse) a generated dataset directory.

How generation works (both builders share everything through one base class): the source is
loaded (:func:`~sessionrec_tf.data.sources.load_source`) and prepared with
:func:`~sessionrec_tf.data.prepare.prepare_dataset` into a temporary directory (``TMPDIR``,
removed when ``download_and_prepare`` ends), then every split is produced by iterating our own
reader (:func:`~sessionrec_tf.data.reader.read_dataset`, deterministic) and un-batching it, so
the splits have exactly one definition:

==========  ====================  =====================================================
TFDS split  reader split          content (protocol ``loso`` unless the config says so)
==========  ====================  =====================================================
full        ``full``              each user's whole history
train       ``train``             sessions[:-2] (the validation input), no target
validation  ``valid``             sessions[:-2], target = positives of session -2
test        ``test``              sessions[:-1], target = positives of session -1
==========  ====================  =====================================================

Features, one example per user (the example key is the user id):

====================  ================================  ==================================
key                   TFDS feature                      one example decodes to
====================  ================================  ==================================
user_id               ``Text``                          [] string
item_id               ``Sequence(Sequence(int64))``     [sessions, items] RaggedTensor
label                 ``Sequence(Sequence(int64))``     [sessions, items] RaggedTensor
timestamp             ``Sequence(Sequence(int64))``     [sessions, items] RaggedTensor
<side feature>        ``Sequence(Sequence(int64))``     [sessions, items] RaggedTensor
session_timestamp     ``Sequence(int64)``               [sessions] dense int64
target_item_id        ``Sequence(int64)``               [targets] dense int64 (empty for
                                                        train and full)
====================  ================================  ==================================

TFDS 4.9.10 decodes a nested ``Sequence(Sequence(int64))`` to a ``tf.RaggedTensor`` with
ragged_rank 1 (int64 row splits; nothing padded) and a ``Sequence(int64)`` to a dense 1-D
tensor. ``ds.ragged_batch(B)`` therefore gives exactly the reader's batch structure:
``[B, sessions, items]`` RaggedTensors with ragged_rank 2, ``session_timestamp`` and
``target_item_id`` ``[B, None]`` RaggedTensors with ragged_rank 1, ``user_id`` ``[B]`` string.
(Plain ``ds.batch(B)`` fails on the variable-length dense features and ``padded_batch``
rejects ragged components: use ``ragged_batch``.)
The train/full splits carry an empty ``target_item_id`` where the reader has no such key.

Side features differ per dataset and TFDS needs the features before generation, so each config
declares its ``side_features``; generation fails with a message naming the right ones if the
prepared data disagrees. ``info.metadata`` holds the vocabularies, so indices map back to ids::

    info.metadata["vocabularies"]["item_id"][index]   # original item id (text); 0 = [PAD]
    info.metadata["vocab_sizes"]                      # {"item_id": ..., "<feature>": ...}
    info.metadata["item_features"]["category"]        # per item index, its category index
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import inspect
import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from etils import epath

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.prepare import PrepareOptions, prepare_dataset
from sessionrec_tf.data.reader import read_dataset
from sessionrec_tf.data.sources import SOURCE_NAMES
from sessionrec_tf.data.sources.synthetic import PRESETS
from sessionrec_tf.data.splits import PROTOCOLS
from sessionrec_tf.data.tfrecord import INTERACTION_KEYS, interaction_keys

#: TFDS split name -> split name of :func:`~sessionrec_tf.data.reader.read_dataset`.
SPLITS: dict[str, str] = {"full": "full", "train": "train", "validation": "valid",
                          "test": "test"}
#: Per-user keys besides the ``[sessions, items]`` ones.
USER_KEYS = ("user_id", "session_timestamp", "target_item_id")
RESERVED_KEYS = (*INTERACTION_KEYS, *USER_KEYS)
SIMULATOR_SOURCE = "synthetic"
#: Users per reader batch while generating (the batches are un-batched into examples).
READ_BATCH_SIZE = 256
BUILDER_VERSION = "1.0.0"


@dataclasses.dataclass(frozen=True)
class RawSource:
    """What :class:`SessionRecRawLog` expects in the manual directory for one source.

    Attributes:
      files: accepted file names, the first one present is read.
      what: what the file is (for the instructions and errors).
      side_features: side features the source produces with its default options.
      optional_files: source option -> accepted file names; a present file sets that option
        to its path (unless the config's ``source_options`` already set it).
    """

    files: tuple[str, ...]
    what: str
    side_features: tuple[str, ...] = ()
    optional_files: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


RAW_SOURCES: dict[str, RawSource] = {
    "kuairand": RawSource(
        ("interactions.tsv",),
        "the KuaiRand like/hate log, tab-separated with a header; for an original "
        "log_standard_*.csv use raw_log_config('kuairand', manual_files=('<name>.csv',))",
        ("duration",)),
    "kuaisar": RawSource(("rec_inter.csv",), "the KuaiSAR recommendation log",
                         ("duration", "action")),
    "movielens": RawSource(("ratings.csv", "ratings.dat", "u.data"),
                           "MovieLens ratings: ratings.csv of ml-latest/ml-20m/ml-25m/ml-32m, "
                           "ratings.dat of ml-1m/ml-10m or u.data of ml-100k"),
    "csv": RawSource(
        ("log.csv", "log.tsv", "log.parquet"),
        "any interaction log, CSV, TSV or Parquet, optionally with column_map.yaml mapping its "
        "columns to user_id, item_id, timestamp, label, side features "
        "(sessionrec_tf.data.sources.tabular); declare the mapping's side features with "
        "raw_log_config('csv', side_features=(...))",
        optional_files={"column_map": ("column_map.yaml", "column_map.yml",
                                       "column_map.json")}),
}


@dataclasses.dataclass(eq=False)
class SessionRecConfig(tfds.core.BuilderConfig):
    """A builder config: which source, its options, the preparation options and side features.

    Build one with :func:`simulator_config` or :func:`raw_log_config` rather than directly
    (they fill the per-source defaults and give custom configs a unique name).

    Attributes:
      source: a source of :mod:`sessionrec_tf.data.sources` (``synthetic`` for the simulator).
      source_options: options of that source (simulator: ``size``, ``seed``, knobs).
      side_features: the side features the prepared data has (TFDS needs them up front).
      prepare_options: :class:`~sessionrec_tf.data.prepare.PrepareOptions`.
      protocol: split protocol of train/validation/test (``loso``, ``loio``, ``temporal``).
      manual_files: raw logs: accepted file names in the manual directory (first present).
      optional_manual_files: raw logs: source option -> accepted file names (see
        :class:`RawSource`).
    """

    source: str = SIMULATOR_SOURCE
    source_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    side_features: tuple[str, ...] = ()
    prepare_options: PrepareOptions = dataclasses.field(default_factory=PrepareOptions)
    protocol: str = "loso"
    manual_files: tuple[str, ...] = ()
    optional_manual_files: Mapping[str, tuple[str, ...]] = dataclasses.field(
        default_factory=dict)

    def __post_init__(self) -> None:
        where = f"builder config {self.name!r}"
        if self.source not in SOURCE_NAMES:
            raise DataError(f"{where}: unknown source {self.source!r}; valid sources: "
                            f"{list(SOURCE_NAMES)}")
        if self.protocol not in PROTOCOLS:
            raise DataError(f"{where}: unknown protocol {self.protocol!r}; valid protocols: "
                            f"{list(PROTOCOLS)}")
        self.side_features = tuple(self.side_features)
        self.manual_files = tuple(self.manual_files)
        clash = sorted(set(self.side_features) & set(RESERVED_KEYS))
        if clash or len(set(self.side_features)) != len(self.side_features):
            raise DataError(f"{where}: side_features {list(self.side_features)} repeat a name "
                            f"or use a reserved key {clash or ''}")
        if self.source != SIMULATOR_SOURCE and not self.manual_files:
            raise DataError(f"{where}: source {self.source!r} needs manual_files (the file "
                            "names accepted in the manual directory)")

    def fingerprint(self) -> str:
        """Hash of everything that determines the generated data (not the name)."""
        blob = json.dumps({
            "source": self.source,
            "source_options": {k: str(v) for k, v in sorted(self.source_options.items())},
            "side_features": list(self.side_features),
            "prepare_options": self.prepare_options.to_dict(),
            "protocol": self.protocol,
            "manual_files": list(self.manual_files),
            "optional_manual_files": {k: list(v) for k, v in
                                      sorted(self.optional_manual_files.items())},
        }, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:8]


def _describe_prepare(options: PrepareOptions) -> str:
    if options == PrepareOptions():
        return "default preparation options (30-minute session gap, the paper's filters)"
    return f"preparation options {options.to_dict()}"


def simulator_config(
    size: str = "tiny",
    seed: int = 0,
    *,
    name: str | None = None,
    prepare_options: PrepareOptions | None = None,
    protocol: str = "loso",
    description: str | None = None,
    **simulator_options: Any,
) -> SessionRecConfig:
    """A :class:`SessionRecSimulator` config for a preset, a seed and optional knobs.

    Args:
      size: simulator preset (``tiny``, ``demo``, ``small``, ``medium``, ``recflow``).
      seed: simulator seed.
      name: config name; default ``<size>_<hash of all options>`` (a registered config's name
        such as ``tiny`` cannot be reused for different options).
      prepare_options: preparation options (default :class:`PrepareOptions`).
      protocol: split protocol of train/validation/test.
      description: config description (default: generated).
      **simulator_options: further :class:`~sessionrec_tf.data.sources.synthetic.
        SimulatorOptions` fields (``num_users``, ``drift``, ...).
    """
    if size not in PRESETS:
        raise DataError(f"unknown simulator size {size!r}; valid sizes: {list(PRESETS)}")
    prepare_options = prepare_options or PrepareOptions()
    options = {"size": size, "seed": seed, **simulator_options}
    preset = ", ".join(f"{k}={v}" for k, v in PRESETS[size].items())
    extra = "".join(f", {k}={v}" for k, v in simulator_options.items())
    config = SessionRecConfig(
        name=name or "pending",
        description=description or (
            f"Session simulator preset {size!r} ({preset}{extra}), seed {seed}; "
            f"{_describe_prepare(prepare_options)}; protocol {protocol}."),
        source=SIMULATOR_SOURCE,
        source_options=options,
        side_features=("category",),
        prepare_options=prepare_options,
        protocol=protocol,
    )
    if name is None:
        config.name = f"{size}_{config.fingerprint()}"
    return config


def raw_log_config(
    source: str,
    *,
    name: str | None = None,
    side_features: Sequence[str] | None = None,
    source_options: Mapping[str, Any] | None = None,
    prepare_options: PrepareOptions | None = None,
    protocol: str = "loso",
    manual_files: Sequence[str] | None = None,
    description: str | None = None,
) -> SessionRecConfig:
    """A :class:`SessionRecRawLog` config for ``source`` (a key of :data:`RAW_SOURCES`).

    Args:
      source: ``kuairand``, ``kuaisar``, ``movielens`` or ``csv``.
      name: config name; default ``<source>_<hash of all options>``.
      side_features: side features of the prepared data (default: the source's defaults;
        they change with options such as ``interaction_features`` or a csv column map).
      source_options: options of the source (e.g. ``{"interaction_features": False}``,
        ``{"positive_threshold": 3.5}``, ``{"column_map": {...}}``).
      prepare_options: preparation options (session gap, filters, ...).
      protocol: split protocol of train/validation/test.
      manual_files: accepted file names in the manual directory (default: the source's).
      description: config description (default: generated).
    """
    if source not in RAW_SOURCES:
        raise DataError(f"unknown raw-log source {source!r}; valid sources: "
                        f"{list(RAW_SOURCES)} (the simulator is session_rec_simulator)")
    spec = RAW_SOURCES[source]
    prepare_options = prepare_options or PrepareOptions()
    files = tuple(manual_files or spec.files)
    config = SessionRecConfig(
        name=name or "pending",
        description=description or (
            f"Raw {source} log from the manual directory ({' or '.join(files)}: {spec.what}); "
            f"{_describe_prepare(prepare_options)}; protocol {protocol}."),
        source=source,
        source_options=dict(source_options or {}),
        side_features=tuple(spec.side_features if side_features is None else side_features),
        prepare_options=prepare_options,
        protocol=protocol,
        manual_files=files,
        optional_manual_files=dict(spec.optional_files),
    )
    if name is None:
        config.name = f"{source}_{config.fingerprint()}"
    return config


def session_features(side_features: Sequence[str]) -> tfds.features.FeaturesDict:
    """The TFDS features of one user example with these side features (see module doc)."""

    def nested(doc: str) -> tfds.features.Sequence:
        return tfds.features.Sequence(tfds.features.Sequence(np.int64),
                                      doc=f"[sessions, items] {doc}")

    docs = {"item_id": "item vocabulary indices", "label": "1 positive, 0 negative",
            "timestamp": "Unix seconds"}
    features: dict[str, Any] = {"user_id": tfds.features.Text(doc="original user id")}
    for key in interaction_keys(tuple(side_features)):
        features[key] = nested(docs.get(key, f"vocabulary indices of side feature {key!r}"))
    features["session_timestamp"] = tfds.features.Sequence(
        np.int64, doc="[sessions] time of each session's first interaction")
    features["target_item_id"] = tfds.features.Sequence(
        np.int64, doc="[targets] items to predict (validation/test; empty for train/full)")
    return tfds.features.FeaturesDict(features)


def _rows(value: tf.Tensor | tf.RaggedTensor) -> list[Any]:
    """The rows of ``value``'s first dimension: 1-D numpy arrays, nested in lists if ragged."""
    if not isinstance(value, tf.RaggedTensor):
        return list(value.numpy())
    splits = value.row_splits.numpy()
    inner = (_rows(value.values) if isinstance(value.values, tf.RaggedTensor)
             else value.values.numpy())
    return [inner[a:b] for a, b in zip(splits[:-1], splits[1:])]


def user_examples(
    prepared: PreparedDataset, split: str, protocol: str = "loso"
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(user id, example)`` for every user of a reader split, in the reader's order.

    Iterates :func:`~sessionrec_tf.data.reader.read_dataset` (deterministic, unshuffled) and
    un-batches its ragged batches; ``target_item_id`` is empty where the split has none.
    """
    keys = interaction_keys(prepared.feature_names)
    empty = np.zeros(0, dtype=np.int64)
    for batch in read_dataset(prepared, split=split, protocol=protocol,
                              batch_size=READ_BATCH_SIZE, shuffle=False, deterministic=True,
                              prefetch=False):
        users = [u.decode() for u in batch["user_id"].numpy()]
        columns = {k: _rows(batch[k]) for k in (*keys, "session_timestamp")}
        targets = (_rows(batch["target_item_id"]) if "target_item_id" in batch
                   else [empty] * len(users))
        for i, user in enumerate(users):
            example: dict[str, Any] = {"user_id": user}
            example.update({k: rows[i] for k, rows in columns.items()})
            example["target_item_id"] = targets[i]
            yield user, example


def _metadata(prepared: PreparedDataset, config: SessionRecConfig) -> dict[str, Any]:
    """What goes into ``info.metadata``: vocabularies and the preparation's summary."""
    vocabs = {name: prepared.vocabulary(name) for name in prepared.vocab_sizes}
    return {
        "source": config.source,
        "source_description": prepared.metadata.get("description"),
        "protocol": config.protocol,
        "prepare_options": config.prepare_options.to_dict(),
        "feature_names": list(prepared.feature_names),
        "item_feature_names": list(prepared.item_feature_names),
        "interaction_feature_names": list(prepared.interaction_feature_names),
        "num_reserved_indices": prepared.metadata.get("num_reserved_indices"),
        "vocab_sizes": prepared.vocab_sizes,
        "vocab_dtypes": {name: v.dtype for name, v in vocabs.items()},
        "vocabularies": {name: v.token_list() for name, v in vocabs.items()},
        "item_features": {k: v.tolist() for k, v in prepared.item_features.items()},
        "counts": prepared.counts,
        "temporal_split_time": prepared.metadata.get("temporal_split_time"),
    }


class _SessionRecBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Everything both builders share; subclasses only say where the source's input is."""

    VERSION = tfds.core.Version(BUILDER_VERSION)
    RELEASE_NOTES = {BUILDER_VERSION: "Initial release: full, train, validation, test splits."}
    #: sources this builder accepts in its configs
    SOURCES: tuple[str, ...] = ()

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path | None:
        """This module's file.

        TFDS 4.9.10's own lookup checks ``importlib_resources.abc.Traversable`` for builders
        defined in a package, but declares ``importlib_resources`` only for Python < 3.9, so
        ``download_and_prepare`` fails with ModuleNotFoundError without it
        (tensorflow/datasets#11212). The file is all TFDS needs (for ``checksums.tsv``).
        """
        return epath.Path(inspect.getfile(cls))

    @property
    def session_config(self) -> SessionRecConfig:
        config = self.builder_config
        if not isinstance(config, SessionRecConfig):
            raise DataError(f"{self.name}: builder config must be a SessionRecConfig (made by "
                            f"simulator_config/raw_log_config), got {type(config).__name__}")
        return config

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.session_config
        if config.source not in self.SOURCES:
            raise DataError(f"{self.name}: config {config.name!r} has source "
                            f"{config.source!r}; this builder takes {list(self.SOURCES)}")
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "SessionRec user histories as [sessions, items] ragged features, one example "
                "per user; splits full, train, validation, test (the reader's splits). "
                f"{config.description or ''}"),
            features=session_features(config.side_features),
            metadata=tfds.core.MetadataDict(),
        )

    def download_and_prepare(self, **kwargs: Any) -> None:
        """TFDS ``download_and_prepare``; also removes the temporary prepared dataset."""
        try:
            super().download_and_prepare(**kwargs)
        finally:
            workdir = getattr(self, "_workdir", None)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
                self._workdir = None

    @abc.abstractmethod
    def _source_input(
        self, dl_manager: tfds.download.DownloadManager
    ) -> tuple[str | None, dict[str, Any]]:
        """The source's input path (None for the simulator) and its options."""

    def _split_generators(
        self, dl_manager: tfds.download.DownloadManager
    ) -> dict[str, Iterator[tuple[str, dict[str, Any]]]]:
        config = self.session_config
        path, options = self._source_input(dl_manager)
        self._workdir = Path(tempfile.mkdtemp(prefix=f"sessionrec-tfds-{self.name}-"))
        prepared = prepare_dataset(config.source, path, self._workdir / config.name, options,
                                   config.prepare_options, name=f"{self.name}/{config.name}",
                                   progress=False, log=None)
        self._check_side_features(prepared)
        self.info.metadata.update(_metadata(prepared, config))
        return {name: self._generate_examples(prepared, split) for name, split in SPLITS.items()}

    def _check_side_features(self, prepared: PreparedDataset) -> None:
        config = self.session_config
        found, declared = prepared.feature_names, config.side_features
        if set(found) != set(declared):
            maker = ("simulator_config(size, seed, " if config.source == SIMULATOR_SOURCE
                     else f"raw_log_config({config.source!r}, ")
            raise DataError(
                f"{self.name}/{config.name}: the prepared data has side features {list(found)} "
                f"but the builder config declares {list(declared)} (TFDS needs the features "
                f"before generation). Declare them in a custom config: "
                f"{maker}side_features={tuple(found)!r}, ...)."
            )

    def _generate_examples(
        self, prepared: PreparedDataset, split: str
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from user_examples(prepared, split, self.session_config.protocol)


class SessionRecSimulator(_SessionRecBuilder):
    """The embedded session simulator as a TFDS dataset (no download, no manual files).

    One config per simulator preset (``tiny``, ``demo``, ``small``, ``medium``, ``recflow``),
    seed 0, default preparation options. Example::

        import tensorflow_datasets as tfds
        import sessionrec_tf.data.tfds_builders  # noqa: F401

        ds, info = tfds.load("session_rec_simulator/demo", data_dir="/data/tfds", split="test",
                             with_info=True)
        for batch in ds.ragged_batch(32).take(1):
            batch["item_id"]          # [32, sessions, items] RaggedTensor, ragged_rank 2
            batch["target_item_id"]   # [32, targets]
        info.metadata["vocab_sizes"]  # {"item_id": ..., "category": ...}

    Another seed or knobs: ``builder_kwargs={"config": simulator_config("tiny", seed=3)}``.
    """

    SOURCES = (SIMULATOR_SOURCE,)
    BUILDER_CONFIGS = [simulator_config(size, name=size) for size in PRESETS]

    def _source_input(
        self, dl_manager: tfds.download.DownloadManager
    ) -> tuple[str | None, dict[str, Any]]:
        return None, dict(self.session_config.source_options)


def _instructions() -> str:
    lines = ["Place the raw log of the chosen config in the manual directory, e.g.",
             "`tfds.download.DownloadConfig(manual_dir=DIR)` passed as",
             "`download_and_prepare_kwargs={'download_config': ...}` to `tfds.load`:", ""]
    for source, spec in RAW_SOURCES.items():
        lines.append(f"* `{source}`: {' or '.join(spec.files)}: {spec.what}")
        for option, names in spec.optional_files.items():
            lines.append(f"  - optional: {' or '.join(names)} (source option `{option}`)")
    lines += ["", "Custom file names: raw_log_config(source, manual_files=(...))."]
    return "\n".join(lines)


class SessionRecRawLog(_SessionRecBuilder):
    """A raw interaction log from the manual directory as a TFDS dataset.

    One config per source (``kuairand``, ``kuaisar``, ``movielens``, ``csv``) with its default
    options, the file name(s) it expects in the manual directory (:data:`RAW_SOURCES`) and the
    default preparation options. Example::

        import tensorflow_datasets as tfds
        import sessionrec_tf.data.tfds_builders  # noqa: F401

        dl = tfds.download.DownloadConfig(manual_dir="/data/ml-1m")   # holds ratings.dat
        splits = tfds.load("session_rec_raw_log/movielens", data_dir="/data/tfds", split=None,
                           download_and_prepare_kwargs={"download_config": dl})

    Other options (session gap, filters, source options, file names, declared side features):
    ``builder_kwargs={"config": raw_log_config("movielens", ...)}``.
    """

    SOURCES = tuple(RAW_SOURCES)
    MANUAL_DOWNLOAD_INSTRUCTIONS = _instructions()
    BUILDER_CONFIGS = [raw_log_config(source, name=source) for source in RAW_SOURCES]

    def _source_input(
        self, dl_manager: tfds.download.DownloadManager
    ) -> tuple[str | None, dict[str, Any]]:
        config = self.session_config
        wanted = " or ".join(config.manual_files)
        what = RAW_SOURCES[config.source].what
        hint = ("use another directory: tfds.load(..., download_and_prepare_kwargs="
                "{'download_config': tfds.download.DownloadConfig(manual_dir=DIR)})")
        try:
            manual_dir = Path(dl_manager.manual_dir)
        except AssertionError:
            where = getattr(dl_manager, "_manual_dir", None) or "the manual directory"
            raise DataError(
                f"{self.name}/{config.name}: place {wanted} in {where} (the directory does not "
                f"exist or is empty). Expected: {what}. To {hint}"
            ) from None
        file = next((manual_dir / f for f in config.manual_files
                     if (manual_dir / f).is_file()), None)
        if file is None:
            present = sorted(p.name for p in manual_dir.iterdir())[:10]
            raise DataError(
                f"{self.name}/{config.name}: place {wanted} in the manual directory "
                f"{manual_dir} (it holds {present}). Expected: {what}. To {hint}"
            )
        options = dict(config.source_options)
        for option, names in config.optional_manual_files.items():
            found = next((manual_dir / n for n in names if (manual_dir / n).is_file()), None)
            if option not in options and found is not None:
                options[option] = str(found)
        return str(file), options


__all__ = [
    "RAW_SOURCES",
    "SPLITS",
    "RawSource",
    "SessionRecConfig",
    "SessionRecRawLog",
    "SessionRecSimulator",
    "raw_log_config",
    "session_features",
    "simulator_config",
    "user_examples",
]
