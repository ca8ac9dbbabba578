"""Small helpers shared by tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations


def random_log(num_users: int = 30, num_items: int = 40, seed: int = 0,
               with_feature: bool = True):
    """A small raw log in the contract's own column names (for pipeline tests).

    Users have 3-7 sessions a day apart, 1-6 interactions a minute apart, labels ~60% positive.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for u in range(num_users):
        t = 1_700_000_000.0 + float(rng.integers(0, 3600))
        for _ in range(int(rng.integers(3, 8))):
            t += 86_400.0 + float(rng.integers(0, 3600))
            for k in range(int(rng.integers(1, 7))):
                item = int(rng.integers(0, num_items))
                rows.append((f"u{u}", item, t + 60.0 * k, int(rng.random() < 0.6)))
    raw = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "label"])
    if with_feature:
        raw["cat"] = raw["item_id"] % 5
        raw["dwell"] = rng.exponential(30.0, len(raw))
    return raw


def loaded_log(raw, with_feature: bool = True):
    from sessionrec_tf.data import ColumnMapping, FeatureSpec, LoadedLog, to_canonical

    feats = (FeatureSpec("cat", kind="item"),
             FeatureSpec("dwell", kind="interaction", bins=(5.0, 30.0, 120.0))) \
        if with_feature else ()
    mapping = ColumnMapping(features=feats)
    return LoadedLog(to_canonical(raw, mapping, "memory"), mapping, "memory log")
