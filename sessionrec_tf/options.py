"""Typed options: the library's one loader from mappings and text to option dataclasses.

Every option object of the library is a dataclass with annotated fields (experiment configs,
``PrepareOptions``/``FilterOptions``, the sources' options, ``ColumnMapping``,
``ExportOptions``, ``ScoreOptions``). :func:`build` makes one from a mapping (a YAML file, a
dict, ``key=value`` pairs from the command line), checking keys and types, and names the
offending key by its full path in a one-line error of the caller's error class.

Two kinds of input:

- typed values (YAML, JSON, Python): checked against the annotation, with ``int -> float``
  the only conversion (``epochs: "3"`` is refused: the file says a string);
- text (``text=True``, e.g. ``--source-option num_users=500``): each string is read as a
  YAML scalar (``1e-4`` as a float, ``none``/``null`` as None, ``yes``/``on``/``1`` as true
  for a bool field) and then checked as a typed value; ``str`` fields keep the text as given.

Example::

    opts = build(FilterOptions, {"min_user_sessions": "4"}, text=True, error=DataError)
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

# YAML 1.1 (PyYAML) reads "1e-4" as a string: exponent floats without a dot
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_TRUE = ("1", "true", "yes", "on", "y")
_FALSE = ("0", "false", "no", "off", "n")
_NONE = ("none", "null", "~")


def parse_scalar(raw: str) -> Any:
    """A value given as text: a YAML scalar, with ``1e-4`` read as a float as users mean it.

    ``parse_scalar("3") == 3``, ``parse_scalar("[64]") == [64]``, ``parse_scalar("") == ""``.
    """
    if not raw.strip():
        return ""
    if _EXPONENT_FLOAT.fullmatch(raw.strip()):
        return float(raw)
    return yaml.safe_load(raw)


def type_name(tp: Any) -> str:
    """``int``, ``list[int]``, ``float | None``: the annotation as a reader writes it."""
    if tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _from_text(value: str, tp: Any) -> Any:
    """Read the text ``value`` for a field of type ``tp`` (see the module docstring)."""
    origin = typing.get_origin(tp)
    options = typing.get_args(tp) if origin in (typing.Union, types.UnionType) else (tp,)
    if type(None) in options and value.strip().lower() in _NONE:
        return None
    if str in options:
        return value
    if bool in options and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    return parse_scalar(value)


def coerce(value: Any, tp: Any, path: str, *, text: bool = False,
           error: type[Exception] = ValueError, noun: str = "key") -> Any:
    """``value`` checked against the annotation ``tp`` (see the module docstring).

    Supports bool, int, float, str, Any, None unions, ``list[X]``, ``tuple[X, ...]``,
    ``dict[...]`` (any mapping, kept as it is) and nested option dataclasses (built from a
    mapping; ``noun`` names their keys in messages). Raises ``error`` naming ``path`` and the
    expected type.
    """
    if text and isinstance(value, str):
        raw = value
        value = _from_text(raw, tp)
        try:
            return coerce(value, tp, path, error=error)
        except error:
            raise error(f"{path}: cannot read {raw!r} as {type_name(tp)}") from None
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, path, text=text, error=error)
            except error:
                continue
        names = " or ".join(getattr(a, "__name__", type_name(a)) for a in args)
        raise error(f"{path}: {value!r} is not {names}")
    if origin in (list, tuple):
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis or origin is list:
            if not isinstance(value, (list, tuple)):
                raise error(f"{path}: expected a list of {type_name(inner)}, got {value!r}")
            items = [coerce(v, inner, f"{path}[{i}]", text=text, error=error)
                     for i, v in enumerate(value)]
            return items if origin is list else tuple(items)
        raise error(f"{path}: unsupported field type {type_name(tp)}")
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise error(f"{path}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        return build(tp, value, path, text=text, error=error, noun=noun)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise error(f"{path}: unsupported field type {type_name(tp)}")
    raise error(f"{path}: expected {type_name(tp)}, got {value!r} ({type(value).__name__})")


def field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved annotation of the dataclass ``cls``, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _required(cls: type, name: str) -> bool:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def default_of(cls: type, name: str) -> Any:
    """The default value of field ``name`` of the dataclass ``cls`` (for CLI flag defaults)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise KeyError(f"{cls.__name__}.{name} has no default")
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def build(cls: type[T], data: Any, path: str = "", *, text: bool = False,
          error: type[Exception] = ValueError, noun: str = "key", prefix: str = "") -> T:
    """An instance of the dataclass ``cls`` from the mapping ``data`` (missing keys take the
    field defaults). Unknown keys are refused with the valid ones; every value goes through
    :func:`coerce`. ``path`` prefixes the keys (``model.dropout``), ``noun`` names them
    (``config key``, ``option``) and ``prefix`` starts every message (``source 'csv': ``)."""
    if not isinstance(data, Mapping):
        raise error(f"{prefix}{path or 'options'}: expected a mapping, got {data!r}")
    types_ = field_types(cls)
    unknown = sorted(set(data) - set(types_), key=str)
    if unknown:
        where = f"{path}." if path else ""
        scope = f" under {path}" if path else ""
        raise error(f"{prefix}unknown {noun}(s) {[where + str(u) for u in unknown]}; valid "
                    f"{noun.split()[-1]}s{scope}: {list(types_)}")
    missing = [name for name in types_ if name not in data and _required(cls, name)]
    if missing:
        where = f"{path}." if path else ""
        raise error(f"{prefix}missing {noun}(s) {[where + m for m in missing]}")
    try:
        kwargs = {key: coerce(value, types_[key], f"{path}.{key}" if path else str(key),
                              text=text, error=error, noun=noun)
                  for key, value in data.items()}
    except error as err:
        if not prefix or str(err).startswith(prefix):
            raise
        raise error(f"{prefix}{err}") from None
    return cls(**kwargs)
