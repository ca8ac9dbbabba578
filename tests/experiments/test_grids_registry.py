"""Shipped experiment grids (YAML) and the experiment registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionrec_tf.config import ConfigError, load_config
from sessionrec_tf.experiments import grids
from sessionrec_tf.experiments.grids import BUDGETS, Cell, alpha_cells, grid_names, load_grid
from sessionrec_tf.experiments.registry import (
    EXPERIMENTS,
    ExperimentRequest,
    accepting,
    check_request,
)


@pytest.mark.parametrize("name", ["table2", "table3", "table4", "alpha", "ablation"])
def test_every_shipped_grid_loads_and_its_cells_resolve(name):
    grid = load_grid(name)
    assert grid.cells and grid.protocols and name in grid_names()
    for cell in grid.cells:
        load_config(cell.config, list(cell.overrides))  # every override is a valid config key
    header = (grids.GRID_DIR / f"{name}.yaml").read_text().splitlines()[0]
    assert header.startswith("# ")  # says what the grid is


def test_ablation_cells_set_every_option_explicitly():
    grid = load_grid("ablation")
    keys = [{o.split("=")[0] for o in c.overrides} for c in grid.cells]
    assert all(k == keys[0] for k in keys) and len(keys[0]) == 14
    paper = next(c for c in grid.cells if c.label == "paper (mean)")
    config = load_config("sessionrec_hstu", list(paper.overrides))
    assert (config.task.prefix_weight, config.model.user_vectors,
            config.model.ise_label_split, config.model.embedding_mlp, config.task.alpha,
            config.task.rank_drop_shown) == (0.0, 1, False, [], 0.2, False)
    both = next(c for c in grid.cells if c.label == "partial x4 + 2 user vectors")
    config = load_config("sessionrec_hstu", list(both.overrides))
    assert (config.task.prefix_weight, config.task.prefix_queries,
            config.model.user_vectors, config.task.rank_drop_shown) == (1.0, 4, 2, False)
    shipped = next(c for c in grid.cells
                   if c.label == "x4 at weight 0.5 + 2 vectors + rank drop shown")
    assert load_config("sessionrec_hstu", list(shipped.overrides)) == load_config(
        "sessionrec_hstu")


def test_table3_cells_are_its_backbones_and_alpha_cells_follow_the_values():
    grid = load_grid("table3")
    assert [b.name for b in grid.backbones] == ["GRU", "Transformer", "HSTU"]
    assert grid.cells == tuple(c for b in grid.backbones for c in (b.item, b.session))
    alpha = load_grid("alpha")
    assert alpha.cells == alpha_cells(alpha.alphas) and alpha.cells[1] == Cell(
        "alpha=0.05", "sessionrec_hstu", ("task.alpha=0.05",))


def test_budgets_come_from_the_yaml():
    assert list(BUDGETS) == ["smoke", "small", "full", "long"]
    assert BUDGETS["small"].overrides == ("train.epochs=10", "train.early_stopping_patience=2")
    assert BUDGETS["smoke"].scaling_users == (100, 200)


def test_a_bad_grid_file_names_the_file_and_key(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(grids, "GRID_DIR", tmp_path)
    load_grid.cache_clear()
    try:
        (tmp_path / "bad.yaml").write_text("protocols: [loso]\ncells:\n  - {label: a}\n")
        with pytest.raises(ConfigError, match=r"bad\.yaml: missing key\(s\) \['cells\[0\]\."
                                              r"config'\]"):
            load_grid("bad")
        (tmp_path / "opt.yaml").write_text(
            "protocols: [loso]\nconfig: sessionrec_hstu\nall_off: {task.alpha: '0'}\n"
            "options: {}\ncells:\n  - {label: a, 'on': [nope]}\n")
        with pytest.raises(ConfigError, match=r"cell 'a': unknown option 'nope'"):
            load_grid("opt")
        with pytest.raises(ValueError, match=r"unknown grid experiment 'x'; valid: "
                                             r"\['bad', 'opt'\]"):
            load_grid("x")
    finally:
        load_grid.cache_clear()


def test_the_registry_refuses_options_an_experiment_does_not_read(tmp_path: Path):
    request = ExperimentRequest(output=tmp_path)
    assert accepting("cells") == ("table2", "table4", "ablation")
    with pytest.raises(ValueError, match="experiment table3 needs data"):
        check_request("table3", request)
    with pytest.raises(ValueError, match=r"^--cells applies to table2, table4 and ablation "
                                         r"only, not alpha$"):
        check_request("alpha", ExperimentRequest(output=tmp_path, data="d", cells=("a",)),
                      label=lambda f: "--" + f)
    with pytest.raises(ValueError, match="tuned applies to table2 only, not scaling"):
        check_request("scaling", ExperimentRequest(output=tmp_path, tuned=tmp_path))
    with pytest.raises(ValueError, match="needs data_knob"):
        check_request("paradigm_map", request)
    with pytest.raises(ValueError, match="unknown experiment 'tabel2'"):
        check_request("tabel2", request)
    assert check_request("efficiency", request) is EXPERIMENTS["efficiency"]
    # every optional request field is read by at least one experiment
    from sessionrec_tf.experiments.registry import OPTIONAL
    assert all(accepting(o) for o in OPTIONAL)
