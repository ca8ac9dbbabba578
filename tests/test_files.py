"""Atomic writes: the target is either the old file or the whole new one."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sessionrec_tf.files import atomic_save_figure, atomic_write_text  # noqa: E402


def test_atomic_write_text_replaces_whole(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new text")
    assert path.read_text() == "new text"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_save_figure_keeps_the_old_file_when_saving_fails(tmp_path):
    path = tmp_path / "plot.png"
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    atomic_save_figure(fig, path, dpi=50)
    first = path.read_bytes()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"

    def broken(target, **_kwargs):
        with open(target, "wb") as fh:  # half a file, then the failure
            fh.write(first[:20])
        raise OSError("disk full")

    fig.savefig = broken
    with pytest.raises(OSError, match="disk full"):
        atomic_save_figure(fig, path)
    assert path.read_bytes() == first
    plt.close(fig)
