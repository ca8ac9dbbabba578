"""Run the bad-input corpus (tests/badinputs) and count cases and outcomes per stage.

    python benchmarks/badinputs_report.py

Prints a Markdown table (stage, cases, passed, failed) for the "Reliability" section of
benchmarks/RESULTS.md. A case passes when the command ends with its exit code and a one-line
message naming the culprit, without a traceback and without writing or changing any file.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


class _Outcomes:
    def __init__(self) -> None:
        self.results: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.results[report.nodeid] = report.outcome


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import add_smoke

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    smoke = add_smoke(p)
    p.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from badinputs.corpus import CASES, SERVING_CASES

    stage = {f"test_bad_input[{c.id}]": c.stage for c in CASES}
    stage |= {f"test_bad_serving_request[{c.id}]": "serving request" for c in SERVING_CASES}
    plugin = _Outcomes()
    # --smoke: two cases only (checks that the report still runs)
    only = ["-k", "prepare-simulator-bad-size or train-epochs-negative"] if smoke else []
    pytest.main(["-q", "-p", "no:cacheprovider", str(REPO / "tests" / "badinputs"), *only],
                plugins=[plugin])
    cases, passed = Counter(), Counter()
    for nodeid, outcome in plugin.results.items():
        name = nodeid.split("::")[-1]
        if name in stage:
            cases[stage[name]] += 1
            passed[stage[name]] += outcome == "passed"
    print("\n| stage | cases | passed | failed |\n|---|---|---|---|")
    for key in ("prepare", "data", "train", "export", "score", "evaluate", "serving request"):
        print(f"| {key} | {cases[key]} | {passed[key]} | {cases[key] - passed[key]} |")
    total, ok = sum(cases.values()), sum(passed.values())
    print(f"| **all** | **{total}** | **{ok}** | **{total - ok}** |")
    return 0 if ok == total else 1


if __name__ == "__main__":
    sys.exit(main())
