"""Top-K retrieval over the catalog: one contract (:class:`TopK`: ``index`` then call with
exclusions), an exact retriever (stock ops) and a ScaNN one (ScaNN's ops), shared by
validation, evaluation, the baselines, the exports and batch scoring.

- :mod:`base` the contract; :mod:`exact` :class:`ExactTopK`; :mod:`scann` :class:`ScannTopK`
  (+ :mod:`scann_options`, the index parameters) and the standalone pybind index.

Names below are imported lazily (ScaNN is only loaded by :class:`ScannTopK`).
"""

from __future__ import annotations

from sessionrec_tf._lazy import lazy_exports

_EXPORTS = {
    "TopK": "sessionrec_tf.retrieval.base",
    "ExactTopK": "sessionrec_tf.retrieval.exact",
    "ScannTopK": "sessionrec_tf.retrieval.scann",
    "ScannOptions": "sessionrec_tf.retrieval.scann_options",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
