"""A run directory: what was trained, on which data, and its weights.

Layout of ``runs/NAME/``::

    config.yaml       the resolved experiment config
    run.json          dataset path and vocabulary fingerprint, git commit, status, timing
    checkpoints/      latest training state (model, optimizer, counters), every N steps
    best/             weights of the best validation epoch (what evaluate/export use)
    best_pending_<e>/ best weights of epoch e, written before its checkpoint commits it
    history.json      per-epoch training loss and validation metrics
    tensorboard/      TensorBoard logs

:class:`RunDirectory` owns all of it: :meth:`RunDirectory.prepare` creates or resumes one for
training (refusing another run's directory), :meth:`RunDirectory.load` opens a finished one
for evaluation and export. ``Run`` is the same class (its older name).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from sessionrec_tf.config import ExperimentConfig, load_config
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.files import atomic_write_text
from sessionrec_tf.models.builder import build_with_dummy_batch

RUN_FILE = "run.json"
BEST = "best"
HISTORY = "history.json"
PENDING_BEST = "best_pending_"
# train keys a resumed run may change: how long and where it trains, not what
RESUMABLE_UNDER_CHANGE = ("epochs", "strategy", "input_sharding")


def best_prefix(run_dir: Path) -> str:
    """Checkpoint prefix of a run's best weights (``best/weights``)."""
    return str(Path(run_dir) / BEST / "weights")


