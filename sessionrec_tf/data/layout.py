"""``FrameLayout``: where each user and session starts in a frame sorted by user, then session.

The preparation steps (sessionize, filters, splits, TFRecord writing) all need the same index
arithmetic over the sorted interaction frame: user codes, the first row and length of each
user, the first row of each session, each session's user and its index within the user. It is
computed once here (numpy, O(n)) instead of in every step.

Example::

    lay = FrameLayout.of(df)                 # df sorted by (user, session), column "session"
    lay.session_in_user                      # [n] 0-based session index within the user
    df.iloc[lay.user_starts]                 # each user's first row
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FrameLayout:
    """Users and sessions of ``n`` rows sorted by user (contiguous), then session.

    Attributes:
      user_code: ``[n]`` 0-based user of each row, in order of appearance.
      new_session: ``[n]`` true on the first row of each session.
    """

    user_code: np.ndarray
    new_session: np.ndarray

    @classmethod
    def of(cls, df: pd.DataFrame, session: str | np.ndarray = "session") -> FrameLayout:
        """The layout of ``df``; ``session`` is the session column's name, or a ``[n]`` bool
        array marking the first row of each session (while sessions are being assigned)."""
        user_code = pd.factorize(df["user_id"], sort=False)[0].astype(np.int64)
        user_change = np.ones(len(df), dtype=bool)
        user_change[1:] = user_code[1:] != user_code[:-1]
        if isinstance(session, str):
            sess = df[session].to_numpy()
            new = user_change.copy()
            new[1:] |= sess[1:] != sess[:-1]
        else:
            new = np.asarray(session, dtype=bool) | user_change
        return cls(user_code, new)

    @property
    def num_rows(self) -> int:
        return len(self.user_code)

    @cached_property
    def user_starts(self) -> np.ndarray:
        """``[U]`` first row of each user."""
        change = np.ones(self.num_rows, dtype=bool)
        change[1:] = self.user_code[1:] != self.user_code[:-1]
        return np.flatnonzero(change) if self.num_rows else np.zeros(0, np.int64)

    @property
    def num_users(self) -> int:
        return len(self.user_starts)

    @cached_property
    def user_lengths(self) -> np.ndarray:
        """``[U]`` rows of each user."""
        return np.diff(np.r_[self.user_starts, self.num_rows])

    @cached_property
    def pos_in_user(self) -> np.ndarray:
        """``[n]`` 0-based position of each row in its user's history."""
        return np.arange(self.num_rows) - np.repeat(self.user_starts, self.user_lengths)

    @cached_property
    def session_code(self) -> np.ndarray:
        """``[n]`` global 0-based session of each row."""
        return np.cumsum(self.new_session) - 1

    @cached_property
    def session_starts(self) -> np.ndarray:
        """``[S]`` first row of each session."""
        return np.flatnonzero(self.new_session)

    @cached_property
    def session_lengths(self) -> np.ndarray:
        """``[S]`` rows of each session."""
        return np.diff(np.r_[self.session_starts, self.num_rows])

    @cached_property
    def session_user(self) -> np.ndarray:
        """``[S]`` user of each session."""
        return self.user_code[self.new_session]

    @cached_property
    def sessions_per_user(self) -> np.ndarray:
        """``[U]`` sessions of each user."""
        return np.bincount(self.session_user, minlength=self.num_users)

    @cached_property
    def session_in_user(self) -> np.ndarray:
        """``[n]`` 0-based index of each row's session within its user."""
        first = np.r_[0, np.cumsum(self.sessions_per_user)[:-1]]
        return self.session_code - first[self.user_code] if self.num_rows else self.session_code
