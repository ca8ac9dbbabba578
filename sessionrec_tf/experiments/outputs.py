"""Result files of an experiment: a Markdown table, a JSON file and a PNG plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sessionrec_tf.files import atomic_save_figure, atomic_write_text  # noqa: E402


def fmt(stat: dict[str, float] | None, digits: int = 4) -> str:
    """``mean ± std`` (std over seeds; omitted for one seed)."""
    if stat is None:
        return "n/a"
    if stat.get("n", 1) > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_outputs(output: Path, name: str, title: str, markdown: str, payload: dict[str, Any],
                  figure: plt.Figure | None) -> dict[str, Path]:
    """Write ``NAME.md``, ``NAME.json`` and ``NAME.png`` into ``output`` (each atomically)."""
    output.mkdir(parents=True, exist_ok=True)
    paths = {"md": output / f"{name}.md", "json": output / f"{name}.json"}
    atomic_write_text(paths["md"], f"# {title}\n\n{markdown.strip()}\n")
    atomic_write_text(paths["json"], json.dumps(payload, indent=2, default=float) + "\n")
    if figure is not None:
        paths["png"] = output / f"{name}.png"
        atomic_save_figure(figure, paths["png"], dpi=120, bbox_inches="tight")
        plt.close(figure)
    return paths


Series = dict[str, Sequence[float]]


def _draw_bars(ax: plt.Axes, groups: Sequence[str], series: Series,
               errors: Series | None) -> None:
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series.items()):
        xs = [g + i * width for g in range(len(groups))]
        err = errors.get(label) if errors else None
        ax.bar(xs, values, width, yerr=err, label=label, capsize=3)
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))])
    ax.set_xticklabels(groups, rotation=20, ha="right")
    ax.grid(axis="y", alpha=0.3)


def _draw_lines(ax: plt.Axes, x: Sequence[float], series: Series, errors: Series | None,
                logx: bool) -> None:
    for label, values in series.items():
        err = errors.get(label) if errors else None
        ax.errorbar(x, values, yerr=err, marker="o", label=label, capsize=3)
    if logx:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)


def line_chart(x: Sequence[float], series: Series, xlabel: str, ylabel: str, title: str,
               logx: bool = False, errors: Series | None = None) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    _draw_lines(ax, x, series, errors, logx)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def metric_panels(x: Sequence[str] | Sequence[float], panels: dict[str, Series],
                  errors: dict[str, Series] | None, title: str, kind: str = "bar",
                  xlabel: str = "", logx: bool = False, columns: int = 3) -> plt.Figure:
    """One subplot per metric, each on its own y scale (R@500 is ~10x R@10, so one shared axis
    flattens the metrics that differ most). ``panels[metric][series]`` holds one value per
    entry of ``x``; ``kind`` is ``"bar"`` (``x`` are group labels) or ``"line"`` (``x`` are
    numbers)."""
    if kind not in ("bar", "line"):
        raise ValueError(f"metric_panels kind must be 'bar' or 'line', got {kind!r}")
    if not panels:
        raise ValueError("metric_panels needs at least one metric panel")
    n = len(panels)
    cols = min(columns, n)
    rows = -(-n // cols)
    width = 2.5 + (0.3 * len(x) * max(1, max(len(s) for s in panels.values()))
                   if kind == "bar" else 1.5)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, 3.4 * rows), squeeze=False)
    flat = axes.ravel()
    for ax, (metric, series) in zip(flat, panels.items()):
        err = errors.get(metric) if errors else None
        if kind == "bar":
            _draw_bars(ax, [str(v) for v in x], series, err)
        else:
            _draw_lines(ax, [float(v) for v in x], series, err, logx)
            ax.set_xlabel(xlabel)
        ax.set_title(metric)
    for ax in flat[n:]:
        ax.set_visible(False)
    handles, labels = flat[0].get_legend_handles_labels()
    if len(labels) > 1:
        fig.legend(handles, labels, loc="upper right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
