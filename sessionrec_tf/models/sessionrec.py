"""SessionRec: embedding -> ISE -> causal SSE -> next-session retrieval + rank tasks.

    batch [B, S, I] --view--> [B, S', I] --embedding--> [B, S', I, d] --ISE--> [B, S', d]
        --SSE (causal)--> [B, S', d] user states; state i predicts the next session's positives

``call(batch)`` gives the user embeddings ``[B, d]`` (the state after the last session) that
are scored against candidate embeddings by dot product. ``compute_loss`` is Eq. 10:
``L_retrieval + alpha * L_rank``. The item-level baselines are this same class with an
:class:`~sessionrec_tf.models.views.ItemView` ("each item is its own session").

A user whose training input has a single session (nothing to predict) is **skipped and
counted**: it adds no loss rows, and the ``users_without_target`` metric sums such users over
the epoch (a batch where every user is like that has loss 0, not NaN).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

import tensorflow as tf
import tensorflow_recommenders as tfrs
from tensorflow.python.trackable.data_structures import NoDependency

from sessionrec_tf.config import EXCLUDE_SEEN
from sessionrec_tf.data.batch_ops import boolean_mask
from sessionrec_tf.data.session_batch import SessionBatch
from sessionrec_tf.embedding.item_embedding import ItemEmbedding
from sessionrec_tf.layers.interests import UserVectors
from sessionrec_tf.layers.open_session import OpenSessionMarker, last_token_of_rows
from sessionrec_tf.metrics.catalog import CatalogRanking
from sessionrec_tf.models.gradient_registry import released_custom_gradients
from sessionrec_tf.models.views import ItemView, SessionView
from sessionrec_tf.retrieval.exact import ExactTopK
from sessionrec_tf.sse.bucketing import encode_in_length_buckets
from sessionrec_tf.sse.query_tokens import QueryTokens, encode_with_queries
from sessionrec_tf.tasks.distribute import global_sum, replica_offset, replica_share
from sessionrec_tf.tasks.rank import SessionRank
from sessionrec_tf.tasks.retrieval import NextSessionRetrieval
from sessionrec_tf.tasks.targets import (
    CutPolicy,
    PartialQueries,
    TargetRows,
    next_session_targets,
    partial_session_cuts,
    partial_session_queries,
    select_groups,
)


def seen_items(batch: Mapping[str, tf.Tensor], policy: str) -> tf.RaggedTensor | None:
    """``[B, n]`` items of each user's input to exclude from recommendations
    (:meth:`SessionBatch.seen_items`)."""
    return SessionBatch.from_dict(batch, ("item_id", "label")).seen_items(policy)


class SessionRec(tfrs.Model):
    """A generative next-session recommender.

    Args:
      embedding: the embedding module (interaction tokens, candidate embeddings).
      ise: session encoder ``[B, S, I, d] -> [B, S, d]`` (:mod:`sessionrec_tf.ise`).
      sse: causal sequence encoder ``(x, mask, timestamps) -> [B, L, d]``.
      view: :class:`SessionView` (SessionRec) or :class:`ItemView` (item-level baselines).
      retrieval: the next-session retrieval task (Eq. 8).
      rank: the rank task (Eq. 9), or None.
      alpha: weight of the rank loss (Eq. 10; paper default 0.2).
      eval_ks: cut-offs of the ranking metrics computed by ``evaluate`` on batches that carry
        ``target_item_id``.
      exclude_seen: items removed from recommendations: ``positives`` (the user's positive
        history), ``all`` (every item in the input) or ``none``.
      sse_buckets: if given, upper bounds of the user length buckets the SSE runs over
        (:func:`~sessionrec_tf.sse.bucketing.encode_in_length_buckets`); None pads the whole
        batch to its longest user.
      prefix_retrieval, prefix_rank: tasks of the partial-session queries (one per user and
        step: the history up to a random cut inside a session predicts the rest of that
        session, :func:`~sessionrec_tf.tasks.targets.partial_session_queries`); their loss
        is added with weight ``prefix_weight``. Session view only.
      prefix_weight: weight of the partial-session loss (0 = no partial-session queries).
      prefix_queries: independent cuts (partial-session queries) per user and step.
      prefix_seed: seed of the cuts (stateless, keyed by the optimizer step).
      prefix_min_session: cut only in sessions of at least this many interactions (2: every
        session that can be cut).
      prefix_draw: ``position`` (a cut position uniformly: long sessions cut more often) or
        ``session`` (a cuttable session uniformly, then a position in it).
      prefix_marker: add a learned vector (:class:`OpenSessionMarker`) to the token of each
        partial-session query's cut session, so the SSE can tell a session that goes on from
        one that is over (serving requests, whose sessions are over, are unchanged).
      user_vectors: k > 1 gives every position k user vectors (states ``[B, L, k, d]``, user
        embeddings ``[B, k, d]``), an item scored by its best-matching one
        (:mod:`sessionrec_tf.layers.interests`).
      user_vectors_seed: seed of their initial values.
      rank_drop_shown: leave out of the rank losses' negatives every item the user was shown
        before (in an earlier session; for a partial-session query, before its cut), so the
        rank loss cannot learn "demote what was shown before" (issue 17: on logs where a
        skipped item comes back and is engaged at the base rate, that lesson costs the head of
        the list).
      item_session_targets: item view only (``task.item_targets: next_session``): train like
        SessionRec's queries on the item-level sequence: only the state after each session's
        last input item is a query, and it predicts every positive of the next session
        (instead of every item predicting the next one). Serving is unchanged. Isolates the
        training queries from the session tokens (issue 17).
    """

    def __init__(
        self,
        embedding: ItemEmbedding,
        ise: tf.keras.layers.Layer,
        sse: tf.keras.layers.Layer,
        view: SessionView | ItemView,
        retrieval: NextSessionRetrieval,
        rank: SessionRank | None = None,
        alpha: float = 0.2,
        eval_ks: Sequence[int] = (10, 100),
        exclude_seen: str = "positives",
        sse_buckets: Sequence[int] | None = None,
        prefix_retrieval: NextSessionRetrieval | None = None,
        prefix_rank: SessionRank | None = None,
        prefix_weight: float = 0.0,
        prefix_queries: int = 1,
        prefix_seed: int = 0,
        prefix_marker: bool = False,
        prefix_min_session: int = 2,
        prefix_draw: str = "position",
        user_vectors: int = 1,
        user_vectors_seed: int = 0,
        rank_drop_shown: bool = False,
        item_session_targets: bool = False,
        name: str = "sessionrec",
    ) -> None:
        super().__init__(name=name)
        # Under tf.distribute every replica returns the GLOBAL loss and synced metrics
        # (tasks/distribute.py), so Keras must report the first replica's logs, not their sum.
        self.distribute_reduction_method = "first"
        if exclude_seen not in EXCLUDE_SEEN:
            raise ValueError(f"exclude_seen must be one of {list(EXCLUDE_SEEN)}, "
                             f"got {exclude_seen!r}")
        self.embedding = embedding
        self.ise = ise
        self.sse = sse
        self.view = view
        self.retrieval = retrieval
        self.rank = rank
        self.alpha = float(alpha)
        self.eval_ks = tuple(int(k) for k in eval_ks)
        self.exclude_seen = exclude_seen
        self.sse_buckets = list(sse_buckets) if sse_buckets else None
        if prefix_weight > 0 and (prefix_retrieval is None or view.paradigm != "session"):
            raise ValueError("partial-session queries (prefix_weight > 0) need the session "
                             "view and a prefix_retrieval task")
        self.prefix_retrieval = prefix_retrieval
        self.prefix_rank = prefix_rank
        self.prefix_weight = float(prefix_weight)
        if prefix_queries < 1:
            raise ValueError(f"prefix_queries must be >= 1, got {prefix_queries}")
        self.prefix_queries = int(prefix_queries)
        self.prefix_seed = int(prefix_seed)
        if prefix_marker and self.prefix_weight <= 0:
            raise ValueError("prefix_marker marks partial-session queries: it needs "
                             "prefix_weight > 0")
        self.open_marker = (OpenSessionMarker(name="open_session") if prefix_marker
                            else None)
        self.rank_drop_shown = bool(rank_drop_shown)
        # where the partial-session queries cut: a query's history fits the window
        try:
            self.cut_policy = CutPolicy(
                max_sessions=view.max_len, min_length=int(prefix_min_session),
                draw=prefix_draw, drop_shown=self.rank_drop_shown and prefix_rank is not None)
        except ValueError as err:
            raise ValueError(f"partial-session cuts (prefix_min_session, prefix_draw): "
                             f"{err}") from None
        if item_session_targets and not isinstance(view, ItemView):
            raise ValueError("item_session_targets (task.item_targets: next_session) needs "
                             "the item view")
        self.item_session_targets = bool(item_session_targets)
        # partial-session queries as extra tokens of their users' sequences (exact for the
        # attention SSEs; a recurrent one encodes the cut histories as sequences)
        self.query_tokens = bool(getattr(sse, "accepts_query_tokens", False))
        self.user_vectors = int(user_vectors)
        self.interests = (UserVectors(self.user_vectors, seed=user_vectors_seed,
                                      name="user_vectors") if self.user_vectors > 1 else None)
        self.skipped_users = tf.keras.metrics.Sum(name="users_without_target")
        # Collected by Keras (model.metrics, reset each evaluate) but not checkpointed: metric
        # state is not a weight, and runs saved before this metric existed still restore.
        self.ranking = NoDependency(CatalogRanking(self.eval_ks, name="ranking"))

    # ------------------------------------------------------------------ user tower
    def encode(self, batch: Mapping[str, tf.Tensor], training: bool | None = None,
               vectors: bool = True) -> tuple[tf.Tensor, tf.Tensor, SessionBatch]:
        """``(states [B, L, d], mask [B, L], the view's batch)`` for a ragged batch."""
        seq = self.view(batch)
        states, mask = self.encode_sequence(seq, training=training, vectors=vectors)
        return states, mask, seq

    def encode_sequence(self, seq: Mapping[str, tf.RaggedTensor],
                        training: bool | None = None, vectors: bool = True,
                        open_from: tf.Tensor | int | None = None
                        ) -> tuple[tf.Tensor, tf.Tensor]:
        """States ``[B, L, d]`` (``[B, L, k, d]`` with k user vectors) and mask ``[B, L]`` of
        a batch already in the view's form. ``vectors=False``: the SSE states ``[B, L, d]``
        before the user-vector map (:meth:`user_vectors_of`), which is position-wise, so it can
        be applied to the few states a caller gathers instead of every padded position.
        ``open_from``: the rows from this one on end with an open (cut) session, whose token
        gets the open-session marker (with ``prefix_marker``; else ignored)."""
        states, mask = self._sequence_states(seq, training, open_from)
        return (self.user_vectors_of(states) if vectors else states), mask

    def user_vectors_of(self, states: tf.Tensor) -> tf.Tensor:
        """``[..., d] -> [..., k, d]`` with k user vectors (identity with one)."""
        return states if self.interests is None else self.interests(states)

    def _sequence_states(self, seq: Mapping[str, tf.RaggedTensor], training: bool | None,
                         open_from: tf.Tensor | int | None = None
                         ) -> tuple[tf.Tensor, tf.Tensor]:
        tokens = self._session_tokens(seq, training)
        if open_from is not None and self.open_marker is not None:
            tokens = tokens.with_values(self.open_marker(
                tokens.values, where=last_token_of_rows(tokens, open_from)))
        return self._encode_sessions(tokens, seq["session_timestamp"], training)

    def _session_tokens(self, seq: Mapping[str, tf.RaggedTensor],
                        training: bool | None) -> tf.RaggedTensor:
        """``[B, S, d]`` one token per session (embedding, then the ISE)."""
        tokens = self.embedding.interactions(seq)  # [B, S, I, d]
        if getattr(self.ise, "uses_labels", False):
            return self.ise(tokens, labels=seq["label"], training=training)
        return self.ise(tokens, training=training)

    def _encode_sessions(self, sessions: tf.RaggedTensor, timestamps: tf.RaggedTensor,
                         training: bool | None, queries: QueryTokens | None = None
                         ) -> tuple[tf.Tensor, ...]:
        """``(states [B, L, d], mask [B, L])`` of the SSE over session tokens; with
        ``queries`` also their states ``[B, Q, d]`` (:mod:`sessionrec_tf.sse.query_tokens`)."""
        if self.sse_buckets:
            return encode_in_length_buckets(self.sse, sessions, timestamps, self.sse_buckets,
                                            training=training, queries=queries)
        lengths = sessions.row_lengths()
        x = sessions.to_tensor()
        mask = tf.sequence_mask(lengths, maxlen=tf.shape(x, out_type=tf.int64)[1])
        times = timestamps.to_tensor()
        if queries is None:
            return self.sse(x, mask=mask, timestamps=times, training=training), mask
        states, query_states = encode_with_queries(self.sse, x, mask, times, queries,
                                                   training=training)
        return states, mask, query_states

    def call(self, batch: Mapping[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        """``[B, d]`` user embeddings (``[B, k, d]`` with k user vectors): the state after
        each user's last session.

        Embedded with the task's similarity (L2-normalised when the task uses cosine), so
        ``user @ candidate_embeddings()^T`` ranks the catalog. A user with no history gets 0.
        """
        # inference traces (serving, evaluation) are freed with their functions; a training
        # forward keeps its custom gradients until its step has built the backward pass
        with contextlib.nullcontext() if training else released_custom_gradients():
            states, mask, _ = self.encode(batch, training=training, vectors=False)
            return self.retrieval.similarity.embed(
                self.user_vectors_of(_last_state(states, mask)))

    # ------------------------------------------------------------------ item tower
    def candidates(self, item_ids: tf.Tensor) -> tf.Tensor:
        """Raw candidate embeddings ``[n, d]`` (tasks apply the similarity themselves)."""
        return self.embedding.candidates(item_ids)

    def candidate_embeddings(self) -> tf.Tensor:
        """``[num_items, d]`` serving candidate embeddings (row = item index)."""
        return self.retrieval.similarity.embed(self.embedding.all_candidates())

    # ------------------------------------------------------------------ training
    def compute_loss(self, inputs: Mapping[str, tf.Tensor], training: bool = False
                     ) -> tf.Tensor:
        """Eq. 10 on a batch. The window is the last ``max_len + 1`` sessions: targets come
        from all of them, the encoder reads all but each user's last (the SASRec shift), so
        every position the encoder sees, including the last one used at serving, is trained.

        Partial-session queries (``prefix_weight > 0``) are encoded with the sequences: as
        query tokens of their users' sequences with an attention SSE
        (:meth:`_encode_with_cuts`), else as more sequences in the same encoder call.
        """
        if self.item_session_targets:
            return self._item_session_loss(inputs, training, drop_last=True)[0]
        seq = self.view(inputs, extra=1)
        encoder_input, new_index = seq.drop_last_session()
        if self.prefix_weight <= 0:
            states, mask = self.encode_sequence(encoder_input, training=training,
                                                vectors=False)
            return self._sequence_loss(seq, states, mask, new_index, training)
        cuts = self._partial_cuts(seq, training)
        main = SessionBatch(encoder_input.fields)
        if self.query_tokens:
            # each partial-session query is one more token of its user's own sequence
            states, mask, queries = self._encode_with_cuts(main, cuts, training)
            loss = self._sequence_loss(seq, states, mask, new_index, training, prefix=False)
            return loss + self.prefix_weight * self._draws_loss(queries, cuts, training)
        # the sequences and the partial-session queries' cut histories in ONE encoder call
        # (one copy of the encoder in the traced step; equal to two calls, tested)
        users = main.num_users
        states, mask = self.encode_sequence(
            SessionBatch.concat([main, self._cut_histories(cuts)]), training=training,
            vectors=False, open_from=users)
        loss = self._sequence_loss(seq, states[:users], mask[:users], new_index, training,
                                   prefix=False)
        return loss + self.prefix_weight * self._partial_loss(
            cuts, states[users:], mask[users:], training)

    def _encode_with_cuts(self, main: SessionBatch, cuts: list[PartialQueries],
                          training: bool) -> tuple[tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        """SSE states of ``main`` (``[B, L, d]``, mask ``[B, L]``) and of every draw's
        partial-session queries (``[G_i, d]`` each) in one ISE and one SSE call.

        Query ``g`` of draw ``i`` cuts session ``j`` of user ``b``: the ISE pools the cut
        session's prefix into one token, which becomes query slot ``i`` of user ``b``
        (position ``j``, session ``j``'s time): it reads the user's tokens ``0 .. j-1`` (the
        sessions before the cut, all in ``main``, which lacks at most the window's last
        session; a query's history has at most ``max_len`` sessions) and itself. Equal to
        encoding the cut histories as sequences (:meth:`partial_session_loss`; tested)."""
        prefixes = [cut.inputs.keep_last_sessions(1) for cut in cuts]  # [G_i, 1, I]
        tokens = self._session_tokens(SessionBatch.concat([main, *prefixes]), training)
        splits = main["item_id"].row_splits
        main_tokens = tf.RaggedTensor.from_row_splits(tokens.values[:splits[-1]], splits,
                                                      validate=False)  # [B, S, d]
        slots = [tf.stack([cut.users, tf.fill(tf.shape(cut.users), tf.constant(i, tf.int64))],
                          axis=1) for i, cut in enumerate(cuts)]  # (user, draw) [G_i, 2]
        where = tf.concat(slots, axis=0)
        position = tf.concat([cut.inputs["item_id"].row_lengths() - 1 for cut in cuts], 0)
        times = tf.concat([_last_session_value(cut.inputs["session_timestamp"])
                           for cut in cuts], 0)
        shape = tf.stack([tf.cast(main.num_users, tf.int64), tf.constant(len(cuts), tf.int64)])
        partial = tokens.values[splits[-1]:]  # [sum G_i, d] the cut sessions' tokens
        if self.open_marker is not None:
            partial = self.open_marker(partial)
        grid = tf.scatter_nd(where, partial,
                             tf.concat([shape, tf.shape(tokens.values, tf.int64)[1:]], 0))
        grid.set_shape([None, len(cuts), tokens.values.shape[-1]])  # [B, Q, d]
        queries = QueryTokens(tokens=grid,
                              position=tf.scatter_nd(where, tf.cast(position, tf.int32), shape),
                              timestamp=tf.scatter_nd(where, times, shape))
        states, mask, query_states = self._encode_sessions(
            main_tokens, main["session_timestamp"], training, queries)
        return states, mask, [tf.gather_nd(query_states, at) for at in slots]

    def _item_session_loss(self, inputs: Mapping[str, tf.Tensor], training: bool,
                           drop_last: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Eq. 10 with next-session targets on the item view (``item_session_targets``):
        the sessions of ``inputs`` give the targets, the item view of the same history (without
        each user's last session when ``drop_last``, the training window) gives the states; a
        target session's query is the state after the last input item before it
        (:meth:`ItemView.session_rows`), and a target session without one (nothing kept
        before it, or out of the ``max_len`` window) has no query.
        Returns ``(loss, states [B, L, d], mask [B, L])``."""
        full = SessionBatch.from_dict(inputs, self.view.keys)
        encoded, new_index = full.drop_last_session() if drop_last else (full, None)
        states, mask = self.encode_sequence(self.view(encoded), training=training,
                                            vectors=False)
        loss = self._sequence_loss(full, states, mask, new_index, training,
                                   rows=self.view.session_rows(encoded))
        return loss, states, mask

    def _sequence_loss(self, seq: SessionBatch, states: tf.Tensor,
                       mask: tf.Tensor, new_index: tf.Tensor | None, training: bool,
                       prefix_draws: int | None = None, prefix: bool = True,
                       rows: tf.Tensor | None = None) -> tf.Tensor:
        """Eq. 10 (plus the partial-session term) of ``seq`` given encoder states.

        ``states``/``mask`` (SSE states, before the user-vector map: ``vectors=False``)
        encode ``seq`` without each user's last session (``new_index``
        re-addresses ``seq``'s flat sessions, :meth:`SessionBatch.drop_last_session`), or
        all of ``seq`` (``new_index=None``): a causal encoder gives the same state at every
        position either way; the last one is never a query.
        ``prefix_draws`` overrides ``prefix_queries`` (the cuts averaged); ``prefix=False``
        leaves the partial-session term to the caller. ``rows``: the states are not one per
        encoded session but ``rows[s]`` is encoded session ``s``'s state (-1: none, the group
        is dropped); see :meth:`_item_session_loss`.
        """
        drop = (seq.shown_before_session() if self.rank_drop_shown and self.rank is not None
                else None)
        targets = next_session_targets(seq["item_id"], seq["label"], drop)
        flat_states = boolean_mask(states, mask)  # one row per encoded session
        positions = (targets.group_position if new_index is None
                     else tf.gather(new_index, targets.group_position))  # never removed
        if rows is not None:
            positions = tf.gather(rows, positions)
            has_query = positions >= 0
            targets = select_groups(targets, has_query)
            positions = boolean_mask(positions, has_query)
        queries = self.user_vectors_of(tf.gather(flat_states, positions))  # one per group
        loss = self._eq10(self.retrieval, self.rank, queries, targets, training)
        if prefix and self.prefix_weight > 0:
            loss = loss + self.prefix_weight * self.partial_session_loss(
                seq, training, prefix_draws)
        users = seq["item_id"].nrows(out_type=tf.int64)
        session_user = seq.layout.session_user
        user_has_target = tf.math.unsorted_segment_max(
            tf.ones_like(targets.group_position),
            tf.gather(session_user, targets.group_position), users)
        self.skipped_users.update_state(
            tf.reduce_sum(tf.cast(user_has_target <= 0, tf.float32)))
        return loss

    def partial_session_loss(self, seq: SessionBatch, training: bool,
                             draws: int | None = None) -> tf.Tensor:
        """Loss of the partial-session queries of a batch in the session view: the mean over
        ``draws`` (default ``prefix_queries``) independent cuts per user (draw ``i`` of step
        ``t`` uses the stateless seed ``(prefix_seed, t * prefix_queries + i)``; ``t = -1``
        when not training).

        The draws' cut histories are encoded in ONE encoder call (their users concatenated),
        then each draw's queries get their own loss: the mean of :meth:`partial_session_draw`
        over the draws (equal with dropout off; tested), with one copy of the encoder in
        the traced step instead of one per draw."""
        cuts = self._partial_cuts(seq, training, draws)
        states, mask = self.encode_sequence(self._cut_histories(cuts), training=training,
                                            vectors=False, open_from=0)
        return self._partial_loss(cuts, states, mask, training)

    def _partial_cuts(self, seq: SessionBatch, training: bool, draws: int | None = None
                      ) -> list[PartialQueries]:
        """The draws' :class:`PartialQueries` (seeds: see :meth:`partial_session_loss`); a
        query's history has at most ``max_len`` sessions."""
        step = (tf.cast(self.optimizer.iterations, tf.int64) if training
                else tf.constant(-1, tf.int64))
        draws = self.prefix_queries if draws is None else draws
        batch = SessionBatch.from_dict(seq, self.view.keys)
        offset = replica_offset(batch.layout.num_users) if training else 0
        return [partial_session_cuts(batch, tf.stack([
            tf.constant(self.prefix_seed, tf.int64), step * self.prefix_queries + i]), offset,
            self.cut_policy) for i in range(draws)]

    def _cut_histories(self, cuts: list[PartialQueries]) -> SessionBatch:
        """Every draw's cut histories, users concatenated, in the view's form (at most
        ``max_len`` sessions, like a serving request)."""
        return self.view(SessionBatch.concat([cut.inputs for cut in cuts]))

    def _partial_loss(self, cuts: list[PartialQueries], states: tf.Tensor,
                      mask: tf.Tensor, training: bool) -> tf.Tensor:
        """Mean over the draws of their Eq. 10, given the SSE states (before the user-vector
        map) of :meth:`_cut_histories`."""
        queries = tf.split(_last_state(states, mask),  # [sum G_i, d]
                           tf.stack([cut.inputs.num_users for cut in cuts]), num=len(cuts))
        return self._draws_loss(queries, cuts, training)

    def _draws_loss(self, queries: list[tf.Tensor], cuts: list[PartialQueries],
                    training: bool) -> tf.Tensor:
        """Mean over the draws of their Eq. 10 given their query states ``[G_i, d]`` (SSE
        states, before the user-vector map)."""
        losses = [self._eq10(self.prefix_retrieval, self.prefix_rank, self.user_vectors_of(q),
                             cut.targets, training) for q, cut in zip(queries, cuts, strict=True)]
        return tf.add_n(losses) / float(len(cuts))

    def partial_session_draw(self, seq: SessionBatch, seed: tf.Tensor,
                             training: bool) -> tf.Tensor:
        """Loss of one cut per user (``seed``): each query is the state :meth:`call` gives for
        the history up to its cut (the cut session marked open with ``prefix_marker``). The
        reference for :meth:`partial_session_loss`."""
        batch = SessionBatch.from_dict(seq, self.view.keys)
        offset = replica_offset(batch.layout.num_users) if training else 0
        inputs, targets = partial_session_queries(batch, seed, offset, self.cut_policy)
        inputs = self.view(inputs)  # at most max_len sessions, like a serving request
        states, mask = self.encode_sequence(inputs, training=training, open_from=0)
        queries = _last_state(states, mask)  # [G, d]: group g is query g
        return self._eq10(self.prefix_retrieval, self.prefix_rank, queries, targets, training)

    def _eq10(self, retrieval: NextSessionRetrieval, rank: SessionRank | None,
              queries: tf.Tensor, targets: TargetRows, training: bool) -> tf.Tensor:
        """``L_retrieval + alpha * L_rank`` of ``[G, d]`` group queries and their rows.

        Both tasks embed the rows' positives (``targets.positive_ids``): the lookup is done
        once and shared (:class:`_SharedLookup`)."""
        candidates = _SharedLookup(self.candidates)
        loss = retrieval(queries, targets, candidates, training=training)
        if rank is not None and self.alpha > 0:
            loss = loss + self.alpha * rank(queries, targets, candidates, training=training)
        return loss

    # Each traced step is freed with its function (models/gradient_registry.py); the train
    # step builds its gradients inside the decorated body.
    @released_custom_gradients()
    def train_step(self, inputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """One optimiser step; reports the loss terms, not the (evaluation-only) rankings."""
        with tf.GradientTape() as tape:
            loss = self.compute_loss(inputs, training=True)  # this replica's share
            total = loss + replica_share(tf.add_n([tf.constant(0.0), *self.losses]))
        grads = tape.gradient(total, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        metrics = {m.name: m.result() for m in self.metrics if m is not self.ranking}
        metrics["loss"] = global_sum(loss)
        return metrics

    def _validation_encode(self, inputs: Mapping[str, tf.Tensor]
                           ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """``(loss, states [B, L, d], mask [B, L])`` of ONE encode of a validation batch's
        serving window (:meth:`test_step`)."""
        if self.item_session_targets:
            return self._item_session_loss(inputs, False, drop_last=False)
        seq = self.view(inputs)
        if self.prefix_weight > 0 and self.query_tokens:
            # the cuts as query tokens: still one encode (they do not change the states)
            cuts = self._partial_cuts(seq, training=False, draws=1)
            states, mask, queries = self._encode_with_cuts(SessionBatch(seq.fields), cuts,
                                                           training=False)
            loss = self._sequence_loss(seq, states, mask, None, training=False, prefix=False)
            loss += self.prefix_weight * self._draws_loss(queries, cuts, training=False)
            return loss, states, mask
        states, mask = self.encode_sequence(seq, training=False, vectors=False)
        return (self._sequence_loss(seq, states, mask, None, training=False, prefix_draws=1),
                states, mask)

    @released_custom_gradients()
    def test_step(self, inputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Loss on the batch's own sequences, plus full-catalog Recall/NDCG@K on targets.

        With targets (validation), ONE encode of the serving window gives both: the user
        embedding (the last state, as :meth:`call`) and the loss queries (every earlier
        state), and the partial-session term is estimated with one cut per user (a query
        token in that same encode with an attention SSE, a second encode otherwise). A user
        with more than ``max_len`` sessions therefore has one target session fewer in the
        validation loss than in :meth:`compute_loss` (whose window is one session longer).
        """
        if "target_item_id" not in inputs:
            loss = self.compute_loss(inputs, training=False)
        else:
            loss, states, mask = self._validation_encode(inputs)
            users = self.retrieval.similarity.embed(
                self.user_vectors_of(_last_state(states, mask)))
            retriever = ExactTopK(max(self.eval_ks)).index(self.candidate_embeddings())
            _, top_ids = retriever(users, seen_items(inputs, self.exclude_seen))
            self.ranking.update_state(top_ids, inputs["target_item_id"])
        metrics: dict[str, tf.Tensor] = {}
        for m in self.metrics:
            result = m.result()
            metrics.update(result if isinstance(result, dict) else {m.name: result})
        metrics["loss"] = global_sum(loss)
        return metrics

class _SharedLookup:
    """``candidate_fn`` that embeds each id tensor once: the tasks of one step pass the same
    ``targets.positive_ids`` tensor, so the second lookup (and its gradient path) is reused.
    Keyed by the tensor object, which the memo keeps alive."""

    def __init__(self, fn: Callable[[tf.Tensor], tf.Tensor]) -> None:
        self.fn = fn
        self.memo: dict[int, tuple[tf.Tensor, tf.Tensor]] = {}

    def __call__(self, ids: tf.Tensor) -> tf.Tensor:
        hit = self.memo.get(id(ids))
        if hit is None or hit[0] is not ids:
            hit = self.memo[id(ids)] = (ids, self.fn(ids))
        return hit[1]


def _last_session_value(values: tf.RaggedTensor) -> tf.Tensor:
    """``[B]`` the value of each user's last session in ``values [B, S]`` (every user has
    one)."""
    return tf.gather(values.values, values.row_splits[1:] - 1)


def _last_state(states: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """``[B, ...]`` state at each user's last position of ``states [B, L, ...]`` (0 if none)."""
    last = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1) - 1
    user = tf.gather(states, tf.maximum(last, 0), batch_dims=1)
    has = tf.reshape(last >= 0, [-1] + [1] * (user.shape.rank - 1))
    return tf.where(has, user, tf.zeros_like(user))
