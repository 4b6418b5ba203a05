"""A short, bounded history of aligned event windows, so the model sees its trained time support.

Windows arrive at the synchronizer's rate (e.g. 5 ms at 200 Hz) while the network was trained on a
longer event window (``ModelConfig.events.window_ms``); the tracker keeps the last ``max_duration_ns``
of windows (and at most ``max_events``; the oldest whole windows go first, counted) and cuts its input
from here.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from had_tracker.events.container import Events


class EventHistory:
    """Recent aligned events (output clock), as a deque of per-window chunks."""

    def __init__(self, max_duration_ns: int, max_events: int = 5_000_000) -> None:
        if max_duration_ns <= 0 or max_events <= 0:
            raise ValueError(f"history bounds must be > 0, got {max_duration_ns} ns, {max_events} events")
        self.max_duration_ns, self.max_events = int(max_duration_ns), int(max_events)
        self._chunks: deque[tuple[int, int, Events]] = deque()  # (start_ns, end_ns, events)
        self._count = 0
        self.dropped = 0
        self.end_ns: int | None = None
        self.width = self.height = 0

    def clear(self) -> None:
        self._chunks.clear()
        self._count = 0
        self.end_ns = None

    def __len__(self) -> int:
        return self._count

    def push(self, start_ns: int, end_ns: int, events: Events) -> None:
        """Add one window; a window that starts before the newest end (a restart) clears the history."""
        if self.end_ns is not None and end_ns < self.end_ns:
            self.clear()
        self.width, self.height = events.width or self.width, events.height or self.height
        self._chunks.append((int(start_ns), int(end_ns), events))
        self._count += len(events)
        self.end_ns = int(end_ns)
        horizon = self.end_ns - self.max_duration_ns
        while self._chunks and (self._chunks[0][1] <= horizon or self._count > self.max_events):
            if len(self._chunks) == 1:  # one window bigger than the bound: keep its newest events
                s, e, ev = self._chunks[0]
                if self._count > self.max_events:
                    extra = self._count - self.max_events
                    self._chunks[0] = (s, e, ev[extra:])
                    self._count -= extra
                    self.dropped += extra
                break
            _, end, ev = self._chunks.popleft()
            self._count -= len(ev)
            if end > horizon:
                self.dropped += len(ev)

    def chunks(self) -> list[tuple[int, int, Events]]:
        """The held windows, oldest first: ``(start_ns, end_ns, events)`` (the events are not copied)."""
        return list(self._chunks)

    def window(self, t_start_ns: int, t_end_ns: int, region: tuple[int, int, int, int] | None = None) -> Events:
        """Events with ``t_start_ns <= t < t_end_ns`` (and ``x_lo <= x < x_hi``, ``y_lo <= y < y_hi`` for a region).

        Filtering by region chunk by chunk copies only what the caller will use (a search crop is a small
        part of the sensor at high event rates).
        """
        parts = []
        for s, e, ev in self._chunks:
            if e <= t_start_ns or s >= t_end_ns or not len(ev):
                continue
            part = ev.slice_time(int(t_start_ns), int(t_end_ns))
            if region is not None and len(part) and not _covers(region, ev.width, ev.height):
                x_lo, x_hi, y_lo, y_hi = region
                # Unsigned wrap-around: (x - lo) < (hi - lo) tests lo <= x < hi in one comparison; an index
                # array gathers the four columns far faster than four passes of a boolean mask.
                inside = (part.x - np.uint16(x_lo)) < np.uint16(max(x_hi - x_lo, 0))
                inside &= (part.y - np.uint16(y_lo)) < np.uint16(max(y_hi - y_lo, 0))
                part = part[np.flatnonzero(inside)]
            if len(part):
                parts.append(part)
        if not parts:
            return Events.empty(self.width, self.height)
        return Events.concatenate(parts) if len(parts) > 1 else parts[0]


def _covers(region: tuple[int, int, int, int], width: int, height: int) -> bool:
    """True when the region holds the whole sensor (nothing to filter)."""
    x_lo, x_hi, y_lo, y_hi = region
    return width > 0 and height > 0 and x_lo <= 0 and y_lo <= 0 and x_hi >= width and y_hi >= height
