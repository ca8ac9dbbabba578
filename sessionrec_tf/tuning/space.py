"""A hyper-parameter search space: config keys and the ranges Optuna draws them from.

A space is a YAML mapping ``config.key: {type, ...}`` with ``type`` one of ``float``
(``low``, ``high``, optional ``log``), ``int`` (``low``, ``high``, optional ``log``) or
``categorical`` (``choices``), and an optional ``when: {config.key: value}`` that limits the
parameter to configs with those values (``task.alpha`` only for the session paradigm)::

    train.learning_rate: {type: float, low: 0.0001, high: 0.003, log: true}
    task.alpha: {type: float, low: 0.0, high: 1.0, when: {model.paradigm: session}}

The default space (``default_space.yaml`` next to this file) is the same for every model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sessionrec_tf.config import ConfigError, ExperimentConfig, apply_overrides

DEFAULT_SPACE = Path(__file__).resolve().parent / "default_space.yaml"
KINDS = ("float", "int", "categorical")


@dataclass(frozen=True)
class Param:
    """One searched config key."""

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    when: dict[str, Any] = field(default_factory=dict)

    def applies(self, config: ExperimentConfig) -> bool:
        data = config.to_dict()
        return all(_lookup(data, k) == v for k, v in self.when.items())

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this parameter can take."""
        if self.kind == "categorical":
            return value in self.choices
        return isinstance(value, (int, float)) and not isinstance(value, bool) and \
            self.low <= value <= self.high and (self.kind == "float" or value == int(value))

    def suggest(self, trial: Any) -> Any:
        """Draw a value from an Optuna trial."""
        if self.kind == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_categorical(self.key, list(self.choices))


class SearchSpace:
    """The parameters of a search (see the module docstring)."""

    def __init__(self, params: list[Param]) -> None:
        self.params = params

    @classmethod
    def load(cls, path: str | Path | None = None) -> SearchSpace:
        """The space in ``path`` (default: the shipped default space)."""
        path = Path(path) if path is not None else DEFAULT_SPACE
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"search space {path}: no such file") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"search space {path}: not valid YAML: {err}") from None
        if not isinstance(data, dict) or not data:
            raise ConfigError(f"search space {path}: expected a mapping of config keys")
        return cls([_param(path, key, spec) for key, spec in data.items()])

    def applicable(self, config: ExperimentConfig) -> list[Param]:
        return [p for p in self.params if p.applies(config)]

    def defaults(self, config: ExperimentConfig) -> tuple[dict[str, Any], list[str]]:
        """The values ``config`` itself gives the parameters that apply to it: those inside
        the space (an Optuna trial to enqueue), and the keys whose value lies outside."""
        data = config.to_dict()
        inside, outside = {}, []
        for p in self.applicable(config):
            value = _lookup(data, p.key)
            if p.contains(value):
                inside[p.key] = value
            else:
                outside.append(p.key)
        return inside, outside

    def suggest(self, trial: Any, config: ExperimentConfig) -> list[str]:
        """``key=value`` overrides drawn by ``trial`` for the parameters that apply."""
        return [f"{p.key}={p.suggest(trial)!r}" for p in self.applicable(config)]

    def to_dict(self) -> dict[str, Any]:
        return {p.key: {"type": p.kind, "low": p.low, "high": p.high, "log": p.log,
                        "choices": list(p.choices), "when": p.when} for p in self.params}


def _lookup(data: dict[str, Any], key: str) -> Any:
    """The value of ``section.name`` in a config's ``to_dict()``."""
    section, _, name = key.partition(".")
    return data[section][name]


def _param(path: Path, key: str, spec: Any) -> Param:
    where = f"search space {path}, key {key!r}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping like {{type: float, low: 0.1, high: 1}}")
    unknown = sorted(set(spec) - {"type", "low", "high", "log", "choices", "when"})
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}")
    kind = spec.get("type")
    if kind not in KINDS:
        raise ConfigError(f"{where}: type must be one of {list(KINDS)}, got {kind!r}")
    when = spec.get("when") or {}
    base = ExperimentConfig()
    for k in [key, *when]:  # every key must exist in the config
        section, _, name = k.partition(".")
        part = getattr(base, section, None)
        if not name or not dataclasses.is_dataclass(part) or \
                name not in {f.name for f in dataclasses.fields(part)}:
            raise ConfigError(f"{where}: {k!r} is not a config key (section.name)")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: categorical needs a non-empty list of choices")
        samples = choices
        param = Param(key, kind, choices=tuple(choices), when=dict(when))
    else:
        low, high = spec.get("low"), spec.get("high")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) \
                or low >= high:
            raise ConfigError(f"{where}: needs numbers low < high, got low={low!r}, "
                              f"high={high!r}")
        if spec.get("log") and low <= 0:
            raise ConfigError(f"{where}: a log range needs low > 0, got {low}")
        samples = [low, high]
        param = Param(key, kind, low=low, high=high, log=bool(spec.get("log")),
                      when=dict(when))
    for value in samples:  # every value must type-check as that config key
        try:
            apply_overrides(base, [f"{key}={value!r}"])
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
    return param
