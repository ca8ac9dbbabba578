"""Batch scoring with Apache Beam: the rows of :class:`~sessionrec_tf.export.scorer.BatchScorer`,
computed by a Beam pipeline through ``RunInference``.

    TFRecord shards --ReadAllFromTFRecord--> serialized users --BatchElements(batch_size)-->
    --parse the split, encode raw ids--> (user ids [n], serving request)
    --RunInference(ExportHandler: the SavedModel's serving_default)--> top-K arrays
    --rows--> pyarrow tables --WriteToParquetBatched--> OUTPUT/part-SSSSS-of-NNNNN.parquet

The same functions as the single-process scorer turn a reader batch into a request
(:func:`~sessionrec_tf.export.scorer.batch_request`) and outputs into rows
(:func:`~sessionrec_tf.export.scorer.rows_table`), so both write the same rows (in another
order and other part files). Needs the ``beam`` extra (``pip install -e .[beam]``). The
DirectRunner runs by default; ``beam_options`` (``--beam-option KEY=VALUE``) are Beam
pipeline options, e.g. ``runner=DataflowRunner``, ``project=...``, ``temp_location=gs://...``,
``direct_num_workers=2``.

The pipeline writes into a temporary sibling of ``output`` that is renamed into place only
when it succeeded (nothing half-written); ``output/_beam_score.json`` records the settings
and the counts (users scored, rows, users without history, users with fewer than k rows),
taken from Beam metrics. A complete output is not written again; a Beam job is not resumed
part-way (run it again from the start).

Example::

    BeamScorer("export/sessionrec/1", "tfrecords/demo", ScoreOptions(k=100)).run("recs")
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sessionrec_tf.beam_support import (
    counters,
    import_beam,
    make_pipeline,
    pipeline_options,
    run_pipeline,
)
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.export.scorer import ScoreOptions, check_compatible, score_settings
from sessionrec_tf.files import atomic_write_text

SUMMARY = "_beam_score.json"


class BeamScorer:
    """Scores a split of a prepared dataset with an export, as a Beam pipeline.

    Args:
      model_dir: an export version directory (``export/sessionrec/<N>``).
      data: the prepared dataset (same vocabularies as the export).
      options: what to score (as for the single-process scorer; ``chunk_users`` unused).
      beam_options: Beam pipeline options (``runner`` defaults to ``DirectRunner``).
    """

    def __init__(self, model_dir: str | Path, data: str | Path | PreparedDataset,
                 options: ScoreOptions | None = None,
                 beam_options: Mapping[str, str] | None = None) -> None:
        from sessionrec_tf.export.loaded import read_metadata

        import_beam("scoring with --runner beam")
        self.options = options or ScoreOptions()
        self.options.check()
        self.model_dir = Path(model_dir)
        self.metadata = read_metadata(self.model_dir)
        if self.options.k is None:
            self.options = replace(self.options, k=int(self.metadata["k"]))
        self.dataset = PreparedDataset.load(data)
        check_compatible(self.model_dir, self.metadata, self.options, self.dataset)
        self.beam_options = pipeline_options(beam_options)

    def settings(self) -> dict[str, Any]:
        return score_settings(self.model_dir, self.metadata, self.dataset, self.options)

    def build(self, pipeline: Any, output_prefix: str) -> None:
        """Add the scoring transforms to ``pipeline``, writing ``output_prefix-*.parquet``."""
        from sessionrec_tf.export import beam_transforms as bt

        opts = self.options
        _ = (pipeline
             | "Shards" >> bt.beam.Create(list(self.dataset.files))
             | "Score" >> bt.ScoreUsers(str(self.dataset.path), str(self.model_dir), opts.k,
                                        opts.protocol, opts.split, opts.batch_size,
                                        opts.scann, self.metadata["request"])
             | "Write" >> bt.beam.io.WriteToParquetBatched(
                 output_prefix, bt.rows_schema(self.metadata["request"]["item_dtype"]),
                 file_name_suffix=".parquet"))

    def run(self, output: str | Path, log: Callable[[str], None] | None = None
            ) -> dict[str, Any]:
        """Score into the directory ``output``; returns the summary it records."""
        from sessionrec_tf.export.beam_transforms import NAMESPACE

        say = log or (lambda _m: None)
        output = Path(output)
        summary_file = output / SUMMARY
        if summary_file.exists():
            done = json.loads(summary_file.read_text())
            if done.get("settings") != self.settings():
                raise DataError(f"{output} holds Beam scores of other settings; choose "
                                "another output directory")
            say(f"{output} is already complete ({done['users']:,} users, "
                f"{done['rows']:,} rows)")
            return done
        if output.exists():
            raise DataError(f"{output} exists and is not a complete Beam scoring output; "
                            "choose another output directory")
        tmp = output.parent / f".{output.name}.beam-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            t0 = time.time()
            pipeline = make_pipeline(self.beam_options)
            self.build(pipeline, str(tmp / "part"))
            counts = counters(run_pipeline(pipeline), NAMESPACE)
            summary = {"settings": self.settings(), "runner": self.beam_options["runner"],
                       "users": counts.get("users", 0), "rows": counts.get("rows", 0),
                       "skipped_users": counts.get("users_without_history", 0),
                       "short_users": counts.get("short_users", 0),
                       "seconds": round(time.time() - t0, 2)}
            atomic_write_text(tmp / SUMMARY, json.dumps(summary, indent=1) + "\n")
            tmp.rename(output)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        say(f"wrote {summary['rows']:,} rows for {summary['users']:,} users to {output} "
            f"(Beam {summary['runner']}; {summary['skipped_users']} users without history)")
        if summary["short_users"]:
            say(f"{summary['short_users']:,} users have fewer than {self.options.k} rows: "
                "fewer items than k are left once their seen items are excluded")
        return summary
