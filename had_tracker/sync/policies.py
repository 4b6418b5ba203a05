"""Window policies: when an aligned event window starts and ends (all times on the output clock, ns).

- :class:`PerFramePolicy` — one window per RGB frame: its exposure window (the stamp sits at the start,
  middle or end of the exposure; COESOT style) or the interval since the previous frame (FE108/VisEvent).
- :class:`FixedRatePolicy` — back-to-back windows of ``1 / rate_hz`` on a fixed grid (e.g. 200 Hz); works
  with no RGB at all; each RGB frame is attached to the first window that ends at or after its stamp.
- :class:`FixedCountPolicy` — windows of ``events_per_window`` events (ties at the cut time go to the next
  window), closed early after ``max_window_ns`` so sparse scenes still produce output.

A policy only plans: ``plan(watermark_ns, force)`` returns the windows whose data is complete up to the
watermark (the output time before which every event has arrived), or everything pending when ``force``.
The synchronizer cuts the events and attaches images.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from had_tracker.errors import ConfigError


@dataclass
class FrameItem:
    """An RGB frame waiting for its window: image (H, W, 3) uint8 RGB, stamp (output clock), frame id."""

    image: np.ndarray
    stamp_ns: int
    frame_id: str = ""
    exposure_ns: int | None = None


@dataclass
class WindowSpec:
    """A planned window ``[start_ns, end_ns)`` on the output clock, with the frame it belongs to (if any)."""

    start_ns: int
    end_ns: int
    frame: FrameItem | None = None


class PerFramePolicy:
    """One window per RGB frame (exposure window or frame interval)."""

    def __init__(self, mode: str = "exposure", exposure_ns: int = 10_000_000, stamp_position: str = "middle") -> None:
        if mode not in ("exposure", "interval"):
            raise ConfigError(f"frame window mode must be 'exposure' or 'interval', got {mode!r}")
        if stamp_position not in ("start", "middle", "end"):
            raise ConfigError(f"stamp_position must be 'start', 'middle' or 'end', got {stamp_position!r}")
        if exposure_ns <= 0:
            raise ConfigError(f"exposure_ns must be > 0, got {exposure_ns}")
        self.mode, self.exposure_ns, self.stamp_position = mode, int(exposure_ns), stamp_position
        self._pending: deque[WindowSpec] = deque()
        self._last_stamp: int | None = None

    def reset(self) -> None:
        self._pending.clear()
        self._last_stamp = None

    def window_of(self, frame: FrameItem) -> tuple[int, int]:
        """The ``[start, end)`` window of a frame."""
        s = int(frame.stamp_ns)
        if self.mode == "interval" and self._last_stamp is not None and self._last_stamp < s:
            return self._last_stamp, s
        exposure = int(frame.exposure_ns or self.exposure_ns)
        if self.mode == "interval":  # first frame: no previous stamp, use one exposure before the stamp
            return s - exposure, s
        start = {"start": s, "middle": s - exposure // 2, "end": s - exposure}[self.stamp_position]
        return start, start + exposure

    def add_frame(self, frame: FrameItem) -> bool:
        """Queue the frame's window; False (not queued) when its stamp does not advance."""
        if self._last_stamp is not None and frame.stamp_ns <= self._last_stamp:
            return False
        start, end = self.window_of(frame)
        self._last_stamp = int(frame.stamp_ns)
        self._pending.append(WindowSpec(start, end, frame))
        return True

    @property
    def pending(self) -> int:
        return len(self._pending)

    def plan(self, watermark_ns: int | None, force: bool = False, **_: Any) -> list[WindowSpec]:
        out = []
        while self._pending and (force or (watermark_ns is not None and self._pending[0].end_ns <= watermark_ns)):
            out.append(self._pending.popleft())
        return out


class FixedRatePolicy:
    """Back-to-back windows of ``1 / rate_hz`` on the grid ``k * period`` (output clock)."""

    def __init__(self, rate_hz: float = 200.0, max_gap_windows: int = 200) -> None:
        if not rate_hz > 0:
            raise ConfigError(f"rate_hz must be > 0, got {rate_hz}")
        self.period_ns = max(int(round(1e9 / float(rate_hz))), 1)
        self.max_gap_windows = int(max_gap_windows)
        self._next_start: int | None = None
        self.skipped_windows = 0

    def reset(self) -> None:
        self._next_start = None

    def start_at(self, t_ns: int) -> None:
        """Anchor the grid at the window containing ``t_ns`` (first data seen)."""
        if self._next_start is None:
            self._next_start = (int(t_ns) // self.period_ns) * self.period_ns

    def plan(self, watermark_ns: int | None, force: bool = False, **_: Any) -> list[WindowSpec]:
        if self._next_start is None or watermark_ns is None:
            return []
        if force:  # flush: also close the partial last window, with the event at the watermark itself
            n = -(-(int(watermark_ns) + 1 - self._next_start) // self.period_ns)
        else:
            n = (int(watermark_ns) - self._next_start) // self.period_ns
        if n <= 0:
            return []
        if n > self.max_gap_windows:
            # A long silence (or a jump): skip the empty stretch rather than emit thousands of empty windows.
            skip = n - self.max_gap_windows
            self.skipped_windows += skip
            self._next_start += skip * self.period_ns
            n = self.max_gap_windows
        starts = self._next_start + self.period_ns * np.arange(n, dtype=np.int64)
        self._next_start = int(starts[-1]) + self.period_ns
        return [WindowSpec(int(s), int(s) + self.period_ns) for s in starts]


class FixedCountPolicy:
    """Windows of ``events_per_window`` events, closed after ``max_window_ns`` if they do not fill."""

    def __init__(
        self, events_per_window: int = 20_000, max_window_ns: int = 50_000_000, max_windows_per_plan: int = 1000
    ) -> None:
        if events_per_window <= 0:
            raise ConfigError(f"events_per_window must be > 0, got {events_per_window}")
        if max_window_ns <= 0:
            raise ConfigError(f"max_window_ns must be > 0, got {max_window_ns}")
        self.events_per_window, self.max_window_ns = int(events_per_window), int(max_window_ns)
        self.max_windows_per_plan = int(max_windows_per_plan)
        self._next_start: int | None = None

    def reset(self) -> None:
        self._next_start = None

    def start_at(self, t_ns: int) -> None:
        if self._next_start is None:
            self._next_start = int(t_ns)

    def plan(
        self,
        watermark_ns: int | None,
        force: bool = False,
        times_between: Callable[[int, int], np.ndarray] | None = None,
        **_: Any,
    ) -> list[WindowSpec]:
        """``times_between(start, end)`` gives the sorted output times of buffered events in ``[start, end)``."""
        if self._next_start is None or watermark_ns is None or times_between is None:
            return []
        out = []
        while len(out) < self.max_windows_per_plan and self._next_start < watermark_ns + int(force):
            start = self._next_start
            limit = min(start + self.max_window_ns, int(watermark_ns) + int(force))
            t = times_between(start, limit)
            if len(t) > self.events_per_window:
                end = int(t[self.events_per_window])  # first event of the next window
                if end == start:  # more than a window's worth of events share one stamp
                    end = start + 1
            elif start + self.max_window_ns <= watermark_ns or force:
                end = limit if force else start + self.max_window_ns
            else:
                break
            if end <= start:
                break
            out.append(WindowSpec(start, end))
            self._next_start = end
        return out
