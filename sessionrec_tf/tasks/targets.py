"""What each position of the sequence must predict: the next session's positives.

For every position ``s`` of a user's sequence (a session token; for item-level models a
single interaction), the *target session* is the first later session of the same user that
holds at least one positive. The position then has one training row per positive of that
session (Eq. 8), and the session's negatives are its rank-loss negatives (Eq. 9). With the
paper's filters every session has a positive, so the target is simply session ``s + 1``; for
item-level models whose input holds negatives (HSTU+), it is the next positive item.

Everything is flat and vectorised: positions are indices into the batch's flat list of
sessions (``[batch, sessions]`` ragged ``.values``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import tensorflow as tf

from sessionrec_tf.data.batch_ops import boolean_mask, mask_innermost, row_ids, true_indices
from sessionrec_tf.data.session_batch import SessionBatch
from sessionrec_tf.tasks.registry import CUT_DRAWS


@dataclass
class TargetRows:
    """Training rows of one batch.

    Attributes:
      group_position: ``[G]`` flat sequence position of each query (one group per position
        that has a target session).
      group_positives: ``[G, P]`` ragged positive item ids of each group's target session.
      group_negatives: ``[G, Q]`` ragged negative item ids of each group's target session
        (without items that are also positives of that session: shown twice, engaged once).
      row_group: ``[R]`` group of each row; rows are ``group_positives.flat_values``.
      positive_ids: ``[R]`` the positive item of each row.
    """

    group_position: tf.Tensor
    group_positives: tf.RaggedTensor
    group_negatives: tf.RaggedTensor
    row_group: tf.Tensor
    positive_ids: tf.Tensor

    @classmethod
    def of_groups(cls, group_position: tf.Tensor, group_positives: tf.RaggedTensor,
                  group_negatives: tf.RaggedTensor) -> TargetRows:
        """The rows of groups given their positions, positives and negatives (one row per
        positive)."""
        return cls(group_position=group_position, group_positives=group_positives,
                   group_negatives=group_negatives, row_group=row_ids(group_positives),
                   positive_ids=group_positives.flat_values)

    @property
    def num_rows(self) -> tf.Tensor:
        return tf.shape(self.positive_ids, out_type=tf.int64)[0]


def group_queries(query_embeddings: tf.Tensor, targets: TargetRows) -> tf.Tensor:
    """``query_embeddings`` (``[G, d]`` or ``[G, k, d]``), checked to hold one query per group."""
    message = "the tasks take one query per group (target session), not one per row"
    queries, groups = query_embeddings.shape[0], targets.group_position.shape[0]
    if queries is not None and groups is not None:
        if queries != groups:
            raise tf.errors.InvalidArgumentError(None, None, f"{message}: {queries} queries, "
                                                 f"{groups} groups")
        return query_embeddings
    # 3 graph ops (tf.debugging.assert_equal builds ~25 in every traced step)
    check = tf.debugging.Assert(tf.equal(tf.shape(query_embeddings)[0],
                                         tf.shape(targets.group_position)[0]), [message])
    with tf.control_dependencies([check]):
        return tf.identity(query_embeddings)


def next_session_targets(item_ids: tf.RaggedTensor, labels: tf.RaggedTensor,
                         drop_negatives: tf.Tensor | None = None) -> TargetRows:
    """Build the rows of a batch ``[batch, sessions, items]`` (see module docstring).

    ``drop_negatives``: optional ``[N]`` bool over the batch's interactions (flat values);
    the negatives it marks are left out of every group's negatives (e.g.
    :meth:`SessionBatch.shown_before_session`: items shown to the user before)."""
    sessions = item_ids.values  # [S, I]
    session_labels = labels.values
    n_sessions = sessions.nrows(out_type=tf.int64)
    session_user = row_ids(item_ids)  # [S]
    is_pos = tf.equal(session_labels, 1)
    positives = mask_innermost(sessions, is_pos)  # [S, P]
    is_neg = tf.logical_not(is_pos.flat_values)
    if drop_negatives is not None:
        is_neg = tf.logical_and(is_neg, tf.logical_not(drop_negatives))
    negatives = mask_innermost(sessions, is_neg)  # [S, Q]
    with_positive = tf.where(positives.row_lengths() > 0)[:, 0]  # sorted session indices
    # first session with a positive after s; index len(with_positive) = "none" (sentinel)
    nxt = tf.searchsorted(with_positive, tf.range(1, n_sessions + 1), side="left",
                          out_type=tf.int64)
    padded = tf.concat([with_positive, tf.constant([-1], tf.int64)], axis=0)
    target = tf.gather(padded, nxt)
    same_user = tf.equal(tf.gather(session_user, tf.maximum(target, 0)), session_user)
    valid = tf.logical_and(target >= 0, same_user)
    group_position = boolean_mask(tf.range(n_sessions), valid)
    target = boolean_mask(target, valid)
    group_positives = tf.gather(positives, target)
    group_negatives = without_positives(tf.gather(negatives, target), group_positives)
    return TargetRows.of_groups(group_position, group_positives, group_negatives)


def select_groups(targets: TargetRows, keep: tf.Tensor) -> TargetRows:
    """The groups of ``targets`` where the ``[G]`` bool ``keep`` is true, in order."""
    index = true_indices(keep)
    return TargetRows.of_groups(tf.gather(targets.group_position, index),
                                tf.gather(targets.group_positives, index),
                                tf.gather(targets.group_negatives, index))


class PartialQueries(NamedTuple):
    """The partial-session queries of one draw (:func:`partial_session_cuts`).

    Attributes:
      users: ``[G]`` int64 batch row of each query's user.
      inputs: ``[G, S', I]`` each query's history up to its cut (the cut session last).
      targets: their :class:`TargetRows` (group ``g`` = query ``g``).
    """

    users: tf.Tensor
    inputs: SessionBatch
    targets: TargetRows


@dataclass(frozen=True)
class CutPolicy:
    """Where a partial-session query may cut and what its rank loss keeps (validated once).

    Attributes:
      max_sessions: cut only in a user's first ``max_sessions`` sessions (a query's history
        then fits the model's window without dropping its oldest session); None: anywhere.
      min_length: cut only in sessions of at least ``min_length`` interactions (2: every
        session that can be cut).
      draw: ``position`` (a candidate uniformly: sessions cut in proportion to their length)
        or ``session`` (a cuttable session uniformly, then a position in it).
      drop_shown: leave out of the negatives the items shown to the user before the cut.

    Example::

        policy = CutPolicy(max_sessions=100, draw="session")
        cuts = partial_session_cuts(seq, seed, policy=policy)
    """

    max_sessions: int | None = None
    min_length: int = 2
    draw: str = "position"
    drop_shown: bool = False

    def __post_init__(self) -> None:
        if self.max_sessions is not None and self.max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1 or None, got {self.max_sessions}")
        if self.min_length < 2:
            raise ValueError(f"min_length must be >= 2 (a cut leaves one interaction before "
                             f"it and one after), got {self.min_length}")
        if self.draw not in CUT_DRAWS:
            raise ValueError(f"draw must be one of {list(CUT_DRAWS)}, got {self.draw!r}")


def partial_session_queries(seq: SessionBatch, seed: tf.Tensor, offset: tf.Tensor | int = 0,
                            policy: CutPolicy = CutPolicy()  # noqa: B008 (frozen)
                            ) -> tuple[SessionBatch, TargetRows]:
    """``(inputs, targets)`` of :func:`partial_session_cuts`."""
    cuts = partial_session_cuts(seq, seed, offset, policy)
    return cuts.inputs, cuts.targets


def partial_session_cuts(seq: SessionBatch, seed: tf.Tensor, offset: tf.Tensor | int = 0,
                         policy: CutPolicy = CutPolicy()  # noqa: B008 (frozen)
                         ) -> PartialQueries:
    """One extra training query per user: the history up to a random cut INSIDE a session.

    The cut (:meth:`SessionBatch.random_session_cut`) leaves at least one interaction of its
    session before it and a positive after it. The query's input is the
    history up to the cut, so the cut session is a partial session, the last SSE token, as
    in a mid-session serving request; its targets are the positives of that session from the
    cut on, and the negatives from the cut on are its rank-loss negatives.

    Args:
      seq: the batch ``[B, S, I]`` in the session view.
      seed: ``[2]`` int64 stateless seed of the cuts.
      offset: the batch's first row in the global batch (under tf.distribute: the rows of
        the replicas before this one), so that the cuts do not depend on the replicas.
      policy: where the cuts may fall and which negatives are kept (:class:`CutPolicy`).

    Returns:
      :class:`PartialQueries`: only the G users that have a cut, in batch order.
    """
    items, labels = seq["item_id"], seq["label"]
    cut, rest = seq.random_session_cut(seed, offset, max_sessions=policy.max_sessions,
                                       min_length=policy.min_length, draw=policy.draw)
    has = cut >= 0
    inputs = SessionBatch(seq.fields).select_users(has).take_prefix(boolean_mask(cut, has))
    inter_user = seq.layout.inter_user
    group_of_user = tf.cumsum(tf.cast(has, tf.int64), exclusive=True)
    groups = tf.reduce_sum(tf.cast(has, tf.int64))
    is_pos = tf.equal(labels.flat_values, 1)

    def pick(mask: tf.Tensor) -> tf.RaggedTensor:
        return tf.RaggedTensor.from_value_rowids(
            boolean_mask(items.flat_values, mask),
            tf.gather(group_of_user, boolean_mask(inter_user, mask)),
            nrows=groups, validate=False)

    group_positives = pick(tf.logical_and(rest, is_pos))
    negative = tf.logical_and(rest, tf.logical_not(is_pos))
    if policy.drop_shown:
        negative = tf.logical_and(
            negative, seq.first_shown() >= tf.gather(tf.maximum(cut, 0), inter_user))
    group_negatives = without_positives(pick(negative), group_positives)
    return PartialQueries(true_indices(has), inputs, TargetRows.of_groups(
        tf.range(groups), group_positives, group_negatives))


def without_positives(negatives: tf.RaggedTensor, positives: tf.RaggedTensor
                      ) -> tf.RaggedTensor:
    """Drop from each row of ``negatives`` the ids present in the same row of ``positives``.

    Membership by sorted (row, id) keys and a binary search: O((P + Q) log P).
    """
    shift = tf.constant(2**32, tf.int64)
    pos_keys = tf.sort(row_ids(positives) * shift + positives.flat_values)
    neg_keys = row_ids(negatives) * shift + negatives.flat_values
    at = tf.searchsorted(pos_keys, neg_keys, side="left", out_type=tf.int64)
    found = tf.gather(tf.concat([pos_keys, [-1]], 0), at)
    return mask_innermost(negatives, tf.not_equal(found, neg_keys))
