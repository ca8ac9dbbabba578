"""``benchmarks/topk_composition.py``'s share of never-engaged items, by hand."""

from __future__ import annotations

import sys

import numpy as np
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import topk_composition  # noqa: E402


def test_never_engaged_share_by_hand():
    counts = np.array([0, 0, 5, 0, 1, 0])  # items 3 and 5 never engaged (0, 1 reserved)
    top = np.array([[3, 2, 5], [4, 2, 3]])
    assert topk_composition.never_engaged_share(top, counts, 1) == 0.5   # 3 | 4
    assert topk_composition.never_engaged_share(top, counts, 3) == 3 / 6  # 3, 5 | 3
