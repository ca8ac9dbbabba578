"""`experiment report --sections`: REPORT.md regenerated from the listed current results."""

from __future__ import annotations

import pytest

from sessionrec_tf.cli import main
from sessionrec_tf.data import DataError
from sessionrec_tf.experiments import collect_report


def _results(tmp_path):
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "t.md").write_text("# Old heading\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    (tmp_path / "res" / "t.png").write_bytes(b"\x89PNG")
    (tmp_path / "report.yaml").write_text(
        "- title: First table\n  table: res/t.md\n  plot: res/t.png\n  note: Read it so.\n"
        "- title: Again, no plot\n  table: res/t.md\n")
    return tmp_path / "report.yaml"


def test_report_holds_each_listed_table_plot_and_note(tmp_path):
    sections = _results(tmp_path)
    path = collect_report(sections, tmp_path / "out")
    text = path.read_text()
    assert text.startswith("# Report: the current results")
    assert "## First table\n\n\n| a | b |" in text and "Old heading" not in text
    assert "![First table](../res/t.png)" in text and "Read it so." in text
    assert text.count("| 1 | 2 |") == 2 and "## Again, no plot" in text


def test_cli_and_refusals(tmp_path, capsys):
    sections = _results(tmp_path)
    assert main(["experiment", "report", "--sections", str(sections), "--output",
                 str(tmp_path)]) == 0
    assert (tmp_path / "REPORT.md").exists()
    (tmp_path / "res" / "t.png").unlink()
    with pytest.raises(DataError, match="section 1: plot .*t.png does not exist"):
        collect_report(sections, tmp_path)
    sections.write_text("- title: x\n  tabel: res/t.md\n")
    with pytest.raises(DataError, match="section 1: expected keys title, table"):
        collect_report(sections, tmp_path)
    assert main(["experiment", "table2", "--sections", str(sections), "--output",
                 str(tmp_path)]) == 2
    assert "--sections applies to report only" in capsys.readouterr().err