def git_commit() -> str | None:
    """The library's git commit (``None`` outside a checkout); ``+dirty`` if modified."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def check_vocabulary(run_info: dict[str, Any], dataset: PreparedDataset, where: str) -> None:
    """Refuse a dataset whose vocabularies differ from the ones a run was trained with."""
    want = run_info.get("vocab_sizes", {})
    have = dataset.vocab_sizes
    same_files = run_info.get("vocab_fingerprint") == dataset.vocab_fingerprint
    if want != have and same_files:
        raise DataError(
            f"{where}: {dataset.path}/dataset.json gives vocabulary sizes {have} but the run "
            f"was trained with {want} on the same vocabulary files (fingerprint "
            f"{dataset.vocab_fingerprint}): dataset.json was edited or is damaged; run "
            f"`sessionrec validate {dataset.path}` and prepare the dataset again")
    if want != have or not same_files:
        diff = {k: (want.get(k), have.get(k)) for k in set(want) | set(have)
                if want.get(k) != have.get(k)}
        raise DataError(
            f"{where}: the run was trained on a dataset with different vocabularies than "
            f"{dataset.path} (vocabulary fingerprint {run_info.get('vocab_fingerprint')} vs "
            f"{dataset.vocab_fingerprint}; size differences {diff or 'none, ids differ'}). "
            "Evaluate/export against the dataset the run was trained on.")


@dataclass
class RunDirectory:
    """A run directory (see module docstring).

    Attributes:
      path: the directory.
      config: its resolved experiment config.
      info: the contents of ``run.json``.
      fresh: created by this process's :meth:`prepare` (so a failure before the first
        checkpoint removes it again, :meth:`discard_if_empty`).
      writable: this process writes the directory; ``False`` for :meth:`follow` (a
        multi-worker run's other workers), whose writes are no-ops.
    """

    path: Path
    config: ExperimentConfig
    info: dict[str, Any]
    fresh: bool = False
    writable: bool = True

    # ------------------------------------------------------------------ training side
    @classmethod
    def prepare(cls, path: str | Path, config: ExperimentConfig, data: PreparedDataset,
                overwrite: bool = False, log: Callable[[str], None] = print) -> RunDirectory:
        """The directory to train ``config`` on ``data`` in: created, or this run resumed.

        Refuses a directory holding another run (a different config; only ``train.epochs``,
        ``train.strategy`` and ``train.input_sharding`` may change) or other files, unless
        ``overwrite``. A run directory holding nothing to resume (no checkpoint, no best
        weights) is started again whatever its config.
        """
        path = Path(path)
        glob_chars = sorted(set("[]*?") & set(str(path)))
        if glob_chars:
            raise DataError(f"run directory {path} contains {''.join(glob_chars)}: "
                            "TensorFlow reads checkpoints back through a glob pattern, so such "
                            "a run could not be resumed or evaluated; choose another name")
        run_file = path / RUN_FILE
        if overwrite and path.exists():
            shutil.rmtree(path)
        if run_file.exists() and holds_nothing(path):
            log(f"{path} holds a run that stopped before its first checkpoint; starting it "
                "again")
            shutil.rmtree(path)
        if run_file.exists():
            info = json.loads(run_file.read_text())
            saved = load_config(path / "config.yaml").to_dict()
            mine = config.to_dict()
            epochs = mine["train"]["epochs"]
            for key in RESUMABLE_UNDER_CHANGE:
                saved["train"].pop(key, None)
                mine["train"].pop(key, None)
            if saved != mine:
                diff = [f"{sec}.{k}" for sec in mine if isinstance(mine[sec], dict)
                        for k in mine[sec] if mine[sec][k] != saved[sec].get(k)]
                diff += [k for k in mine if not isinstance(mine[k], dict) and mine[k] != saved[k]]
                raise DataError(
                    f"{path} holds a run with a different config (differs in {diff}); "
                    "resume it with the same config (only "
                    f"{', '.join('train.' + k for k in RESUMABLE_UNDER_CHANGE)} may change), "
                    "choose another run directory, or start it over (overwrite)")
            check_vocabulary(info, data, str(path))
            config.save(path / "config.yaml")
            log(f"{path} holds this run; continuing to {epochs} epochs")
            return cls(path, config, info)
        if path.exists() and any(path.iterdir()):
            raise DataError(f"{path} exists and is not a run directory; choose another "
                            "run directory, or replace it (overwrite)")
        path.mkdir(parents=True, exist_ok=True)
        config.save(path / "config.yaml")
        info = {
            "dataset": str(data.path.resolve()),
            "dataset_name": data.name,
            "vocab_fingerprint": data.vocab_fingerprint,
            "vocab_sizes": data.vocab_sizes,
            "git_commit": git_commit(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "status": "training",
        }
        atomic_write_text(run_file, json.dumps(info, indent=2) + "\n")
        return cls(path, config, info, fresh=True)

    @classmethod
    def follow(cls, path: str | Path, config: ExperimentConfig) -> RunDirectory:
        """The run directory another process (a multi-worker run's chief) writes: read only,
        every write method a no-op."""
        return cls(Path(path), config, {}, writable=False)

    def discard_if_empty(self) -> None:
        """After a failure: remove the directory if :meth:`prepare` created it and it holds
        nothing to resume (nothing half-written is left behind)."""
        if self.fresh and self.path.exists() and holds_nothing(self.path):
            shutil.rmtree(self.path, ignore_errors=True)

    def update_info(self, **fields: Any) -> None:
        """Merge ``fields`` into ``run.json`` (atomically)."""
        self.info.update(fields)
        if not self.writable:
            return
        atomic_write_text(self.path / RUN_FILE,
                          json.dumps(self.info, indent=2, default=float) + "\n")

    def load_history(self) -> list[dict[str, Any]]:
        path = self.path / HISTORY
        return json.loads(path.read_text()) if path.exists() else []

    def write_history(self, history: list[dict[str, Any]]) -> None:
        if self.writable:
            atomic_write_text(self.path / HISTORY, json.dumps(history, indent=2))

    def pending_best(self, epoch: int) -> Path:
        """Where the best weights of ``epoch`` (0-based) wait for their checkpoint."""
        return self.path / f"{PENDING_BEST}{epoch}"

    def write_best(self, checkpoint: tf.train.Checkpoint, epoch: int) -> None:
        """Write ``checkpoint`` as the pending best weights of ``epoch`` (0-based)."""
        if self.writable:
            checkpoint.write(str(self.pending_best(epoch) / "weights"))

    def promote_best(self, epoch: int) -> None:
        """Replace ``best/`` by the pending best weights of ``epoch`` (0-based)."""
        if not self.writable:
            return
        best_dir = Path(best_prefix(self.path)).parent
        if best_dir.exists():
            shutil.rmtree(best_dir)
        self.pending_best(epoch).rename(best_dir)

    def recover(self, epoch: int, best_epoch: int, log: Callable[[str], None] = print
                ) -> list[dict[str, Any]]:
        """Make history and best weights agree with a restored checkpoint at ``epoch``
        whose best epoch is ``best_epoch`` (the epoch-end two-phase commit, see
        :mod:`~sessionrec_tf.training.trainer`); returns the history kept."""
        history = self.load_history()
        kept = [h for h in history if int(h["epoch"]) <= epoch]
        if not self.writable:
            return kept
        if len(kept) < len(history):
            log(f"dropping {len(history) - len(kept)} epoch record(s) written after the last "
                f"checkpoint (epoch {epoch}); that epoch runs again")
            self.write_history(kept)
        for pending in sorted(self.path.glob(f"{PENDING_BEST}*")):
            if pending.name == f"{PENDING_BEST}{best_epoch}" and best_epoch == epoch - 1:
                self.promote_best(best_epoch)  # committed, not yet promoted
            else:
                shutil.rmtree(pending)  # written by an epoch the checkpoint never committed
        return kept

    # ------------------------------------------------------------------ reading side
    @classmethod
    def load(cls, path: str | Path) -> RunDirectory:
        path = Path(path)
        if not (path / RUN_FILE).exists() or not (path / "config.yaml").exists():
            raise DataError(f"{path} is not a run directory (no {RUN_FILE}/config.yaml); "
                            "train one with `sessionrec train ... --output DIR`")
        info = json.loads((path / RUN_FILE).read_text())
        return cls(path, load_config(path / "config.yaml"), info)

    @property
    def weights_prefix(self) -> str:
        """Checkpoint prefix of the best weights; DataError if the run has none."""
        prefix = best_prefix(self.path)
        if not Path(prefix + ".index").exists():
            raise DataError(f"{self.path} has no weights yet ({self.path / BEST} is empty): the "
                            "run has not finished a validated epoch")
        return prefix

    def dataset(self, data: str | Path | None = None) -> PreparedDataset:
        """The run's dataset (or ``data``), checked against the run's vocabularies."""
        ds = PreparedDataset.load(data or self.info["dataset"])
        check_vocabulary(self.info, ds, str(self.path))
        return ds

    def restore(self, data: str | Path | None = None) -> tuple[Any, PreparedDataset]:
        """``(model with the best weights, dataset)``."""
        from sessionrec_tf.models.builder import build_model

        prefix = self.weights_prefix
        ds = self.dataset(data)
        model = build_model(self.config, ds)
        build_with_dummy_batch(model)
        status = tf.train.Checkpoint(model=model).read(prefix)
        try:
            status.assert_existing_objects_matched()
        except AssertionError as err:
            raise DataError(
                f"{prefix}: the saved weights do not match the model built from "
                f"{self.path / 'config.yaml'} (was the run trained with another version of the "
                f"code?): {str(err)[:300]}") from None
        # every model variable matched; the optimizer's slots in the checkpoint are not needed
        # for inference, so do not warn about each of them when the model is deleted
        status.expect_partial()
        return model, ds


Run = RunDirectory


def holds_nothing(path: Path) -> bool:
    """A run directory without a checkpoint or best weights (nothing to resume; epoch
    records without a checkpoint would be dropped on resume anyway)."""
    ckpt = path / "checkpoints"
    return (not (ckpt.exists() and tf.train.latest_checkpoint(str(ckpt)))
            and not Path(best_prefix(path) + ".index").exists())
