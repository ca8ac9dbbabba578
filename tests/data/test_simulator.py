"""The synthetic source: a seeded session simulator with learnable next-session signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.filters import FilterOptions, apply_filters
from sessionrec_tf.data.sessions import sessionize
from sessionrec_tf.data.sources.synthetic import (
    PRESETS,
    RESHOW_SALT,
    START_TIMESTAMP,
    SimulatorOptions,
    _generate,
    load_synthetic,
    pair_normal,
    pair_uniform,
    simulate,
)

COLUMNS = {
    "user_id": np.int64,
    "item_id": np.int64,
    "timestamp": np.float64,
    "label": np.int8,
    "category": np.int64,
}
# A few hundred users on the demo catalogue (~60k rows): big enough for statistics, fast.
MID = {"size": "demo", "num_users": 600, "seed": 7}


@pytest.fixture(scope="module")
def mid() -> pd.DataFrame:
    """Sessionized canonical frame of the MID configuration."""
    return sessionize(load_synthetic(None, **MID).frame)


def _sessionized(**options: object) -> tuple[pd.DataFrame, dict]:
    log = load_synthetic(None, **options)
    return sessionize(log.frame), log.info


def _last_session_split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(positives of the users' earlier sessions, positives of their last session)."""
    last = df.groupby("user_id")["session"].transform("max")
    pos = df[df["label"] == 1]
    return pos[pos["session"] < last[pos.index]], pos[pos["session"] == last[pos.index]]


def _recall(test: pd.DataFrame, recs: dict[int, np.ndarray]) -> float:
    hits = [np.isin(g.to_numpy(), recs[u]).mean() for u, g in test.groupby("user_id")["item_id"]]
    return float(np.mean(hits))


# --- reproducibility and schema ------------------------------------------------------------


def test_same_seed_gives_identical_frame_and_other_seed_differs() -> None:
    a = simulate(SimulatorOptions(size="tiny", seed=3), progress=False)
    b = simulate(SimulatorOptions(size="tiny", seed=3), progress=False)
    c = simulate(SimulatorOptions(size="tiny", seed=4), progress=False)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a["item_id"], c["item_id"])


def test_schema_dtypes_and_ranges() -> None:
    opts = SimulatorOptions(size="tiny")
    df = simulate(opts, progress=False)
    assert {c: df[c].dtype for c in df.columns} == {c: np.dtype(t) for c, t in COLUMNS.items()}
    preset = PRESETS["tiny"]
    assert set(df["user_id"]) == set(range(int(preset["num_users"])))
    assert df["item_id"].between(0, preset["num_items"] - 1).all()
    assert df["category"].between(0, preset["num_clusters"] - 1).all()
    assert set(df["label"].unique()) == {0, 1}
    assert df["timestamp"].min() >= START_TIMESTAMP
    assert df["timestamp"].max() < START_TIMESTAMP + 365 * 86_400


def test_tiny_preset_size() -> None:
    # its speed is measured by benchmarks/bench_data.py (a wall-clock bound here was fragile
    # on a shared machine)
    df = simulate(SimulatorOptions(size="tiny", seed=1), progress=False)
    assert 3_000 < len(df) < 20_000


def test_load_synthetic_returns_canonical_log_with_item_category() -> None:
    log = load_synthetic(None, size="tiny", num_users="50", seed="2", drift="0.1")
    df = log.frame
    assert df["user_id"].nunique() == 50
    assert "_row" in df.columns and df["category"].dtype == np.int64
    assert [(f.name, f.kind) for f in log.mapping.features] == [("category", "item")]
    assert log.mapping.integer_ids
    assert log.info["options"]["drift"] == 0.1 and log.info["options"]["num_users"] == 50
    assert log.info["interactions"] == len(df)
    assert log.info["positives"] == int(df["label"].sum())
    assert "synthetic" in log.description


# --- options ------------------------------------------------------------------------------


def test_unknown_option_and_input_path_are_refused() -> None:
    with pytest.raises(DataError, match="unknown option"):
        load_synthetic(None, size="tiny", num_userz=10)
    with pytest.raises(DataError, match="no --input"):
        load_synthetic("interactions.csv", size="tiny")
    assert load_synthetic("", size="tiny", num_users=20).frame["user_id"].nunique() == 20


