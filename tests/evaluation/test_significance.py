"""The paired bootstrap over users against normal theory and exact cases."""

from __future__ import annotations

import numpy as np
import pytest

from sessionrec_tf.evaluation.significance import paired_bootstrap


def test_constant_relative_shift_has_a_zero_width_interval():
    ref = np.random.default_rng(1).uniform(0.1, 1.0, 50)
    gap = paired_bootstrap(1.1 * ref, ref, rounds=300)
    # every resample keeps the 10% gap exactly
    assert gap.gap == pytest.approx(10.0)
    assert gap.low == pytest.approx(10.0) and gap.high == pytest.approx(10.0)
    assert gap.share_not_ahead == 0.0 and gap.verdict() == "ahead"
    same = paired_bootstrap(ref, ref, rounds=300)
    assert (same.gap, same.low, same.high) == (0.0, 0.0, 0.0)
    assert same.share_not_ahead == 1.0 and same.verdict() == "tie"


def test_interval_matches_the_normal_theory_interval_of_a_mean_difference():
    # reference 1 for every user: the relative gap of a resample is 100 * mean(difference),
    # whose 95% interval is 100 * (m +- 1.96 s / sqrt(n)) for a large n
    rng = np.random.default_rng(7)
    n = 4000
    diff = rng.normal(0.03, 0.5, n)
    gap = paired_bootstrap(1.0 + diff, np.ones(n), rounds=4000, seed=3)
    half = 100 * 1.96 * diff.std(ddof=1) / np.sqrt(n)
    assert gap.gap == pytest.approx(100 * diff.mean())
    assert gap.low == pytest.approx(100 * diff.mean() - half, abs=0.1 * half)
    assert gap.high == pytest.approx(100 * diff.mean() + half, abs=0.1 * half)
    # one-sided: P(mean difference <= 0) under the normal approximation
    from math import erf, sqrt

    z = diff.mean() / (diff.std(ddof=1) / np.sqrt(n))
    p_normal = 0.5 * (1 + erf(-z / sqrt(2)))
    assert gap.share_not_ahead == pytest.approx(p_normal, abs=0.02)


def test_seeded_and_independent_of_chunking():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, 300), rng.uniform(0, 1, 300)
    one = paired_bootstrap(a, b, rounds=500, seed=5, chunk=500)
    assert one == paired_bootstrap(a, b, rounds=500, seed=5, chunk=500)
    other = paired_bootstrap(a, b, rounds=500, seed=6)
    assert (one.low, one.high) != (other.low, other.high)


def test_a_real_gap_and_a_noise_gap_are_told_apart():
    rng = np.random.default_rng(11)
    ref = rng.uniform(0.2, 0.6, 2000)
    better = ref + rng.normal(0.05, 0.1, 2000)
    noisy = ref + rng.normal(0.0, 0.1, 2000)
    assert paired_bootstrap(better, ref).verdict() == "ahead"
    assert paired_bootstrap(ref, better).verdict() == "behind"
    assert paired_bootstrap(noisy, ref).verdict() == "tie"


@pytest.mark.parametrize("a, b, message", [
    (np.ones(3), np.ones(4), "over the same users"),
    (np.ones((2, 3)), np.ones(3), "over the same users"),
    (np.ones((2, 3)), np.ones((2, 4)), "over the same users"),
    (np.ones(1), np.ones(1), "at least 2 users"),
    (np.array([1.0, np.nan]), np.ones(2), "finite"),
    (np.ones(3), np.zeros(3), "positive reference"),
])
def test_bad_inputs(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(a, b)


# ----------------------------------------------------------------- seeds resampled too
def test_two_level_exact_case_seed_draws_only():
    # no user variance: ours is 1 in seed 0 and 3 in seed 1 for every user, the reference 1.
    # A round's gap is 100 * (mean of 2 seed draws from {1, 3} - 1): 0, 100 or 200 with
    # probabilities 1/4, 1/2, 1/4 -> interval [0, 200], P(not ahead) = 1/4
    users = 20
    ours = np.stack([np.ones(users), 3 * np.ones(users)])
    gap = paired_bootstrap(ours, np.ones((1, users)), rounds=4000, seed=2)
    assert gap.seeds_resampled and gap.users == users
    assert gap.gap == pytest.approx(100.0)
    assert (gap.low, gap.high) == (0.0, 200.0)
    assert gap.share_not_ahead == pytest.approx(0.25, abs=0.03)
    assert gap.verdict() == "tie"


def test_two_level_widens_the_interval_by_the_seed_noise():
    # every user is 5% ahead on average, but the seeds disagree (+25%, -15%, +5%):
    # over users alone the gap looks real; with the seeds resampled it is a tie
    rng = np.random.default_rng(4)
    ref = rng.uniform(0.2, 0.6, 3000)
    ours = np.stack([ref * f + rng.normal(0, 0.01, 3000) for f in (1.25, 0.85, 1.05)])
    refs = np.stack([ref, ref, ref])
    users_only = paired_bootstrap(ours.mean(axis=0), ref, rounds=1000, seed=1)
    assert users_only.verdict() == "ahead" and not users_only.seeds_resampled
    both = paired_bootstrap(ours, refs, rounds=1000, seed=1)
    assert both.gap == pytest.approx(users_only.gap)
    assert both.verdict() == "tie" and both.low < 0 < both.high
    # identical seeds: resampling them changes nothing, the interval is the users-only one
    same = paired_bootstrap(np.stack([ours[2]] * 3), refs, rounds=1000, seed=1)
    alone = paired_bootstrap(ours[2], ref, rounds=1000, seed=9)
    assert same.low == pytest.approx(alone.low, abs=0.15)
    assert same.high == pytest.approx(alone.high, abs=0.15)


def test_one_level_results_are_unchanged_by_the_two_level_option():
    # the [users] path draws only user indices: a pinned value guards the stream
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, 300), rng.uniform(0.2, 1, 300)
    one = paired_bootstrap(a, b, rounds=200, seed=5)
    idx = np.random.default_rng(5).integers(0, 300, size=(200, 300))
    gaps = 100 * (a[idx].mean(axis=1) - b[idx].mean(axis=1)) / b[idx].mean(axis=1)
    assert one.low == pytest.approx(np.percentile(gaps, 2.5))
    assert one.high == pytest.approx(np.percentile(gaps, 97.5))
