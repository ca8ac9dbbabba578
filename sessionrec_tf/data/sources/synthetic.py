"""``--source synthetic``: the embedded default data, a seeded session simulator.

Every interaction is an *exposure* (an item shown to a user) with a *response* (label 1 =
positive, 0 = negative), so negatives are plausible impressions rather than random ids. Sessions
have realistic timestamps, so the default 30-minute inactivity gap recovers them exactly.

Generative model (``U`` users, ``N`` items, ``K`` clusters; ``LN(m, s)`` is lognormal with
log-mean ``m``, log-sd ``s``; every ``LN(-s²/2, s)`` factor has mean 1):

Items (static, shared by all users)
  * cluster sizes: every cluster gets one item, the other ``N - K`` items go to cluster ``c``
    with probability ``∝ z_c``, ``z_c ~ LN(0, 0.7)``. The ``category`` feature is the cluster.
  * cluster prior ``π_c ∝ n_c · v_c`` with ``v_c ~ LN(0, 1)`` (some clusters appeal more).
  * within a cluster, the item of local rank ``r = 1..n_c`` has share ``∝ r^-α``
    (``α = popularity_exponent``), so item popularity ``p_i = π_c · r^-α / H_α(n_c)`` is a
    power law (a mixture of Zipf laws). Item ids are a random permutation of ``0..N-1``: the
    id carries no popularity information.
  * item quality ``q_i ~ N(0, quality_sd²)``.

Users and sessions
  * number of sessions ``S_u = 3 + Poisson((S̄ - 3) · LN(-0.32, 0.8))``, mean ``S̄``
    (``sessions_per_user``; every user has at least 3 sessions).
  * session length ``L = 1 + Poisson((L̄ - 1) · a_u · b_s)``, ``a_u ~ LN(-0.125, 0.5)`` (user
    activity), ``b_s ~ LN(-0.32, 0.8)`` (session): mean ``L̄`` (``mean_session_length``), heavy
    right tail.
  * interests: user ``u`` has ``m_u = 1 + Poisson(I - 1)`` interest slots (``I =
    interests_per_user``, capped at ``3I``); slot ``k`` holds a cluster ``c_k ~ π`` and a
    log-weight ``ℓ_k = log g``, ``g ~ Gamma(1)`` (so the weights ``softmax(ℓ)`` are
    Dirichlet(1): sparse).
  * drift, before every session after the first: each slot is replaced with probability
    ``δ = drift`` by a fresh draw (new cluster ``~ π``, new log-weight), and every log-weight
    takes a random-walk step ``ℓ_k += N(0, (5δ)²)``. Recent sessions are therefore more
    predictive of the next one than old sessions; ``drift=0`` gives static interests.
  * intent: session ``s`` focuses on ``1 + Binomial(2, p)`` (1-3) slots (``p =
    extra_intent_p``, default 0.3: 1.6 intents on average; 0 gives single-intent sessions,
    like search sessions whose items share one query) drawn from the
    current weights ``w = softmax(ℓ)``.

Exposure (each of the ``L`` interactions of a session, independently)
  * with probability ``popular_share`` a globally popular item (``i ~ p``);
  * with probability ``explore_share`` a uniformly random item;
  * otherwise an item of one of the session's intent clusters (uniform over the intent
    clusters), popularity-weighted within the cluster (``i ~ p_i / π_c``).
  * platform targeting (``exposure_candidates`` m, default 1 = off): each intent exposure
    draws m candidates as above and shows the one a platform model scores highest, the score
    being the user's item-level preference ``q_i + t_ui`` (see Response) plus the model's
    error ``N(0, exposure_noise²)``. Shown items are then what the platform believed the user
    would like, and a negative is a near miss of that model (as in KuaiRand's logs, whose
    impressions a production recommender chose), not a random draw of the cluster.

Response
  * ``P(label = 1) = σ(b + β · (1[c_i ∈ intent] + w_u(c_i)) + q_i + e_u + t_ui)`` with ``β =
    affinity``, ``w_u(c)`` the user's current total weight on the item's cluster, user bias
    ``e_u ~ N(0, 0.5²)``, a persistent taste of this user for this item ``t_ui ~ N(0,
    taste_sd²)`` (the same value at every exposure of the pair: a hash of seed, user and item,
    so it draws nothing from the random streams), and the intercept ``b`` solved (Newton) per
    chunk of users so that the expected positive rate is ``positive_rate``. With ``taste_sd =
    0`` (the default) a skip says nothing about that item for that user beyond its cluster and
    quality: an item skipped once is clicked at the base rate when shown again. With
    ``taste_sd > 0`` a skip is partly a lasting dislike, as in logs of explicit dislikes or
    impressions of an item the user will keep ignoring. ``taste_group`` g > 1 shares the taste
    term among groups of g neighbouring items of a cluster (by popularity rank: ranks 0..g-1,
    g..2g-1, ...): ``t_u,group(i)``, so a dislike of one item says the same about the others
    of its group, a dislike that generalises across items (g = 1, the default: per item).
  * never-liked items (``junk_share``, default 0): in every cluster the least popular
    ``junk_share`` of its items (all but its most popular one at most) are never engaged: shown
    as usual, always a negative (like KuaiRand, where 64-72% of the items are only ever
    disliked). The intercept is calibrated on the other exposures, so they keep the positive
    rate ``positive_rate`` and the overall rate drops by the junk exposures' share.
  * re-showing after a negative (``reshow_negatives``, default 1): the probability that an
    item a user answered with a negative may be shown to that user again. Each (user, item)
    pair is blocked or not once (a hash of seed, user and item, drawing nothing from the
    random streams: blocked with probability ``1 - reshow_negatives``); an exposure of a
    blocked pair after one of its negatives is re-drawn (exposure and response) for up to
    ``RESHOW_ROUNDS`` rounds, and the ones still left are counted (``reshown_left`` in the
    source's info). 0 = a negative item never comes back, as in KuaiRand, where no disliked
    video is shown to that user again; with 1 exposures are independent of past responses
    (every earlier simulator dataset). The intercept is calibrated before the re-draws.

Timestamps (Unix seconds, float)
  * a user's first interaction at 2024-01-01 00:00 UTC + ``U(0, 14 days)``;
  * within a session, consecutive gaps ``clip(LN(log 20 s, 1), 1 s, 25 min)`` (seconds to
    minutes);
  * between sessions, ``1 h + LN(log 16 h, 1)`` (hours to days).
  Every within-session gap is <= 25 min and every between-session gap is >= 1 h, so cutting at a
  30-minute inactivity gap recovers the simulated sessions exactly.

Presets (``size=...``; explicit options override them):

========  =======  =========  =========  ===========  ========  ==========================
size      users    items      sessions   mean length  clusters  interactions (expected)
========  =======  =========  =========  ===========  ========  ==========================
tiny      200      500        6          6            10        ~7k (unit tests)
demo      3,000    4,000      12         8            40        ~290k (``make demo``)
small     5,000    20,000     20         10           150       ~1M
medium    10,000   100,000    25         10           500       ~2.5M
recflow   28,000   1,500,000  35         23           2,000     ~22.5M (RecFlow scale)
========  =======  =========  =========  ===========  ========  ==========================

Generation is vectorised numpy over chunks of users (about a million interactions per chunk).
The catalogue, the session structure and every chunk use their own random streams derived from
``seed``, so the same options always give the identical frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sessionrec_tf.data.contract import ColumnMapping, FeatureSpec, to_canonical
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.sources.base import LoadedLog, parse_options

SOURCE = "synthetic"
START_TIMESTAMP = 1_704_067_200.0  # 2024-01-01 00:00:00 UTC

# Fixed shape parameters of the model (see the module docstring).
MIN_SESSIONS = 3
SESSIONS_SIGMA = 0.8
USER_LENGTH_SIGMA = 0.5
SESSION_LENGTH_SIGMA = 0.8
CLUSTER_SIZE_SIGMA = 0.7
CLUSTER_APPEAL_SIGMA = 1.0
INTEREST_CONCENTRATION = 1.0
MAX_SLOTS_FACTOR = 3.0
WEIGHT_WALK_PER_DRIFT = 5.0  # log-weight random-walk sd per unit of drift
MAX_INTENT = 3
INTENT_EXTRA_P = 0.3
USER_BIAS_SD = 0.5
START_SPREAD_SECONDS = 14 * 86_400.0
WITHIN_GAP_MEDIAN, WITHIN_GAP_SIGMA = 20.0, 1.0
WITHIN_GAP_MIN, WITHIN_GAP_MAX = 1.0, 25 * 60.0
BETWEEN_GAP_MIN, BETWEEN_GAP_MEDIAN, BETWEEN_GAP_SIGMA = 3_600.0, 16 * 3_600.0, 1.0
RESAMPLE_ROUNDS = 4
RESHOW_ROUNDS = 16
RESHOW_SALT = 0x5E5E5E5E
CHUNK_ROWS = 1_000_000  # target interactions per chunk of users (memory vs. overhead)

PRESETS: dict[str, dict[str, float | int]] = {
    "tiny": {"num_users": 200, "num_items": 500, "sessions_per_user": 6,
             "mean_session_length": 6, "num_clusters": 10},
    "demo": {"num_users": 3_000, "num_items": 4_000, "sessions_per_user": 12,
             "mean_session_length": 8, "num_clusters": 40},
    "small": {"num_users": 5_000, "num_items": 20_000, "sessions_per_user": 20,
              "mean_session_length": 10, "num_clusters": 150},
    "medium": {"num_users": 10_000, "num_items": 100_000, "sessions_per_user": 25,
               "mean_session_length": 10, "num_clusters": 500},
    "recflow": {"num_users": 28_000, "num_items": 1_500_000, "sessions_per_user": 35,
                "mean_session_length": 23, "num_clusters": 2_000},
}

# Model knobs every preset shares unless it (or an explicit option) says otherwise.
DEFAULTS: dict[str, float | int] = {
    "interests_per_user": 3.0,
    "drift": 0.05,
    "positive_rate": 0.5,
    "popularity_exponent": 1.0,
    "popular_share": 0.1,
    "explore_share": 0.05,
    "affinity": 1.5,
    "quality_sd": 0.8,
    "extra_intent_p": INTENT_EXTRA_P,
    "taste_sd": 0.0,
    "taste_group": 1,
    "junk_share": 0.0,
    "reshow_negatives": 1.0,
    "exposure_candidates": 1,
    "exposure_noise": 1.0,
}
INTEGER_KNOBS = ("taste_group", "exposure_candidates")


@dataclass(frozen=True)
class SimulatorOptions:
    """Options of the synthetic source; ``None`` takes the value from the ``size`` preset.

    Args:
      size: preset name (``tiny``, ``demo``, ``small``, ``medium``, ``recflow``).
      num_users, num_items, num_clusters: catalogue and population sizes.
      sessions_per_user: mean number of sessions per user (>= 3; each user has at least 3).
      mean_session_length: mean interactions per session (>= 1).
      interests_per_user: mean number of interest slots per user.
      drift: per-session probability that an interest slot is replaced by a new cluster.
      positive_rate: expected share of positive labels.
      popularity_exponent: Zipf exponent of item popularity within a cluster.
      popular_share, explore_share: share of exposures that are globally popular items and
        uniformly random items (the rest come from the session's intent clusters).
      affinity: weight of the user-cluster affinity in the response logit.
      quality_sd: standard deviation of the item-quality term in the response logit.
      extra_intent_p: probability of each of a session's two possible extra intents (mean
        intents per session ``1 + 2p``; 0 = one intent per session).
      taste_sd: standard deviation of the persistent per-(user, item) taste term in the
        response logit (0 = a skip carries no lasting item-level dislike).
      taste_group: items sharing one taste value (neighbouring items of a cluster by
        popularity rank; 1 = every item its own).
      junk_share: share of each cluster's items (its least popular ones) that nobody ever
        engages with: always negatives when shown (0 = none).
      reshow_negatives: probability that a (user, item) pair answered with a negative may be
        shown again (1 = exposures ignore past responses; 0 = never again, like KuaiRand).
      exposure_candidates: candidates per intent exposure among which a platform model shows
        its best-scored one (1 = no targeting: the first draw is shown).
      exposure_noise: standard deviation of that platform model's error on the user's
        item-level preference ``q_i + t_ui`` (0 = it knows the preference exactly).
      seed: random seed (non-negative); same options and seed give the identical frame.
    """

    size: str = "demo"
    num_users: int | None = None
    num_items: int | None = None
    sessions_per_user: float | None = None
    mean_session_length: float | None = None
    num_clusters: int | None = None
    interests_per_user: float | None = None
    drift: float | None = None
    positive_rate: float | None = None
    popularity_exponent: float | None = None
    popular_share: float | None = None
    explore_share: float | None = None
    affinity: float | None = None
    quality_sd: float | None = None
    extra_intent_p: float | None = None
    taste_sd: float | None = None
    taste_group: int | None = None
    junk_share: float | None = None
    reshow_negatives: float | None = None
    exposure_candidates: int | None = None
    exposure_noise: float | None = None
    seed: int = 0

    def resolved(self) -> dict[str, Any]:
        """Every knob with its final value: defaults < preset < explicit options. Validated."""
        if self.size not in PRESETS:
            raise DataError(
                f"source {SOURCE!r}: unknown size {self.size!r}; valid sizes: {list(PRESETS)}"
            )
        values: dict[str, Any] = {**DEFAULTS, **PRESETS[self.size]}
        values.update({k: v for k, v in asdict(self).items() if v is not None})
        for key in ("num_users", "num_items", "num_clusters", *INTEGER_KNOBS, "seed"):
            if int(values[key]) != values[key]:
                raise DataError(f"source {SOURCE!r}: {key} must be an integer, got {values[key]}")
            values[key] = int(values[key])
        for key in (DEFAULTS.keys() - set(INTEGER_KNOBS)) | {"sessions_per_user",
                                                             "mean_session_length"}:
            values[key] = float(values[key])
        _validate(values)
        return values


def _validate(v: dict[str, Any]) -> None:
    problems = []
    if v["num_users"] < 1:
        problems.append(f"num_users must be >= 1, got {v['num_users']}")
    if not 1 <= v["num_clusters"] <= v["num_items"]:
        problems.append(
            f"need 1 <= num_clusters <= num_items, got num_clusters={v['num_clusters']}, "
            f"num_items={v['num_items']}"
        )
    if v["sessions_per_user"] < MIN_SESSIONS:
        problems.append(
            f"sessions_per_user must be >= {MIN_SESSIONS} (every user has at least "
            f"{MIN_SESSIONS} sessions), got {v['sessions_per_user']}"
        )
    if v["mean_session_length"] < 1:
        problems.append(f"mean_session_length must be >= 1, got {v['mean_session_length']}")
    if v["interests_per_user"] < 1:
        problems.append(f"interests_per_user must be >= 1, got {v['interests_per_user']}")
    if not 0.0 <= v["drift"] <= 1.0:
        problems.append(f"drift must be in [0, 1], got {v['drift']}")
    if not 0.0 < v["positive_rate"] < 1.0:
        problems.append(f"positive_rate must be in (0, 1), got {v['positive_rate']}")
    if v["popularity_exponent"] < 0:
        problems.append(f"popularity_exponent must be >= 0, got {v['popularity_exponent']}")
    shares = (v["popular_share"], v["explore_share"])
    if min(shares) < 0 or sum(shares) > 1:
        problems.append(
            f"popular_share and explore_share must be >= 0 with a sum <= 1, got {shares}"
        )
    if not 0.0 <= v["extra_intent_p"] <= 1.0:
        problems.append(f"extra_intent_p must be in [0, 1], got {v['extra_intent_p']}")
    if v["quality_sd"] < 0:
        problems.append(f"quality_sd must be >= 0, got {v['quality_sd']}")
    if v["taste_sd"] < 0:
        problems.append(f"taste_sd must be >= 0, got {v['taste_sd']}")
    if v["taste_group"] < 1:
        problems.append(f"taste_group must be >= 1, got {v['taste_group']}")
    if not 0.0 <= v["junk_share"] < 1.0:
        problems.append(f"junk_share must be in [0, 1), got {v['junk_share']}")
    if not 0.0 <= v["reshow_negatives"] <= 1.0:
        problems.append(f"reshow_negatives must be in [0, 1], got {v['reshow_negatives']}")
    if v["exposure_candidates"] < 1:
        problems.append(f"exposure_candidates must be >= 1, got {v['exposure_candidates']}")
    if v["exposure_noise"] < 0:
        problems.append(f"exposure_noise must be >= 0, got {v['exposure_noise']}")
    if v["seed"] < 0:
        problems.append(f"seed must be >= 0, got {v['seed']}")
    if problems:
        raise DataError(f"source {SOURCE!r}: " + "; ".join(problems))


def _lognormal_mean1(rng: np.random.Generator, sigma: float, size: int) -> np.ndarray:
    """Lognormal factors with mean 1."""
    return rng.lognormal(-0.5 * sigma * sigma, sigma, size)


@dataclass(frozen=True)
class _Catalogue:
    """Items in *position* order: sorted by cluster, then by popularity rank inside it."""

    cluster: np.ndarray  # (N,) int64, cluster of each position
    starts: np.ndarray  # (K + 1,) first position of each cluster (and N)
    cum: np.ndarray  # (N + 1,) cumulative popularity, cum[0] = 0, cum[N] = 1
    prior_cum: np.ndarray  # (K,) cumulative cluster prior π
    quality: np.ndarray  # (N,) float64
    item_id: np.ndarray  # (N,) int64, the (shuffled) id of each position
    junk: np.ndarray  # (N,) bool, never engaged (the least popular junk_share of a cluster)


def _catalogue(v: dict[str, Any], rng: np.random.Generator) -> _Catalogue:
    n, k = v["num_items"], v["num_clusters"]
    size_w = rng.lognormal(0.0, CLUSTER_SIZE_SIGMA, k)
    extra = rng.choice(k, size=n - k, p=size_w / size_w.sum())
    counts = 1 + np.bincount(extra, minlength=k)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    cluster = np.repeat(np.arange(k, dtype=np.int64), counts)
    prior = counts * rng.lognormal(0.0, CLUSTER_APPEAL_SIGMA, k)
    prior /= prior.sum()
    local = (np.arange(n) - starts[cluster] + 1.0) ** -v["popularity_exponent"]
    local /= np.bincount(cluster, weights=local, minlength=k)[cluster]
    cum = np.concatenate([[0.0], np.cumsum(prior[cluster] * local)])
    cum /= cum[-1]
    prior_cum = np.cumsum(prior)
    prior_cum /= prior_cum[-1]
    # local rank (0 = most popular) >= the cluster's kept count; every cluster keeps >= 1 item
    rank = np.arange(n) - starts[cluster]
    kept = np.maximum(1, np.ceil((1.0 - v["junk_share"]) * counts - 1e-9)).astype(np.int64)
    return _Catalogue(
        cluster=cluster,
        starts=starts,
        cum=cum,
        prior_cum=prior_cum,
        quality=rng.normal(0.0, v["quality_sd"], n),
        item_id=rng.permutation(n).astype(np.int64),
        junk=rank >= kept[cluster],
    )


def _draw_positions(cat: _Catalogue, lo: np.ndarray, hi: np.ndarray,
                    u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws of item positions from popularity restricted to [lo, hi)."""
    target = cat.cum[lo] + u * (cat.cum[hi] - cat.cum[lo])
    pos = np.searchsorted(cat.cum, target, side="right") - 1
    return np.clip(pos, lo, hi - 1)


