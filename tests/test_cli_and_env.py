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
    code, out = run(["prepare", "--source", "synthetic", "--size", "tiny", "--output",
                     str(tmp_path / "x"), "--beam-option", "direct_num_workers=2"], capsys)
    assert code == 2 and "--beam-option needs --runner beam" in out
    code, out = run(["prepare", "--source", "csv", "--input", str(tmp_path / "none-*.csv"),
                     "--output", str(tmp_path / "x")], capsys)
    assert code == 2 and "none-*.csv matches no file" in out


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


def test_quiet_prepare_prints_nothing(tmp_path, capsys):
    """--quiet silences the simulator's progress bar too (issue 18)."""
    assert main(["prepare", "--source", "synthetic", "--size", "tiny", "--output",
                 str(tmp_path / "d"), "--quiet"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_validate_an_intact_dataset(tiny_dataset, capsys):
    """`sessionrec validate` reads every shard: its counts equal prepare's (dataset.json)."""
    assert main(["validate", str(tiny_dataset.path)]) == 0
    text = capsys.readouterr().out
    counts = tiny_dataset.counts
    assert (f"OK ({len(tiny_dataset.files)} shards, {counts['users']:,} users, "
            f"{counts['rows']:,} interactions)") in text


def test_evaluate_drops_default_cutoffs_beyond_a_small_catalog(tiny_dataset, tmp_path,
                                                               capsys):
    """The default --k 10 100 500 on a catalog under 500 items: 500 is dropped with a note;
    an explicit K beyond the catalog is still refused (issue 18)."""
    from conftest import TINY_MODEL

    from sessionrec_tf.config import load_config
    from sessionrec_tf.training import Trainer

    catalog = tiny_dataset.num_items - 2
    assert 100 < catalog < 500
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "train.epochs=1"])
    Trainer(config, tiny_dataset, tmp_path / "run", verbose=0, log=lambda _m: None).run()
    capsys.readouterr()
    assert main(["evaluate", "--run", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert f"cut-off(s) [500] dropped: the catalog has {catalog} items" in out
    header = next(line for line in out.splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "@10", "@100"], header
    assert main(["evaluate", "--run", str(tmp_path / "run"), "--k", "500"]) == 2
    assert "K=[500] is larger than the catalog" in capsys.readouterr().err
