"""A bounded, time-indexed event buffer (a ring of columnar arrays).

Bounds: at most ``max_events`` events (the oldest are dropped, counted in ``dropped_overflow``) and
at most ``max_duration_ns`` of history behind the newest event (older ones are evicted, counted in
``evicted_by_age``). ``window(t0, t1)`` costs O(log n) to find the range plus a copy of the window:
it does not depend on how much the buffer holds.

Time going backwards (the policy; never silent):
- A step back of at most ``backward_tolerance_ns`` (sensor jitter, e.g. an EVT3 TIME_HIGH glitch, or
  slightly out-of-order packets) is absorbed: those events get the time of the newest event before
  them (counted in ``clamped_late``), so the buffer stays time ordered.
- A larger step back (a bag played in a loop, a restarted driver or camera) is a time reset: the
  buffer is cleared with a warning (counted in ``time_resets``; the cleared events in
  ``cleared_by_reset``) and fills again from the new time.
"""

from __future__ import annotations

import logging

import numpy as np
from numba import njit

from had_tracker.events.container import P_DTYPE, T_DTYPE, XY_DTYPE, Events
from had_tracker.events.time_order import scan_time_order

log = logging.getLogger(__name__)

_INITIAL_CAPACITY = 1 << 16


class EventBuffer:
    """Bounded buffer of one sensor's events, ordered by time, windowed by time."""

    def __init__(self, max_duration_ns: int, max_events: int, backward_tolerance_ns: int = 50_000_000) -> None:
        if max_duration_ns <= 0 or max_events <= 0:
            raise ValueError(f"EventBuffer bounds must be positive, got {max_duration_ns} ns, {max_events} events")
        self.max_duration_ns = int(max_duration_ns)
        self.max_events = int(max_events)
        self.backward_tolerance_ns = int(backward_tolerance_ns)
        self.width = 0
        self.height = 0
        self._cap = 0
        self._t = np.empty(0, T_DTYPE)
        self._x = np.empty(0, XY_DTYPE)
        self._y = np.empty(0, XY_DTYPE)
        self._p = np.empty(0, P_DTYPE)
        self._head = 0  # index of the oldest event
        self._size = 0
        self.appended = 0
        self.accepted = 0
        self.dropped_overflow = 0
        self.evicted_by_age = 0
        self.clamped_late = 0
        self.time_resets = 0
        self.cleared_by_reset = 0
        self.released = 0

    # -- queries ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._size

    @property
    def latest_t_ns(self) -> int | None:
        """Time of the newest event, or None when empty."""
        return int(self._t[(self._head + self._size - 1) % self._cap]) if self._size else None

    @property
    def oldest_t_ns(self) -> int | None:
        """Time of the oldest event held, or None when empty."""
        return int(self._t[self._head]) if self._size else None

    @property
    def counters(self) -> dict[str, int]:
        """Every counter of the buffer (for logs and diagnostics)."""
        return {
            "size": self._size,
            "appended": self.appended,
            "accepted": self.accepted,
            "dropped_overflow": self.dropped_overflow,
            "evicted_by_age": self.evicted_by_age,
            "clamped_late": self.clamped_late,
            "time_resets": self.time_resets,
            "cleared_by_reset": self.cleared_by_reset,
            "released": self.released,
        }

    def _segments(self) -> list[tuple[int, int]]:
        """The stored range as up to two contiguous [start, stop) index ranges, oldest first."""
        if not self._size:
            return []
        end = self._head + self._size
        if end <= self._cap:
            return [(self._head, end)]
        return [(self._head, self._cap), (0, end - self._cap)]

    def window(self, t_start_ns: int, t_end_ns: int, shift_ns: int = 0) -> Events:
        """A copy of the events with ``t_start_ns <= t < t_end_ns``, ``shift_ns`` added to their times."""
        pieces = []
        for a, b in self._segments():
            i0, i1 = np.searchsorted(self._t[a:b], [t_start_ns, t_end_ns], side="left")
            if i1 > i0:
                pieces.append(slice(a + int(i0), a + int(i1)))
        if not pieces:
            return Events.empty(self.width, self.height)
        if len(pieces) == 1:  # the shift is the copy of the times (one pass)
            s = pieces[0]
            t = self._t[s] + np.int64(shift_ns) if shift_ns else self._t[s].copy()
            return Events(t, self._x[s].copy(), self._y[s].copy(), self._p[s].copy(), self.width, self.height)
        t = np.concatenate([self._t[s] for s in pieces])  # the ring wraps inside the window
        if shift_ns:
            t += np.int64(shift_ns)
        columns = [np.concatenate([column[s] for s in pieces]) for column in (self._x, self._y, self._p)]
        return Events(t, *columns, self.width, self.height)

    def count_before(self, t_ns: int) -> int:
        """Number of stored events with ``t < t_ns``."""
        if not self._size or self._t[self._head] >= t_ns:  # the common answer (nothing that old), without a search
            return 0
        return sum(int(np.searchsorted(self._t[a:b], t_ns, side="left")) for a, b in self._segments())

    # -- updates ----------------------------------------------------------------------------------
    def clear(self) -> None:
        """Drop everything held (counters are kept)."""
        self._head = 0
        self._size = 0

    def release_before(self, t_ns: int) -> int:
        """Let go of the events with ``t < t_ns`` (consumed: no longer needed, not lost); returns how many.

        Counted in ``released``, apart from the bounds' drops. A ring that keeps only what is still pending
        stays small and in cache instead of streaming through ``max_duration_ns`` of events.
        """
        old = self.count_before(t_ns)
        if old:
            self.released += old
            self._head = (self._head + old) % self._cap
            self._size -= old
        return old

    def append(self, events: Events, time_ordered: bool = False) -> int:
        """Add a batch (time ordered, after the held events); returns how many of it are held afterwards.

        ``time_ordered``: the caller has checked that ``t`` never decreases inside the batch, so the scan for
        time resets inside it is skipped (a step back from the held events is still handled).
        """
        n = len(events)
        if not n:
            return 0
        self.appended += n
        if not self._size and not self.width:
            self.width, self.height = events.width, events.height
        t = np.asarray(events.t, T_DTYPE)
        x, y, p = np.asarray(events.x, XY_DTYPE), np.asarray(events.y, XY_DTYPE), np.asarray(events.p, P_DTYPE)
        if time_ordered:
            held = self._append_piece(t, x, y, p)
            self.accepted += held
            return held
        # Split at large steps back inside the batch: each piece is appended on its own (time reset).
        held, a = 0, 0
        while a < n:
            cut, _ = scan_time_order(t[a:], self.backward_tolerance_ns)
            b = n if cut < 0 else a + cut
            held = self._append_piece(t[a:b], x[a:b], y[a:b], p[a:b])
            a = b
        # Events of earlier pieces were cleared by the reset that each later piece triggered.
        self.accepted += held
        return held

    def _append_piece(self, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> int:
        latest = self.latest_t_ns
        if latest is not None and t[0] < latest - self.backward_tolerance_ns:
            log.warning(
                "event time went back %.3f s (from %d to %d ns): EventBuffer reset",
                (latest - int(t[0])) / 1e9, latest, int(t[0]),
            )  # fmt: skip
            self.time_resets += 1
            self.cleared_by_reset += self._size
            self.clear()
            latest = None
        n = len(t)
        if n > self.max_events:
            self.dropped_overflow += n - self.max_events
            t, x, y, p = t[-self.max_events :], x[-self.max_events :], y[-self.max_events :], p[-self.max_events :]
            n = self.max_events
        self._reserve(self._size + n)
        overflow = self._size + n - self._cap
        if overflow > 0:
            self.dropped_overflow += overflow
            self._head = (self._head + overflow) % self._cap
            self._size -= overflow
        start = (self._head + self._size) % self._cap
        # Absorb small steps back while copying: clamp to the running maximum (and to the newest held event).
        floor = _T_MIN if latest is None else latest
        self.clamped_late += int(_clamp_copy(t, x, y, p, floor, start, self._cap, self._t, self._x, self._y, self._p))
        self._size += n
        self._evict_older_than(int(self._t[(start + n - 1) % self._cap]) - self.max_duration_ns)
        return min(n, self._size)

    def _evict_older_than(self, cutoff_ns: int) -> None:
        old = self.count_before(cutoff_ns)
        if old:
            self.evicted_by_age += old
            self._head = (self._head + old) % self._cap
            self._size -= old

    def _reserve(self, needed: int) -> None:
        """Grow the ring's capacity (doubling, up to max_events) so it can hold ``needed`` events if allowed.

        Storage for ``max_events`` is reserved once, at the first growth: pages never written cost no memory
        (the OS maps them on first write), so growing only widens the ring over storage that is already there.
        That copies nothing while the held events are contiguous, and only the smaller piece of a wrapped
        ring otherwise; re-allocating and copying millions of events stalled the stream for tens of ms, just
        when the event rate rises. Where the OS refuses the reservation, the storage grows by doubling.
        """
        if needed <= self._cap or self._cap >= self.max_events:
            return
        new_cap = min(self.max_events, max(_INITIAL_CAPACITY, self._cap * 2, needed))
        if len(self._t) < new_cap:
            self._allocate(new_cap)
        end = self._head + self._size - self._cap  # > 0: the ring is wrapped, [head, cap) + [0, end)
        if end > 0:
            first = self._cap - self._head
            columns = (self._t, self._x, self._y, self._p)
            if end <= first and self._cap + end <= new_cap:  # the wrapped tail moves behind the head piece
                for column in columns:
                    column[self._cap : self._cap + end] = column[:end]
            else:  # the head piece moves to the end of the wider ring (new_cap >= size: clear of the tail)
                for column in columns:
                    column[new_cap - first : new_cap] = column[self._head : self._cap]
                self._head = new_cap - first
        self._cap = new_cap

    def _allocate(self, min_size: int) -> None:
        """New storage of ``max_events`` (else ``min_size``) slots per column; slots [0, cap) keep their events."""
        columns = (self._t, self._x, self._y, self._p)
        try:
            arrays = [_empty(self.max_events, column.dtype) for column in columns]
        except MemoryError:
            if min_size >= self.max_events:
                raise
            log.info("EventBuffer: could not reserve %d events up front; growing by doubling", self.max_events)
            arrays = [_empty(min_size, column.dtype) for column in columns]
        for new, old in zip(arrays, columns, strict=True):
            new[: self._cap] = old[: self._cap]
        self._t, self._x, self._y, self._p = arrays


_T_MIN = int(np.iinfo(np.int64).min)


@njit(cache=True, nogil=True)
def _clamp_copy(t, x, y, p, floor, start, cap, dst_t, dst_x, dst_y, dst_p):
    """Copy events into the ring from slot ``start`` (wrapping at ``cap``); returns how many were clamped.

    Times are clamped to their running maximum (starting at ``floor``): one pass instead of a numpy pass per step.
    The copy runs as up to two contiguous pieces (before and after the wrap), without a branch per event.
    """
    late = 0
    running = floor
    n = t.shape[0]
    first = min(n, cap - start)
    for i in range(first):
        ti = t[i]
        late += ti < running
        running = max(running, ti)
        dst_t[start + i] = running
        dst_x[start + i] = x[i]
        dst_y[start + i] = y[i]
        dst_p[start + i] = p[i]
    for i in range(first, n):
        ti = t[i]
        late += ti < running
        running = max(running, ti)
        dst_t[i - first] = running
        dst_x[i - first] = x[i]
        dst_y[i - first] = y[i]
        dst_p[i - first] = p[i]
    return late


def _empty(size: int, dtype: np.dtype) -> np.ndarray:
    """Uninitialised storage (its pages are mapped only when written)."""
    return np.empty(size, dtype)
