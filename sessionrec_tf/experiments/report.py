"""``report``: every experiment at one budget, collected into ``REPORT.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.experiments.comparisons import alpha_sweep, table2, table3, table4
from sessionrec_tf.experiments.efficiency import efficiency
from sessionrec_tf.experiments.grid import Budget
from sessionrec_tf.experiments.scaling import scaling

PARTS = ("table2", "table3", "table4", "alpha", "efficiency", "scaling")


def report(data: PreparedDataset, output: Path, seeds: int, budget: Budget,
           overrides: Sequence[str] = (), ks: Sequence[int] = (10, 100, 500),
           parts: Sequence[str] = PARTS, scaling_users: Sequence[int] | None = None
           ) -> dict[str, Any]:
    """Run ``parts`` (comparisons on ``data``; efficiency and scaling on the simulator).

    ``scaling_users``: the scaling experiment's dataset sizes (default: the budget's).
    """
    done: dict[str, Any] = {}
    runners = {
        "table2": lambda: table2(data, output, seeds, budget, overrides, ks),
        "table3": lambda: table3(data, output, seeds, budget, overrides, ks),
        "table4": lambda: table4(data, output, seeds, budget, overrides, ks),
        "alpha": lambda: alpha_sweep(data, output, seeds, budget, overrides, ks),
        "efficiency": lambda: efficiency(output / "efficiency", budget, overrides=overrides),
        "scaling": lambda: scaling(output / "scaling", seeds, budget, overrides, ks,
                                   sizes=scaling_users),
    }
    for part in parts:
        done[part] = runners[part]()
    lines = [f"# Report: {data.name} (budget `{budget.name}`, {seeds} seed(s))", ""]
    for part in parts:
        folder = output / ("efficiency" if part == "efficiency" else
                           "scaling" if part == "scaling" else "")
        md = folder / f"{part}.md"
        png = folder / f"{part}.png"
        lines.append(md.read_text().replace("# ", "## ", 1))
        if png.exists():
            lines.append(f"![{part}]({png.relative_to(output)})\n")
    (output / "REPORT.md").write_text("\n".join(lines) + "\n")
    return done
