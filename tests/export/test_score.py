"""Batch scoring: Parquet rows equal the model's recommendations, chunks, resume after an
interruption (in process and a killed subprocess) without duplicated rows, refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from sessionrec_tf.data import DataError, read_dataset
from sessionrec_tf.export import BatchScorer, ScoreOptions
from sessionrec_tf.export.manifest import MANIFEST

K = 10


def _frame(directory) -> pd.DataFrame:
    frame = pd.read_parquet(directory)
    return frame.sort_values(["user_id", "rank"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def uninterrupted(tiny_export, tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("score") / "recs.parquet"
    manifest = BatchScorer(tiny_export.path, tiny_dataset,
                           ScoreOptions(k=K, batch_size=16, chunk_users=40),
                           progress=False).run(out)
    return out, manifest


def test_rows_are_the_models_recommendations(uninterrupted, tiny_export, tiny_dataset,
                                             reference):
    out, manifest = uninterrupted
    users = tiny_dataset.splits["loso"]["test"]["users"]
    assert manifest.complete and manifest.users_done == users
    batches = -(-users // 16)
    parts = -(-batches // 3)  # 40 users per part = 3 batches of 16
    assert [p.file for p in manifest.parts] == [f"part-{i:05d}.parquet" for i in range(parts)]
    frame = _frame(out)
    assert list(frame.columns) == ["user_id", "rank", "item_id", "score"]
    assert len(frame) == users * K and not frame.duplicated(["user_id", "rank"]).any()
    assert frame.groupby("user_id")["rank"].apply(list).map(lambda r: r == list(
        range(1, K + 1))).all()
    batch = next(iter(read_dataset(tiny_dataset, "test", batch_size=8, deterministic=True)))
    _, top = reference["in_process"](tiny_export.exporter, batch, K)
    for user, ids in zip(batch["user_id"].numpy(), top):
        got = frame.loc[frame.user_id == user.decode(), "item_id"].to_numpy()
        np.testing.assert_array_equal(got, ids.astype(np.int64))


def test_scann_scoring_matches_exact(uninterrupted, tiny_export, tiny_dataset, tmp_path):
    BatchScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=K, batch_size=64, scann=True),
                progress=False).run(tmp_path / "scann.parquet")
    exact, approx = _frame(uninterrupted[0]), _frame(tmp_path / "scann.parquet")
    pd.testing.assert_frame_equal(exact[["user_id", "rank", "item_id"]],
                                  approx[["user_id", "rank", "item_id"]])


def test_interrupted_run_resumes_without_duplicates(uninterrupted, tiny_export, tiny_dataset,
                                                    tmp_path):
    out = tmp_path / "recs.parquet"
    options = ScoreOptions(k=K, batch_size=16, chunk_users=40)

    def interrupt(manifest):
        if len(manifest.parts) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        BatchScorer(tiny_export.path, tiny_dataset, options, progress=False,
                    on_part=interrupt).run(out)
    state = json.loads((out / MANIFEST).read_text())
    assert len(state["parts"]) == 2 and not state["complete"]
    resumed = BatchScorer(tiny_export.path, tiny_dataset, options, progress=False).run(out)
    assert resumed.complete and len(resumed.parts) == len(uninterrupted[1].parts)
    pd.testing.assert_frame_equal(_frame(out), _frame(uninterrupted[0]))
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    again = BatchScorer(tiny_export.path, tiny_dataset, options, progress=False).run(out)
    assert again.rows_done == resumed.rows_done  # a finished run is left as is


def test_killed_subprocess_resumes(uninterrupted, tiny_export, tiny_dataset, tmp_path):
    out = tmp_path / "killed.parquet"
    cmd = [sys.executable, "-m", "sessionrec_tf.cli", "score", "--model",
           str(tiny_export.path), "--data", str(tiny_dataset.path), "--output", str(out),
           "--k", str(K), "--batch-size", "1", "--chunk-users", "2", "--quiet"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 120
    parts = 0
    while time.time() < deadline and proc.poll() is None:
        if (out / MANIFEST).exists():
            parts = len(json.loads((out / MANIFEST).read_text())["parts"])
            if parts >= 3:
                break
        time.sleep(0.02)
    assert proc.poll() is None, f"finished before it could be killed: {proc.stdout.read()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    state = json.loads((out / MANIFEST).read_text())
    assert not state["complete"] and len(state["parts"]) >= 3
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "resuming" in done.stdout
    pd.testing.assert_frame_equal(_frame(out), _frame(uninterrupted[0]), check_exact=False,
                                  atol=1e-5)


def test_refusals(uninterrupted, tiny_export, tiny_dataset, feature_dataset, tmp_path):
    out = uninterrupted[0]
    with pytest.raises(DataError, match=r"other settings \(differs in \['k'\]\)"):
        BatchScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=5, batch_size=16,
                                                                 chunk_users=40)).run(out)
    with pytest.raises(DataError, match=r"k=50 is more than the export's k \(20\)"):
        BatchScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=50))
    with pytest.raises(DataError, match="has other vocabularies"):
        BatchScorer(tiny_export.path, feature_dataset, ScoreOptions(k=5))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="is not a scoring output"):
        BatchScorer(tiny_export.path, tiny_dataset, ScoreOptions(k=5)).run(tmp_path / "taken")
    with pytest.raises(DataError, match="looks like a base path"):
        BatchScorer(tiny_export.path.parent, tiny_dataset, ScoreOptions(k=5))


def test_string_ids_and_interaction_features(feature_export, feature_dataset, reference,
                                             tmp_path):
    """String item ids, a binned and a string interaction feature go through the encoder."""
    out = tmp_path / "features.parquet"
    BatchScorer(feature_export.path, feature_dataset, ScoreOptions(k=5, batch_size=8),
                progress=False).run(out)
    frame = _frame(out)
    assert frame["item_id"].map(lambda s: s.startswith("item-")).all()
    batch = next(iter(read_dataset(feature_dataset, "test", batch_size=64,
                                   deterministic=True)))
    _, top = reference["in_process"](feature_export.exporter,
                                     reference["session_time_batch"](batch), 5)
    assert len(frame) == 5 * len(top)
    for user, ids in zip(batch["user_id"].numpy(), top):
        got = frame.loc[frame.user_id == user.decode(), "item_id"].tolist()
        assert got == list(ids)


def test_k_of_the_whole_catalog_writes_only_real_items(feature_dataset, tmp_path):
    """Export and score with k = every eligible item: users with seen positives get fewer
    rows (catalog minus their seen positives), never a placeholder, -inf or duplicate, and the
    signature's num_results says how many (issue 18)."""
    import tensorflow as tf

    from sessionrec_tf.config import load_config
    from sessionrec_tf.data.vocab import NUM_RESERVED
    from sessionrec_tf.export import Exporter, ExportOptions
    from sessionrec_tf.models import build_model
    from sessionrec_tf.models.builder import build_with_dummy_batch

    config = load_config("hstu_plus", ["model.embedding_dim=8", "model.num_layers=1"])
    tf.keras.utils.set_random_seed(0)
    model = build_model(config, feature_dataset)
    build_with_dummy_batch(model)
    k = feature_dataset.num_items - NUM_RESERVED
    result = Exporter(model, feature_dataset, config).export(
        tmp_path / "full_k", ExportOptions(k=k, index="exact"))
    out = tmp_path / "recs.parquet"
    manifest = BatchScorer(result.path, feature_dataset, ScoreOptions(k=k, batch_size=8),
                           progress=False).run(out)
    frame = _frame(out)
    assert np.isfinite(frame["score"]).all() and not frame["item_id"].eq("").any()
    assert not frame.duplicated(["user_id", "item_id"]).any()
    vocab = set(feature_dataset.vocabulary("item_id").tokens)
    tokens = np.asarray(feature_dataset.vocabulary("item_id").tokens, dtype=object)
    short = 0
    for batch in read_dataset(feature_dataset, "test", batch_size=64, deterministic=True):
        items = batch["item_id"].merge_dims(1, 2).to_list()
        labels = batch["label"].merge_dims(1, 2).to_list()
        for user, its, labs in zip(batch["user_id"].numpy(), items, labels):
            seen = {tokens[i - NUM_RESERVED] for i, lab in zip(its, labs) if lab == 1}
            got = frame.loc[frame.user_id == user.decode()]
            assert set(got["item_id"]) == vocab - seen
            assert got["rank"].tolist() == list(range(1, len(got) + 1))
            short += bool(seen)
    assert short > 0 and manifest.short_users == short
