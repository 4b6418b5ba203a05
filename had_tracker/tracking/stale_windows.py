"""Catch-up under overload: a window whose data is already stale is recorded, not tracked.

When windows arrive faster than the tracker processes them (input bursts, a busy core), every window still
queued behind the current one is older by the time its turn comes, and tracking each of them in order keeps
the boxes that old. The tracker's input is the last ``window_ms`` of events, not one window, so a window can
be skipped without losing its events: :meth:`Tracker.push <had_tracker.tracking.tracker.Tracker.push>`
records them in the event history, and the next tracked window sees them. The network then runs on fewer,
newer windows until the queue is drained, and the data age stays bounded instead of growing.

Rule: a window whose data age (host time now minus the host time of its newest event) exceeds
``max_age_ns`` is skipped, unless ``max_in_row`` windows in a row were already skipped (the box keeps moving
at least every ``max_in_row + 1`` windows). Windows without a known age (no host clock: offline replay; no
event) are always tracked, so offline results do not depend on the machine's speed. Every skip is counted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StaleWindowSkipper:
    """Decides per window whether to track it or only record its events (see module docstring)."""

    max_age_ns: int = 15_000_000  # data age beyond which a window is skipped; 0 = never skip
    max_in_row: int = 3  # at most this many windows skipped in a row; 0 = never skip
    skipped: int = 0  # windows skipped so far
    tracked: int = 0  # windows tracked so far
    _run: int = 0  # windows skipped since the last tracked one

    def __post_init__(self) -> None:
        if self.max_age_ns < 0 or self.max_in_row < 0:
            raise ValueError(f"max_age_ns ({self.max_age_ns}) and max_in_row ({self.max_in_row}) must be >= 0")

    def should_track(self, data_age_ns: int | None) -> bool:
        """True: track this window; False: record it only (counted in ``skipped``)."""
        stale = (
            self.max_age_ns > 0
            and data_age_ns is not None
            and data_age_ns > self.max_age_ns
            and self._run < self.max_in_row
        )
        if stale:
            self._run += 1
            self.skipped += 1
            return False
        self._run = 0
        self.tracked += 1
        return True


__all__ = ["StaleWindowSkipper"]
