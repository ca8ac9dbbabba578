"""Batch scoring with Apache Beam (`score --runner beam`, DirectRunner): the same rows as the
single-process scorer (order-independent), its counts from Beam metrics, an output written
only when complete, clear refusals. Skipped when the `beam` extra is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO

from sessionrec_tf.data import DataError
from sessionrec_tf.export import BatchScorer, ScoreOptions

pytest.importorskip("apache_beam", reason="the beam extra is not installed "
                                          "(pip install -e '.[beam]')")

from sessionrec_tf.beam_support import parse_beam_options  # noqa: E402
from sessionrec_tf.export.beam_scorer import SUMMARY, BeamScorer  # noqa: E402


def _frame(directory) -> pd.DataFrame:
    frame = pd.read_parquet(directory)
    return frame.sort_values(["user_id", "rank"]).reset_index(drop=True)


@pytest.mark.parametrize("options", [
    ScoreOptions(k=10, batch_size=16),
    ScoreOptions(k=7, batch_size=32, protocol="loio", split="valid"),
    ScoreOptions(k=10, batch_size=64, scann=True),
], ids=["loso-test", "loio-valid", "scann"])
def test_beam_rows_equal_the_single_process_scorer(tiny_export, tiny_dataset, tmp_path,
                                                   options):
    local = BatchScorer(tiny_export.path, tiny_dataset, options, progress=False
                        ).run(tmp_path / "local")
    summary = BeamScorer(tiny_export.path, tiny_dataset, options).run(tmp_path / "beam")
    a, b = _frame(tmp_path / "local"), _frame(tmp_path / "beam")
    assert len(a) > 0 and list(b.columns) == ["user_id", "rank", "item_id", "score"]
    pd.testing.assert_frame_equal(a, b)
    assert summary["users"] == local.users_done and summary["rows"] == len(a)
    assert summary["skipped_users"] == local.skipped_users
    assert summary["short_users"] == local.short_users
    assert json.loads((tmp_path / "beam" / SUMMARY).read_text())["users"] == summary["users"]
    assert not list(tmp_path.glob(".*beam-tmp"))  # the temporary output was renamed


def test_complete_output_is_kept_and_other_settings_refused(tiny_export, tiny_dataset,
                                                            tmp_path):
    out = tmp_path / "beam"
    first = BeamScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=5)).run(out)
    said: list[str] = []
    again = BeamScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=5)).run(out, said.append)
    assert again == first and "already complete" in said[0]
    with pytest.raises(DataError, match="other settings"):
        BeamScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=6)).run(out)
    (tmp_path / "other").mkdir()
    with pytest.raises(DataError, match="not a complete Beam scoring output"):
        BeamScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=5)).run(tmp_path / "other")


def test_failed_pipeline_leaves_nothing(tiny_export, tiny_dataset, tmp_path, monkeypatch):
    from sessionrec_tf.export import beam_transforms

    def broken(self, batch, model, inference_args=None):
        raise RuntimeError("model server down")

    monkeypatch.setattr(beam_transforms.ExportHandler, "run_inference", broken)
    with pytest.raises(Exception, match="model server down"):
        BeamScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=5)).run(tmp_path / "beam")
    assert not list(tmp_path.iterdir())


def test_beam_options_and_refusals(tiny_export, tiny_dataset, tmp_path):
    assert parse_beam_options(["direct_num_workers=2", "--runner=DirectRunner"]) == {
        "direct_num_workers": "2", "runner": "DirectRunner"}
    with pytest.raises(DataError, match="KEY=VALUE"):
        parse_beam_options(["direct_num_workers"])
    with pytest.raises(DataError, match="more than the export's k"):
        BeamScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=10_000))


def test_cli_runner_beam(tiny_export, tiny_dataset, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "sessionrec_tf.cli", "score", "--model",
           str(tiny_export.path), "--data", str(tiny_dataset.path), "--k", "5"]
    proc = subprocess.run([*cmd, "--output", str(tmp_path / "beam"), "--runner", "beam",
                           "--beam-option", "direct_num_workers=1"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Beam DirectRunner" in proc.stdout
    proc = subprocess.run([*cmd, "--output", str(tmp_path / "x"), "--beam-option", "a=b"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert "--beam-option applies to --runner beam only" in proc.stderr
    assert "Traceback" not in proc.stderr
