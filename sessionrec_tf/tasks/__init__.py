"""Tasks (TFRS style: a task is a layer that owns its loss and its metrics).

- :class:`NextSessionRetrieval` (Eq. 8) and :class:`SessionRank` (Eq. 9);
- :func:`next_session_targets` builds their rows from a ragged batch.
"""

from sessionrec_tf.tasks.rank import SessionRank
from sessionrec_tf.tasks.retrieval import NextSessionRetrieval
from sessionrec_tf.tasks.samplers import (
    SAMPLER_NAMES,
    PopularitySampler,
    UniformSampler,
    make_sampler,
)
from sessionrec_tf.tasks.similarity import Similarity
from sessionrec_tf.tasks.targets import TargetRows, next_session_targets

__all__ = [
    "SAMPLER_NAMES",
    "NextSessionRetrieval",
    "PopularitySampler",
    "SessionRank",
    "Similarity",
    "TargetRows",
    "UniformSampler",
    "make_sampler",
    "next_session_targets",
]
