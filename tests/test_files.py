"""Atomic writes: the target is either the old file or the whole new one."""

from __future__ import annotations

import errno

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sessionrec_tf.files import atomic_save_figure, atomic_write_text  # noqa: E402


def test_atomic_write_text_error_names_the_target(tmp_path):
    target = tmp_path / "missing" / "m.json"  # its directory does not exist
    with pytest.raises(OSError) as err:
        atomic_write_text(target, "x")
    assert err.value.filename == str(target) and not target.exists()


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
        raise OSError(errno.ENOSPC, "No space left on device")

    fig.savefig = broken
    with pytest.raises(OSError, match="No space left") as err:
        atomic_save_figure(fig, path)
    assert err.value.filename == str(path)  # the error names the file asked for
    assert path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]  # no temporary left
    plt.close(fig)
