"""A run directory: what was trained, on which data, and its weights.

Layout of ``runs/NAME/``::

    config.yaml       the resolved experiment config
    run.json          dataset path and vocabulary fingerprint, git commit, status, timing
    checkpoints/      latest training state (model, optimizer, counters), every N steps
    best/             weights of the best validation epoch (what evaluate/export use)
    history.json      per-epoch training loss and validation metrics
    tensorboard/      TensorBoard logs
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from sessionrec_tf.config import ExperimentConfig, load_config
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError

RUN_FILE = "run.json"
BEST = "best"


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
class Run:
    """An existing run directory (see module docstring)."""

    path: Path
    config: ExperimentConfig
    info: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> Run:
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


def build_with_dummy_batch(model: tf.keras.Model) -> None:
    """Create every variable by calling the model (and its loss) on a one-user batch."""
    two = tf.constant([1, 1], tf.int64)
    one_user = tf.constant([2], tf.int64)

    def ragged(values: list[int]) -> tf.RaggedTensor:
        return tf.RaggedTensor.from_nested_row_lengths(
            tf.constant(values, tf.int64), [one_user, two])

    batch: dict[str, Any] = {
        "item_id": ragged([2, 2]),
        "label": ragged([1, 1]),
        "timestamp": ragged([0, 1]),
        "session_timestamp": tf.RaggedTensor.from_row_lengths(
            tf.constant([0, 1], tf.int64), one_user),
    }
    for name in model.embedding.interaction_feature_names:
        batch[name] = ragged([1, 1])
    model(batch)
    model.compute_loss(batch, training=False)
