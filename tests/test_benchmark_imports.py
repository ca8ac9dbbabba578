"""Benchmarks rot when nothing runs them: every name a script in benchmarks/ imports from the
library (at module level or inside a function) must exist. (A full ``--smoke`` run of every
script is issue 19's; this catches renamed and removed names, such as the
``_scann_config`` import that broke ``bench_serving.py --parts scann``.)"""

from __future__ import annotations

import ast
import importlib

import pytest
from conftest import REPO

SCRIPTS = sorted((REPO / "benchmarks").glob("*.py"))


def _library_imports(path) -> list[tuple[str, str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [(node.module, alias.name, node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            and node.module.split(".")[0] == "sessionrec_tf" for alias in node.names]


def test_there_are_scripts_importing_the_library():
    assert sum(len(_library_imports(p)) for p in SCRIPTS) > 20


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_every_library_name_a_benchmark_imports_exists(script):
    missing = []
    for module, name, line in _library_imports(script):
        mod = importlib.import_module(module)
        if not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{script.name}:{line}: {module}.{name}")
    assert not missing, missing
