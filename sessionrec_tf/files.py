"""Atomic file writes: a reader (or a resumed run) never sees a half-written file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace`` (never partial)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_save_figure(figure: Any, path: Path, **kwargs: Any) -> None:
    """``figure.savefig(path)`` via a temporary file and ``os.replace`` (never partial)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")  # savefig reads the format from it
    figure.savefig(tmp, **kwargs)
    os.replace(tmp, path)
