"""``benchmarks/compare_runs.py``'s table: test metrics and the runs' validation values side by
side (the validation column is what a default-vs-tuned choice is made on), checked against
values computed by hand."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import compare_runs  # noqa: E402


def test_table_shows_validation_and_paired_gaps():
    groups = {"ref": {0: {"ndcg@10": 0.2}, 1: {"ndcg@10": 0.4}},
              "new": {0: {"ndcg@10": 0.3}, 1: {"ndcg@10": 0.3}}}
    valid = {"ref": {0: {"recall@100": 0.5}, 1: {"recall@100": 0.7}},
             "new": {0: {"recall@100": 0.6}, 1: {}}}  # seed 1 recorded no validation value
    text = compare_runs.table(groups, "ref", (("N@10", "ndcg@10"),), valid)
    head, rule, ref, new = text.splitlines()
    assert head == "| runs | seeds | valid recall@100 | N@10 | gap N@10 vs ref (ahead) |"
    assert rule.count("---") == 5
    # ref: mean 0.6, sample std sqrt(0.02) = 0.1414; N@10 mean 0.3, std 0.1414
    assert ref == "| ref | 0,1 | 0.6000 ± 0.1414 | 0.3000 ± 0.1414 | - |"
    # new vs ref per seed: +50%, -25% -> mean +12.5%, sample std 53.0; ahead in 1 of 2
    assert new == "| new | 0,1 | 0.6000 ± 0.0000 | 0.3000 ± 0.0000 | +12.5% ± 53.0 (1/2) |"


def test_pairs_measure_each_label_against_its_own_reference():
    groups = {"a": {0: {"ndcg@10": 0.2}, 1: {"ndcg@10": 0.4}},
              "a2": {0: {"ndcg@10": 0.3}, 1: {"ndcg@10": 0.3}},
              "b": {0: {"ndcg@10": 0.1}, 1: {"ndcg@10": 0.1}},
              "b2": {0: {"ndcg@10": 0.15}, 1: {"ndcg@10": 0.12}}}
    text = compare_runs.table(groups, "a", (("N@10", "ndcg@10"),), None, {"b2": "b"})
    head, rule, a, a2, b, b2 = text.splitlines()
    assert head == "| runs | seeds | N@10 | vs | gap N@10 (ahead) |"
    assert rule.count("---") == 5
    assert a == "| a | 0,1 | 0.3000 ± 0.1414 | a | - |"
    # a2 vs a (the --versus default): +50%, -25% -> mean +12.5%, sample std 53.0; ahead 1/2
    assert a2 == "| a2 | 0,1 | 0.3000 ± 0.0000 | a | +12.5% ± 53.0 (1/2) |"
    # b vs a: -50%, -75% -> -62.5%, std 17.7
    assert b == "| b | 0,1 | 0.1000 ± 0.0000 | a | -62.5% ± 17.7 (0/2) |"
    # b2 vs b (its pair): +50%, +20% -> +35%, std 21.2; ahead 2/2
    assert b2 == "| b2 | 0,1 | 0.1350 ± 0.0212 | b | +35.0% ± 21.2 (2/2) |"


def test_validation_values_come_from_the_run_and_table_records(tmp_path):
    run = tmp_path / "seed0"
    run.mkdir()
    assert compare_runs.recorded_valid(run) == {}
    (run / "record.json").write_text(json.dumps({"best_valid": {"recall@100": 0.37}}))
    assert compare_runs.recorded_valid(run) == {"recall@100": 0.37}
    result = tmp_path / "table2.json"
    result.write_text(json.dumps({"records": [
        {"cell": "A", "protocol": "loso", "seed": 1, "metrics": {"ndcg@10": 0.1},
         "best_valid": {"recall@100": 0.3}},
        {"cell": "A", "protocol": "loio", "seed": 1, "metrics": {"ndcg@10": 0.2},
         "best_valid": {"recall@100": 0.4}},
        {"cell": "B", "protocol": "loso", "seed": 0, "metrics": {"ndcg@10": 0.5}}]}))
    assert compare_runs.table_records(result, "A", "loso") == (
        {1: {"ndcg@10": 0.1}}, {1: {"recall@100": 0.3}})
    assert compare_runs.table_records(result, "B", "loso") == ({0: {"ndcg@10": 0.5}}, {0: {}})


def test_one_label_takes_seeds_from_a_table_and_from_run_directories():
    groups: dict = {}
    valid: dict = {}
    compare_runs.add_seeds(groups, valid, "HSTU+", {0: {"ndcg@10": 0.2}}, {0: {"recall@100": 0.5}})
    compare_runs.add_seeds(groups, valid, "HSTU+", {1: {"ndcg@10": 0.4}, 2: {"ndcg@10": 0.3}},
                           {1: {"recall@100": 0.6}})
    assert groups == {"HSTU+": {0: {"ndcg@10": 0.2}, 1: {"ndcg@10": 0.4}, 2: {"ndcg@10": 0.3}}}
    assert valid == {"HSTU+": {0: {"recall@100": 0.5}, 1: {"recall@100": 0.6}, 2: {}}}
    with pytest.raises(ValueError, match=r"seed\(s\) \[2\] twice"):
        compare_runs.add_seeds(groups, valid, "HSTU+", {2: {"ndcg@10": 0.9}}, {})
    assert groups["HSTU+"][2] == {"ndcg@10": 0.3}  # unchanged by the refused addition
