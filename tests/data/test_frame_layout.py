"""FrameLayout against a per-row Python reference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sessionrec_tf.data.layout import FrameLayout


def test_layout_matches_the_reference():
    users = ["b", "b", "b", "a", "a", "c", "c", "c", "c"]
    sessions = [0, 0, 1, 0, 0, 0, 1, 1, 2]
    lay = FrameLayout.of(pd.DataFrame({"user_id": users, "session": sessions}))
    assert lay.user_code.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 2]
    assert lay.user_starts.tolist() == [0, 3, 5] and lay.user_lengths.tolist() == [3, 2, 4]
    assert lay.pos_in_user.tolist() == [0, 1, 2, 0, 1, 0, 1, 2, 3]
    # a user change starts a session even with the same session number
    assert lay.session_starts.tolist() == [0, 2, 3, 5, 6, 8]
    assert lay.session_lengths.tolist() == [2, 1, 2, 1, 2, 1]
    assert lay.session_user.tolist() == [0, 0, 1, 2, 2, 2]
    assert lay.sessions_per_user.tolist() == [2, 1, 3]
    assert lay.session_in_user.tolist() == sessions
    # from a "first row of a session" mask instead of a column
    new = np.array([0, 0, 1, 0, 1, 0, 1, 0, 1], bool)
    lay2 = FrameLayout.of(pd.DataFrame({"user_id": users}), new)
    assert lay2.session_in_user.tolist() == [0, 0, 1, 0, 1, 0, 1, 1, 2]


def test_empty_frame():
    lay = FrameLayout.of(pd.DataFrame({"user_id": [], "session": []}))
    assert lay.num_users == 0 and lay.session_in_user.tolist() == []
    assert lay.sessions_per_user.tolist() == []
