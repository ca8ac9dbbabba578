"""Component registries and the command line derived from them and the option classes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sessionrec_tf.cli import build_parser
from sessionrec_tf.config import CHOICES, ConfigError, load_config
from sessionrec_tf.registry import Registry


def _flags(command: str) -> dict[str, object]:
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    return {a.option_strings[-1] if a.option_strings else a.dest: a for a in parser._actions}


def test_registry_names_tags_load_and_messages():
    reg = Registry("widget", {"a": "sessionrec_tf.options:build", "b": ""}, {"a": ("x",)})
    assert reg.names() == ("a", "b") and reg.names("x") == ("a",) and "a" in reg
    from sessionrec_tf.options import build
    assert reg.load("a") is build
    with pytest.raises(ValueError, match=r"^unknown widget 'c'; valid widgets: \['a', 'b'\]$"):
        reg.load("c")
    with pytest.raises(ValueError, match="no implementation"):
        reg.load("b")


def test_config_choices_come_from_the_package_registries():
    from sessionrec_tf.ise.registry import ISES
    from sessionrec_tf.sse.registry import SSES
    from sessionrec_tf.tasks.registry import LOSSES, SAMPLERS

    assert CHOICES["model.ise"] == ISES.names() and CHOICES["model.sse"] == SSES.names()
    assert CHOICES["task.loss"] == LOSSES.names()
    assert CHOICES["task.sampler"] == SAMPLERS.names()
    for name in ISES.names():
        assert ISES.load(name).__name__.endswith("ISE")
    with pytest.raises(ConfigError, match=r"model\.sse: unknown value 'lstm'; valid values: "
                                          r"\['hstu', 'transformer', 'gru'\]"):
        load_config("sessionrec_hstu", ["model.sse=lstm"])


def test_reading_the_registries_does_not_import_tensorflow():
    code = ("import sys; import sessionrec_tf.config, sessionrec_tf.ise, sessionrec_tf.sse, "
            "sessionrec_tf.tasks, sessionrec_tf.retrieval.registry; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_flag_defaults_come_from_the_option_classes():
    from sessionrec_tf.data import FilterOptions, PrepareOptions
    from sessionrec_tf.data.sources.synthetic import SimulatorOptions
    from sessionrec_tf.export.exporter import INDEX_CHOICES, ExportOptions
    from sessionrec_tf.export.scorer import ScoreOptions
    from sessionrec_tf.options import field_types

    prepare = _flags("prepare")
    assert prepare["--session-gap"].default == PrepareOptions().session_gap_seconds
    assert prepare["--temporal-quantile"].default == PrepareOptions().temporal_quantile
    assert prepare["--min-user-sessions"].default == FilterOptions().min_user_sessions
    assert prepare["--max-positives"].default == FilterOptions().max_positives
    for name in field_types(SimulatorOptions):  # every simulator knob is a flag
        assert "--" + name.replace("_", "-") in prepare
    export = _flags("export")
    assert export["--k"].default == ExportOptions().k
    assert tuple(export["--index"].choices) == INDEX_CHOICES
    assert export["--chunk-size"].default == ExportOptions().chunk_size
    score = _flags("score")
    for flag, field in (("--k", "k"), ("--batch-size", "batch_size"),
                        ("--chunk-users", "chunk_users"), ("--split", "split")):
        assert score[flag].default == getattr(ScoreOptions(), field)
    from sessionrec_tf.experiments.registry import EXPERIMENT_NAMES
    assert tuple(_flags("experiment")["name"].choices) == EXPERIMENT_NAMES
