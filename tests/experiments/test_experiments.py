"""Experiment framework: grid aggregation, caching/resume, result files, efficiency, scaling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_MODEL

from sessionrec_tf.experiments import (
    BUDGETS,
    Cell,
    ablation,
    alpha_sweep,
    efficiency,
    experiment_cells,
    run_grid,
    scaling,
    table2,
    table4,
)
from sessionrec_tf.experiments.grid import Budget, GridResult
from sessionrec_tf.experiments.outputs import metric_panels

SMOKE = BUDGETS["smoke"]
KS = (10, 50)


def test_grid_aggregates_seeds_and_reuses_finished_runs(tiny_dataset, tmp_path):
    cells = [Cell("SessionRec", "sessionrec_hstu"), Cell("HSTU+", "hstu_plus")]
    kw = dict(protocols=("loso",), budget=SMOKE, ks=KS, log=lambda _m: None, verbose=0)
    # seed 0 of both cells (a chosen seed only: how processes split an experiment)
    first = run_grid(cells, tiny_dataset, tmp_path, seeds=2, seed_ids=[0], **kw)
    assert [(r["cell"], r["seed"]) for r in first.records] == [("SessionRec", 0), ("HSTU+", 0)]
    index = tmp_path / "runs" / "SessionRec" / "loso" / "seed0" / "checkpoints" / "checkpoint"
    mtime = index.stat().st_mtime_ns
    # both seeds of SessionRec: trains seed 1 and reuses the finished seed 0 and its evaluation
    grid = run_grid(cells[:1], tiny_dataset, tmp_path, seeds=2, **kw)
    runs = grid.records
    assert [r["seed"] for r in runs] == [0, 1]
    assert runs[0]["metrics"] == first.records[0]["metrics"]
    assert index.stat().st_mtime_ns == mtime
    # seeds differ, so the runs are not copies of each other
    assert runs[0]["resolved_config"]["train"]["seed"] == 0
    assert runs[1]["resolved_config"]["train"]["seed"] == 1
    assert runs[0]["metrics"] != runs[1]["metrics"]
    # the mean/std over seeds, per cell (HSTU+ has its one seed)
    agg = GridResult([*runs, first.records[1]]).aggregate()
    values = [r["metrics"]["recall@50"] for r in runs]
    stat = agg["SessionRec"]["loso"]["recall@50"]
    assert stat["n"] == 2
    assert stat["mean"] == pytest.approx(np.mean(values))
    assert stat["std"] == pytest.approx(np.std(values, ddof=1))
    hstu = agg["HSTU+"]["loso"]["recall@50"]
    assert hstu == {"mean": pytest.approx(first.records[1]["metrics"]["recall@50"]),
                    "std": 0.0, "n": 1}
    # a chosen seed only: reuses seed 1, trains nothing
    only = run_grid(cells[:1], tiny_dataset, tmp_path, seeds=2, seed_ids=[1], **kw)
    assert [r["seed"] for r in only.records] == [1]
    assert only.records[0]["metrics"] == runs[1]["metrics"]
    # evaluating a run under another seen-item policy (sessionrec evaluate --exclude-seen none)
    # does not replace the result the table reads back
    from sessionrec_tf.evaluation import evaluate_run

    run0 = tmp_path / "runs" / "SessionRec" / "loso" / "seed0"
    other = evaluate_run(run0, "loso", ks=KS, exclude_seen="none", progress=False)
    assert other["exclude_seen"] == "none"
    saved = json.loads((run0 / "metrics.json").read_text())["evaluations"]
    assert saved["loso/test/exact"]["exclude_seen"] == "positives"
    assert saved["loso/test/exact/exclude_seen=none"]["metrics"] == other["metrics"]
    reread = run_grid(cells[:1], tiny_dataset, tmp_path, seeds=2, seed_ids=[0], **kw)
    assert reread.records[0]["metrics"] == runs[0]["metrics"]
    assert reread.records[0]["exclude_seen"] == "positives"

    # a finished run stripped to its record files (weights and checkpoints deleted, e.g. a
    # table's runs committed) is reused from its record alone; nothing is trained again
    import shutil

    from sessionrec_tf.experiments.grid import RECORD_FILES, finished_record

    for path in run0.iterdir():
        if path.name not in RECORD_FILES:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert sorted(p.name for p in run0.iterdir()) == sorted(RECORD_FILES)
    logged: list[str] = []
    light = run_grid(cells[:1], tiny_dataset, tmp_path, seeds=2, seed_ids=[0],
                     **{**kw, "log": logged.append})
    assert light.records[0]["metrics"] == runs[0]["metrics"]
    assert light.records[0]["best_epoch"] == runs[0]["best_epoch"]
    assert "reused from" in logged[0] and not (run0 / "checkpoints").exists()
    # ... but not for another config or another K list
    record = json.loads((run0 / "record.json").read_text())
    config = record["resolved_config"]
    assert finished_record(run0, config, tiny_dataset, KS, evaluate=True) is not None
    assert finished_record(run0, config, tiny_dataset, (10, 20), evaluate=True) is None
    other_config = {**config, "train": {**config["train"], "learning_rate": 0.5}}
    assert finished_record(run0, other_config, tiny_dataset, KS, evaluate=True) is None


def test_experiment_cells_are_the_tables_runs():
    cells, protocols = experiment_cells("table2")
    assert protocols == ("loso", "loio")
    assert [c.label for c in cells] == ["GRU4Rec", "SASRec", "SASRec+", "HSTU", "HSTU+",
                                        "SessionRec-HSTU"]
    alpha, _ = experiment_cells("alpha")
    assert [c.label for c in alpha][:3] == ["alpha=0", "alpha=0.05", "alpha=0.1"]
    assert alpha[3].overrides == ("task.alpha=0.2",)
    with pytest.raises(ValueError, match=r"unknown grid experiment 'efficiency'; valid: "
                                         r"\[.*'table2'"):
        experiment_cells("efficiency")


def test_alpha_sweep_writes_table_json_and_plot(tiny_dataset, tmp_path):
    payload = alpha_sweep(tiny_dataset, tmp_path, seeds=1, budget=SMOKE, ks=KS,
                          alphas=(0.0, 0.5))
    md = (tmp_path / "alpha.md").read_text()
    assert "| alpha | N@10 | R@10 | R@50 |" in md and "| 0.5 |" in md
    saved = json.loads((tmp_path / "alpha.json").read_text())
    assert saved["alphas"] == [0.0, 0.5] and saved["git_commit"]
    assert saved["records"][1]["resolved_config"]["task"]["alpha"] == 0.5
    assert (tmp_path / "alpha.png").stat().st_size > 1000
    assert set(payload["aggregate"]) == {"alpha=0", "alpha=0.5"}


def test_validation_only_grid_never_reads_the_test_split(tiny_dataset, tmp_path):
    cells = [Cell("SessionRec", "sessionrec_hstu")]
    grid = run_grid(cells, tiny_dataset, tmp_path, seeds=1, protocols=("loso",), budget=SMOKE,
                    ks=KS, log=lambda _m: None, verbose=0, evaluate=False)
    (record,) = grid.records
    run = tmp_path / "runs" / "SessionRec" / "loso" / "seed0"
    assert record["metrics"] == {} and not (run / "metrics.json").exists()
    history = json.loads((run / "history.json").read_text())
    assert record["best_valid"] == {
        "recall@100": max(h["valid"]["recall@100"] for h in history)}


def test_ablation_cells_set_every_option_explicitly():
    cells, protocols = experiment_cells("ablation")
    assert protocols == ("loso", "loio")
    for cell in cells:
        keys = [o.split("=")[0] for o in cell.overrides]
        assert sorted(keys) == ["model.embedding_mlp", "model.ise_label_split",
                                "model.sse_input_scale", "model.sse_position_embedding",
                                "model.user_vectors", "task.alpha", "task.prefix_draw",
                                "task.prefix_min_session", "task.prefix_queries",
                                "task.prefix_reduction", "task.prefix_weight",
                                "task.rank_drop_shown", "task.reduction",
                                "train.early_stopping_window"], cell
    on = {c.label: dict(o.split("=") for o in c.overrides) for c in cells}
    hstu_input = {"model.sse_input_scale": "false", "model.sse_position_embedding": "false",
                  "train.early_stopping_window": "1", "task.alpha": "0.2",
                  "task.rank_drop_shown": "false", "task.prefix_draw": "position",
                  "task.prefix_min_session": "2", "task.reduction": "row",
                  "task.prefix_reduction": "row"}
    assert on["paper (mean)"] == {"model.ise_label_split": "false", "model.embedding_mlp": "[]",
                                  "task.prefix_weight": "0.0", "task.prefix_queries": "1",
                                  "model.user_vectors": "1", **hstu_input}
    assert on["label split + MLP"] == {"model.ise_label_split": "true",
                                       "model.embedding_mlp": "[64]",
                                       "task.prefix_weight": "0.0", "task.prefix_queries": "1",
                                       "model.user_vectors": "1", **hstu_input}
    shipped = on["partial x4 + 2 user vectors"]
    assert on["x4 + 2 vectors + scale + position"] == {
        **shipped, "model.sse_input_scale": "true", "model.sse_position_embedding": "true"}
    assert on["x4 + 2 vectors + input scale"] == {**shipped, "model.sse_input_scale": "true"}
    assert on["x4 + 2 vectors + no rank loss"] == {**shipped, "task.alpha": "0"}
    assert on["x4 + 2 vectors + rank drop shown"] == {**shipped, "task.rank_drop_shown": "true"}
    assert on["x4 at weight 0.5 + 2 vectors + rank drop shown"] == {
        **shipped, "task.rank_drop_shown": "true", "task.prefix_weight": "0.5"}
    assert on["x4 at weight 0.5 + 2 vectors + rank drop shown + session draws"] == {
        **on["x4 at weight 0.5 + 2 vectors + rank drop shown"], "task.prefix_draw": "session"}
    half = on["x4 at weight 0.5 + 2 vectors + rank drop shown"]
    assert on["x4 at weight 0.5 + 2 vectors + rank drop shown + partial query mean"] == {
        **half, "task.prefix_reduction": "query"}
    assert on["x4 at weight 0.5 + 2 vectors + rank drop shown + every loss query mean"] == {
        **half, "task.prefix_reduction": "query", "task.reduction": "query"}
    assert on["x4 + 2 vectors + rank drop shown + cuts in sessions >= 8"] == {
        **on["x4 + 2 vectors + rank drop shown"], "task.prefix_min_session": "8"}
    assert on["x4 + 2 vectors + window 3"] == {**shipped, "train.early_stopping_window": "3"}
    assert on["partial sessions"]["task.prefix_weight"] == "1.0"
    assert on["partial sessions x4"]["task.prefix_queries"] == "4"
    assert on["partial sessions x8"]["task.prefix_queries"] == "8"
    assert on["2 user vectors"]["model.user_vectors"] == "2"
    assert (on["partial x4 + 2 user vectors"]["task.prefix_queries"],
            on["partial x4 + 2 user vectors"]["model.user_vectors"]) == ("4", "2")


def test_ablation_table_reports_validation_and_test(tiny_dataset, tmp_path):
    payload = ablation(tiny_dataset, tmp_path, seeds=1, budget=SMOKE, ks=KS,
                       protocols=("loso",),
                       cells=["paper (mean)", "partial sessions"])
    records = {r["cell"]: r for r in payload["records"]}
    assert set(records) == {"paper (mean)", "partial sessions"}
    assert records["partial sessions"]["resolved_config"]["task"]["prefix_weight"] == 1.0
    md = (tmp_path / "ablation.md").read_text()
    assert "| options | LOSO valid recall@100 | LOSO N@10 |" in md
    for label, r in records.items():
        valid = r["best_valid"]["recall@100"]
        assert payload["validation"][label]["loso"]["mean"] == pytest.approx(valid)
        assert f"| {label} | {valid:.4f} | {r['metrics']['ndcg@10']:.4f} |" in md
    best = max(records, key=lambda c: records[c]["best_valid"]["recall@100"])
    assert payload["best_on_validation"] == {"loso": best}
    assert f"Best on validation: LOSO {best}. Option settings not run: label split, " in md
    with pytest.raises(ValueError, match=r"needs paper \(mean\)"):
        ablation(tiny_dataset, tmp_path, seeds=1, budget=SMOKE, cells=["label split"])
    assert (tmp_path / "ablation.png").stat().st_size > 1000


def test_metric_panels_draw_each_metric_on_its_own_axis():
    panels = {"R@10": {"LOSO": [0.05, 0.07], "LOIO": [0.06, 0.08]},
              "R@500": {"LOSO": [0.70, 0.71], "LOIO": [0.69, 0.72]}}
    errors = {m: {s: [0.01, 0.02] for s in series} for m, series in panels.items()}
    fig = metric_panels(["a", "b"], panels, errors, "t")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["R@10", "R@500"]
    for ax, series in zip(axes, panels.values()):
        heights = [bar.get_height() for bar in ax.patches]
        assert np.allclose(heights, series["LOSO"] + series["LOIO"])
    assert axes[0].get_ylim()[1] < 0.2 < axes[1].get_ylim()[1]  # not one shared scale

    lines = metric_panels([0.01, 0.2, 2.0], {"N@10": {"LOSO": [0.02, 0.04, 0.03]},
                                             "R@10": {"LOSO": [0.05, 0.07, 0.06]},
                                             "R@500": {"LOSO": [0.7, 0.7, 0.69]},
                                             "R@100": {"LOSO": [0.3, 0.31, 0.3]}},
                          None, "t", kind="line", logx=True, columns=3)
    shown = [ax for ax in lines.axes if ax.get_visible()]
    assert len(shown) == 4 and shown[0].get_xscale() == "log"
    assert np.allclose(shown[2].lines[0].get_ydata(), [0.7, 0.7, 0.69])
    with pytest.raises(ValueError, match="'bar' or 'line'"):
        metric_panels(["a"], panels, None, "t", kind="pie")


def test_efficiency_compares_both_models_at_equal_interactions(tmp_path, monkeypatch):
    """The experiment's bookkeeping: which worker runs with which ``max_len``, the ratios, the
    outputs. The workers are replaced by a recorder (a real worker of each phase runs in
    ``test_efficiency_worker_times_a_validation_pass`` and in bench_training.py's smoke run,
    which runs ``compare`` end to end)."""
    import importlib

    module = importlib.import_module("sessionrec_tf.experiments.efficiency")
    calls: list[tuple[str, list[str], int]] = []
    epoch = {"sessionrec_hstu": 2.0, "sessionrec_hstu_paper": 1.6, "hstu_plus": 7.0}
    rss = {"sessionrec_hstu": 500.0, "sessionrec_hstu_paper": 480.0, "hstu_plus": 1500.0}

    def fake_worker(path, name, overrides, steps, code=None, phase="train"):
        calls.append((name, list(overrides), steps))
        max_len = int(next(o for o in reversed(overrides) if o.startswith("model.max_len="))
                      .split("=")[1])
        return {"config": name, "seconds_per_epoch": epoch[name], "peak_rss_mb": rss[name],
                "max_len": max_len}

    monkeypatch.setattr(module, "run_worker", fake_worker)
    budget = Budget("test", SMOKE.overrides, efficiency_users=16, efficiency_steps=2)
    payload = efficiency(tmp_path, budget, session_lengths=(5, 10), interactions=120,
                         overrides=("model.embedding_dim=16",))
    assert [c[0] for c in calls] == ["sessionrec_hstu", "sessionrec_hstu_paper",
                                     "hstu_plus"] * 2
    assert all(c[2] == 2 and "model.embedding_dim=16" in c[1] for c in calls)
    for length in ("5", "10"):
        res = payload["results"][length]
        # no truncation: item-level max_len covers the longest history, session-level its
        # sessions (both read from the prepared training split)
        assert res["HSTU+"]["max_len"] == res["max_items"] > res["max_sessions"] > 1
        assert res["SessionRec-HSTU"]["max_len"] == res["max_sessions"]
        assert res["max_items"] <= 120 + 3 * int(length)  # the cap on every history
        assert res["SessionRec-HSTU (paper)"]["max_len"] == res["max_sessions"]
        assert res["speedup_epoch"] == pytest.approx(7.0 / 2.0)
        assert res["speedup_epoch_paper"] == pytest.approx(7.0 / 1.6)
        assert res["memory_ratio"] == pytest.approx(1500.0 / 500.0)
    # shorter sessions: more of them for the same interactions
    assert payload["results"]["5"]["max_sessions"] > payload["results"]["10"]["max_sessions"]
    table = (tmp_path / "efficiency.md").read_text()
    assert table.count("| 3.5x | 4.4x |") == 2
    assert (tmp_path / "efficiency.png").exists() and (tmp_path / "efficiency.json").exists()


@pytest.mark.parametrize("ks, protocols, match", [
    ((10, 10**6), ("loso",), r"K=\[1000000\] is larger than the catalog"),
    ((10,), ("loso", "lopo"), "unknown protocol 'lopo'"),
])
def test_grid_refuses_an_impossible_evaluation_before_training(tiny_dataset, tmp_path, ks,
                                                               protocols, match):
    from sessionrec_tf.data.errors import DataError

    with pytest.raises(DataError, match=match):
        run_grid([Cell("SessionRec", "sessionrec_hstu")], tiny_dataset, tmp_path, seeds=1,
                 protocols=protocols, budget=SMOKE, ks=ks, log=lambda _m: None, verbose=0)
    assert not (tmp_path / "runs").exists()  # nothing was trained


def test_scaling_writes_points(tmp_path):
    payload = scaling(tmp_path, seeds=1, budget=SMOKE, ks=KS, sizes=(150,), preset="tiny")
    assert payload["points"][0]["users"] == 150
    assert 0.0 <= payload["points"][0]["stats"]["recall@50"]["mean"] <= 1.0
    assert (tmp_path / "scaling.png").exists()


@pytest.mark.parametrize("sizes", [(100, 100), (0, 200), (-5,)])
def test_scaling_refuses_bad_sizes(tmp_path, sizes):
    with pytest.raises(ValueError, match="distinct positive numbers of users"):
        scaling(tmp_path, seeds=1, budget=SMOKE, ks=KS, sizes=sizes, preset="tiny")
    assert not any(tmp_path.iterdir())  # refused before preparing any data


def test_cli_scaling_users_reach_the_experiment(tmp_path, monkeypatch, capsys):
    import importlib

    from sessionrec_tf.cli import main

    # the module, not the package attribute of the same name (the function)
    scaling_module = importlib.import_module("sessionrec_tf.experiments.scaling")

    seen = {}
    monkeypatch.setattr(scaling_module, "scaling", lambda *a, **kw: seen.update(kw))
    code = main(["experiment", "scaling", "--output", str(tmp_path), "--budget", "smoke",
                 "--seeds", "1", "--scaling-users", "100", "300"])
    assert code == 0 and seen["sizes"] == (100, 300)
    seen.clear()
    main(["experiment", "scaling", "--output", str(tmp_path), "--budget", "smoke"])
    assert seen["sizes"] is None  # the budget's sizes


def test_cli_session_lengths_reach_the_efficiency_experiment(tmp_path, monkeypatch):
    import importlib

    from sessionrec_tf.cli import main

    efficiency_module = importlib.import_module("sessionrec_tf.experiments.efficiency")
    seen = {}
    monkeypatch.setattr(efficiency_module, "efficiency", lambda *a, **kw: seen.update(kw))
    assert main(["experiment", "efficiency", "--output", str(tmp_path), "--budget", "smoke",
                 "--session-lengths", "5", "50"]) == 0
    assert seen["session_lengths"] == (5.0, 50.0)
    seen.clear()
    main(["experiment", "efficiency", "--output", str(tmp_path), "--budget", "smoke"])
    assert "session_lengths" not in seen  # the experiment's own default lengths
    assert main(["experiment", "scaling", "--output", str(tmp_path), "--budget", "smoke",
                 "--session-lengths", "5"]) == 2  # efficiency only


def test_table2_on_a_subset_of_its_models(tiny_dataset, tmp_path):
    payload = table2(tiny_dataset, tmp_path, seeds=1, budget=SMOKE, ks=KS, protocols=("loso",),
                     cells=["SessionRec-HSTU", "HSTU+"])
    assert payload["cells"] == ["HSTU+", "SessionRec-HSTU"]  # the table's order, not the call's
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["HSTU+", "SessionRec-HSTU"]
    md = (tmp_path / "table2.md").read_text()
    assert "(2 of 6 models)" in md
    assert "Models not run: GRU4Rec, SASRec, SASRec+, HSTU" in md
    rows = {line.split(" | ")[0].lstrip("| "): line.strip(" |").split(" | ")[1:]
            for line in md.splitlines() if line.startswith("| ")}
    assert set(rows) == {"model", "HSTU+", "SessionRec-HSTU", "Impv. vs best baseline",
                         "best baseline"}
    # the improvement row, recomputed from the per-run records (one seed: the run's value)
    metric = {r["cell"]: r["metrics"] for r in payload["records"]}
    expected = []
    for name in ("ndcg@10", "ndcg@50", "recall@10", "recall@50"):
        ours, base = metric["SessionRec-HSTU"][name], metric["HSTU+"][name]
        expected.append(f"{100 * (ours - base) / base:+.2f}%" if base > 0 else "n/a")
    assert rows["Impv. vs best baseline"] == expected
    assert rows["best baseline"] == ["HSTU+"] * 4


@pytest.mark.parametrize("cells, match", [
    (["HSTU+", "SessionRec"], r"unknown cell\(s\) \['SessionRec'\]"),
    (["HSTU+", "SASRec+"], "needs SessionRec-HSTU"),
    (["SessionRec-HSTU"], "at least one baseline"),
])
def test_table2_refuses_a_bad_subset_before_training(tiny_dataset, tmp_path, cells, match):
    with pytest.raises(ValueError, match=match):
        table2(tiny_dataset, tmp_path, seeds=1, budget=SMOKE, ks=KS, cells=cells)
    assert not (tmp_path / "runs").exists()


def test_cli_table2_cells(tiny_dataset, tmp_path, monkeypatch, capsys):
    import sessionrec_tf.experiments.comparisons as comparisons
    from sessionrec_tf.cli import main

    seen = {}
    monkeypatch.setattr(comparisons, "table2", lambda *a, **kw: seen.update(kw))
    base = ["experiment", "table2", "--data", str(tiny_dataset.path), "--output",
            str(tmp_path), "--budget", "smoke"]
    assert main([*base, "--cells", "HSTU+", "SessionRec-HSTU"]) == 0
    assert seen["cells"] == ("HSTU+", "SessionRec-HSTU")
    assert seen["protocols"] == ("loso", "loio")
    seen.clear()
    assert main([*base, "--protocols", "loso"]) == 0
    assert seen["protocols"] == ("loso",)
    seen.clear()
    assert main([*base, "--cells", "HSTU+", "Bogus"]) == 2
    assert "unknown cell(s) ['Bogus']" in capsys.readouterr().err and not seen
    assert main(["experiment", "table4", "--data", str(tiny_dataset.path), "--output",
                 str(tmp_path), "--cells", "HSTU+"]) == 2
    assert "table4: unknown cell(s) ['HSTU+']" in capsys.readouterr().err
    assert main(["experiment", "alpha", "--data", str(tiny_dataset.path), "--output",
                 str(tmp_path), "--cells", "mean", "max"]) == 2
    assert "--cells applies to table2, table4 and ablation only" in capsys.readouterr().err


def test_cli_table4_cells_reach_the_experiment(tiny_dataset, tmp_path, monkeypatch, capsys):
    import sessionrec_tf.experiments.comparisons as comparisons
    from sessionrec_tf.cli import main

    seen = {}
    monkeypatch.setattr(comparisons, "table4", lambda *a, **kw: seen.update(kw))
    base = ["experiment", "table4", "--data", str(tiny_dataset.path), "--output",
            str(tmp_path), "--budget", "smoke"]
    assert main([*base, "--cells", "gru l=1", "mean"]) == 0
    assert seen["cells"] == ("gru l=1", "mean")
    seen.clear()
    assert main([*base, "--cells", "gru l=1", "max"]) == 2  # no mean: nothing to read against
    assert "needs mean and at least one other ISE" in capsys.readouterr().err and not seen
    assert main(base) == 0 and seen["cells"] is None  # the whole table


def test_table4_on_a_subset_of_its_ises(tiny_dataset, tmp_path):
    payload = table4(tiny_dataset, tmp_path, seeds=1, budget=SMOKE, ks=KS,
                     cells=["max", "mean"])
    assert payload["cells"] == ["mean", "max"]  # the table's order
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["max", "mean"]
    md = (tmp_path / "table4.md").read_text()
    assert "(2 of 7 ISEs)" in md
    assert "ISEs not run: max_relu, gru l=1, gru l=2, transformer h=1 l=1, " \
           "transformer h=2 l=2." in md
    rows = {line.split(" | ")[0].lstrip("| "): line.strip(" |").split(" | ")[1:]
            for line in md.splitlines() if line.startswith("| ")}
    assert set(rows) == {"ISE", "mean", "max"}
    metric = {r["cell"]: r["metrics"] for r in payload["records"]}
    for ise in ("mean", "max"):  # one seed: each cell shows its run's test metrics
        assert [float(v) for v in rows[ise]] == pytest.approx(
            [metric[ise][m] for m in ("ndcg@10", "ndcg@50", "recall@10", "recall@50")],
            abs=5e-5)


@pytest.mark.parametrize("cells, match", [
    (["mean", "gru l=3"], r"table4: unknown cell\(s\) \['gru l=3'\]"),
    (["max", "max_relu"], "needs mean"),
    (["mean"], "at least one other ISE"),
])
def test_table4_refuses_a_bad_subset_before_training(tiny_dataset, tmp_path, cells, match):
    with pytest.raises(ValueError, match=match):
        table4(tiny_dataset, tmp_path, seeds=1, budget=SMOKE, ks=KS, cells=cells)
    assert not (tmp_path / "runs").exists()


def test_paradigm_map_knob_parsing_and_equal_interactions():
    from sessionrec_tf.data import DataError
    from sessionrec_tf.experiments.paradigm_map import knob_options, parse_knob

    assert parse_knob("mean_session_length=1,2,5") == ("mean_session_length", [1.0, 2.0, 5.0])
    for bad, match in [("length=1,2", "KNOB one of"), ("drift=0.1", "two distinct"),
                       ("drift=a,b", "must be numbers"), ("drift", "KNOB=V1,V2")]:
        with pytest.raises(ValueError, match=match):
            parse_knob(bad)
    # demo preset: 12 sessions x 8 interactions = 96 per user, whatever the length
    for length in (1.0, 2.0, 8.0, 23.0):
        opts = knob_options("mean_session_length", length, "demo", None)
        assert opts["sessions_per_user"] == max(3.0, 96 / length)
    assert knob_options("drift", 0.3, "demo", None) == {"size": "demo", "seed": 0, "drift": 0.3}
    users = knob_options("num_users", 700.0, "demo", None)["num_users"]
    assert users == 700 and isinstance(users, int)
    with pytest.raises(DataError, match="num_users must be an integer"):
        knob_options("num_users", 700.5, "demo", None)
    with pytest.raises(DataError, match="positive_rate must be in"):
        knob_options("positive_rate", 1.0, "demo", None)
    with pytest.raises(DataError, match="unknown size 'huge'"):
        knob_options("drift", 0.1, "huge", None)


def test_paradigm_map_writes_paired_gaps(tmp_path):
    from sessionrec_tf.experiments import paradigm_map

    # one knob value (the knob's effect on the data is tested above): 3 trainings, not 5
    payload = paradigm_map(tmp_path, "extra_intent_p", [0.0], seeds=1, budget=SMOKE,
                           base="tiny")
    for i, value in enumerate([0.0]):
        got = {r["cell"]: r["metrics"] for r in payload["records"] if r["value"] == value}
        assert set(got) == {"HSTU+", "SessionRec-HSTU"}
        for label, metric in (("N@10", "ndcg@10"), ("R@100", "recall@100")):
            want = 100 * (got["SessionRec-HSTU"][metric] - got["HSTU+"][metric]) \
                / got["HSTU+"][metric]
            assert payload["gaps"][label]["mean"][i] == pytest.approx(want)
    assert (tmp_path / "data" / "extra_intent_p=0" / "dataset.json").exists()
    md = (tmp_path / "paradigm_map_extra_intent_p.md").read_text()
    assert "| extra_intent_p | interactions/user | session length | negatives |" in md
    assert (tmp_path / "paradigm_map_extra_intent_p.png").stat().st_size > 1000
    # an option mapped against the same HSTU+ runs (reused, not retrained)
    hstu = tmp_path / "extra_intent_p=0" / "runs" / "HSTU+" / "loso" / "seed0" / "history.json"
    mtime = hstu.stat().st_mtime_ns
    options = paradigm_map(tmp_path, "extra_intent_p", [0.0], seeds=1, budget=SMOKE,
                           base="tiny", session_overrides=["task.prefix_weight=1.0"])
    label = "SessionRec-HSTU (task.prefix_weight=1.0)"
    assert {r["cell"] for r in options["records"]} == {"HSTU+", label}
    assert hstu.stat().st_mtime_ns == mtime
    assert [r["resolved_config"]["task"]["prefix_weight"] for r in options["records"]
            if r["cell"] == label] == [1.0]
    assert (tmp_path / "paradigm_map_extra_intent_p_options.md").exists()


def test_paradigm_map_against_sessionrec_on_validation(tmp_path):
    """--reference sessionrec_hstu --session-set task.alpha=0 --split valid: the option mapped
    against the shipped config on validation metrics, the test split never evaluated."""
    from sessionrec_tf.experiments import paradigm_map
    from sessionrec_tf.experiments.paradigm_map import map_cells

    with pytest.raises(ValueError, match="needs different session and reference overrides"):
        map_cells("sessionrec_hstu", ())
    with pytest.raises(ValueError, match="needs different session and reference overrides"):
        map_cells("sessionrec_hstu", ("task.alpha=0",), ("task.alpha=0",))
    with pytest.raises(ValueError, match="not a shipped config"):
        map_cells("hstu_pluss", ())
    with pytest.raises(ValueError, match="split must be one of"):
        paradigm_map(tmp_path, "extra_intent_p", [0.0], seeds=1, budget=SMOKE, base="tiny",
                     split="train")
    payload = paradigm_map(tmp_path, "taste_sd", [1.0], seeds=1, budget=SMOKE, base="tiny",
                           session_overrides=["task.alpha=0"], reference="sessionrec_hstu",
                           split="valid")
    ours, shipped = "SessionRec-HSTU (task.alpha=0)", "SessionRec-HSTU"
    got = {r["cell"]: r for r in payload["records"]}
    assert set(got) == {ours, shipped}
    assert got[ours]["resolved_config"]["task"]["alpha"] == 0.0
    assert got[shipped]["resolved_config"]["task"]["alpha"] == 0.2
    for label, metric in (("N@10", "ndcg@10"), ("R@100", "recall@100")):
        a, b = got[ours]["metrics"][metric], got[shipped]["metrics"][metric]
        assert payload["gaps"][label]["mean"][0] == pytest.approx(100 * (a - b) / b)
    for record in got.values():
        keys = json.loads((Path(record["run"]) / "metrics.json").read_text())["evaluations"]
        assert keys and all("valid" in key and "test" not in key for key in keys)
    assert payload["name"] == "paradigm_map_taste_sd_options_vs_sessionrec_hstu_valid"
    md = (tmp_path / f"{payload['name']}.md").read_text()
    assert "LOSO valid split" in md and "| SessionRec-HSTU N@10 | ours N@10 |" in md


def test_paradigm_map_reference_overrides_change_the_reference_cell_only(tmp_path):
    """--reference-set model.sse_gating=false: HSTU+ without its gate as the reference; the
    SessionRec-HSTU cell keeps its shipped config."""
    from sessionrec_tf.config import load_config
    from sessionrec_tf.experiments import paradigm_map

    payload = paradigm_map(tmp_path, "taste_sd", [1.0], seeds=1, budget=SMOKE, base="tiny",
                           reference_overrides=["model.sse_gating=false"], split="valid")
    ref, ours = "HSTU+ (model.sse_gating=false)", "SessionRec-HSTU"
    got = {r["cell"]: r for r in payload["records"]}
    assert set(got) == {ref, ours}
    assert got[ref]["resolved_config"]["model"]["sse_gating"] is False
    assert got[ref]["resolved_config"]["model"]["paradigm"] == "item"
    shipped = load_config("sessionrec_hstu").model.sse_gating
    assert got[ours]["resolved_config"]["model"]["sse_gating"] is shipped
    assert payload["reference_overrides"] == ["model.sse_gating=false"]
    assert payload["name"] == "paradigm_map_taste_sd_vs_hstu_plus_options_valid"
    assert (tmp_path / f"{payload['name']}.md").exists()


def test_efficiency_worker_times_a_validation_pass(tiny_dataset):
    from sessionrec_tf.experiments.efficiency import run_worker

    r = run_worker(tiny_dataset.path, "sessionrec_hstu", [*TINY_MODEL, "train.eval_ks=[5, 20]",
                                                          "train.early_stopping_metric=recall@20"],
                   0, phase="validate")
    assert r["seconds_per_validation"] > 0
    assert r["validation_users"] > 100
    assert 0.0 <= r["recall@20"] <= 1.0 and r["loss"] > 0
