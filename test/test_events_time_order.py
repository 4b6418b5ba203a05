"""The one-pass time-order scan (synchronizer, EventBuffer) agrees with the numpy checks it replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from had_tracker.events.time_order import scan_time_order


def numpy_checks(t: np.ndarray, reset_ns: int) -> tuple[int, bool]:
    jumps = np.flatnonzero(t[1:] < t[:-1] - reset_ns)
    if len(jumps):
        return int(jumps[0]) + 1, False
    return -1, bool(len(t) < 2 or np.all(t[1:] >= t[:-1]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2_000), max_size=40), st.integers(0, 500))
def test_scan_matches_the_numpy_checks(values, reset_ns):
    t = np.cumsum(np.asarray(values, np.int64) - 400)  # steps back and forth, some beyond reset_ns
    assert scan_time_order(t, reset_ns) == numpy_checks(t, reset_ns)


def test_scan_examples():
    assert scan_time_order(np.array([], np.int64), 10) == (-1, True)
    assert scan_time_order(np.array([5], np.int64), 10) == (-1, True)
    assert scan_time_order(np.array([1, 2, 2, 3], np.int64), 10) == (-1, True)
    assert scan_time_order(np.array([1, 3, 2, 4], np.int64), 10) == (-1, False)  # a small step back
    assert scan_time_order(np.array([100, 101, 50, 40, 102], np.int64), 10) == (2, False)  # the first reset
