"""Ranking metrics and exact chunked top-K over the full catalog."""

from sessionrec_tf.metrics.catalog import CatalogRanking
from sessionrec_tf.metrics.ranking import METRIC_NAMES, ranking_metrics, unique_targets
from sessionrec_tf.metrics.topk import chunked_top_k

__all__ = ["METRIC_NAMES", "CatalogRanking", "chunked_top_k", "ranking_metrics", "unique_targets"]
