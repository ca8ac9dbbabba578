"""The task registries: retrieval losses (``task.loss``) and negative samplers
(``task.sampler``)."""

from __future__ import annotations

from sessionrec_tf.registry import Registry

# Both losses are implemented by NextSessionRetrieval (Eq. 8 softmax; SASRec's BCE).
LOSSES = Registry("retrieval loss", {
    "softmax": "sessionrec_tf.tasks.retrieval:NextSessionRetrieval",
    "bce": "sessionrec_tf.tasks.retrieval:NextSessionRetrieval",
})
SAMPLERS = Registry("sampler", {
    "uniform": "sessionrec_tf.tasks.samplers:UniformSampler",
    "popularity": "sessionrec_tf.tasks.samplers:PopularitySampler",
    "engaged": "sessionrec_tf.tasks.samplers:EngagedSampler",
})
LOSS_NAMES = LOSSES.names()
SAMPLER_NAMES = SAMPLERS.names()
# Which items the rank loss scores a positive against (SessionRank: Eq. 9 or a control).
RANK_NEGATIVES = ("session", "other_user", "uniform")
# How a partial-session query's cut is drawn (SessionBatch.random_session_cut).
CUT_DRAWS = ("position", "session")
# How a task averages its per-row losses (NextSessionRetrieval, SessionRank): every
# (query, positive) row alike, or every query alike (a query's rows averaged first).
REDUCTIONS = ("row", "query")