def _structure(v: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(sessions per user, length of every session in user order)."""
    users = v["num_users"]
    rate = (v["sessions_per_user"] - MIN_SESSIONS) * _lognormal_mean1(rng, SESSIONS_SIGMA, users)
    n_sessions = MIN_SESSIONS + rng.poisson(rate)
    activity = _lognormal_mean1(rng, USER_LENGTH_SIGMA, users)
    per_session = _lognormal_mean1(rng, SESSION_LENGTH_SIGMA, int(n_sessions.sum()))
    rate = (v["mean_session_length"] - 1.0) * np.repeat(activity, n_sessions) * per_session
    lengths = 1 + rng.poisson(rate)
    return n_sessions.astype(np.int64), lengths.astype(np.int64)


def _softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _calibrate_intercept(z: np.ndarray, rate: float) -> float:
    """Intercept ``b`` with ``mean(sigmoid(b + z)) = rate`` (Newton's method)."""
    b = math.log(rate / (1.0 - rate)) - float(z.mean())
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(b + z)))
        slope = float(np.mean(p * (1.0 - p)))
        step = (float(p.mean()) - rate) / max(slope, 1e-12)
        b -= float(np.clip(step, -5.0, 5.0))
        if abs(step) < 1e-9:
            break
    return b


def _expose(
    v: dict[str, Any],
    cat: _Catalogue,
    sess: np.ndarray,
    intent: np.ndarray,
    n_intent: np.ndarray,
    rng: np.random.Generator,
    preference: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Item positions shown at interactions of sessions ``sess`` (popular / explore / intent).

    With ``exposure_candidates`` m > 1 an intent exposure shows the best of m candidates by
    ``preference(sess, pos)`` (the user's item-level preference) plus the platform's error."""
    n, n_items = len(sess), len(cat.cluster)
    kind = rng.random(n)
    u = rng.random(n)
    pos = np.empty(n, dtype=np.int64)
    popular = kind < v["popular_share"]
    explore = ~popular & (kind < v["popular_share"] + v["explore_share"])
    focused = ~(popular | explore)
    zero = np.zeros(int(popular.sum()), dtype=np.int64)
    pos[popular] = _draw_positions(cat, zero, zero + n_items, u[popular])
    pos[explore] = np.minimum((u[explore] * n_items).astype(np.int64), n_items - 1)
    fs = sess[focused]
    c = intent[fs, (rng.random(len(fs)) * n_intent[fs]).astype(np.int64)]
    pos[focused] = _draw_positions(cat, cat.starts[c], cat.starts[c + 1], u[focused])
    m = v["exposure_candidates"]
    if m > 1 and len(fs):
        assert preference is not None
        lo, hi = np.repeat(cat.starts[c], m - 1), np.repeat(cat.starts[c + 1], m - 1)
        more = _draw_positions(cat, lo, hi, rng.random(len(lo))).reshape(len(fs), m - 1)
        candidates = np.concatenate([pos[focused][:, None], more], axis=1)  # [focused, m]
        score = preference(np.repeat(fs, m), candidates.ravel()).reshape(len(fs), m)
        score = score + v["exposure_noise"] * rng.standard_normal(score.shape)
        pos[focused] = candidates[np.arange(len(fs)), score.argmax(axis=1)]
    return pos


def _repeats(sess: np.ndarray, pos: np.ndarray, n_items: int) -> np.ndarray:
    """Indices of interactions repeating an item already shown earlier in the same session."""
    key = sess * n_items + pos
    order = np.argsort(key, kind="stable")
    same = key[order[1:]] == key[order[:-1]]
    return np.sort(order[1:][same])


_MIX1, _MIX2, _GOLDEN = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB),
                         np.uint64(0x9E3779B97F4A7C15))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        return x ^ (x >> np.uint64(31))


def _pair_uniforms(seed: int, user: np.ndarray, item: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Two independent uniforms per (seed, user, item): ``(0, 1)`` and ``[0, 1)``."""
    key = _splitmix64(np.full(len(user), seed, dtype=np.uint64))
    key = _splitmix64(key ^ user.astype(np.uint64))
    key = _splitmix64(key ^ item.astype(np.uint64))
    h1, h2 = _splitmix64(key), _splitmix64(key ^ _GOLDEN)
    scale = 1.0 / float(1 << 53)
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 0.5) * scale  # (0, 1)
    u2 = (h2 >> np.uint64(11)).astype(np.float64) * scale
    return u1, u2


def pair_normal(seed: int, user: np.ndarray, item: np.ndarray) -> np.ndarray:
    """A standard normal value per (seed, user, item), identical at every call (Box-Muller on
    two hashed uniforms): the persistent taste term without storing a users x items table."""
    u1, u2 = _pair_uniforms(seed, user, item)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def pair_uniform(seed: int, user: np.ndarray, item: np.ndarray) -> np.ndarray:
    """A uniform value in ``[0, 1)`` per (seed, user, item), identical at every call."""
    return _pair_uniforms(seed, user, item)[1]


def _simulate_chunk(
    v: dict[str, Any],
    cat: _Catalogue,
    n_sessions: np.ndarray,
    lengths: np.ndarray,
    rng: np.random.Generator,
    user_offset: int = 0,
) -> dict[str, np.ndarray]:
    """Interactions of one chunk of users (local user index 0..len(n_sessions)-1; the global
    index is ``user_offset`` + local)."""
    users = len(n_sessions)
    n_rows = len(lengths)  # sessions of the chunk, in user order
    slots = max(1, math.ceil(MAX_SLOTS_FACTOR * v["interests_per_user"]))
    rows = np.arange(n_rows)
    sess_user = np.repeat(np.arange(users), n_sessions)
    first = np.zeros(n_rows, dtype=bool)
    first[np.concatenate([[0], np.cumsum(n_sessions)[:-1]])] = True

    # Interest slots per session: a replacement event resets (cluster, log-weight); the
    # log-weights take a random walk in between. `last` = row of the slot's latest event.
    m = np.minimum(1 + rng.poisson(v["interests_per_user"] - 1.0, users), slots)
    valid = (np.arange(slots)[None, :] < m[:, None])[sess_user]
    event = valid & (first[:, None] | (rng.random((n_rows, slots)) < v["drift"]))
    new_cluster = np.searchsorted(cat.prior_cum, rng.random((n_rows, slots)), side="right")
    new_cluster = np.minimum(new_cluster, len(cat.prior_cum) - 1)
    new_logw = np.log(rng.gamma(INTEREST_CONCENTRATION, size=(n_rows, slots)) + 1e-300)
    walk = np.cumsum(rng.normal(0.0, WEIGHT_WALK_PER_DRIFT * v["drift"], (n_rows, slots)), axis=0)
    last = np.maximum.accumulate(np.where(event, rows[:, None], 0), axis=0)
    interest = np.take_along_axis(new_cluster, last, axis=0)
    logw = np.take_along_axis(new_logw - walk, last, axis=0) + walk
    weight = _softmax_rows(np.where(valid, logw, -np.inf))

    # Session intent: 1-3 slots drawn by current weight.
    n_intent = 1 + rng.binomial(MAX_INTENT - 1, v["extra_intent_p"], n_rows)
    cum_w = np.cumsum(weight, axis=1)
    u = rng.random((n_rows, MAX_INTENT)) * cum_w[:, -1:]
    slot = np.minimum((u[:, :, None] >= cum_w[:, None, :]).sum(axis=2), slots - 1)
    intent = np.take_along_axis(interest, slot, axis=1)
    intent_ok = np.arange(MAX_INTENT)[None, :] < n_intent[:, None]

    def taste(at_sess: np.ndarray, at_pos: np.ndarray) -> np.ndarray:
        """The persistent taste term ``t_ui`` (``taste_sd`` > 0)."""
        return v["taste_sd"] * pair_normal(v["seed"], sess_user[at_sess] + user_offset,
                                           _taste_key(cat, at_pos, v["taste_group"]))

    def preference(at_sess: np.ndarray, at_pos: np.ndarray) -> np.ndarray:
        """The user's item-level preference ``q_i + t_ui`` (the logit's per-item terms)."""
        z = cat.quality[at_pos]
        return z + taste(at_sess, at_pos) if v["taste_sd"] > 0 else z

    # Exposure, then re-draw repeated (session, item) pairs a few times.
    sess = np.repeat(rows, lengths)
    n = len(sess)
    pos = _expose(v, cat, sess, intent, n_intent, rng, preference)
    check = np.arange(n)
    # targeting re-picks a session's best items often, so it gets more rounds
    for _ in range(RESAMPLE_ROUNDS if v["exposure_candidates"] == 1 else RESHOW_ROUNDS):
        dup = check[_repeats(sess[check], pos[check], len(cat.cluster))]
        if len(dup) == 0:
            break
        pos[dup] = _expose(v, cat, sess[dup], intent, n_intent, rng, preference)
        touched = np.zeros(n_rows, dtype=bool)
        touched[sess[dup]] = True
        check = np.flatnonzero(touched[sess])

    # Response.
    user_bias = rng.normal(0.0, USER_BIAS_SD, users)

    def logit(at: np.ndarray) -> np.ndarray:
        """Response logit without the intercept of the exposures ``at``."""
        at_sess, category_at = sess[at], cat.cluster[pos[at]]
        in_intent = ((intent[at_sess] == category_at[:, None]) & intent_ok[at_sess]).any(axis=1)
        affinity = np.where(interest[at_sess] == category_at[:, None], weight[at_sess],
                            0.0).sum(axis=1)
        z = (v["affinity"] * (in_intent + affinity) + cat.quality[pos[at]]
             + user_bias[sess_user[at_sess]])
        return z + taste(at_sess, pos[at]) if v["taste_sd"] > 0 else z

    def respond(at: np.ndarray, z: np.ndarray) -> np.ndarray:
        engaged = rng.random(len(at)) < 1.0 / (1.0 + np.exp(-(b + z)))
        return (engaged & ~cat.junk[pos[at]]).astype(np.int8)

    everything = np.arange(n)
    z = logit(everything)
    junk = cat.junk[pos]
    b = _calibrate_intercept(z[~junk] if junk.any() else z, v["positive_rate"])
    label = respond(everything, z)
    reshown_left = 0
    if v["reshow_negatives"] < 1.0:
        user = sess_user[sess] + user_offset
        for redraws in range(RESHOW_ROUNDS + 1):
            reshown = _reshown_after_negative(v, cat, user, pos, label)
            bad = np.union1d(reshown, _repeats(sess, pos, len(cat.cluster)))
            if len(bad) == 0 or redraws == RESHOW_ROUNDS:
                break
            pos[bad] = _expose(v, cat, sess[bad], intent, n_intent, rng, preference)
            label[bad] = respond(bad, logit(bad))
        reshown_left = len(reshown)
    category = cat.cluster[pos]

    # Timestamps: cumulative gaps per user, starting at the user's start offset.
    gap = np.clip(rng.lognormal(math.log(WITHIN_GAP_MEDIAN), WITHIN_GAP_SIGMA, n),
                  WITHIN_GAP_MIN, WITHIN_GAP_MAX)
    session_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    gap[session_start] = BETWEEN_GAP_MIN + rng.lognormal(
        math.log(BETWEEN_GAP_MEDIAN), BETWEEN_GAP_SIGMA, n_rows)
    user_start = session_start[first]
    gap[user_start] = rng.random(users) * START_SPREAD_SECONDS
    clock = np.cumsum(gap)
    before = (clock[user_start] - gap[user_start])[sess_user[sess]]
    return {
        "user": sess_user[sess],
        "item_id": cat.item_id[pos],
        "timestamp": START_TIMESTAMP + (clock - before),
        "label": label,
        "category": category,
        "reshown_left": np.array(reshown_left),
    }


def _taste_key(cat: _Catalogue, pos: np.ndarray, group: int) -> np.ndarray:
    """What the taste term is keyed by: the item id (``group`` 1), else the item's group of
    ``group`` neighbouring ranks in its cluster (keys from ``N`` up, apart from item ids)."""
    if group == 1:
        return cat.item_id[pos]
    n = len(cat.cluster)
    cluster = cat.cluster[pos]
    return n + cluster * n + (pos - cat.starts[cluster]) // group


def _reshown_after_negative(v: dict[str, Any], cat: _Catalogue, user: np.ndarray,
                            pos: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Indices (sorted) of exposures of a blocked (user, item) pair after a negative of that
    pair; exposures are in time order per user, ``user`` global user indices."""
    key = user * len(cat.cluster) + pos
    order = np.argsort(key, kind="stable")  # time order inside every pair
    k, negative = key[order], (label[order] == 0).astype(np.int64)
    first = np.ones(len(k), dtype=bool)
    first[1:] = k[1:] != k[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(k)), 0))
    cum = np.cumsum(negative)
    before = cum - negative - (cum[group_start] - negative[group_start])  # negatives earlier
    candidates = order[before > 0]
    blocked = pair_uniform(v["seed"] ^ RESHOW_SALT, user[candidates],
                           cat.item_id[pos[candidates]]) >= v["reshow_negatives"]
    return np.sort(candidates[blocked])


def _generate(options: SimulatorOptions, progress: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    v = options.resolved()
    seed = v["seed"]
    cat = _catalogue(v, np.random.default_rng([seed, 0]))
    n_sessions, lengths = _structure(v, np.random.default_rng([seed, 1]))
    user_rows = np.bincount(np.repeat(np.arange(v["num_users"]), n_sessions), weights=lengths,
                            minlength=v["num_users"]).astype(np.int64)
    row_end = np.cumsum(user_rows)
    sess_end = np.cumsum(n_sessions)
    total = int(row_end[-1])
    # Chunk boundaries depend only on the options, so the output does not depend on anything
    # else (each chunk has its own random stream).
    cuts = np.searchsorted(row_end, np.arange(CHUNK_ROWS, total, CHUNK_ROWS), side="left")
    bounds = np.unique(np.concatenate([[0], cuts + 1, [v["num_users"]]]))
    bounds = bounds[bounds <= v["num_users"]]

    out = {
        "user_id": np.empty(total, dtype=np.int64),
        "item_id": np.empty(total, dtype=np.int64),
        "timestamp": np.empty(total, dtype=np.float64),
        "label": np.empty(total, dtype=np.int8),
        "category": np.empty(total, dtype=np.int64),
    }
    chunks = range(len(bounds) - 1)
    reshown_left = 0
    for i in tqdm(chunks, desc="simulating users", unit="chunk", disable=not progress):
        a, b = int(bounds[i]), int(bounds[i + 1])
        s0 = int(sess_end[a - 1]) if a else 0
        r0 = int(row_end[a - 1]) if a else 0
        r1 = int(row_end[b - 1])
        part = _simulate_chunk(v, cat, n_sessions[a:b], lengths[s0:int(sess_end[b - 1])],
                               np.random.default_rng([seed, 2, i]), user_offset=a)
        out["user_id"][r0:r1] = part.pop("user") + a
        reshown_left += int(part.pop("reshown_left"))
        for key, values in part.items():
            out[key][r0:r1] = values
    frame = pd.DataFrame(out, copy=False)
    stats = {
        "interactions": total,
        "sessions": int(n_sessions.sum()),
        "positives": int(out["label"].sum(dtype=np.int64)),
        "items_seen": int(np.count_nonzero(np.bincount(out["item_id"],
                                                       minlength=v["num_items"]))),
        "reshown_left": reshown_left,
    }
    return frame, {"options": v, **stats}


def simulate(options: SimulatorOptions, progress: bool = True) -> pd.DataFrame:
    """Simulate a log: one row per exposure, sorted by user and time.

    Columns: ``user_id`` (int64), ``item_id`` (int64), ``timestamp`` (float64 Unix seconds),
    ``label`` (int8, 1 = positive), ``category`` (int64, the item's cluster; static per item).

    Raises:
      DataError: for an unknown preset or out-of-range options.
    """
    frame, _ = _generate(options, progress)
    return frame


def load_synthetic(path: str | None = None, *, progress: bool = True,
                   **options: object) -> LoadedLog:
    """The ``synthetic`` source: simulate a log (no input file) and convert it to the contract.

    Args:
      path: must be None or empty (the synthetic source reads no file).
      **options: :class:`SimulatorOptions` fields, as values or text (``key=value``).

    Raises:
      DataError: for a path, unknown options, or out-of-range values.
    """
    if path:
        raise DataError(
            f"source {SOURCE!r} generates its data and takes no --input (got {path!r}); "
            f"choose its size and knobs with options instead, e.g. size=demo seed=1 "
            f"(options: {[f.name for f in fields(SimulatorOptions)]})"
        )
    opts = parse_options(SimulatorOptions, options, SOURCE)
    raw, info = _generate(opts, progress=progress)
    mapping = ColumnMapping(features=(FeatureSpec("category", kind="item"),), integer_ids=True)
    frame = to_canonical(raw, mapping, SOURCE)
    del raw
    v = info["options"]
    description = (
        f"synthetic session simulator (size={v['size']}, seed={v['seed']}): "
        f"{info['interactions']:,} interactions, {info['sessions']:,} sessions, "
        f"{v['num_users']:,} users, {info['items_seen']:,} of {v['num_items']:,} items, "
        f"{v['num_clusters']:,} clusters"
    )
    if v["reshow_negatives"] < 1.0:
        description += (f"; reshow_negatives={v['reshow_negatives']:g}: "
                        f"{info['reshown_left']:,} exposures still re-show a blocked item after "
                        f"a negative (no other item of the session's clusters was left)")
    if v["exposure_candidates"] > 1:
        description += (f"; exposure_candidates={v['exposure_candidates']}, "
                        f"exposure_noise={v['exposure_noise']:g}: intent exposures are a "
                        f"platform model's best-scored candidate")
    info["positive_rate"] = info["positives"] / max(info["interactions"], 1)
    return LoadedLog(frame=frame, mapping=mapping, description=description, info=info)
