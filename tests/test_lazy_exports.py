"""Package re-exports are lazy: importing the package does not load TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = r"""
import json, sys, importlib
pkg = importlib.import_module(sys.argv[1])
report = {"tf_after_import": "tensorflow" in sys.modules, "all": list(pkg.__all__),
          "dir_has_all": set(pkg.__all__) <= set(dir(pkg))}
try:
    getattr(pkg, "NoSuchName")
except AttributeError as e:
    report["error"] = str(e)
value = getattr(pkg, sys.argv[2])
report["resolved_module"] = value.__module__
report["cached"] = sys.argv[2] in vars(pkg)
print(json.dumps(report))
"""


@pytest.mark.parametrize("package, name, module", [
    ("sessionrec_tf", "PreparedDataset", "sessionrec_tf.data.dataset"),
    ("sessionrec_tf.export", "ScannOptions", "sessionrec_tf.retrieval.scann_options"),
    ("sessionrec_tf.retrieval", "ExactTopK", "sessionrec_tf.retrieval.exact"),
])
def test_lazy_package_exports(package: str, name: str, module: str) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, package, name], capture_output=True,
                         text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["tf_after_import"] is False
    assert name in report["all"] and report["dir_has_all"]
    assert report["error"] == f"module {package!r} has no attribute 'NoSuchName'"
    assert report["resolved_module"] == module
    assert report["cached"] is True
