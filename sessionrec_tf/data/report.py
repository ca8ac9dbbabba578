"""The data report: counts after every preparation step and every row removed, with the reason.

Nothing is dropped during preparation without an entry here. Written as ``data_report.json``
next to the prepared data and printed as a table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


def frame_counts(df: pd.DataFrame) -> dict[str, float | int]:
    """Counts of a canonical (or encoded) interaction frame."""
    n = len(df)
    sessions = None
    if "session" in df.columns:
        sessions = int(df.groupby(["user_id", "session"], sort=False).ngroups) if n else 0
    return counts_from_totals(
        rows=n, users=int(df["user_id"].nunique()) if n else 0,
        items=int(df["item_id"].nunique()) if n else 0,
        positives=int(df["label"].sum()) if n else 0, sessions=sessions)


def counts_from_totals(rows: int, users: int, items: int, positives: int,
                       sessions: int | None = None) -> dict[str, float | int]:
    """The counts of :func:`frame_counts` from totals (e.g. summed over workers)."""
    counts: dict[str, float | int] = {
        "rows": rows, "users": users, "items": items,
        "positives": positives, "negatives": rows - positives,
    }
    if sessions is not None and rows:
        counts["sessions"] = sessions
        counts["avg_session_length"] = round(rows / sessions, 4)
        counts["avg_sessions_per_user"] = round(sessions / max(users, 1), 4)
        counts["avg_interactions_per_user"] = round(rows / max(users, 1), 4)
        counts["avg_positives_per_user"] = round(positives / max(users, 1), 4)
    return counts


@dataclass
class DataReport:
    """Step-by-step counts and removals of one preparation run."""

    source: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    removals: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str, df: pd.DataFrame | dict[str, Any], **extra: Any) -> None:
        """Counts after step ``name``: of a frame, or given (:func:`counts_from_totals`)."""
        counts = frame_counts(df) if isinstance(df, pd.DataFrame) else df
        self.steps.append({"step": name, **counts, **extra})

    def removed(self, step: str, reason: str, rows: int, **extra: Any) -> None:
        """Record ``rows`` interactions removed by ``step`` because of ``reason``."""
        self.removals.append({"step": step, "reason": reason, "rows": int(rows), **extra})

    def total_removed(self) -> int:
        return sum(r["rows"] for r in self.removals)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "steps": self.steps,
            "removals": self.removals,
            "rows_removed_total": self.total_removed(),
            "notes": self.notes,
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")

    def table(self) -> str:
        cols = ["rows", "users", "items", "sessions", "positives", "negatives",
                "avg_session_length"]
        head = f"{'step':<28}" + "".join(f"{c:>20}" for c in cols)
        lines = [f"data report: {self.source}", head, "-" * len(head)]
        for s in self.steps:
            vals = "".join(f"{s.get(c, ''):>20}" for c in cols)
            lines.append(f"{s['step']:<28}{vals}")
        if self.removals:
            lines.append("")
            lines.append(f"{'removed by':<28}{'rows':>12}  reason")
            for r in self.removals:
                if r["rows"]:
                    lines.append(f"{r['step']:<28}{r['rows']:>12}  {r['reason']}")
            lines.append(f"{'total removed':<28}{self.total_removed():>12}")
        return "\n".join(lines)
