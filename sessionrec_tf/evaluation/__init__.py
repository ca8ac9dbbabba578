"""Evaluation: full-catalog metrics under the loso / loio / temporal protocols."""

from sessionrec_tf.evaluation.evaluator import DEFAULT_KS, Evaluator, check_request
from sessionrec_tf.evaluation.popularity import MostPopular
from sessionrec_tf.evaluation.run_eval import evaluate_run, metrics_table

__all__ = ["DEFAULT_KS", "Evaluator", "MostPopular", "check_request", "evaluate_run",
           "metrics_table"]
