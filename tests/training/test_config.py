"""Experiment configs: shipped configs build, strict keys and types, overrides."""

from __future__ import annotations

import inspect

import pytest

from sessionrec_tf.config import (
    ConfigError,
    ExperimentConfig,
    apply_overrides,
    config_from_dict,
    hstu_option_defaults,
    hstu_options,
    load_config,
    shipped_configs,
)
from sessionrec_tf.models import MODEL_NAMES, build_model


def test_every_model_has_a_shipped_config():
    assert sorted(MODEL_NAMES) == shipped_configs()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shipped_configs_build(name, tiny_dataset):
    config = load_config(name, ["model.embedding_dim=8", "model.num_layers=1"])
    assert config.name == name
    model = build_model(config, tiny_dataset)
    assert model.view.paradigm == config.model.paradigm


def test_the_paper_config_differs_from_the_shipped_one_only_in_the_chosen_options():
    shipped = load_config("sessionrec_hstu").to_dict()
    paper = load_config("sessionrec_hstu_paper").to_dict()
    diff = {(sec, k): (paper[sec][k], shipped[sec][k]) for sec in shipped
            if isinstance(shipped[sec], dict) for k in shipped[sec]
            if shipped[sec][k] != paper[sec][k]}
    assert diff == {("model", "user_vectors"): (1, 2), ("task", "prefix_weight"): (0.0, 0.5),
                    ("task", "prefix_queries"): (1, 4), ("task", "rank_drop_shown"): (False, True),
                    ("model", "sse_gating"): (True, False)}


def test_switching_the_sse_resets_the_configs_hstu_only_options():
    gru = load_config("sessionrec_hstu", ["model.sse=gru"]).model
    assert (gru.sse, gru.sse_gating) == ("gru", True)  # the shipped HSTU option is dropped
    assert gru.user_vectors == 2  # other options stay
    hstu = load_config("sessionrec_hstu", ["model.num_layers=2"]).model
    assert (hstu.sse, hstu.sse_gating) == ("hstu", False)
    with pytest.raises(ValueError, match="model.sse_gating: an option of the hstu SSE"):
        load_config("sessionrec_hstu", ["model.sse=gru", "model.sse_gating=false"])
    with pytest.raises(ValueError, match="model.sse_input_scale: an option of the hstu SSE"):
        load_config("sessionrec_hstu", ["model.sse=transformer", "model.sse_input_scale=true"])


def test_hstu_options_carry_only_what_differs_from_the_encoders_own_defaults():
    from sessionrec_tf.sse.hstu import HSTUEncoder

    params = inspect.signature(HSTUEncoder.__init__).parameters
    # the builder passes only non-default options, so both sides must agree on the defaults
    assert {k: params[k.removeprefix("sse_")].default
            for k in hstu_option_defaults()} == hstu_option_defaults()
    assert hstu_options(load_config("sessionrec_hstu").model) == {"gating": False}
    assert hstu_options(load_config("sessionrec_hstu_paper").model) == {}
    shipped = load_config("sessionrec_hstu", ["model.sse_attention=softmax"]).model
    assert hstu_options(shipped) == {"gating": False, "attention": "softmax"}


def test_paper_defaults():
    c = ExperimentConfig()
    assert (c.train.batch_size, c.train.learning_rate, c.model.dropout) == (64, 0.001, 0.2)
    assert (c.model.num_layers, c.model.num_heads, c.task.num_negatives) == (4, 2, 128)
    assert c.task.alpha == 0.2


def test_unknown_keys_are_refused_with_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) \['model.layers'\]; valid "
                                          r"keys under model: \[.*'num_layers'"):
        config_from_dict({"model": {"layers": 3}})
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) \['optimizer'\]"):
        config_from_dict({"optimizer": "sgd"})


