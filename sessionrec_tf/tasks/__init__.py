"""Tasks (TFRS style: a task is a layer that owns its loss and its metrics).

- :class:`NextSessionRetrieval` (Eq. 8) and :class:`SessionRank` (Eq. 9);
- :func:`next_session_targets` builds their rows from a ragged batch;
- :mod:`~sessionrec_tf.tasks.registry`: the loss and sampler names. Classes load lazily.
"""

from __future__ import annotations

from sessionrec_tf._lazy import lazy_exports
from sessionrec_tf.tasks.registry import LOSSES, SAMPLER_NAMES, SAMPLERS

_EXPORTS = {
    "EngagedSampler": "sessionrec_tf.tasks.samplers",
    "NextSessionRetrieval": "sessionrec_tf.tasks.retrieval",
    "PopularitySampler": "sessionrec_tf.tasks.samplers",
    "SessionRank": "sessionrec_tf.tasks.rank",
    "Similarity": "sessionrec_tf.tasks.similarity",
    "TargetRows": "sessionrec_tf.tasks.targets",
    "UniformSampler": "sessionrec_tf.tasks.samplers",
    "make_sampler": "sessionrec_tf.tasks.samplers",
    "next_session_targets": "sessionrec_tf.tasks.targets",
}

__all__ = ["LOSSES", "SAMPLERS", "SAMPLER_NAMES", "EngagedSampler", "NextSessionRetrieval",
           "PopularitySampler",
           "SessionRank", "Similarity", "TargetRows", "UniformSampler", "make_sampler",
           "next_session_targets"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
