"""What the nodes report on /diagnostics, computed without ROS: input rates, latency percentiles, drop counters."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class DiagnosticReport:
    """One diagnostic status: ``level`` is ``ok``, ``warn`` or ``error``; values are strings (as KeyValue holds)."""

    name: str
    level: str = "ok"
    message: str = ""
    values: dict[str, str] = field(default_factory=dict)


class RateMeter:
    """Messages per second over the last ``window_s`` of wall time (bounded: at most ``max_samples`` stamps)."""

    def __init__(self, window_s: float = 5.0, max_samples: int = 10_000) -> None:
        self.window_s = float(window_s)
        self._stamps: deque[float] = deque(maxlen=max_samples)
        self.total = 0

    def tick(self, now: float | None = None) -> None:
        """Count one message at ``now`` (monotonic seconds; default: now)."""
        self._stamps.append(time.monotonic() if now is None else now)
        self.total += 1

    def rate_hz(self, now: float | None = None) -> float:
        """Messages per second in the window ending at ``now``; 0 with fewer than two messages."""
        now = time.monotonic() if now is None else now
        while self._stamps and self._stamps[0] < now - self.window_s:
            self._stamps.popleft()
        if len(self._stamps) < 2:
            return 0.0
        span = max(now - self._stamps[0], self._stamps[-1] - self._stamps[0])
        return (len(self._stamps) - 1) / span if span > 0 else 0.0


class LatencyStats:
    """Percentiles of the last ``capacity`` latencies in milliseconds."""

    def __init__(self, capacity: int = 1000) -> None:
        self._values: deque[float] = deque(maxlen=capacity)

    def add(self, latency_ms: float) -> None:
        """Record one latency [ms]."""
        self._values.append(float(latency_ms))

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile [ms] (NaN when empty)."""
        return float(np.percentile(np.fromiter(self._values, float), q)) if self._values else float("nan")

    def __len__(self) -> int:
        return len(self._values)


class SequenceGapCounter:
    """Counts messages lost upstream from a per-message sequence number (gaps; restarts when it goes backwards)."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.missing = 0
        self.restarts = 0

    def observe(self, seq: int) -> int:
        """Record ``seq``; the number of messages missing right before it."""
        seq = int(seq)
        gap = 0
        if self.last is not None:
            if seq > self.last + 1:
                gap = seq - self.last - 1
            elif seq <= self.last:
                self.restarts += 1  # publisher restarted or bag looped
        self.missing += gap
        self.last = seq
        return gap


def format_value(value: float | int | str) -> str:
    """A KeyValue string: floats with 3 significant decimals, NaN as 'n/a'."""
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.3f}"
    return str(value)
