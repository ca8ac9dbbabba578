"""``sessionrec tune``: search spaces, the Keras pruning callback, the resumable study, and
``experiment table2 --tuned``."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

from sessionrec_tf.cli import main
from sessionrec_tf.config import ConfigError, load_config
from sessionrec_tf.experiments import BUDGETS, table2
from sessionrec_tf.tuning import PruningCallback, SearchSpace, tune, tuned_overrides

SMOKE = BUDGETS["smoke"]


def _space(tmp_path, text: str) -> SearchSpace:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return SearchSpace.load(path)


def test_default_space_is_the_same_for_every_model_except_where_it_cannot_apply():
    space = SearchSpace.load()
    keys = {p.key for p in space.params}
    assert keys == {"train.learning_rate", "task.temperature", "model.dropout",
                    "train.weight_decay", "task.num_negatives", "task.alpha",
                    "train.batch_size"}
    session = [p.key for p in space.applicable(load_config("sessionrec_hstu"))]
    item = [p.key for p in space.applicable(load_config("hstu_plus"))]
    sasrec = [p.key for p in space.applicable(load_config("sasrec"))]
    assert set(session) == keys
    assert set(item) == keys - {"task.alpha"}  # the rank loss is SessionRec's
    assert set(sasrec) == keys - {"task.alpha", "task.num_negatives"}  # bce: one negative


@pytest.mark.parametrize("text, match", [
    ("train.lr: {type: float, low: 0.1, high: 1}", r"'train.lr' is not a config key"),
    ("optim.lr: {type: float, low: 0.1, high: 1}", r"'optim.lr' is not a config key"),
    ("name: {type: categorical, choices: [a]}", r"'name' is not a config key"),
    ("train.learning_rate: {type: normal, low: 0.1, high: 1}", r"type must be one of"),
    ("train.learning_rate: {type: float, low: 1, high: 0.1}", r"needs numbers low < high"),
    ("train.learning_rate: {type: float, low: 0, high: 1, log: true}", r"log range needs low"),
    ("task.num_negatives: {type: categorical, choices: [a, b]}",
     r"task.num_negatives: expected int"),
    ("model.dropout: {type: float, low: 0, high: 1, step: 2}", r"unknown field\(s\) \['step'\]"),
    ("task.alpha: {type: float, low: 0, high: 1, when: {model.kind: x}}", r"'model.kind' is not"),
    ("[1, 2]", r"expected a mapping of config keys"),
])
def test_bad_search_spaces_name_the_file_and_key(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match) as err:
        _space(tmp_path, text)
    assert "space.yaml" in str(err.value)


def test_pruning_callback_reports_and_prunes_below_the_median():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(
        n_startup_trials=1, n_warmup_steps=0))
    good = study.ask()
    callback = PruningCallback(good)
    for epoch, value in enumerate([0.3, 0.4]):
        callback.on_epoch_end(epoch, {"val_selection": value})
    study.tell(good, 0.4)
    bad = study.ask()
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        PruningCallback(bad).on_epoch_end(0, {"val_selection": 0.1})
    assert bad.storage.get_trial(bad._trial_id).intermediate_values == {0: 0.1}
    with pytest.raises(KeyError, match="val_recall@10"):
        PruningCallback(bad, "val_recall@10").on_epoch_end(1, {"val_selection": 0.1})


def test_tune_searches_on_validation_and_resumes(tiny_dataset, tmp_path):
    space = _space(tmp_path, "train.learning_rate: {type: float, low: 0.0005, high: 0.005, "
                             "log: true}\nmodel.dropout: {type: categorical, choices: [0.0, 0.2]}")
    out = tmp_path / "tune"
    kwargs = {"space": space, "budget": SMOKE, "overrides": [],
              "warmup_epochs": 5, "verbose": 0, "log": lambda _m: None}
    first = tune("sessionrec_hstu", tiny_dataset, out, 2, **kwargs)
    assert [t["state"] for t in first["trials"]] == ["COMPLETE", "COMPLETE"]
    for t in first["trials"]:  # the objective is the run's best validation value
        run = Path(t["run"])
        assert run.parent == out / "sessionrec_hstu" / "runs"
        history = json.loads((run / "history.json").read_text())
        assert t["value"] == pytest.approx(max(h["valid"]["recall@100"] for h in history))
        assert len(history) == 1
        assert not (run / "metrics.json").exists()  # the test split is never read
    best = max(first["trials"], key=lambda t: t["value"])
    saved = yaml.safe_load((out / "sessionrec_hstu" / "best.yaml").read_text())
    assert saved["trial"] == best["number"] and saved["overrides"] == best["overrides"]
    assert tuned_overrides(out, "sessionrec_hstu") == best["overrides"]
    assert (out / "sessionrec_hstu" / "trials.png").stat().st_size > 1000
    # a process killed mid-trial leaves it RUNNING: the next call retries its parameters
    study = optuna.load_study(study_name="sessionrec_hstu",
                              storage=f"sqlite:///{out / 'sessionrec_hstu' / 'study.db'}")
    stale = study.ask({"train.learning_rate": optuna.distributions.FloatDistribution(
        0.0005, 0.005, log=True), "model.dropout": optuna.distributions.CategoricalDistribution(
        [0.0, 0.2])})
    again = tune("sessionrec_hstu", tiny_dataset, out, 3, **kwargs)
    states = [t["state"] for t in again["trials"]]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    assert again["trials"][3]["params"] == stale.params
    assert again["trials"][:2] == first["trials"]  # finished trials are kept, not re-run


def test_a_resumed_study_does_not_replay_its_first_draws(tmp_path):
    """A restarted search must draw new parameters: a sampler re-seeded with the same seed at
    every start replayed the study's first random draw (a duplicate trial after a restart,
    seen on the demo searches)."""
    from sessionrec_tf.tuning.study import _study

    dist = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}
    drawn = []
    for _ in range(3):  # three processes, one trial each (within the random startup phase)
        study = _study(tmp_path, "s", seed=0, trials=12, warmup_epochs=2)
        trial = study.ask(dist)
        drawn.append(trial.params["lr"])
        study.tell(trial, 0.1)
    assert len(set(drawn)) == 3, drawn
    (tmp_path / "other").mkdir()
    again = _study(tmp_path / "other", "s", seed=0, trials=12, warmup_epochs=2)
    assert again.ask(dist).params["lr"] == drawn[0]  # still deterministic from the seed


def test_cli_tune_and_table2_tuned(tiny_dataset, tmp_path, monkeypatch, capsys):
    out = tmp_path / "tune"
    (tmp_path / "space.yaml").write_text("train.learning_rate: {type: categorical, "
                                         "choices: [0.001]}\n")
    code = main(["tune", "--config", "hstu_plus", "--data", str(tiny_dataset.path), "--output",
                 str(out), "--trials", "1", "--budget", "smoke", "--space",
                 str(tmp_path / "space.yaml"), "--verbose", "0", "--set", "model.dropout=0.1"])
    assert code == 0
    assert "hstu_plus: 1 trials; best trial 0" in capsys.readouterr().out
    # the tuned model: the search's own --set (not the budget), then the best parameters
    assert tuned_overrides(out, "hstu_plus") == ["model.dropout=0.1",
                                                 "train.learning_rate=0.001"]
    assert main(["tune", "--config", "hstu_plus", "--data", str(tiny_dataset.path),
                 "--output", str(out), "--trials", "0"]) == 2
    assert "--trials must be >= 1" in capsys.readouterr().err
    # table2 --tuned: every model needs a finished search (refused before any training)
    assert main(["experiment", "table2", "--data", str(tiny_dataset.path), "--output",
                 str(tmp_path / "t2"), "--tuned", str(out), "--budget", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "no finished search for 'gru4rec'" in err and "sessionrec tune" in err
    assert not (tmp_path / "t2").exists()
    # with every search finished, each cell gets its model's best overrides
    for name in ("gru4rec", "sasrec", "sasrec_plus", "hstu", "sessionrec_hstu"):
        (out / name).mkdir(parents=True)
        (out / name / "best.yaml").write_text(yaml.safe_dump(
            {"overrides": [f"train.learning_rate={0.0001 * (len(name))}"]}))
    seen = {}

    def fake_grid(cells, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.update({c.label: c.overrides for c in cells})
        raise RuntimeError("stop")

    monkeypatch.setattr("sessionrec_tf.experiments.comparisons.run_grid", fake_grid)
    with pytest.raises(RuntimeError, match="stop"):
        table2(tiny_dataset, tmp_path / "t2", 1, SMOKE, tuned=out)
    assert seen["HSTU+"] == ("model.dropout=0.1", "train.learning_rate=0.001")
    assert seen["SessionRec-HSTU"] == (f"train.learning_rate={0.0001 * 15}",)
    assert main(["experiment", "table4", "--data", str(tiny_dataset.path), "--output",
                 str(tmp_path / "t4"), "--tuned", str(out)]) == 2
    assert "--tuned applies to table2 only" in capsys.readouterr().err


@pytest.mark.parametrize("budget", ["small", "full", "long"])
def test_default_warmup_is_early_stoppings_grace_period(budget):
    """A trial is not pruned while early stopping would still let it run: with a warmup of 2,
    budget long (no stopping before epoch 60) pruned 8 of 11 KuaiRand trials, 7 at epochs 3-4."""
    from sessionrec_tf.tuning.study import default_warmup

    raw = yaml.safe_load((Path(__file__).parents[2] / "sessionrec_tf" / "configs" / "grids" /
                          "budgets.yaml").read_text())[budget]["overrides"]
    given = dict(o.split("=") for o in raw)
    expected = max(int(given.get("train.early_stopping_patience", 3)),
                   int(given.get("train.early_stopping_start_epoch", 0)))
    assert default_warmup(load_config("hstu", BUDGETS[budget].overrides)) == expected
    assert {"small": 2, "full": 8, "long": 60}[budget] == expected


def test_include_defaults_starts_the_search_from_the_configs_own_values(tiny_dataset, tmp_path):
    shipped = yaml.safe_load((Path(__file__).parents[2] / "sessionrec_tf" / "configs" /
                              "sessionrec_hstu.yaml").read_text())
    lr, dropout = shipped["train"]["learning_rate"], shipped["model"]["dropout"]
    space = _space(tmp_path, "train.learning_rate: {type: float, low: 0.0001, high: 0.01, "
                             "log: true}\nmodel.dropout: {type: categorical, "
                             "choices: [0.05, 0.35]}")  # the shipped dropout lies outside
    assert dropout not in (0.05, 0.35)
    messages: list[str] = []
    summary = tune("sessionrec_hstu", tiny_dataset, tmp_path / "tune", 1, space=space,
                   budget=SMOKE, verbose=0, log=messages.append, include_defaults=True)
    (trial,) = summary["trials"]
    assert trial["params"]["train.learning_rate"] == lr
    assert trial["params"]["model.dropout"] in (0.05, 0.35)  # drawn, not the outside value
    assert any("outside the space, drawn instead: ['model.dropout']" in m for m in messages)
    # a resumed search does not enqueue the defaults again
    again = tune("sessionrec_hstu", tiny_dataset, tmp_path / "tune", 2, space=space,
                 budget=SMOKE, verbose=0, log=messages.append, include_defaults=True)
    assert again["trials"][1]["params"]["train.learning_rate"] != lr
