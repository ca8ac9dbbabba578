"""Every script in benchmarks/ runs end to end at a tiny size (``--smoke``), so a benchmark
cannot rot unnoticed (issue 19). Each runs in its own process, in a temporary directory that
also receives its RESULTS.md section (benchmarks/RESULTS.md is never touched). The tiny
dataset and the smoke runs that several scripts share are prepared/trained once per session
(``benchmarks/_common.py``, SESSIONREC_SMOKE_CACHE), in a directory shared by the pytest
workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

SCRIPTS = sorted(p for p in (REPO / "benchmarks").glob("*.py") if not p.name.startswith("_"))
# scripts that print their result instead of appending a RESULTS.md section
PRINT_ONLY = {"badinputs_report.py", "train_runs.py"}


def test_every_script_is_covered():
    assert len(SCRIPTS) >= 14
    for script in SCRIPTS:
        assert "add_smoke" in script.read_text(), f"{script.name} has no --smoke"


@pytest.fixture(scope="session")
def smoke_cache(tmp_path_factory, worker_id) -> Path:
    """One cache directory for the session: the workers' temporary roots share a parent."""
    root = tmp_path_factory.getbasetemp()
    return (root if worker_id == "master" else root.parent) / "smoke_cache"


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_script_runs_with_smoke(script, tmp_path, smoke_cache):
    results = REPO / "benchmarks" / "RESULTS.md"
    before = results.stat().st_mtime_ns if results.exists() else None
    env = {**os.environ, "SESSIONREC_SMOKE_DIR": str(tmp_path), "PYTHONPATH": str(REPO),
           "TF_CPP_MIN_LOG_LEVEL": "3", "SESSIONREC_SMOKE_CACHE": str(smoke_cache)}
    proc = subprocess.run([sys.executable, str(script), "--smoke"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    if script.name not in PRINT_ONLY:
        section = (tmp_path / "RESULTS.md").read_text()
        assert section.count("\n## ") >= 1 and "- command: `python benchmarks/" in section
    if results.exists():
        assert results.stat().st_mtime_ns == before  # the real log is never written
