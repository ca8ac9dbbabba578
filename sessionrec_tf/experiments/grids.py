"""Experiment grids and budgets, shipped as YAML next to the model configs.

``sessionrec_tf/configs/grids/<experiment>.yaml`` lists an experiment's cells (a shipped
model config plus overrides) and protocols, with the command that produced each recorded
result in its header; ``budgets.yaml`` the compute budgets. Loaded with the library's typed
option loader (:func:`sessionrec_tf.options.build`), so a bad file names its key.

Example::

    grid = load_grid("table2")
    [c.label for c in grid.cells]   # ['GRU4Rec', ..., 'SessionRec-HSTU']
    BUDGETS["small"].overrides      # ('train.epochs=10', 'train.early_stopping_patience=2')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from sessionrec_tf.config import CONFIG_DIR, ConfigError
from sessionrec_tf.options import build

GRID_DIR = CONFIG_DIR / "grids"


@dataclass(frozen=True)
class Cell:
    """One model setting of an experiment: a shipped config plus overrides."""

    label: str
    config: str
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Budget:
    """How much compute an experiment may use.

    ``overrides`` apply to every run (epochs, patience, ...); ``sizes`` feed the
    simulator-based experiments (efficiency, scaling).
    """

    name: str
    overrides: tuple[str, ...]
    efficiency_users: int = 256
    efficiency_steps: int = 20
    scaling_users: tuple[int, ...] = (300, 1000, 3000, 10000, 30000)


@dataclass(frozen=True)
class Subset:
    """The row a subset of a grid's cells must keep, and what the other rows are called."""

    keep: str
    others: str


@dataclass(frozen=True)
class Backbone:
    """Table 3: one backbone's item-level and session-level cells."""

    name: str
    item: Cell
    session: Cell


@dataclass(frozen=True)
class Grid:
    """An experiment's runs: ``cells`` x ``protocols``; ``subset`` when a subset of the cells
    may be run; ``backbones`` for table 3 (whose cells they are)."""

    name: str
    cells: tuple[Cell, ...]
    protocols: tuple[str, ...]
    subset: Subset | None = None
    backbones: tuple[Backbone, ...] = ()
    alphas: tuple[float, ...] = ()


@dataclass(frozen=True)
class _GridFile:
    protocols: tuple[str, ...]
    subset: Subset | None = None
    cells: tuple[Cell, ...] = ()
    backbones: tuple[Backbone, ...] = ()
    config: str | None = None
    alphas: tuple[float, ...] = ()
    all_off: dict[str, str] | None = None
    options: dict[str, Any] | None = None


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read the grid file: {err}") from None


def grid_names() -> list[str]:
    """The experiments with a shipped grid file."""
    return sorted(p.stem for p in GRID_DIR.glob("*.yaml") if p.stem != "budgets")


@cache
def load_grid(name: str) -> Grid:
    """The grid of experiment ``name`` from ``configs/grids/<name>.yaml``."""
    path = GRID_DIR / f"{name}.yaml"
    if not path.exists():
        raise ValueError(f"unknown grid experiment {name!r}; valid: {grid_names()}")
    raw = _read(path)
    # ablation cells name their options ("on": [...]); expanded before the typed check
    if isinstance(raw, dict) and "all_off" in raw and isinstance(raw.get("cells"), list):
        raw = {**raw, "cells": [_option_cell(raw, c, path) for c in raw["cells"]]}
    spec = build(_GridFile, raw, error=ConfigError, prefix=f"{path}: ")
    cells = spec.cells
    if spec.backbones:
        cells = tuple(c for b in spec.backbones for c in (b.item, b.session))
    if spec.alphas:
        if not spec.config:
            raise ConfigError(f"{path}: alphas need a config")
        cells = alpha_cells(spec.alphas, spec.config)
    if not cells:
        raise ConfigError(f"{path}: no cells")
    labels = [c.label for c in cells]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{path}: repeated cell labels {sorted(set(labels))}")
    return Grid(name, cells, spec.protocols, spec.subset, spec.backbones, spec.alphas)


def _option_cell(raw: dict[str, Any], cell: Any, path: Path) -> dict[str, Any]:
    """``{label, on: [option, ...]}`` -> a cell setting every option of ``all_off`` explicitly,
    then those of its options (in the order of ``on``)."""
    if not isinstance(cell, dict) or set(cell) != {"label", "on"}:
        raise ConfigError(f"{path}: an option cell is {{label, on: [options]}}, got {cell!r}")
    values = dict(raw["all_off"])
    options = raw.get("options") or {}
    for option in cell["on"] or []:
        if option not in options:
            raise ConfigError(f"{path}: cell {cell['label']!r}: unknown option {option!r}; "
                              f"options: {list(options)}")
        values.update(options[option])
    return {"label": cell["label"], "config": raw.get("config"),
            "overrides": [f"{k}={v}" for k, v in values.items()]}


def alpha_cells(alphas: tuple[float, ...] | list[float], config: str = "sessionrec_hstu"
                ) -> tuple[Cell, ...]:
    """One cell ``alpha=<a>`` (``task.alpha=<a>``) per rank-loss weight."""
    return tuple(Cell(f"alpha={a:g}", config, (f"task.alpha={a}",)) for a in alphas)


@cache
def load_budgets() -> dict[str, Budget]:
    """The budgets of ``configs/grids/budgets.yaml`` by name."""
    path = GRID_DIR / "budgets.yaml"
    raw = _read(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of budget names")
    return {name: build(Budget, {"name": name, **(spec or {})}, error=ConfigError,
                        path=name, prefix=f"{path}: ")
            for name, spec in raw.items()}


BUDGETS = load_budgets()