@pytest.mark.parametrize("data, pattern", [
    ({"model": {"num_layers": "four"}}, r"model.num_layers: expected int, got 'four'"),
    ({"train": {"learning_rate": "fast"}}, r"train.learning_rate: expected float"),
    ({"task": {"l2_normalize": 1}}, r"task.l2_normalize: expected bool, got 1"),
    ({"train": {"eval_ks": [10, "x"]}}, r"train.eval_ks\[1\]: expected int"),
    ({"train": {"clipnorm": "big"}}, r"train.clipnorm: 'big' is not float or NoneType"),
    ({"model": 3}, r"model: expected a mapping"),
])
def test_wrong_types_are_refused(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        config_from_dict(data)


def test_overrides_and_round_trip(tmp_path):
    c = apply_overrides(ExperimentConfig(), ["model.sse=gru", "train.epochs=3",
                                             "train.eval_ks=[5, 50]", "train.clipnorm=1",
                                             "train.early_stopping_metric=recall@50"])
    assert (c.model.sse, c.train.epochs, c.train.eval_ks, c.train.clipnorm) == \
        ("gru", 3, [5, 50], 1.0)
    path = tmp_path / "c.yaml"
    c.save(path)
    assert load_config(path) == c
    with pytest.raises(ConfigError, match=r"unknown config key 'model.sse_name'"):
        apply_overrides(c, ["model.sse_name=gru"])
    with pytest.raises(ConfigError, match=r"an override expects key=value"):
        apply_overrides(c, ["model.sse"])
    with pytest.raises(ConfigError, match=r"shipped configs: \["):
        load_config("no_such_config")


@pytest.mark.parametrize("override, pattern", [
    ("model.ise=attention", r"model.ise: unknown value 'attention'; valid values: \['mean', "),
    ("model.sse=lstm", r"model.sse: unknown value 'lstm'; valid values: \['hstu', "
                       r"'transformer', 'gru'\]"),
    ("model.paradigm=user", r"model.paradigm: unknown value 'user'"),
    ("task.sampler=zipf", r"task.sampler: unknown value 'zipf'; valid values"),
    ("task.loss=hinge", r"task.loss: unknown value 'hinge'"),
    ("train.exclude_seen=some", r"train.exclude_seen: unknown value 'some'"),
    ("train.protocol=next", r"train.protocol: unknown value 'next'"),
])
def test_unknown_component_names_list_valid_ones(override, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config("sessionrec_hstu", ["model.embedding_dim=8", override])


def test_exponent_floats_in_overrides_are_floats():
    c = load_config("sessionrec_hstu", ["train.learning_rate=1e-4", "train.weight_decay=2E-05",
                                        "task.temperature=5.0e-2"])
    assert (c.train.learning_rate, c.train.weight_decay, c.task.temperature) == \
        (1e-4, 2e-5, 0.05)
    with pytest.raises(ConfigError, match=r"model.embedding_dim: expected int, got 1000.0"):
        load_config("sessionrec_hstu", ["model.embedding_dim=1e3"])


def test_label_split_is_refused_for_a_sequential_ise():
    assert load_config("sessionrec_hstu", ["model.ise_label_split=true"]).model.ise_label_split
    with pytest.raises(ConfigError, match=r"model.ise_label_split: only for the pooling ISEs "
                                          r"\['mean', 'max', 'max_relu'\], not model.ise='gru'"):
        load_config("sessionrec_hstu", ["model.ise=gru", "model.ise_label_split=true"])


@pytest.mark.parametrize("overrides, message", [
    (["model.paradigm=item", "task.prefix_weight=0"],
     "model.ise_input: positives is for model.paradigm='session'"),
    (["model.ise=gru"], "model.ise_input: positives only for the pooling ISEs"),
    (["model.ise_label_split=true"], "exclude each other"),
    (["model.ise_input=negatives"], "model.ise_input"),
])
def test_ise_input_positives_is_refused_where_it_cannot_apply(overrides, message):
    assert load_config("sessionrec_hstu", ["model.ise_input=positives"]).model.ise_input == \
        "positives"
    with pytest.raises(ConfigError, match=message):
        load_config("sessionrec_hstu", ["model.ise_input=positives", *overrides])


@pytest.mark.parametrize("override, message", [
    ("train.epochs=0", "train.epochs: must be >= 1, got 0"),
    ("train.batch_size=-4", "train.batch_size: must be >= 1"),
    ("model.embedding_dim=0", "model.embedding_dim: must be >= 1"),
    ("model.embedding_mlp=[32, 0]", r"model.embedding_mlp: must be >= 1, got \[32, 0\]"),
    ("model.dropout=1.0", r"model.dropout: must be >= 0 and <= 0.99"),
    ("task.temperature=0", "task.temperature: must be > 0, got 0.0"),
    ("train.learning_rate=-1e-3", "train.learning_rate: must be > 0"),
    ("train.clipnorm=0", "train.clipnorm: must be > 0"),
    ("train.eval_ks=[0]", "train.eval_ks: must be >= 1"),
    ("train.early_stopping_metric=loss", "train.early_stopping_metric: 'loss' is not computed"),
    ("train.early_stopping_metric=recall@20", "'recall@20' is not computed"),
])
def test_out_of_range_values_are_refused_at_load(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("sessionrec_hstu", [override])


def test_edge_values_in_range_load():
    c = load_config("sessionrec_hstu", ["model.dropout=0", "train.weight_decay=0",
                                        "train.checkpoint_every_steps=0", "task.alpha=0",
                                        "train.clipnorm=null", "train.steps_per_epoch=null",
                                        "train.early_stopping_metric=ndcg@10"])
    assert c.model.dropout == 0.0 and c.train.clipnorm is None
