"""Each export loaded in a fresh process that never imports sessionrec_tf, called with the
exact JSON a REST client sends, matches the in-process model; the stock export holds only
ops registered in plain TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sessionrec_tf.data import read_dataset
from sessionrec_tf.export import RequestEncoder, rest_body

CLIENT = Path(__file__).resolve().parent / "serving_client.py"


def _write_request(export, split: str, batch_size: int, path: Path) -> dict:
    """Write the REST body of one reader batch; returns that batch."""
    exporter = export.exporter
    batch = next(iter(read_dataset(exporter.dataset, split, batch_size=batch_size,
                                   deterministic=True)))
    request = RequestEncoder(exporter.dataset, exporter.spec).encode(batch)
    body = rest_body(request, exporter.spec)
    path.write_text(json.dumps(body))
    return batch


def _client(jobs: dict, path: Path, scann: bool) -> subprocess.Popen:
    path.write_text(json.dumps(jobs))
    cmd = [sys.executable, str(CLIENT), str(path), *(["--import-scann"] if scann else [])]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def served(tiny_export, feature_export, tmp_path_factory):
    """Run both fresh clients (stock, then ScaNN) side by side; returns their results."""
    tmp = tmp_path_factory.mktemp("fresh")
    batches = {"tiny": _write_request(tiny_export, "test", 16, tmp / "tiny.json"),
               "features": _write_request(feature_export, "test", 64, tmp / "features.json")}
    stock = _client({
        "predict": [
            {"model": str(tiny_export.path), "request": str(tmp / "tiny.json"),
             "output": str(tmp / "tiny_stock.npz")},
            {"model": str(feature_export.path), "request": str(tmp / "features.json"),
             "output": str(tmp / "features_stock.npz")}],
        "check_ops": [str(tiny_export.path), str(feature_export.path),
                      str(tiny_export.scann_model)],
    }, tmp / "stock_jobs.json", scann=False)
    scann = _client({"predict": [
        {"model": str(tiny_export.scann_model), "request": str(tmp / "tiny.json"),
         "output": str(tmp / "tiny_scann.npz")}]}, tmp / "scann_jobs.json", scann=True)
    reports = {"stock": _report(stock), "scann": _report(scann)}
    outputs = {name: dict(np.load(tmp / f"{name}.npz", allow_pickle=True))
               for name in ("tiny_stock", "features_stock", "tiny_scann")}
    return {"reports": reports, "outputs": outputs, "batches": batches}


def _decode(ids: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda b: b.decode())(ids) if ids.dtype.kind in "SO" else ids


@pytest.mark.parametrize("name", ["tiny_stock", "tiny_scann", "features_stock"])
def test_fresh_process_matches_in_process(served, tiny_export, feature_export, reference,
                                          name):
    export = feature_export if name.startswith("features") else tiny_export
    batch = served["batches"][name.split("_")[0]]
    # the request carries session timestamps only: compare on the same information
    batch = reference["session_time_batch"](batch)
    users, top_ids = reference["in_process"](export.exporter, batch, export.metadata["k"])
    out = served["outputs"][name]
    assert out["user_embedding"].shape == users.shape
    np.testing.assert_allclose(out["user_embedding"], users, atol=1e-5)
    got = _decode(out["top_k_ids"])
    want = top_ids.astype(got.dtype)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(out["oov_count"], 0)
    assert np.all(np.diff(out["top_k_scores"], axis=1) <= 1e-6)  # best first
    np.testing.assert_array_equal(out["num_results"], np.isfinite(out["top_k_scores"]).sum(1))


def test_clients_never_imported_sessionrec(served):
    stock, scann = served["reports"]["stock"], served["reports"]["scann"]
    assert not stock["modules"]["sessionrec_tf"] and not scann["modules"]["sessionrec_tf"]
    assert not stock["modules"]["scann"] and scann["modules"]["scann"]


def test_stock_exports_hold_only_registered_ops(served, tiny_export, feature_export):
    unregistered = served["reports"]["stock"]["unregistered"]
    assert unregistered[str(tiny_export.path)] == []
    assert unregistered[str(feature_export.path)] == []
    # the check does see custom ops: the ScaNN model's are unknown without `import scann`
    scann_ops = unregistered[str(tiny_export.scann_model)]
    assert scann_ops and all(op.startswith("Scann>") for op in scann_ops)
