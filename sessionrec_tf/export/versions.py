"""TF Serving's model layout ``BASE/<version>/``, written atomically.

TF Serving watches ``BASE`` and loads the highest all-digit subdirectory. A version is built
in a hidden staging directory beside it (``BASE/.staging-<version>-<random>``, which TF Serving
ignores: its name is not a number) and renamed to ``BASE/<version>`` only once complete, so a
server never sees a half-written model and an interrupted export leaves no version behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sessionrec_tf.data.errors import DataError

STAGING_PREFIX = ".staging-"


def existing_versions(base: Path) -> list[int]:
    """The version numbers present under ``base`` (all-digit directory names), sorted."""
    if not base.exists():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(base: Path) -> int:
    """One more than the highest existing version (1 for an empty base path)."""
    versions = existing_versions(base)
    return versions[-1] + 1 if versions else 1


def resolve_version(base: Path, version: int | None) -> int:
    """``version`` checked to be new and positive, or the next one."""
    if version is None:
        return next_version(base)
    if version < 1:
        raise DataError(f"version must be a positive integer, got {version}")
    if (base / str(version)).exists():
        raise DataError(f"{base / str(version)} already exists; TF Serving versions are "
                        f"immutable: pick another version (next free: {next_version(base)}) "
                        "or leave the version unset")
    return version


@contextmanager
def staged_version(base: Path, version: int) -> Iterator[Path]:
    """Yield an empty staging directory; on success rename it to ``base/<version>``.

    On an exception the staging directory is removed and nothing appears under ``base``.
    """
    base.mkdir(parents=True, exist_ok=True)
    staging = base / f"{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        final = base / str(version)
        if final.exists():
            raise DataError(f"{final} appeared while exporting (a concurrent export?); this "
                            "export was discarded: run it again")
        os.rename(staging, final)
    except BaseException:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        raise
