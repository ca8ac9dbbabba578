"""The export's layout: versions, atomic writes, metadata, saved_model_cli, the item signature,
the standalone ScaNN index, the CLI and ScaNN defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO

from sessionrec_tf.cli import build_parser, main
from sessionrec_tf.data import DataError
from sessionrec_tf.export import ExportOptions, ScannOptions
from sessionrec_tf.export.exporter import INDEX_CHOICES as EXPORTER_INDEX_CHOICES
from sessionrec_tf.export.exporter import METADATA


def test_saved_model_cli_lists_named_inputs_and_outputs(tiny_export):
    cli = Path(sys.executable).parent / "saved_model_cli"
    out = subprocess.run([str(cli), "show", "--all", "--dir", str(tiny_export.path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    serving = text.split("signature_def['serving_default']")[1]
    for name in ("item_ids", "labels", "session_lengths", "session_timestamps",
                 "user_session_counts"):
        assert f"inputs['{name}']" in serving
    for name in ("user_embedding", "top_k_ids", "top_k_scores", "oov_count", "num_results"):
        assert f"outputs['{name}']" in serving
    assert "shape: (-1, 20)" in serving  # top-K width
    items = text.split("signature_def['item_embeddings']")[1].split("signature_def[")[0]
    assert "inputs['item_ids']" in items and "outputs['item_embedding']" in items


def test_item_embeddings_signature(tiny_export):
    loaded = tf.saved_model.load(str(tiny_export.path))
    model = tiny_export.exporter.model
    vocab = tiny_export.exporter.dataset.vocabulary("item_id")
    ids = np.array([vocab.tokens[0], vocab.tokens[5], -7], np.int64)
    out = loaded.signatures["item_embeddings"](item_ids=tf.constant(ids))
    want = model.candidate_embeddings().numpy()[[2, 7]]
    np.testing.assert_allclose(out["item_embedding"].numpy()[:2], want, atol=1e-6)
    np.testing.assert_array_equal(out["item_embedding"].numpy()[2], 0.0)
    np.testing.assert_array_equal(out["is_oov"].numpy(), [False, False, True])


def test_metadata_and_layout(tiny_export):
    path = tiny_export.path
    assert path.name == "1" and tiny_export.version == 1
    meta = json.loads((path / METADATA).read_text())
    assert meta == tiny_export.metadata
    assert meta["k"] == 20 and meta["index"] == "both" and meta["exclude_seen"] == "positives"
    assert meta["inputs"] == ["item_ids", "labels", "session_lengths", "session_timestamps",
                              "user_session_counts"]
    assert (path / "assets" / "item_id.tokens").exists()
    assert (path / "scann" / "saved_model.pb").exists()
    assert (path / "scann_index" / "scann_assets.pbtxt").exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_versions_and_atomic_failure(tiny_export, tmp_path, monkeypatch):
    exporter = tiny_export.exporter
    base = tmp_path / "sessionrec"
    assert exporter.export(base, ExportOptions(k=5)).version == 1
    assert exporter.export(base, ExportOptions(k=5)).version == 2
    assert exporter.export(base, ExportOptions(k=5, version=7)).version == 7
    with pytest.raises(DataError, match=r"already exists.*next free: 8"):
        exporter.export(base, ExportOptions(k=5, version=2))
    with pytest.raises(DataError, match="k=100000 must be between 1 and the number of items"):
        exporter.export(base, ExportOptions(k=100_000))

    def broken_save(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(tf.saved_model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        exporter.export(base, ExportOptions(k=5))
    assert sorted(p.name for p in base.iterdir()) == ["1", "2", "7"]  # nothing half-written


def test_standalone_scann_index(tiny_export, reference):
    from scann import scann_ops_pybind

    searcher = scann_ops_pybind.load_searcher(str(tiny_export.scann_index))
    model = tiny_export.exporter.model
    cands = model.candidate_embeddings().numpy()
    users = cands[[5, 9]] * 3.0  # any queries; exact answer by brute force
    ids, scores = searcher.search_batched(users, final_num_neighbors=10)
    vocab = tiny_export.exporter.dataset.vocabulary("item_id")
    exact = np.argsort(-(users @ cands[2:].T), axis=1)[:, :10]
    np.testing.assert_array_equal(np.asarray(ids), np.asarray(vocab.tokens)[exact].astype(str))


def test_scann_defaults_scale_with_the_catalog():
    small = ScannOptions().resolved(500, 100)
    assert small.num_leaves == 10 and small.num_leaves_to_search == 8
    assert small.num_reordering_candidates == 500
    mid = ScannOptions().resolved(100_000, 100)
    assert (mid.num_leaves, mid.num_leaves_to_search) == (1012, 51)
    big = ScannOptions().resolved(1_500_000, 100)
    assert (big.num_leaves, big.num_leaves_to_search) == (3919, 196)
    assert big.num_reordering_candidates == 1000
    assert ScannOptions().resolved(1_500_000, 2000).num_reordering_candidates == 20_000
    with pytest.raises(DataError, match="num_leaves_to_search=50 must be in"):
        ScannOptions(num_leaves=10, num_leaves_to_search=50).resolved(1000, 10)
    with pytest.raises(DataError, match="num_reordering_candidates=5 must be >= k=10"):
        ScannOptions(num_reordering_candidates=5).resolved(1000, 10)


def test_cli_export(tiny_run, tmp_path, capsys):
    export_parser = build_parser()._subparsers._group_actions[0].choices["export"]
    index_flag = next(a for a in export_parser._actions if "--index" in a.option_strings)
    assert tuple(index_flag.choices) == EXPORTER_INDEX_CHOICES == ("exact", "scann", "both")
    base = tmp_path / "cli" / "sessionrec"
    code = main(["export", "--run", str(tiny_run), "--output", str(base), "--k", "7",
                 "--index", "scann", "--scann-leaves", "3", "--quiet"])
    assert code == 0
    meta = json.loads((base / "1" / METADATA).read_text())
    assert meta["index"] == "scann" and not meta["exact_top_k"]
    assert meta["scann"]["num_leaves"] == 3
    assert meta["scann"]["num_reordering_candidates"] == min(1000, meta["num_items"] - 2)
    assert meta["scann"]["spherical"] is True  # cosine model: unit-norm candidates
    stock = tf.saved_model.load(str(base / "1")).signatures["serving_default"]
    assert set(stock.structured_outputs) == {"user_embedding", "oov_count"}
    assert main(["export", "--run", str(tiny_run), "--output", str(base), "--k", "7",
                 "--no-warmup", "--quiet"]) == 0
    assert json.loads((base / "2" / METADATA).read_text())["warmup_requests"] is None
    assert not (base / "2" / "assets.extra" / "tf_serving_warmup_requests").exists()
    assert main(["export", "--run", str(tmp_path / "nope"), "--output", str(base)]) == 2
    assert "is not a run directory" in capsys.readouterr().err


def test_models_config_points_at_the_export_base_path():
    text = (REPO / "export" / "models.config").read_text()
    assert 'name: "sessionrec"' in text and 'base_path: "/models/sessionrec"' in text
    assert 'model_platform: "tensorflow"' in text
