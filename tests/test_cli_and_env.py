"""The `sessionrec` command line (errors exit 2 with one clear line) and the Keras 2 guard."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import KUAIRAND_TSV, REPO

from sessionrec_tf.cli import main, parse_duration


def run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_prepare_errors(tmp_path, capsys):
    code, out = run(["prepare", "--source", "kuaisar", "--output", str(tmp_path / "x")], capsys)
    assert code == 2 and "--source kuaisar needs --input PATH" in out
    code, out = run(["prepare", "--source", "movielens", "--input", str(tmp_path / "nope.dat"),
                     "--output", str(tmp_path / "x")], capsys)
    assert code == 2 and "nope.dat" in out
    code, out = run(["prepare", "--source", "synthetic", "--size", "tiny", "--output",
                     str(tmp_path / "x"), "--source-option", "flavour=x"], capsys)
    assert code == 2 and "unknown option(s) ['flavour']" in out
    code, out = run(["prepare", "--source", "kuaisar", "--input", "a.csv", "--num-users", "3",
                     "--output", str(tmp_path / "x")], capsys)
    assert code == 2 and "is a simulator option" in out
    code, out = run(["prepare", "--source", "synthetic", "--size", "tiny", "--output",
                     str(tmp_path / "x"), "--min-user-sessions", "500", "--quiet"], capsys)
    assert code == 2 and "rule 'user_min_sessions'" in out
    assert not (tmp_path / "x").exists()


def test_durations():
    assert parse_duration("30m") == 1800 and parse_duration("2h") == 7200
    assert parse_duration("1d") == 86400 and parse_duration("90") == 90
    with pytest.raises(Exception, match="is not a duration"):
        parse_duration("soon")


def test_train_and_evaluate_errors(tmp_path, capsys, tiny_dataset):
    code, out = run(["train", "--data", str(tmp_path), "--config", "sessionrec_hstu",
                     "--output", str(tmp_path / "run")], capsys)
    assert code == 2 and "is not a prepared dataset: it has no dataset.json" in out
    code, out = run(["train", "--data", str(tiny_dataset.path), "--config", "sasrecc",
                     "--output", str(tmp_path / "run")], capsys)
    assert code == 2 and "shipped configs: [" in out and "'sasrec'" in out
    code, out = run(["train", "--data", str(tiny_dataset.path), "--config", "sasrec",
                     "--output", str(tmp_path / "run"), "--set", "model.sse=lstm"], capsys)
    assert code == 2 and "model.sse: unknown value 'lstm'; valid values" in out
    code, out = run(["train", "--data", str(tiny_dataset.path), "--config", "sasrec",
                     "--output", str(tmp_path / "run"), "--set", "train.epochs=many"], capsys)
    assert code == 2 and "train.epochs: expected int" in out
    code, out = run(["evaluate", "--run", str(tmp_path)], capsys)
    assert code == 2 and "is not a run directory" in out
    code, out = run(["experiment", "table2", "--output", str(tmp_path / "r")], capsys)
    assert code == 2 and "needs --data" in out


@pytest.mark.realdata
def test_prepare_kuairand_real_file(tmp_path, capsys, kuairand_tsv):
    code, out = run(["prepare", "--source", "kuairand", "--input", str(KUAIRAND_TSV),
                     "--output", str(tmp_path / "kr"), "--item-filter-positives-only"], capsys)
    assert code == 0 and "filtered" in out
    from sessionrec_tf.data import PreparedDataset

    ds = PreparedDataset.load(tmp_path / "kr")
    report = ds.report
    assert report["steps"][0]["rows"] == 41828
    assert report["steps"][0]["rows"] - report["rows_removed_total"] == ds.counts["rows"]


def _python(code: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", **(env_extra or {})})
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_keras3_already_loaded_gives_actionable_import_error():
    out = _python("import tensorflow as tf\n_ = tf.keras.layers\nimport sessionrec_tf\n")
    assert out.returncode != 0
    assert "ImportError" in out.stderr
    assert "TF_USE_LEGACY_KERAS=1 before TensorFlow is" in out.stderr
    assert "import sessionrec_tf" in out.stderr


def test_import_first_gives_keras2():
    out = _python("import sessionrec_tf, os\nimport tensorflow as tf\n"
                  "print(os.environ['TF_USE_LEGACY_KERAS'], tf.keras.__name__)\n"
                  "import tensorflow_recommenders\n")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "tf_keras.api._v2.keras"]
    # tensorflow imported first but tf.keras untouched: still fine
    out = _python("import tensorflow as tf\nimport sessionrec_tf\nprint(tf.keras.__name__)\n")
    assert out.returncode == 0 and "tf_keras" in out.stdout