@pytest.mark.parametrize(
    "options, message",
    [
        ({"size": "huge"}, "unknown size"),
        ({"sessions_per_user": 2}, "sessions_per_user"),
        ({"num_clusters": 600}, "num_clusters"),
        ({"positive_rate": 1.0}, "positive_rate"),
        ({"popular_share": 0.7, "explore_share": 0.5}, "sum <= 1"),
        ({"extra_intent_p": 1.5}, "extra_intent_p must be in"),
        ({"taste_sd": -1.0}, "taste_sd must be >= 0"),
        ({"junk_share": 1.0}, "junk_share must be in"),
        ({"junk_share": -0.1}, "junk_share must be in"),
        ({"reshow_negatives": 1.5}, "reshow_negatives must be in"),
    ],
)
def test_out_of_range_options_raise(options: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        simulate(SimulatorOptions(**{"size": "tiny", **options}), progress=False)


def test_explicit_options_override_the_preset() -> None:
    df, info = _sessionized(size="tiny", num_users=500, sessions_per_user=10,
                            mean_session_length=12, num_items=800, num_clusters=20,
                            positive_rate=0.4, seed=5)
    sessions_per_user = df.groupby("user_id")["session"].max() + 1
    lengths = df.groupby(["user_id", "session"]).size()
    assert df["user_id"].nunique() == 500
    assert sessions_per_user.min() >= 3
    assert sessions_per_user.mean() == pytest.approx(10, rel=0.1)
    assert lengths.mean() == pytest.approx(12, rel=0.1)
    assert df["label"].mean() == pytest.approx(0.4, abs=0.03)
    assert df["item_id"].max() < 800 and df["category"].max() < 20
    # The 30-minute gap recovers exactly the simulated sessions.
    assert len(lengths) == info["sessions"]


def test_timestamps_have_session_gaps() -> None:
    df, _ = _sessionized(size="tiny", seed=2)
    gap = df.groupby("user_id")["timestamp"].diff().to_numpy()
    new_session = df["session"].diff().to_numpy() == 1
    within, between = gap[~new_session & ~np.isnan(gap)], gap[new_session]
    assert within.min() > 0 and within.max() <= 25 * 60  # seconds to minutes
    assert between.min() >= 3_600 and np.median(between) > 6 * 3_600  # hours to days


# --- distributions ------------------------------------------------------------------------


def test_session_lengths_are_heavy_tailed(mid: pd.DataFrame) -> None:
    lengths = mid.groupby(["user_id", "session"]).size()
    # A Poisson length with this mean would have p99 ~ 2.2 x mean and max ~ 3 x mean.
    assert lengths.quantile(0.99) > 4 * lengths.mean()
    assert lengths.max() > 15 * lengths.median()


def test_item_popularity_is_a_power_law_with_shuffled_ids(mid: pd.DataFrame) -> None:
    counts = np.bincount(mid["item_id"], minlength=int(PRESETS["demo"]["num_items"]))
    ranked = np.sort(counts)[::-1]
    top1 = ranked[: len(ranked) // 100].sum() / ranked.sum()
    top10 = ranked[: len(ranked) // 10].sum() / ranked.sum()
    assert top1 > 0.1 and top10 > 0.4  # uniform popularity would give 0.01 and 0.10
    popularity_rank = np.argsort(np.argsort(-counts, kind="stable"))
    assert abs(np.corrcoef(np.arange(len(counts)), popularity_rank)[0, 1]) < 0.1


def test_category_is_static_per_item(mid: pd.DataFrame) -> None:
    assert mid.groupby("item_id")["category"].nunique().max() == 1
    assert mid["category"].nunique() == PRESETS["demo"]["num_clusters"]


def test_negatives_are_plausible_exposures(mid: pd.DataFrame) -> None:
    """A user's negatives mostly come from the categories the user likes, unlike random ids."""
    item_category = mid.drop_duplicates("item_id").set_index("item_id")["category"]
    category_share = item_category.value_counts(normalize=True)
    liked = mid[mid["label"] == 1].groupby("user_id")["category"].unique()
    observed, expected = [], []
    for user, negatives in mid[mid["label"] == 0].groupby("user_id")["category"]:
        if user in liked.index:
            observed.append(np.isin(negatives.to_numpy(), liked[user]).mean())
            expected.append(category_share.reindex(liked[user]).sum())
    assert np.mean(observed) > 0.6
    assert np.mean(observed) > 3 * np.mean(expected)


# --- learnable session-level signal ---------------------------------------------------------


def test_next_session_is_predictable_beyond_popularity(mid: pd.DataFrame) -> None:
    """Top items of the user's recent categories beat global most-popular on Recall@50."""
    k = 50
    history, test = _last_session_split(mid)
    popularity = np.bincount(history["item_id"], minlength=int(mid["item_id"].max()) + 1)
    most_popular = np.argsort(-popularity, kind="stable")[:k]
    item_category = np.zeros(len(popularity), dtype=np.int64)
    item_category[mid["item_id"].to_numpy()] = mid["category"].to_numpy()
    recent = history[history["session"] >= history.groupby("user_id")["session"]
                     .transform("max") - 2]
    personal = {}
    for user, categories in recent.groupby("user_id")["category"]:
        weight = np.bincount(categories, minlength=item_category.max() + 1)
        score = weight[item_category] * (popularity + 1.0)
        personal[user] = np.argsort(-score, kind="stable")[:k]
    test = test[test["user_id"].isin(list(personal))]
    pop_recall = _recall(test, {u: most_popular for u in personal})
    personal_recall = _recall(test, personal)
    assert personal_recall > 1.5 * pop_recall
    assert personal_recall > pop_recall + 0.15


def test_interests_drift_so_recent_sessions_predict_better() -> None:
    """Last-session positive categories: covered more by session t-1 than by session 0."""

    def coverage_gap(drift: float) -> float:
        df, _ = _sessionized(size="demo", num_users=800, sessions_per_user=15, drift=drift,
                             seed=11)
        pos = df[df["label"] == 1]
        last = pos.groupby("user_id")["session"].transform("max")
        sets = pos.groupby(["user_id", "session"])["category"].unique()
        gaps = []
        for user, target in pos[pos["session"] == last].groupby("user_id")["category"]:
            n = int(sets[user].index.max())
            if n >= 6:
                recent = np.isin(target.to_numpy(), sets.get((user, n - 1), [])).mean()
                first = np.isin(target.to_numpy(), sets.get((user, 0), [])).mean()
                gaps.append(recent - first)
        return float(np.mean(gaps))

    drifting, static = coverage_gap(0.1), coverage_gap(0.0)
    assert abs(static) < 0.06  # static interests: every past session is equally informative
    assert drifting > static + 0.15


def test_tiny_preset_survives_the_paper_filters() -> None:
    df, _ = _sessionized(size="tiny")
    kept = apply_filters(df, FilterOptions())
    assert kept["user_id"].nunique() >= 0.8 * PRESETS["tiny"]["num_users"]
    assert len(kept) >= 0.7 * len(df)


def test_extra_intent_p_sets_how_many_clusters_a_session_mixes() -> None:
    """Sessions without popular/random exposures: with p = 0 each session's items come from
    one cluster; with p = 1 from up to three (3 intents, drawn by the user's sparse interest
    weights, so often the same cluster twice: about 1.5 distinct on average)."""

    def clusters_per_session(p: float) -> float:
        df, _ = _sessionized(size="demo", num_users=300, mean_session_length=12,
                             popular_share=0.0, explore_share=0.0, extra_intent_p=p, seed=5)
        return float(df.groupby(["user_id", "session"])["category"].nunique().mean())

    single, triple = clusters_per_session(0.0), clusters_per_session(1.0)
    assert single == pytest.approx(1.0)
    assert 1.3 < triple <= 3.0


def test_pair_normal_is_a_persistent_standard_normal_per_pair() -> None:
    """The taste term: the same value for the same (seed, user, item) at every call and in any
    batch, N(0, 1) across pairs (quantiles of 200k pairs against the normal's), unrelated
    between neighbouring users, items and seeds."""
    rng = np.random.default_rng(0)
    user = rng.integers(0, 10_000, 200_000)
    item = rng.integers(0, 100_000, 200_000)
    z = pair_normal(3, user, item)
    order = rng.permutation(len(user))
    np.testing.assert_array_equal(pair_normal(3, user[order], item[order]), z[order])
    assert abs(z.mean()) < 0.01 and z.std() == pytest.approx(1.0, abs=0.01)
    # standard normal quantiles at 2.5%, 16%, 50%, 84%, 97.5%
    want = np.array([-1.95996, -0.99446, 0.0, 0.99446, 1.95996])
    np.testing.assert_allclose(np.quantile(z, [0.025, 0.16, 0.5, 0.84, 0.975]), want, atol=0.03)
    for other in (pair_normal(3, user + 1, item), pair_normal(3, user, item + 1),
                  pair_normal(4, user, item)):
        assert abs(np.corrcoef(z, other)[0, 1]) < 0.01


def _later_positive_rate(df: pd.DataFrame) -> float:
    """P(label 1) over exposures of a (user, item) pair that come after its first negative."""
    df = df.sort_values(["user_id", "timestamp"])
    first_neg = (df[df["label"] == 0].groupby(["user_id", "item_id"])["timestamp"].min()
                 .rename("t_neg").reset_index())
    later = df.merge(first_neg, on=["user_id", "item_id"])
    return float(later.loc[later["timestamp"] > later["t_neg"], "label"].mean())


def test_taste_sd_makes_a_skip_a_lasting_dislike() -> None:
    """taste_sd = 0 (default): a skipped item shown again is clicked at about the base rate
    (the skip was response noise); taste_sd = 3: far less often. The positive rate stays."""
    options = {**MID, "num_users": 1500}
    plain = simulate(SimulatorOptions(**options), progress=False)
    taste = simulate(SimulatorOptions(**options, taste_sd=3.0), progress=False)
    assert taste["label"].mean() == pytest.approx(0.5, abs=0.02)
    base = plain["label"].mean()
    assert _later_positive_rate(plain) == pytest.approx(base, abs=0.05)
    assert _later_positive_rate(taste) < base - 0.12
    # the exposures themselves do not depend on the response model
    np.testing.assert_array_equal(plain["item_id"].to_numpy(), taste["item_id"].to_numpy())


def test_junk_share_items_are_never_engaged_and_the_least_popular() -> None:
    """junk_share = 0.7: the least popular 70% of each cluster's items are always negatives;
    the other exposures keep the positive rate; the exposures themselves do not change."""
    options = {**MID, "positive_rate": 0.8}
    plain = simulate(SimulatorOptions(**options), progress=False)
    junk = simulate(SimulatorOptions(**options, junk_share=0.7), progress=False)
    np.testing.assert_array_equal(plain["item_id"].to_numpy(), junk["item_id"].to_numpy())
    pos_items = set(junk.loc[junk["label"] == 1, "item_id"])
    shown = junk.groupby("item_id")["label"].agg(["size", "sum"])
    never = shown.index[shown["sum"] == 0]
    # items never engaged although shown several times: junk (plain data has almost none)
    assert len(shown.loc[never].query("size >= 5")) > 50
    assert (plain.groupby("item_id")["label"].sum() == 0).mean() < 0.2
    # per cluster, every never-engaged item with >= 5 exposures is shown less often than the
    # cluster's engaged items on average (they are the cluster's tail)
    counts = junk.groupby(["category", "item_id"]).size().rename("n").reset_index()
    counts["engaged"] = counts["item_id"].isin(pos_items)
    by = counts.groupby(["category", "engaged"])["n"].mean().unstack().dropna()
    assert (by[True] > by[False]).mean() > 0.95
    # the non-junk exposures keep the positive rate (items engaged at least once stand for them)
    kept = junk[junk["item_id"].isin(pos_items)]
    assert kept["label"].mean() == pytest.approx(0.8, abs=0.03)
    assert junk["label"].mean() < plain["label"].mean() - 0.05


def test_junk_share_marks_each_clusters_tail() -> None:
    from sessionrec_tf.data.sources.synthetic import _catalogue

    v = SimulatorOptions(size="demo", junk_share=0.7).resolved()
    cat = _catalogue(v, np.random.default_rng([0, 0]))
    sizes = np.diff(cat.starts)
    for c in range(len(sizes)):
        flags = cat.junk[cat.starts[c]:cat.starts[c + 1]]
        kept = max(1, int(np.ceil(0.3 * sizes[c] - 1e-9)))
        # positions are in popularity order: the first `kept` are engaged, the rest junk
        assert not flags[:kept].any() and flags[kept:].all()
    assert cat.junk.mean() == pytest.approx(0.7, abs=0.05)
    none = _catalogue(SimulatorOptions(size="demo").resolved(), np.random.default_rng([0, 0]))
    assert not none.junk.any()


def _reshown_after_negative(df: pd.DataFrame) -> pd.DataFrame:
    """Exposures of a (user, item) pair that come after a negative of that pair (pandas)."""
    df = df.sort_values(["user_id", "timestamp"], kind="stable")
    first_neg = (df[df["label"] == 0].groupby(["user_id", "item_id"])["timestamp"].min()
                 .rename("t_neg").reset_index())
    later = df.merge(first_neg, on=["user_id", "item_id"])
    return later[later["timestamp"] > later["t_neg"]]


def test_reshow_negatives_blocks_pairs_after_a_negative() -> None:
    """reshow_negatives = 0: a negative item is not shown to that user again (the few left,
    when a session's clusters hold no other item, are counted); 0.5: only the pairs whose
    hashed uniform is below 0.5 come back; 1 (default): the frame is unchanged."""
    plain, plain_info = _generate(SimulatorOptions(**MID), progress=False)
    assert plain_info["reshown_left"] == 0
    base = len(_reshown_after_negative(plain))
    assert base > 0.05 * len(plain)
    same, _ = _generate(SimulatorOptions(**MID, reshow_negatives=1.0), progress=False)
    pd.testing.assert_frame_equal(plain, same)
    never, info = _generate(SimulatorOptions(**MID, reshow_negatives=0.0), progress=False)
    left = _reshown_after_negative(never)
    assert len(left) == info["reshown_left"] < 0.02 * base
    assert len(never) == len(plain)  # re-drawn, not dropped
    assert never["label"].mean() == pytest.approx(0.5, abs=0.03)
    half, info = _generate(SimulatorOptions(**MID, reshow_negatives=0.5), progress=False)
    again = _reshown_after_negative(half)
    u = pair_uniform(MID["seed"] ^ RESHOW_SALT, again["user_id"].to_numpy(),
                     again["item_id"].to_numpy())
    assert (u >= 0.5).sum() == info["reshown_left"] < 0.02 * len(again)
    assert 0.3 * base < len(again) < 0.8 * base
    log = load_synthetic(None, **MID, reshow_negatives=0.0)
    assert "reshow_negatives=0" in log.description


def test_pair_uniform_is_persistent_and_uniform() -> None:
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 10**6, 20_000), rng.integers(0, 10**7, 20_000)
    u = pair_uniform(11, users, items)
    np.testing.assert_array_equal(u, pair_uniform(11, users, items))
    assert ((u >= 0) & (u < 1)).all()
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert counts.min() > 0.9 * 2_000 and counts.max() < 1.1 * 2_000
    assert np.abs(np.corrcoef(u, pair_uniform(12, users, items))[0, 1]) < 0.03


def _group_lift(df: pd.DataFrame, group_of: dict[int, int]) -> float:
    """Positive rate of exposures of an item whose taste group (another item of it) the user
    answered with a negative earlier, over the frame's positive rate."""
    df = df.sort_values(["user_id", "timestamp"], kind="stable").copy()
    df["group"] = df["item_id"].map(group_of)
    neg = df[df["label"] == 0]
    first = (neg.groupby(["user_id", "group"])
             .agg(t_neg=("timestamp", "min"), item_neg=("item_id", "first")).reset_index())
    later = df.merge(first, on=["user_id", "group"])
    later = later[(later["timestamp"] > later["t_neg"]) & (later["item_id"] != later["item_neg"])]
    return float(later["label"].mean() / df["label"].mean())


def test_taste_group_shares_a_dislike_across_the_items_of_a_group() -> None:
    """taste_group g: one taste value per (user, g neighbouring items of a cluster), so a
    negative on one item lowers the positive rate of the OTHER items of its group; per-item
    taste (g = 1) says nothing about them. The default leaves the frame unchanged."""
    from sessionrec_tf.data.sources.synthetic import _catalogue, _taste_key

    options = {**MID, "taste_sd": 3.0, "popular_share": 0.0, "explore_share": 0.0}
    v = SimulatorOptions(**options, taste_group=8).resolved()
    cat = _catalogue(v, np.random.default_rng([v["seed"], 0]))
    pos = np.arange(len(cat.cluster))
    np.testing.assert_array_equal(_taste_key(cat, pos, 1), cat.item_id)
    key = _taste_key(cat, pos, 8)
    rank = pos - cat.starts[cat.cluster]
    same = (cat.cluster[:-1] == cat.cluster[1:]) & (rank[:-1] // 8 == rank[1:] // 8)
    assert ((key[:-1] == key[1:]) == same).all()  # groups: 8 ranks of one cluster
    assert not np.isin(key, cat.item_id).any()
    group_of = dict(zip(cat.item_id.tolist(), key.tolist()))
    per_item = simulate(SimulatorOptions(**options), progress=False)
    grouped = simulate(SimulatorOptions(**options, taste_group=8), progress=False)
    np.testing.assert_array_equal(per_item["item_id"].to_numpy(), grouped["item_id"].to_numpy())
    assert _group_lift(per_item, group_of) > 0.9
    assert _group_lift(grouped, group_of) < 0.8
    with pytest.raises(DataError, match="taste_group must be >= 1"):
        SimulatorOptions(taste_group=0).resolved()


def _preference(options: dict, df: pd.DataFrame) -> np.ndarray:
    """q_i + t_ui of every row, recomputed from the catalogue and the taste hash."""
    from sessionrec_tf.data.sources.synthetic import _catalogue

    v = SimulatorOptions(**options).resolved()
    cat = _catalogue(v, np.random.default_rng([v["seed"], 0]))
    quality = np.empty(len(cat.item_id))
    quality[cat.item_id] = cat.quality
    item, user = df["item_id"].to_numpy(), df["user_id"].to_numpy()
    return quality[item] + v["taste_sd"] * pair_normal(v["seed"], user, item)


def test_exposure_candidates_show_near_misses() -> None:
    """exposure_candidates m > 1: intent exposures are the best of m draws by the user's
    item-level preference plus the platform's error, so shown items, and the negatives among
    them, have a far higher preference than untargeted ones (near misses, not random draws);
    a smaller error targets better; the positive rate stays; m = 1 leaves the frame unchanged."""
    options = {**MID, "taste_sd": 1.5}
    plain = simulate(SimulatorOptions(**options), progress=False)
    same = simulate(SimulatorOptions(**options, exposure_candidates=1, exposure_noise=0.3),
                    progress=False)
    pd.testing.assert_frame_equal(plain, same)
    means = {}
    for noise in (None, 2.0, 0.0):
        extra = {} if noise is None else {"exposure_candidates": 8, "exposure_noise": noise}
        df = plain if noise is None else simulate(SimulatorOptions(**options, **extra),
                                                  progress=False)
        assert df["label"].mean() == pytest.approx(0.5, abs=0.02)
        pref, negative = _preference(options, df), df["label"].to_numpy() == 0
        means[noise] = (pref.mean(), pref[negative].mean())
        sess = (df.groupby("user_id")["timestamp"].diff().fillna(1e9) > 1800).cumsum()
        assert pd.DataFrame({"s": sess, "i": df["item_id"]}).duplicated().mean() < 0.02
    assert means[None][1] < 0 < means[2.0][1] < means[0.0][1]  # negatives: near misses
    assert means[None][0] + 0.8 < means[2.0][0] < means[0.0][0]
    with pytest.raises(DataError, match="exposure_candidates must be >= 1"):
        SimulatorOptions(exposure_candidates=0).resolved()
    with pytest.raises(DataError, match="exposure_noise must be >= 0"):
        SimulatorOptions(exposure_noise=-1.0).resolved()


def test_exposure_candidates_are_named_in_the_description() -> None:
    log = load_synthetic(None, **MID, exposure_candidates=4, exposure_noise=0.5)
    assert "exposure_candidates=4, exposure_noise=0.5" in log.description
    assert "exposure_candidates" not in load_synthetic(None, **MID).description
