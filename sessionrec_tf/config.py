"""Experiment configuration: dataclasses loaded from YAML, overridable with ``key=value``.

An experiment is ``{name, model, task, train}``; every field has a default (the paper's
hyper-parameters where it gives them). Unknown keys and values of the wrong type are refused
with the key's full path and the valid keys/expected type. The resolved config is saved next
to every run and result.

Shipped configs (``sessionrec_tf/configs/*.yaml``, usable by name): sessionrec_hstu,
sessionrec_transformer, sessionrec_gru, hstu, hstu_plus, sasrec, sasrec_plus, gru4rec.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sessionrec_tf.ise.registry import ISE_NAMES, POOLING_ISES
from sessionrec_tf.options import build, parse_scalar
from sessionrec_tf.sse.registry import HSTU_ATTENTIONS, HSTU_RELATIVE_BIASES, SSE_NAMES
from sessionrec_tf.tasks.registry import (
    CUT_DRAWS,
    LOSS_NAMES,
    RANK_NEGATIVES,
    REDUCTIONS,
    SAMPLER_NAMES,
)

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# The valid values of the name-valued fields; the components come from their packages'
# registries (which do not import TensorFlow).
EXCLUDE_SEEN = ("positives", "all", "none")
CHOICES: dict[str, tuple[str, ...]] = {
    "model.paradigm": ("session", "item"),
    "model.item_input": ("all", "positives"),
    "model.ise_input": ("all", "positives"),
    "model.ise": ISE_NAMES,
    "model.sse": SSE_NAMES,
    "model.sse_attention": HSTU_ATTENTIONS,
    "model.sse_relative_bias": HSTU_RELATIVE_BIASES,
    "task.loss": LOSS_NAMES,
    "task.sampler": SAMPLER_NAMES,
    "task.rank_negatives": RANK_NEGATIVES,
    "task.item_targets": ("next_item", "next_session"),
    "task.prefix_draw": CUT_DRAWS,
    "task.reduction": REDUCTIONS,
    "task.prefix_reduction": REDUCTIONS,
    "train.protocol": ("loso", "loio", "temporal"),
    "train.exclude_seen": EXCLUDE_SEEN,
    "train.strategy": ("default", "mirrored", "multi_worker"),
    "train.input_sharding": ("users", "files"),
}


# Numeric ranges checked when a config is loaded: key -> (low, high, low_open); None = open.
# A list field's items are each checked; None values (optional fields) are not.
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "model.embedding_dim": (1, None, False),
    "model.feature_dim": (1, None, False),
    "model.embedding_mlp": (1, None, False),
    "model.ise_layers": (1, None, False),
    "model.ise_heads": (1, None, False),
    "model.ise_max_items": (1, None, False),
    "model.num_layers": (1, None, False),
    "model.num_heads": (1, None, False),
    "model.dropout": (0, 0.99, False),
    "model.max_len": (1, None, False),
    "model.user_vectors": (1, None, False),
    "task.num_negatives": (1, None, False),
    "task.temperature": (0, None, True),
    "task.alpha": (0, None, False),
    "task.prefix_weight": (0, None, False),
    "task.prefix_queries": (1, None, False),
    "task.prefix_min_session": (2, None, False),
    "train.batch_size": (1, None, False),
    "train.epochs": (1, None, False),
    "train.learning_rate": (0, None, True),
    "train.weight_decay": (0, None, False),
    "train.clipnorm": (0, None, True),
    "train.early_stopping_patience": (1, None, False),
    "train.early_stopping_start_epoch": (0, None, False),
    "train.early_stopping_window": (1, None, False),
    "train.eval_ks": (1, None, False),
    "train.eval_batch_size": (1, None, False),
    "train.checkpoint_every_steps": (0, None, False),
    "train.steps_per_epoch": (1, None, False),
    "train.shuffle_buffer": (1, None, False),
}
RANKING_METRICS = ("recall", "ndcg", "hr", "mrr")


class ConfigError(ValueError):
    """A config key that does not exist, or a value of the wrong type or out of range."""


def _range_text(low: float | None, high: float | None, low_open: bool) -> str:
    parts = ([f"{'>' if low_open else '>='} {low:g}"] if low is not None else []) \
        + ([f"<= {high:g}"] if high is not None else [])
    return " and ".join(parts)


def check_ranges(config: ExperimentConfig) -> None:
    """Refuse any value outside :data:`RANGES` with its key and the valid range."""
    for key, (low, high, low_open) in RANGES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        for v in (value if isinstance(value, list) else [value]):
            if v is None:
                continue
            bad = (low is not None and (v <= low if low_open else v < low)) \
                or (high is not None and v > high)
            if bad:
                raise ConfigError(f"{key}: must be {_range_text(low, high, low_open)}, "
                                  f"got {value!r}")
    metric = config.train.early_stopping_metric
    name, _, k = metric.partition("@")
    if name not in RANKING_METRICS or not k.isdigit() or int(k) not in config.train.eval_ks:
        raise ConfigError(f"train.early_stopping_metric: {metric!r} is not computed; use one "
                          f"of {list(RANKING_METRICS)} at a cut-off of train.eval_ks "
                          f"{config.train.eval_ks}, e.g. 'recall@{config.train.eval_ks[-1]}'"
                          if config.train.eval_ks else
                          "train.eval_ks: must list at least one cut-off")


@dataclass
class ModelConfig:
    """The model stack.

    paradigm: ``session`` (SessionRec) or ``item`` (item-level baselines: each item is its
      own session). item_input: for ``item``: ``all`` (negatives stay in the input, HSTU+)
      or ``positives`` (HSTU, SASRec, GRU4Rec). max_len: SSE sequence length (sessions, or
      items for ``item``); also HSTU's attention normaliser n. sse_length_buckets: run the
      SSE per bucket of users of similar sequence length instead of padding the whole batch
      to its longest user (same results, less work on skewed lengths; see
      :mod:`sessionrec_tf.sse.bucketing`). ise_label_split: pooling ISEs pool a session's
      positives and negatives separately and merge the two pools with a learned linear map
      (:class:`~sessionrec_tf.ise.pooling.PoolingISE`); only for ``mean``/``max``/``max_relu``.
      ise_input: for ``session``: ``all`` (a session token pools positives and negatives, the
      paper) or ``positives`` (it pools the positives only; negatives stay rank-loss targets;
      a session without positives pools to zeros); pooling ISEs only.
      sse_input_scale, sse_position_embedding: the reference HSTU's input preprocessing
      (tokens times sqrt(d); a learned absolute position embedding); ``sse: hstu`` only.
      sse_attention: HSTU's attention, ``silu`` (pointwise, the reference) or ``softmax``
      (a diagnostic ablation: the usual softmax attention inside the HSTU block);
      ``sse: hstu`` only. sse_relative_bias: HSTU's learned attention bias tables,
      ``position_time`` (relative position and log time gap, the reference), ``position``,
      ``time`` or ``none`` (ablations); ``sse: hstu`` only. sse_gating: HSTU's gate ``U``
      on the attention output (the reference); ``false`` drops it (the shipped
      ``sessionrec_hstu`` does: it validated better on KuaiRand-30m, see
      ``benchmarks/RESULTS.md``); ``sse: hstu`` only. sse_final_norm: a LayerNorm
      over the last HSTU block's output (ours, the default); ``false`` leaves it out as the
      reference does; ``sse: hstu`` only.
      user_vectors: k user vectors per position (multi-interest, ours; 1 = the paper): an
      item is scored by its best-matching vector, in training and at serving
      (:mod:`sessionrec_tf.layers.interests`); exact top-K only (no ScaNN, no in-batch
      negatives).
    """

    paradigm: str = "session"
    item_input: str = "all"
    embedding_dim: int = 64
    feature_dim: int = 16
    embedding_mlp: list[int] = field(default_factory=list)
    use_label: bool = True
    ise: str = "mean"
    ise_label_split: bool = False
    ise_input: str = "all"
    ise_layers: int = 1
    ise_heads: int = 1
    ise_max_items: int = 256
    sse: str = "hstu"
    sse_input_scale: bool = False
    sse_position_embedding: bool = False
    sse_attention: str = "silu"
    sse_relative_bias: str = "position_time"
    sse_gating: bool = True
    sse_final_norm: bool = True
    num_layers: int = 4
    num_heads: int = 2
    dropout: float = 0.2
    max_len: int = 50
    sse_length_buckets: bool = True
    user_vectors: int = 1


@dataclass
class TaskConfig:
    """Losses. loss: ``softmax`` (Eq. 8) or ``bce`` (SASRec). alpha: rank-loss weight.
    prefix_weight: weight of the partial-session queries' loss (ours, session paradigm only;
    0 = off): per user and step, the history up to a random cut inside a session predicts the
    rest of that session, as a mid-session serving request would
    (:func:`~sessionrec_tf.tasks.targets.partial_session_queries`). prefix_queries: independent
    cuts per user and step (their losses are averaged). prefix_marker: add a learned vector to
    the token of a partial-session query's cut session (an open session), so the SSE can tell
    it from a session that is over (a one-item prefix pools to the same token as a one-item
    session); serving requests are unchanged (:mod:`sessionrec_tf.layers.open_session`).
    prefix_min_session: cut only in sessions of at least this many interactions (2, the
    default, = every session that can be cut; larger values leave logs of short sessions
    few or no partial-session queries). prefix_draw: how a cut is drawn: ``position`` (a
    cut position uniformly, so a session is cut in proportion to its length, and a cut in a
    long session also has more positives after it) or ``session`` (a cuttable session
    uniformly, then a position in it: every session counts alike). reduction: how the
    retrieval and rank losses average their (query, positive) rows: ``row`` (every row alike,
    Eq. 8-9: a target session weighs by its number of positives) or ``query`` (each query's
    rows averaged, then the queries: every target session alike, as in the per-user
    Recall@K); prefix_reduction: the same for the partial-session queries' losses.
    rank_negatives: which items the rank
    loss scores each positive against: ``session`` (Eq. 9, the target session's negatives) or
    a diagnostic control, ``other_user`` / ``uniform``
    (:class:`~sessionrec_tf.tasks.rank.SessionRank`). rank_drop_shown: leave out of the rank
    losses' negatives the items the user was shown before (an earlier session, or before a
    partial-session query's cut). item_targets (item paradigm): ``next_item`` (each input
    item predicts the next one, the baselines) or ``next_session`` (a diagnostic: only the
    state after each session's last input item is a query, predicting all of the next
    session's positives, SessionRec's training queries on item tokens)."""

    loss: str = "softmax"
    num_negatives: int = 128
    sampler: str = "uniform"
    in_batch_negatives: bool = False
    remove_accidental_hits: bool = True
    l2_normalize: bool = True
    temperature: float = 0.05
    alpha: float = 0.2
    rank_negatives: str = "session"
    rank_drop_shown: bool = False
    prefix_weight: float = 0.0
    prefix_queries: int = 1
    prefix_marker: bool = False
    prefix_min_session: int = 2
    prefix_draw: str = "position"
    reduction: str = "row"
    prefix_reduction: str = "row"
    item_targets: str = "next_item"


@dataclass
class TrainConfig:
    """Training loop. Early stopping watches ``early_stopping_metric`` on the validation
    split of ``protocol`` and stops after ``early_stopping_patience`` epochs without a new
    best, but never before ``early_stopping_start_epoch`` epochs have run (the best epoch is
    tracked from the first; like Keras' ``EarlyStopping(start_from_epoch=...)``, for models
    whose validation metric dips after an early peak). ``early_stopping_window`` w > 1 judges
    each epoch by the mean metric of the last w epochs (a smoothed selection rule for small,
    noisy validation sets; the weights kept are the last epoch's of the best window).
    ``checkpoint_every_steps``
    (0 = epoch ends only) bounds the work lost when a run is killed. ``strategy`` picks the
    ``tf.distribute`` strategy (``default`` one device, ``mirrored`` every device of this
    host, ``multi_worker`` the hosts of ``TF_CONFIG``); ``batch_size`` is the GLOBAL batch
    over all replicas, and ``input_sharding`` says how the input pipelines share it
    (:class:`~sessionrec_tf.data.reader.InputShard`). Neither changes the run's identity: a
    run may resume under another strategy."""

    protocol: str = "loso"
    batch_size: int = 64
    epochs: int = 20
    learning_rate: float = 0.001
    weight_decay: float = 0.0
    clipnorm: float | None = None
    seed: int = 0
    deterministic: bool = False
    early_stopping_metric: str = "recall@100"
    early_stopping_patience: int = 3
    early_stopping_start_epoch: int = 0
    early_stopping_window: int = 1
    eval_ks: list[int] = field(default_factory=lambda: [10, 100])
    eval_batch_size: int = 256
    exclude_seen: str = "positives"
    checkpoint_every_steps: int = 200
    steps_per_epoch: int | None = None
    shuffle_buffer: int = 10_000
    strategy: str = "default"
    input_sharding: str = "users"


@dataclass
class ExperimentConfig:
    name: str = "sessionrec_hstu"
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: Path) -> None:
        from sessionrec_tf.files import atomic_write_text

        atomic_write_text(path, self.to_yaml())


def config_from_dict(data: dict[str, Any]) -> ExperimentConfig:
    config = build(ExperimentConfig, data, error=ConfigError, noun="config key")
    for key, valid in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value not in valid:
            raise ConfigError(f"{key}: unknown value {value!r}; valid values: {list(valid)}")
    hstu_only = list(hstu_options(config.model))
    if hstu_only and config.model.sse != "hstu":
        raise ConfigError(f"model.sse_{hstu_only[0]}: an option of the hstu SSE, not "
                          f"model.sse={config.model.sse!r}")
    check_ranges(config)
    if config.task.prefix_weight > 0 and config.model.paradigm != "session":
        raise ConfigError("task.prefix_weight: partial-session queries need "
                          f"model.paradigm='session', not {config.model.paradigm!r}")
    if config.task.prefix_draw != "position" and config.task.prefix_weight <= 0:
        raise ConfigError("task.prefix_draw: draws partial-session queries; it needs "
                          "task.prefix_weight > 0")
    if config.task.prefix_reduction != "row" and config.task.prefix_weight <= 0:
        raise ConfigError("task.prefix_reduction: averages the partial-session queries' "
                          "losses; it needs task.prefix_weight > 0")
    if config.task.prefix_min_session != 2 and config.task.prefix_weight <= 0:
        raise ConfigError("task.prefix_min_session: limits partial-session queries; it needs "
                          "task.prefix_weight > 0")
    if config.task.prefix_marker and config.task.prefix_weight <= 0:
        raise ConfigError("task.prefix_marker: marks partial-session queries; it needs "
                          "task.prefix_weight > 0")
    if config.task.item_targets == "next_session" and config.model.paradigm != "item":
        raise ConfigError("task.item_targets: next_session is for model.paradigm='item' "
                          "(SessionRec's queries are already one per session)")
    if config.model.user_vectors > 1 and config.task.in_batch_negatives:
        raise ConfigError("model.user_vectors: several user vectors need sampled negatives; "
                          "set task.in_batch_negatives=false")
    if config.model.ise_label_split and config.model.ise not in POOLING_ISES:
        raise ConfigError(f"model.ise_label_split: only for the pooling ISEs "
                          f"{list(POOLING_ISES)}, not model.ise={config.model.ise!r}")
    if config.model.ise_input == "positives":
        if config.model.paradigm != "session":
            raise ConfigError("model.ise_input: positives is for model.paradigm='session'; "
                              "item-level models use model.item_input")
        if config.model.ise not in POOLING_ISES:
            raise ConfigError(f"model.ise_input: positives only for the pooling ISEs "
                              f"{list(POOLING_ISES)}, not model.ise={config.model.ise!r}")
        if config.model.ise_label_split:
            raise ConfigError("model.ise_input: positives and model.ise_label_split exclude "
                              "each other (there is no negative pool to split)")
    return config


HSTU_OPTIONS = ("sse_input_scale", "sse_position_embedding", "sse_attention",
                "sse_relative_bias", "sse_gating", "sse_final_norm")


def hstu_option_defaults() -> dict[str, Any]:
    """The ``model`` keys that only the hstu SSE has, with their defaults."""
    fields = {f.name: f.default for f in dataclasses.fields(ModelConfig)}
    return {k: fields[k] for k in HSTU_OPTIONS}


def hstu_options(model: ModelConfig) -> dict[str, Any]:
    """The HSTU options ``model`` sets away from their defaults, as keyword arguments of
    :class:`~sessionrec_tf.sse.hstu.HSTUEncoder` (``sse_gating`` -> ``gating``)."""
    return {k.removeprefix("sse_"): getattr(model, k)
            for k, default in hstu_option_defaults().items() if getattr(model, k) != default}


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(path_or_name: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Load a YAML file (or a shipped config by name) and apply ``key=value`` overrides."""
    path = Path(path_or_name)
    if not path.exists():
        shipped = CONFIG_DIR / f"{path_or_name}.yaml"
        if not shipped.exists():
            raise ConfigError(
                f"config {str(path_or_name)!r} is neither a file nor a shipped config; "
                f"shipped configs: {shipped_configs()}")
        path = shipped
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return apply_overrides(config_from_dict(data), overrides or [])


def apply_overrides(config: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """``["model.sse=gru", "train.epochs=3"]``: values parsed as YAML scalars, type-checked.

    Overriding ``model.sse`` with another SSE than ``hstu`` resets the config's HSTU-only
    options (``HSTU_OPTIONS``) that are not overridden too, so ``--config sessionrec_hstu
    --set model.sse=gru`` is the shipped config with a GRU SSE; an HSTU option set together
    with another SSE is still refused.
    """
    data = config.to_dict()
    overridden = {item.split("=", 1)[0].strip() for item in overrides}
    new_sse = None
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"an override expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if part not in node or not isinstance(node[part], dict):
                raise ConfigError(f"unknown config section {'.'.join(parts[:i + 1])!r} in "
                                  f"override {item!r}; sections: {list(data)}")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"unknown config key {key!r} in override {item!r}; valid keys "
                              f"there: {list(node)}")
        node[parts[-1]] = parse_scalar(raw)
        if key.strip() == "model.sse":
            new_sse = node[parts[-1]]
    if new_sse is not None and new_sse != "hstu":
        for name, default in hstu_option_defaults().items():
            if f"model.{name}" not in overridden:
                data["model"][name] = default
    return config_from_dict(data)
