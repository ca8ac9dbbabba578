"""Export a trained model as TF Serving SavedModels (+ ScaNN index).

Layout of one export ``OUTPUT/<version>/`` (written atomically, see
:mod:`sessionrec_tf.export.versions`)::

    saved_model.pb, variables/   the stock query model: TF Serving loads this directory
    assets/<vocab>.tokens        vocabularies (SavedModel assets)
    assets.extra/sessionrec_export.json   what was exported: run, dataset, inputs, k, index
    assets.extra/tf_serving_warmup_requests  synthetic requests TF Serving replays on load
                                 (:mod:`sessionrec_tf.export.warmup`)
    scann/                       --index scann|both: the ScaNN retrieval SavedModel (same
                                 signatures; needs ScaNN's ops: Python with `import scann`)
    scann_index/                 --index scann|both: the same index for scann_ops_pybind

``--index exact`` (default): the stock model returns ``user_embedding``, ``oov_count``,
``top_k_ids``, ``top_k_scores``. ``--index scann``: the stock model returns the embedding only
(the paper's split: user embedding from the model server, top-K from an ANN service) and the
ScaNN model returns top-K. ``--index both``: exact top-K in the stock model and the ScaNN
model beside it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from sessionrec_tf.config import ExperimentConfig
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.export.query_module import QueryModule
from sessionrec_tf.export.request import RequestSpec
from sessionrec_tf.export.tables import VocabularyTable, write_tokens_file
from sessionrec_tf.export.versions import resolve_version, staged_version
from sessionrec_tf.retrieval.exact import DEFAULT_CHUNK, ExactTopK, candidate_variable
from sessionrec_tf.retrieval.registry import EXPORT_INDEX_CHOICES
from sessionrec_tf.retrieval.scann_options import ScannOptions

INDEX_CHOICES = EXPORT_INDEX_CHOICES
METADATA = Path("assets.extra") / "sessionrec_export.json"
FORMAT = "sessionrec_tf/export"
FORMAT_VERSION = 1
SCANN_MODEL = "scann"
SCANN_INDEX = "scann_index"


@dataclass(frozen=True)
class ExportOptions:
    """What to export.

    Attributes:
      k: top-K size of the retrieval outputs.
      index: ``exact``, ``scann`` or ``both`` (see module docstring).
      version: TF Serving version number (default: the next free one).
      scann: ScaNN parameters (defaults scaled to the catalog).
      chunk_size: candidates scored at once by the exact top-K.
      warmup: write TF Serving warm-up requests: ``None`` (default) when
        tensorflow-serving-api is installed (said in the log otherwise), ``True`` always (an
        error without the package), ``False`` never.
      model_name: the TF Serving model name written into the warm-up requests.
      token_tables: serve interaction tokens from tables precomputed at export
        (:meth:`~sessionrec_tf.embedding.item_embedding.ItemEmbedding.serving_tokens`: one
        ``[num_items, h]`` table more in the SavedModel, no per-request first-layer matmul).
    """

    k: int = 100
    index: str = "exact"
    version: int | None = None
    scann: ScannOptions = field(default_factory=ScannOptions)
    chunk_size: int = DEFAULT_CHUNK
    warmup: bool | None = None
    model_name: str = "sessionrec"
    token_tables: bool = True


@dataclass
class ExportResult:
    """Where an export went (``scann_model``/``scann_index`` are None without ScaNN)."""

    path: Path
    version: int
    metadata: dict[str, Any]
    scann_model: Path | None = None
    scann_index: Path | None = None


class Exporter:
    """Exports one model (trained, or just built) with its dataset's vocabularies.

    Args:
      model: a built SessionRec model.
      dataset: the dataset it was trained on (vocabularies, features).
      config: its experiment config (``train.exclude_seen``, ``model.max_len``).
      run_dir: the run it comes from (recorded in the metadata), if any.
    """

    def __init__(self, model: tf.keras.Model, dataset: PreparedDataset,
                 config: ExperimentConfig, run_dir: str | Path | None = None) -> None:
        self.model = model
        self.dataset = dataset
        self.config = config
        self.run_dir = str(run_dir) if run_dir is not None else None
        self.spec = RequestSpec.from_dataset(dataset)
        self._token_vars: list[tf.Variable] = []  # the export-time token tables, if any

    @classmethod
    def from_run(cls, run_dir: str | Path, data: str | Path | None = None) -> Exporter:
        """The best weights of ``runs/NAME`` (and its dataset, or ``data``)."""
        from sessionrec_tf.training.run import Run

        run = Run.load(run_dir)
        model, dataset = run.restore(data)
        return cls(model, dataset, run.config, run_dir=run_dir)

    # ------------------------------------------------------------------ pieces
    def _tables(self, src: Path) -> dict[str, VocabularyTable]:
        tables = {}
        for name in ("item_id", *self.spec.feature_names):
            vocab = self.dataset.vocabulary(name)
            tables[name] = VocabularyTable(name, write_tokens_file(vocab, src), vocab.dtype)
        return tables

    def _module(self, tables: dict[str, VocabularyTable], candidates: tf.Variable,
                retriever: Any | None) -> QueryModule:
        return QueryModule(self.model, self.spec, tables, candidates, retriever,
                           self.config.train.exclude_seen, extra_variables=self._token_vars)

    def _metadata(self, version: int, options: ExportOptions, dim: int,
                  scann: ScannOptions | None) -> dict[str, Any]:
        import sessionrec_tf

        ds = self.dataset
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "version": version,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "library_version": sessionrec_tf.__version__,
            "run": self.run_dir, "config": self.config.to_dict(),
            "dataset": {"path": str(ds.path), "name": ds.name,
                        "vocab_fingerprint": ds.vocab_fingerprint,
                        "vocab_sizes": ds.vocab_sizes},
            "request": self.spec.to_dict(), "inputs": list(self.spec.input_names),
            # dtypes by input, in the signature's positional order (TF names inputs by position)
            "input_dtypes": {name: spec.dtype.name for name, spec in
                             sorted(self.spec.tensor_specs().items())},
            "embedding_dim": dim, "user_vectors": self.config.model.user_vectors,
            "num_items": ds.num_items, "k": options.k,
            "index": options.index, "exclude_seen": self.config.train.exclude_seen,
            "token_tables": options.token_tables,
            "max_len": self.config.model.max_len, "paradigm": self.config.model.paradigm,
            "exact_top_k": options.index in ("exact", "both"),
            "scann_model": SCANN_MODEL if scann else None,
            "scann_index": SCANN_INDEX if scann else None,
            "scann": scann.to_dict() if scann else None,
        }

    def _check(self, options: ExportOptions) -> None:
        if options.index not in INDEX_CHOICES:
            raise DataError(f"export index must be one of {list(INDEX_CHOICES)}, "
                            f"got {options.index!r}")
        eligible = self.dataset.num_items - NUM_RESERVED
        if not 1 <= options.k <= eligible:
            raise DataError(f"k={options.k} must be between 1 and the number of items "
                            f"({eligible})")

    # ------------------------------------------------------------------ export
    def export(self, output: str | Path, options: ExportOptions | None = None,
               log: Callable[[str], None] | None = None) -> ExportResult:
        """Write ``output/<version>/`` (see module docstring); returns where it went."""
        options = options or ExportOptions()
        say = log or (lambda _m: None)
        self._check(options)
        base = Path(output)
        version = resolve_version(base, options.version)
        candidates_np = self.model.candidate_embeddings().numpy().astype(np.float32)
        dim = int(candidates_np.shape[1])
        src = Path(tempfile.mkdtemp(prefix="sessionrec-vocab-"))
        try:
            tables = self._tables(src)
            candidates = candidate_variable(candidates_np)
            tokens = (self.model.embedding.serving_tokens() if options.token_tables
                      else contextlib.nullcontext([]))
            with tokens as self._token_vars, staged_version(base, version) as staging:
                exact = ExactTopK(options.k, options.chunk_size).index(candidates) \
                    if options.index in ("exact", "both") else None
                what = f"exact top-{options.k}" if exact else "embeddings only"
                say(f"saving the stock query model ({what}, {candidates_np.shape[0]:,} items "
                    f"x {dim})")
                module = self._module(tables, candidates, exact)
                tf.saved_model.save(module, str(staging), signatures=module.signatures())
                scann = None
                if options.index in ("scann", "both"):
                    scann = self._export_scann(staging, tables, candidates, candidates_np,
                                               options, say)
                meta = self._metadata(version, options, dim, scann)
                meta["warmup_requests"] = self._write_warmup(staging, options, say)
                (staging / METADATA).parent.mkdir(parents=True, exist_ok=True)
                (staging / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
        finally:
            shutil.rmtree(src, ignore_errors=True)
        path = base / str(version)
        say(f"exported version {version} to {path}")
        return ExportResult(path, version, meta,
                            scann_model=path / SCANN_MODEL if scann else None,
                            scann_index=path / SCANN_INDEX if scann else None)

    def _write_warmup(self, staging: Path, options: ExportOptions,
                      say: Callable[[str], None]) -> int | None:
        """Warm-up records written into the stock model (None: not written)."""
        from sessionrec_tf.export.warmup import WARMUP_FILE, serving_protos, write_warmup

        if options.warmup is False:
            return None
        if options.warmup is None:
            try:
                serving_protos()
            except DataError as e:
                say(f"no TF Serving warm-up file: {e}")
                return None
        _, n = write_warmup(staging, self.dataset, self.config.model.max_len,
                            options.model_name)
        say(f"wrote {n} warm-up requests to {WARMUP_FILE}")
        return n

    def _export_scann(self, staging: Path, tables: dict[str, VocabularyTable],
                      candidates: tf.Variable, candidates_np: np.ndarray,
                      options: ExportOptions, say: Callable[[str], None]) -> ScannOptions:
        from sessionrec_tf.retrieval.scann import ScannTopK, build_pybind_index

        t0 = time.time()
        retriever = ScannTopK(options.k, options.scann).index(candidates_np)
        opts = retriever.options
        say(f"built the ScaNN index in {time.time() - t0:.1f}s ({opts.num_leaves} leaves, "
            f"search {opts.num_leaves_to_search}, reorder {opts.num_reordering_candidates})")
        module = self._module(tables, candidates, retriever)
        tf.saved_model.save(module, str(staging / SCANN_MODEL), signatures=module.signatures(),
                            options=tf.saved_model.SaveOptions(namespace_whitelist=["Scann"]))
        tokens = [str(t) for t in self.dataset.vocabulary("item_id").tokens]
        build_pybind_index(candidates_np, tokens, options.k, opts, staging / SCANN_INDEX)
        say("saved the ScaNN SavedModel and the scann_ops_pybind index")
        return opts
