"""Atomic file writes: a reader (or a resumed run) never sees a half-written file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _named(err: OSError, path: Path) -> OSError:
    """``err`` naming ``path`` (the file the caller asked for), not the temporary file."""
    return OSError(err.errno, err.strerror or str(err), str(path))


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace`` (never partial).
    An OSError names ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _named(err, path) from None


def atomic_save_figure(figure: Any, path: Path, **kwargs: Any) -> None:
    """``figure.savefig(path)`` via a temporary file and ``os.replace`` (never partial).
    An OSError names ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")  # savefig reads the format from it
    try:
        figure.savefig(tmp, **kwargs)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _named(err, path) from None
