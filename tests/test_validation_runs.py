"""``benchmarks/validation_runs.py``: per-run validation curves, the per-seed summary with
paired gaps (checked against values computed by hand), ``--label`` and ``--table``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

SCRIPT = REPO / "benchmarks" / "validation_runs.py"


def fake_run(run: Path, per_epoch: list[tuple[float, float]]) -> None:
    """A finished run whose history holds (recall@100, ndcg@10) per epoch."""
    run.mkdir(parents=True)
    history = [{"valid": {"recall@100": r, "recall@10": r / 5, "ndcg@10": n}}
               for r, n in per_epoch]
    (run / "history.json").write_text(json.dumps(history))
    (run / "run.json").write_text(json.dumps({"status": "finished"}))


def run_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The script, recording into ``tmp_path/RESULTS.md`` (benchmarks/RESULTS.md untouched)."""
    real = REPO / "benchmarks" / "RESULTS.md"
    before = real.stat().st_mtime_ns if real.exists() else None
    env = {**os.environ, "SESSIONREC_RESULTS_MD": str(tmp_path / "RESULTS.md"),
           "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert (real.stat().st_mtime_ns if real.exists() else None) == before
    return proc


def test_label_renames_a_cell_and_table_writes_the_summary(tmp_path):
    out = tmp_path / "exp"
    # the grid cell HSTU+ (best epochs: seed 0 epoch 2 (.30), seed 1 epoch 1 (.50))
    fake_run(out / "runs" / "HSTU+" / "loso" / "seed0", [(0.20, 0.05), (0.30, 0.10)])
    fake_run(out / "runs" / "HSTU+" / "loso" / "seed1", [(0.50, 0.20), (0.40, 0.30)])
    # an extra run per seed, under its own label: .45 and .40 at their best epochs
    fake_run(tmp_path / "other" / "loso" / "seed0", [(0.45, 0.15)])
    fake_run(tmp_path / "other" / "loso" / "seed1", [(0.10, 0.01), (0.40, 0.25)])
    table = tmp_path / "report" / "valid.md"
    proc = run_script(
        tmp_path, "--output", str(out), "--experiment", "table2", "--cells", "HSTU+",
        "--seed-ids", "0", "1", "--label", "HSTU+=HSTU+, batch 16",
        "--extra", f"other={tmp_path / 'other' / 'loso' / 'seed0'}",
        "--extra", f"other={tmp_path / 'other' / 'loso' / 'seed1'}",
        "--versus", "HSTU+, batch 16", "--title", "T", "--table", str(table))
    assert proc.returncode == 0, proc.stderr[-3000:]
    logged = (tmp_path / "RESULTS.md").read_text()  # the section: every run, then the summary
    assert "\n## T\n" in logged
    assert "| HSTU+, batch 16 | loso | 0 | 2 | 2 | 0.3000 |" in logged
    assert "| HSTU+, batch 16 | loso | 1 | 2 | 1 | 0.5000 |" in logged
    text = table.read_text()  # the report's table: the title and the summary only
    assert text.startswith("# T\n\n| run | protocol | seeds |")
    assert "| HSTU+, batch 16 | loso | 2 | 0.4000 ± 0.1414 |" in text
    assert "| loso | 0 |" not in text
    summary = [line for line in text.splitlines() if line.startswith("| other | loso | 2 |")]
    # R@100 mean (.45 + .40) / 2 = .425, sample std .0354 (R@10 = R@100 / 5: .085, .0071);
    # gaps vs (.30, .50): +50%, -20% -> mean +15%, sample std 49.5, ahead in 1 of 2.
    # N@10 (.15, .25) vs (.10, .20): +50%, +25% -> +37.5% ± 17.7 (2/2)
    assert summary == ["| other | loso | 2 | 0.4250 ± 0.0354 | 0.0850 ± 0.0071 | "
                       "0.2000 ± 0.0707 | +15.0% ± 49.5 (1/2) | +15.0% ± 49.5 (1/2) | "
                       "+37.5% ± 17.7 (2/2) |"]
    assert summary[0] in logged


def test_label_of_an_unknown_cell_is_a_one_line_error(tmp_path):
    proc = run_script(tmp_path, "--output", str(tmp_path), "--experiment", "table2",
                      "--label", "NoSuchCell=x", "--title", "T", "--no-record")
    assert proc.returncode != 0
    assert "error: --label 'NoSuchCell=x': 'NoSuchCell' is not a cell" in proc.stderr
    assert "Traceback" not in proc.stderr
