"""The manifest of a batch-scoring output directory: which part files are complete.

``recs.parquet/`` is a Parquet dataset directory (``pandas.read_parquet("recs.parquet")``
reads it whole; readers skip names starting with ``_`` or ``.``)::

    part-00000.parquet ...   one file per chunk of users, in reading order
    _manifest.json           settings of the run + the completed parts (written atomically)

A part is first written as ``.part-NNNNN.parquet.tmp`` and renamed; then the manifest is
replaced (write to a temporary file, ``os.replace``). A run killed at any point resumes after
the last part the manifest lists: a part renamed but not yet listed is written again under
the same name, so no row is ever duplicated.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.files import atomic_write_text

MANIFEST = "_manifest.json"
PART_PATTERN = "part-{index:05d}.parquet"


@dataclass
class Part:
    """One completed part file: ``batches`` reader batches, ``users`` users scored in it,
    ``skipped`` users without input sessions (no recommendations), ``short`` users with
    fewer than k rows (fewer eligible items than k)."""

    file: str
    batches: int
    users: int
    rows: int
    skipped: int = 0
    short: int = 0


@dataclass
class ScoreManifest:
    """Settings of a scoring run and its completed parts.

    Attributes:
      settings: what must not change on resume (model, data, split, k, batch sizes...).
      parts: completed parts in order.
      complete: every user was scored.
    """

    settings: dict[str, Any]
    parts: list[Part] = field(default_factory=list)
    complete: bool = False

    @property
    def skipped_users(self) -> int:
        return sum(p.skipped for p in self.parts)

    @property
    def short_users(self) -> int:
        return sum(p.short for p in self.parts)

    @property
    def batches_done(self) -> int:
        return sum(p.batches for p in self.parts)

    @property
    def users_done(self) -> int:
        return sum(p.users for p in self.parts)

    @property
    def rows_done(self) -> int:
        return sum(p.rows for p in self.parts)

    def next_part_name(self) -> str:
        return PART_PATTERN.format(index=len(self.parts))

    def save(self, directory: Path) -> None:
        atomic_write_text(directory / MANIFEST, json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def open(cls, directory: Path, settings: dict[str, Any]) -> ScoreManifest:
        """The directory's manifest (new if none); DataError if its settings differ."""
        path = directory / MANIFEST
        if not path.exists():
            if directory.exists() and any(not p.name.startswith(".") for p in
                                          directory.iterdir()):
                raise DataError(f"{directory} exists and is not a scoring output (no "
                                f"{MANIFEST}); choose another output directory")
            directory.mkdir(parents=True, exist_ok=True)
            return cls(settings)
        data = json.loads(path.read_text())
        manifest = cls(data["settings"], [Part(**p) for p in data["parts"]],
                       data.get("complete", False))
        if manifest.settings != settings:
            diff = sorted(k for k in set(settings) | set(manifest.settings)
                          if settings.get(k) != manifest.settings.get(k))
            raise DataError(f"{directory} holds a scoring run with other settings (differs "
                            f"in {diff}); use another output directory or delete it to start over")
        return manifest
