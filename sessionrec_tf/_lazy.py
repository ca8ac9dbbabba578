"""Lazy re-exports for package ``__init__`` modules (PEP 562 ``__getattr__``/``__dir__``).

A package lists ``{public name: defining module}``; the defining module is imported the first
time the name is used, so importing the package stays cheap (no TensorFlow until needed).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose globals are ``namespace``.

    A resolved name is cached in ``namespace`` so later lookups skip ``__getattr__``; an
    unknown name raises ``AttributeError`` naming the package, as a normal module would.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
