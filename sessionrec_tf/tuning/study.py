"""``sessionrec tune``: hyper-parameter search on the validation split with Optuna.

One study per model config, in ``OUTPUT/<config>/``:

    study.db          Optuna RDB storage (SQLite): the search resumes from it
    runs/<hash>/      one training run per parameter setting (resumable like any run)
    best.yaml         the best trial: its overrides and resolved config (what
                      ``experiment table2 --tuned OUTPUT`` uses)
    trials.{md,json,png}  every trial: state, parameters, best validation value, epochs

Sampler TPE (seeded), pruner median (a trial stops when its validation metric at an epoch is
below the median of earlier trials at that epoch, after ``warmup_epochs``; by default early
stopping's own grace period, see :func:`default_warmup`), through
:class:`~sessionrec_tf.tuning.pruning.PruningCallback`. The objective is the run's best
(windowed) validation value of ``train.early_stopping_metric``; the test split is never read.
``--trials N`` is the total number of finished (complete or pruned) trials: running the same
command again after an interruption continues to N. A trial left running by a killed process
is marked failed and its parameters are queued again; its run directory (named by a hash of
the parameters) resumes from its last checkpoint. With ``include_defaults`` a new study's
first trial is the config's own values of the searched keys (those inside the space): the
search starts from the shipped setting instead of only random points.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from sessionrec_tf.config import ConfigError, ExperimentConfig, load_config
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.experiments.grids import BUDGETS, Budget
from sessionrec_tf.experiments.outputs import markdown_table, write_outputs
from sessionrec_tf.files import atomic_write_text
from sessionrec_tf.training.trainer import Trainer
from sessionrec_tf.tuning.pruning import PruningCallback
from sessionrec_tf.tuning.space import SearchSpace

BEST_FILE = "best.yaml"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _run_name(overrides: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(sorted(overrides)).encode()).hexdigest()[:12]


def _sampler(seed: int, trials: int) -> optuna.samplers.TPESampler:
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(1, min(10, trials // 2)))


def _study(out: Path, name: str, seed: int, trials: int, warmup_epochs: int) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name, storage=f"sqlite:///{out / 'study.db'}", load_if_exists=True,
        direction="maximize", sampler=_sampler(seed, trials),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, trials // 4)),
                                           n_warmup_steps=warmup_epochs))
    # A resumed search must not replay the sampler's random stream from its start: the
    # first draw of the new process would repeat the study's first trial (seen: a duplicate
    # trial after a restart). Seed by the number of trials already made: deterministic for a
    # given history, a new stream after each restart.
    existing = len(study.get_trials(deepcopy=False))
    if existing:
        study.sampler = _sampler(seed + existing, trials)
    return study


def default_warmup(config: ExperimentConfig) -> int:
    """Epochs before a trial of ``config`` can be pruned, by default: early stopping's own
    grace period (``early_stopping_start_epoch``, at least ``early_stopping_patience``). A run
    that early stopping would let continue must not be cut by the pruner either: on small real
    data (budget ``long``, no stopping before epoch 60) the HSTU models dip after epoch ~9 and
    pass that peak only after epoch ~40, so a median at epoch 3 ranks trials by how fast they
    start, not by where they end (seen: 8 of the first 11 KuaiRand trials pruned, 7 at epochs
    3-4)."""
    return max(config.train.early_stopping_patience, config.train.early_stopping_start_epoch)


def tune(config: str, data: PreparedDataset, output: Path, trials: int,
         space: SearchSpace | None = None, budget: Budget = BUDGETS["small"],
         overrides: Sequence[str] = (), seed: int = 0, warmup_epochs: int | None = None,
         verbose: int = 2, log: Callable[[str], None] = print,
         include_defaults: bool = False) -> dict[str, Any]:
    """Run (or resume) the search for the shipped or file config ``config``; see the module
    docstring. ``warmup_epochs`` None: :func:`default_warmup`. Returns the summary written to
    ``trials.json``."""
    if trials < 1:
        raise ConfigError(f"trials must be >= 1, got {trials}")
    space = space or SearchSpace.load()
    base = load_config(config, [*budget.overrides, *overrides])  # refuses a bad config now
    out = Path(output) / base.name
    out.mkdir(parents=True, exist_ok=True)
    warmup = default_warmup(base) if warmup_epochs is None else warmup_epochs
    study = _study(out, base.name, seed, trials, warmup)
    if include_defaults and not study.get_trials(deepcopy=False):
        start, outside = space.defaults(base)
        study.enqueue_trial(start)
        log(f"{base.name}: first trial = the config's values {start}" + (
            f"; outside the space, drawn instead: {outside}" if outside else ""))
    for stale in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(stale.number, state=TrialState.FAIL)  # killed mid-trial: try it again
        study.enqueue_trial(stale.params)
    metric = base.train.early_stopping_metric
    written = None  # the summary after the last trial (rewritten after each, for resuming)
    while (done := len(study.get_trials(deepcopy=False, states=FINISHED))) < trials:
        trial = study.ask()
        suggested = space.suggest(trial, base)
        run_overrides = [*budget.overrides, *overrides, *suggested]
        run_dir = out / "runs" / _run_name(suggested)
        trial.set_user_attr("overrides", suggested)
        trial.set_user_attr("run", str(run_dir))
        log(f"[trial {done + 1}/{trials}] {base.name}: {' '.join(suggested)} -> {run_dir}")
        try:
            cfg = load_config(config, run_overrides)
            summary = Trainer(cfg, data, run_dir, verbose=verbose, log=log,
                              callbacks=[PruningCallback(trial)]).run()
        except optuna.TrialPruned as pruned:
            log(f"  pruned: {pruned}")
            study.tell(trial, state=TrialState.PRUNED)
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
        else:
            trial.set_user_attr("epochs_run", summary["epochs_run"])
            trial.set_user_attr("best_epoch", summary["best_epoch"])
            study.tell(trial, summary[f"best_valid_{metric}"])
        written = write_summary(study, out, config, [*budget.overrides, *overrides], space,
                                metric, extra=overrides)
    if written is not None:
        return written
    return write_summary(study, out, config, [*budget.overrides, *overrides], space, metric,
                         extra=overrides)


def write_summary(study: optuna.Study, out: Path, config: str, fixed: Sequence[str],
                  space: SearchSpace, metric: str, extra: Sequence[str] = ()
                  ) -> dict[str, Any]:
    """``trials.{md,json,png}`` and ``best.yaml`` (atomically) from the study's trials.

    ``fixed``: every override of every trial (budget and ``extra``); ``extra``: the search's
    own overrides (``--set``), part of the tuned model (:func:`tuned_overrides`)."""
    rows, records = [], []
    for t in study.get_trials(deepcopy=False):
        value = t.value if t.state == TrialState.COMPLETE else (
            max(t.intermediate_values.values()) if t.intermediate_values else None)
        records.append({"number": t.number, "state": t.state.name, "value": value,
                        "params": t.params, "epochs": len(t.intermediate_values),
                        "overrides": t.user_attrs.get("overrides", []),
                        "run": t.user_attrs.get("run")})
        rows.append([t.number, t.state.name.lower(), "n/a" if value is None else f"{value:.4f}",
                     len(t.intermediate_values),
                     ", ".join(f"{k}={_short(v)}" for k, v in t.params.items())])
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    payload: dict[str, Any] = {"config": config, "study": study.study_name,
                               "objective": f"best validation {metric}", "fixed": list(fixed),
                               "space": space.to_dict(), "trials": records,
                               "best": None}
    if best is not None:
        payload["best"] = {"number": best.number, "value": best.value,
                           "overrides": best.user_attrs["overrides"], "params": best.params}
        atomic_write_text(out / BEST_FILE, yaml.safe_dump({
            "config": config, "study": study.study_name, "trial": best.number,
            "objective": f"best validation {metric}", "value": float(best.value),
            "overrides": list(best.user_attrs["overrides"]),
            "fixed_overrides": list(fixed), "extra_overrides": list(extra)},
            sort_keys=False))
    title = f"Hyper-parameter search: {study.study_name} ({len(records)} trials)"
    head = (f"Objective: best validation {metric} (maximised; pruned trials show their best "
            f"reported value). Best: "
            + (f"trial {best.number}, {best.value:.4f}." if best else "none complete yet."))
    md = head + "\n\n" + markdown_table(["trial", "state", "value", "epochs", "parameters"],
                                        rows) + "\n"
    write_outputs(out, "trials", title, md, payload, _figure(records, metric, title))
    return payload


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _figure(records: list[dict[str, Any]], metric: str, title: str) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for state, marker in (("COMPLETE", "o"), ("PRUNED", "x")):
        points = [(r["number"], r["value"]) for r in records
                  if r["state"] == state and r["value"] is not None]
        if points:
            ax.scatter(*zip(*points), marker=marker, label=state.lower())
    best, line = float("-inf"), []
    for r in records:
        if r["state"] == "COMPLETE" and r["value"] is not None:
            best = max(best, r["value"])
        line.append(best if best > float("-inf") else None)
    xs = [r["number"] for r, b in zip(records, line) if b is not None]
    if xs:
        ax.step(xs, [b for b in line if b is not None], where="post", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def tuned_overrides(tune_dir: str | Path, config: str) -> list[str]:
    """The tuned model's overrides for ``config`` from ``TUNE_DIR/<config>/best.yaml``: the
    search's own fixed overrides (``sessionrec tune --set``, not the budget's), then the best
    trial's parameters."""
    path = Path(tune_dir) / load_config(config).name / BEST_FILE
    if not path.exists():
        raise ConfigError(f"{path}: no finished search for {config!r}; run sessionrec tune "
                          f"--config {config} --output {tune_dir} first")
    best = yaml.safe_load(path.read_text())
    return [str(o) for o in [*best.get("extra_overrides", []), *best["overrides"]]]

