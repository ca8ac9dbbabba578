"""The one typed option loader (sessionrec_tf.options) and the option classes that use it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from sessionrec_tf.config import ConfigError, load_config
from sessionrec_tf.data.contract import ColumnMapping, FeatureSpec
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.sources.synthetic import SimulatorOptions
from sessionrec_tf.options import build, default_of, parse_scalar


@dataclass(frozen=True)
class Inner:
    name: str
    bins: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Outer:
    count: int = 1
    rate: float = 0.5
    flag: bool = False
    label: str | None = None
    sizes: list[int] = field(default_factory=list)
    inners: tuple[Inner, ...] = ()
    extra: dict[str, Any] | None = None


def test_typed_values_are_checked_not_converted():
    out = build(Outer, {"count": 3, "rate": 2, "sizes": [1, 2],
                        "inners": [{"name": "a", "bins": [1, 2.5]}], "extra": {"k": 1}})
    assert out == Outer(count=3, rate=2.0, sizes=[1, 2],
                        inners=(Inner("a", (1.0, 2.5)),), extra={"k": 1})
    assert isinstance(out.rate, float) and isinstance(out.inners, tuple)
    for data, message in [
        ({"count": "3"}, r"count: expected int, got '3' \(str\)"),
        ({"count": True}, r"count: expected int, got True"),
        ({"flag": 1}, r"flag: expected bool, got 1"),
        ({"sizes": [1, "x"]}, r"sizes\[1\]: expected int, got 'x'"),
        ({"inners": [{"name": "a", "bins": ["x"]}]},
         r"inners\[0\]\.bins: \['x'\] is not tuple or NoneType"),
        ({"inners": [{"bins": [1.0]}]}, r"missing key\(s\) \['inners\[0\]\.name'\]"),
        ({"label": 5}, r"label: 5 is not str or NoneType"),
    ]:
        with pytest.raises(ValueError, match=message):
            build(Outer, data)


def test_text_values_are_read_as_the_field_type():
    out = build(Outer, {"count": "7", "rate": "1e-4", "flag": "yes", "label": "none",
                        "sizes": "[64, 32]"}, text=True)
    assert out == Outer(count=7, rate=1e-4, flag=True, label=None, sizes=[64, 32])
    assert build(Outer, {"label": "042", "flag": "0"}, text=True) == Outer(label="042")
    assert build(Outer, {"flag": "off"}, text=True).flag is False
    with pytest.raises(DataError, match=r"^src: count: cannot read 'seven' as int$"):
        build(Outer, {"count": "seven"}, text=True, error=DataError, prefix="src: ")
    with pytest.raises(DataError, match=r"flag: cannot read 'maybe' as bool"):
        build(Outer, {"flag": "maybe"}, text=True, error=DataError)


def test_unknown_keys_name_the_valid_ones():
    with pytest.raises(ConfigError, match=r"^p: unknown option\(s\) \['colour'\]; valid "
                                          r"options: \['count', 'rate', "):
        build(Outer, {"colour": 1, "count": 2}, error=ConfigError, noun="option", prefix="p: ")
    with pytest.raises(ValueError, match=r"options: expected a mapping, got \[1\]"):
        build(Outer, [1])


def test_parse_scalar_reads_exponent_floats():
    assert parse_scalar("1e-4") == pytest.approx(1e-4) and parse_scalar("3") == 3
    assert parse_scalar("[64]") == [64] and parse_scalar("") == "" and parse_scalar("a") == "a"


def test_default_of_reads_field_defaults():
    assert default_of(Outer, "rate") == 0.5 and default_of(Outer, "sizes") == []
    with pytest.raises(KeyError):
        default_of(Outer, "nope")
    with pytest.raises(KeyError, match="no default"):
        default_of(Inner, "name")


def test_option_classes_share_the_loader():
    """Config overrides, source options and column mappings all go through build()."""
    config = load_config("sessionrec_hstu", ["train.learning_rate=1e-4",
                                             "model.embedding_mlp=[64]"])
    assert config.train.learning_rate == pytest.approx(1e-4)
    assert config.model.embedding_mlp == [64]
    from sessionrec_tf.data.sources import parse_options

    opts = parse_options(SimulatorOptions, {"num_users": "50", "drift": "0.1"}, "synthetic")
    assert opts.num_users == 50 and opts.drift == pytest.approx(0.1)
    mapping = ColumnMapping.from_dict({
        "user_id": "u", "integer_ids": "yes", "session_id": None, "features": [
            {"name": "price", "kind": "item", "bins": [1, 10]}]})
    assert mapping.integer_ids is True
    assert mapping.features == (FeatureSpec("price", kind="item", bins=(1.0, 10.0)),)
    assert ColumnMapping.from_dict({"features": None}) == ColumnMapping()
    with pytest.raises(DataError, match=r"^column mapping: feature 'x': kind must be 'item' or "
                                        r"'interaction', got 'other'$"):
        ColumnMapping.from_dict({"features": [{"name": "x", "kind": "other"}]})
