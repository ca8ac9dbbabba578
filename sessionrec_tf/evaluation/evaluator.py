"""Full, unsampled evaluation over the whole catalog (paper 4.1.3).

For every user of a split: score all items with ``user @ candidates^T``, drop the seen items
(policy ``exclude_seen``: ``positives`` = items the user engaged with positively in the input,
``all`` = every item in the input, ``none``), take the exact top ``max(ks)`` by chunked
matrix products (memory bounded for a 1.5M-item catalog), and compute Recall/NDCG/HR/MRR@K
against the split's targets (:class:`~sessionrec_tf.metrics.catalog.CatalogRanking`). Optionally
the same with the ScaNN retriever the export uses (:class:`~sessionrec_tf.retrieval.scann.
ScannTopK`), reported with its recall@K against the exact top-K.

Users whose target set is empty (possible only with relaxed filters) are skipped and counted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from sessionrec_tf.data.batch_ops import boolean_mask, select_rows
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.reader import read_dataset
from sessionrec_tf.data.splits import PROTOCOLS
from sessionrec_tf.data.vocab import NUM_RESERVED
from sessionrec_tf.metrics.catalog import CatalogRanking
from sessionrec_tf.metrics.ranking import METRIC_NAMES, ranking_metrics
from sessionrec_tf.models.sessionrec import EXCLUDE_SEEN, SessionRec, seen_items
from sessionrec_tf.retrieval.base import TopK
from sessionrec_tf.retrieval.exact import ExactTopK
from sessionrec_tf.retrieval.registry import INDEXES

DEFAULT_KS = (10, 100, 500)


def check_request(data: PreparedDataset, protocol: str, ks: Sequence[int], exclude_seen: str,
                  metrics: Sequence[str] = METRIC_NAMES) -> tuple[int, ...]:
    """Validate an evaluation request; returns the sorted cut-offs."""
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}; valid protocols: {list(PROTOCOLS)}")
    if exclude_seen not in EXCLUDE_SEEN:
        raise DataError(f"unknown seen-item policy {exclude_seen!r}; valid: {list(EXCLUDE_SEEN)}")
    unknown = [m for m in metrics if m not in METRIC_NAMES]
    if unknown:
        raise DataError(f"unknown metric(s) {unknown}; valid metrics: {list(METRIC_NAMES)}")
    if not ks or any(int(k) < 1 for k in ks):
        raise DataError(f"cut-offs K must be positive integers, got {list(ks)}")
    catalog = data.num_items - NUM_RESERVED
    too_big = [k for k in ks if k > catalog]
    if too_big:
        raise DataError(f"K={too_big} is larger than the catalog ({catalog} items in "
                        f"{data.path}); use K <= {catalog}")
    return tuple(sorted({int(k) for k in ks}))


class Evaluator:
    """Evaluate a model on a split of a prepared dataset.

    Args:
      model: a trained :class:`SessionRec` (user tower + candidate embeddings).
      data: the prepared dataset the model was trained on.
      ks: cut-offs (default 10, 100, 500).
      exclude_seen: seen-item policy (recorded with every result).
      batch_size: users per batch.
      chunk_size: candidates scored at once by the exact top-K.
    """

    def __init__(self, model: SessionRec, data: PreparedDataset,
                 ks: Sequence[int] = DEFAULT_KS, exclude_seen: str = "positives",
                 batch_size: int = 256, chunk_size: int = 65_536) -> None:
        self.model, self.data = model, data
        self.ks = check_request(data, "loso", ks, exclude_seen)
        self.exclude_seen = exclude_seen
        self.batch_size, self.chunk_size = batch_size, chunk_size
        self.candidates = tf.constant(model.candidate_embeddings())  # computed once
        self.exact = ExactTopK(max(self.ks), chunk_size).index(self.candidates)
        self._users = tf.function(lambda b: model(b, training=False), reduce_retracing=True)
        self._exact_top = tf.function(self.exact, reduce_retracing=True)

    def _exclusions(self, batch: dict[str, tf.Tensor]) -> tf.RaggedTensor:
        seen = seen_items(batch, self.exclude_seen)
        if seen is None:
            return tf.RaggedTensor.from_row_lengths(
                tf.zeros([0], tf.int64), tf.zeros([tf.shape(batch["user_id"])[0]], tf.int64))
        return seen

    def top_items(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """``[B, max(ks)]`` exact top items of each user of ``batch``, seen items excluded
        (the ranking every metric of :meth:`evaluate` is computed from)."""
        _, top = self._exact_top(self._users(batch), self._exclusions(batch))
        return top

    def evaluate(self, split: str = "test", protocol: str = "loso", index: str = "exact",
                 scann_options: dict[str, Any] | None = None, max_users: int | None = None,
                 progress: bool = True) -> dict[str, Any]:
        """Metrics of one split; see the module docstring. ``index``: exact or scann."""
        check_request(self.data, protocol, self.ks, self.exclude_seen)
        INDEXES.check(index, DataError)
        scann: TopK | None = None
        if index == "scann":
            from sessionrec_tf.retrieval.scann import ScannTopK
            from sessionrec_tf.retrieval.scann_options import ScannOptions

            scann = ScannTopK(max(self.ks), ScannOptions(**(scann_options or {})))
            scann.index(self.candidates.numpy())
        scann_top = tf.function(scann, reduce_retracing=True) if scann is not None else None
        ranking = CatalogRanking(self.ks, METRIC_NAMES)
        scann_overlap = 0.0
        t_model = 0.0
        t0 = time.time()
        for batch in self._batches(split, protocol, "evaluate", progress):
            targets = batch["target_item_id"]
            t1 = time.time()
            user_emb = self._users(batch)
            exclude = self._exclusions(batch)
            _, top = self._exact_top(user_emb, exclude)
            t_model += time.time() - t1
            if scann_top is not None:
                _, approx = scann_top(user_emb, exclude)
                has = (targets.row_lengths() > 0).numpy()
                scann_overlap += float(np.sum(_overlap(approx.numpy(), top.numpy())[has]))
                top = approx
            ranking.update_state(top, targets)
            if max_users is not None and int(ranking.users) >= max_users:
                break
        seconds = time.time() - t0
        users, skipped = int(ranking.users), int(ranking.skipped)
        if users == 0:
            raise DataError(f"no user of {protocol}/{split} has a target in {self.data.path}")
        result: dict[str, Any] = {
            "protocol": protocol,
            "split": split,
            "index": index,
            "exclude_seen": self.exclude_seen,
            "ks": list(self.ks),
            "users": users,
            "users_without_targets_skipped": skipped,
            "metrics": {name: float(v) for name, v in sorted(ranking.result().items())},
            "seconds": round(seconds, 3),
            "users_per_second": round(users / max(seconds, 1e-9), 1),
            "model_users_per_second": round(users / max(t_model, 1e-9), 1),
            "catalog_items": self.data.num_items - NUM_RESERVED,
        }
        if scann is not None:
            result[f"scann_recall@{max(self.ks)}_vs_exact"] = scann_overlap / users
            result["scann_options"] = scann.options.to_dict()
        return result

    def _batches(self, split: str, protocol: str, desc: str, progress: bool
                 ) -> Iterator[dict[str, tf.Tensor]]:
        """The split's batches in order, with a progress bar counted in users (closed when
        the caller stops early)."""
        total = self.data.splits.get(protocol, {}).get(split, {}).get("users")
        with tqdm(total=total, desc=f"{desc} {protocol}/{split}", unit="user",
                  disable=not progress) as bar:
            for batch in read_dataset(self.data, split, protocol, self.batch_size,
                                      deterministic=True):
                yield batch
                bar.update(int(batch["target_item_id"].nrows()))

    def per_user(self, split: str = "valid", protocol: str = "loso", progress: bool = True
                 ) -> tuple[list[str], dict[str, np.ndarray]]:
        """Each user's metrics on ``split``: ``(user_ids [U], {"ndcg@10": [U], ...})`` for the
        users with a target, in the split's order (the exact top-K of :meth:`evaluate`; the
        means over users are its metrics). For paired comparisons of two models on the same
        users (:func:`~sessionrec_tf.evaluation.significance.paired_bootstrap`)."""
        check_request(self.data, protocol, self.ks, self.exclude_seen)
        ids: list[str] = []
        columns: dict[str, list[np.ndarray]] = {}
        for batch in self._batches(split, protocol, "per-user", progress):
            targets = batch["target_item_id"]
            has = targets.row_lengths() > 0
            if bool(tf.reduce_any(has)):
                top = boolean_mask(self.top_items(batch), has)
                values = ranking_metrics(top, select_rows(targets, has), self.ks)
                for name, v in values.items():
                    columns.setdefault(name, []).append(v.numpy().astype(np.float64))
                ids += [u.decode() for u in tf.boolean_mask(batch["user_id"], has).numpy()]
        if not ids:
            raise DataError(f"no user of {protocol}/{split} has a target in {self.data.path}")
        return ids, {name: np.concatenate(v) for name, v in sorted(columns.items())}


def _overlap(approx: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Per row: fraction of the exact top-K found by the approximate top-K."""
    return np.array([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)])
