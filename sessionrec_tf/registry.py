"""Named components: one :class:`Registry` per kind, owned by the package that implements it.

A registry maps each name a config or command accepts (``model.ise: mean``,
``--index scann``) to the ``"module:attribute"`` that implements it, imported only when built,
so that reading the names (config validation, ``--help``) never imports TensorFlow. Adding a
component is one entry in its package's ``registry.py``; the config checks, the CLI choices
and the error messages follow.

Example::

    from sessionrec_tf.ise.registry import ISES
    ISES.names()         # ('mean', 'max', 'max_relu', 'gru', 'transformer')
    cls = ISES.load("gru")   # sessionrec_tf.ise.gru.GruISE
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Registry:
    """Components of one ``kind`` (e.g. ``"ISE"``) by name.

    Attributes:
      kind: what a component is, for messages (``unknown ISE 'x'; valid ISEs: [...]``).
      entries: name -> ``"module:attribute"`` (or ``""`` for a name handled by its caller).
      tags: name -> labels used by checks (e.g. ``{"mean": ("pooling",)}``).
    """

    kind: str
    entries: Mapping[str, str]
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def names(self, tag: str | None = None) -> tuple[str, ...]:
        """Every name, or those carrying ``tag``, in registration order."""
        return tuple(n for n in self.entries if tag is None or tag in self.tags.get(n, ()))

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def unknown(self, name: object) -> str:
        """The one-line message for a name that is not registered."""
        return f"unknown {self.kind} {name!r}; valid {self.kind}s: {list(self.names())}"

    def check(self, name: object, error: type[Exception] = ValueError) -> None:
        if name not in self.entries:
            raise error(self.unknown(name))

    def load(self, name: str) -> Any:
        """The attribute implementing ``name`` (its module imported now)."""
        self.check(name)
        target = self.entries[name]
        if not target:
            raise ValueError(f"{self.kind} {name!r} has no implementation to load")
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)
