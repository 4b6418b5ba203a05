"""Overload catch-up: which windows the StaleWindowSkipper lets through, the session and node core using it."""

from __future__ import annotations

import pytest

from had_tracker.tracking.stale_windows import StaleWindowSkipper

MS = 1_000_000


def decisions(skipper: StaleWindowSkipper, ages_ms: list[float | None]) -> list[bool]:
    return [skipper.should_track(None if a is None else round(a * MS)) for a in ages_ms]


def test_fresh_windows_are_tracked_and_stale_ones_skipped_up_to_the_run_limit():
    skipper = StaleWindowSkipper(max_age_ns=15 * MS, max_in_row=3)
    got = decisions(skipper, [2, 15, 16, 40, 30, 25, 20, 3, 18])
    # 15 ms is not beyond the bound; four stale in a row: the fourth is tracked (the box keeps moving)
    assert got == [True, True, False, False, False, True, False, True, False]
    assert skipper.skipped == 5 and skipper.tracked == 4


def test_unknown_age_is_tracked_and_zero_settings_never_skip():
    assert decisions(StaleWindowSkipper(15 * MS, 3), [None, None]) == [True, True]
    assert decisions(StaleWindowSkipper(0, 3), [500, 500]) == [True, True]
    assert decisions(StaleWindowSkipper(15 * MS, 0), [500, 500]) == [True, True]


def test_negative_settings_are_refused():
    with pytest.raises(ValueError):
        StaleWindowSkipper(-1, 3)
    with pytest.raises(ValueError):
        StaleWindowSkipper(15 * MS, -1)
