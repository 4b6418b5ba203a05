"""Clock model: event sensor time -> output (host / RGB) time.

Which stamp is in which clock (see ../shared/reference/ros2-ecosystem.md §6.1): event drivers stamp a
packet's header with the host time of its *arrival*, while the decoded events carry *sensor* time
(evt3: ``time_base`` is 0, the time comes from the payload). RGB drivers stamp frames on their own
clock (often host receipt time). So the mapping sensor -> output is

    t_out = t_sensor + sensor_to_host(t_sensor) + extra_event_to_rgb_ns

where ``sensor_to_host`` is estimated online from packets (:class:`OffsetEstimator`), and the extra offset
is configured. When the event camera records external-trigger edges wired to the RGB camera, the whole
mapping is measured exactly instead (:class:`TriggerAligner`).

Estimator choice (:class:`OffsetEstimator`). Every packet gives one sample
``d = header_stamp - first_event_time = offset + delay`` with a transport/buffering delay ``>= 0`` that
jitters by milliseconds. The true offset is therefore the *lower envelope* of the samples, not their mean.
We keep the minimum of each bucket of ``bucket_ns`` sensor time (a min is what survives jitter), hold the
last ``window_ns`` of buckets (≈10 s, as the metavision ROSTimeKeeper does), and fit a straight line through
the bucket minima (least squares) to follow clock drift; with fewer than ``min_buckets_for_drift`` buckets,
or drift tracking off, the estimate is the window minimum. A sample more than ``reset_threshold_ns`` away
from the current estimate means a clock jump (camera reset, bag played in a loop): the window restarts
and the jump is counted.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from had_tracker.events.container import Events, Triggers

log = logging.getLogger(__name__)


@dataclass
class _Bucket:
    index: int
    t_ns: int  # sensor time of the minimum sample
    d_ns: int  # minimum (header - sensor) in the bucket


class OffsetEstimator:
    """Robust windowed sensor->host offset: bucket minima + linear drift fit (see module docstring)."""

    def __init__(
        self,
        window_ns: int = 10_000_000_000,
        bucket_ns: int = 500_000_000,
        track_drift: bool = True,
        min_buckets_for_drift: int = 4,
        max_drift_ppm: float = 1000.0,
        reset_threshold_ns: int = 1_000_000_000,
    ) -> None:
        if window_ns <= 0 or bucket_ns <= 0 or bucket_ns > window_ns:
            raise ValueError(f"need 0 < bucket_ns <= window_ns, got bucket {bucket_ns}, window {window_ns}")
        self.window_ns = int(window_ns)
        self.bucket_ns = int(bucket_ns)
        self.track_drift = bool(track_drift)
        self.min_buckets_for_drift = max(int(min_buckets_for_drift), 2)
        self.max_drift = float(max_drift_ppm) * 1e-6
        self.reset_threshold_ns = int(reset_threshold_ns)
        self._buckets: deque[_Bucket] = deque(maxlen=max(self.window_ns // self.bucket_ns, 1) + 1)
        self._fit: tuple[int, int, float, float] | None = None  # (t_ref, d_ref, intercept - d_ref, slope)
        self.samples = 0
        self.resets = 0

    def reset(self) -> None:
        """Forget every sample (a clock jump or a new stream)."""
        self._buckets.clear()
        self._fit = None

    @property
    def ready(self) -> bool:
        """True once at least one sample was seen."""
        return bool(self._buckets)

    def add_sample(self, sensor_t_ns: int, header_stamp_ns: int) -> None:
        """Feed one packet: its first event's sensor time and its header stamp (host arrival time)."""
        d = int(header_stamp_ns) - int(sensor_t_ns)
        if self._buckets and abs(d - self.offset_at(sensor_t_ns)) > self.reset_threshold_ns:
            log.warning(
                "sensor->host offset jumped by %.3f s: restarting the estimate",
                (d - self.offset_at(sensor_t_ns)) * 1e-9,
            )
            self.resets += 1
            self.reset()
        self.samples += 1
        index = int(sensor_t_ns) // self.bucket_ns
        last = self._buckets[-1] if self._buckets else None
        if last is not None and index == last.index:
            if d < last.d_ns:
                last.d_ns, last.t_ns = d, int(sensor_t_ns)
            else:
                return
        elif last is not None and index < last.index:
            # Sensor time went back (but not enough for a reset): fold into the newest bucket.
            if d < last.d_ns:
                last.d_ns = d
            else:
                return
        else:
            self._buckets.append(_Bucket(index, int(sensor_t_ns), d))
            while self._buckets and self._buckets[0].index <= index - self.window_ns // self.bucket_ns:
                self._buckets.popleft()
        self._refit()

    def _refit(self) -> None:
        # Integer references first: epoch offsets (~1e18 ns) do not survive float64 arithmetic.
        t_ref, d_ref = self._buckets[-1].t_ns, self._buckets[-1].d_ns
        tc = np.array([b.t_ns - t_ref for b in self._buckets], dtype=np.float64)
        dc = np.array([b.d_ns - d_ref for b in self._buckets], dtype=np.float64)
        slope = 0.0
        if self.track_drift and len(tc) >= self.min_buckets_for_drift and np.ptp(tc) > 0:
            slope = float(np.clip(np.polyfit(tc, dc, 1)[0], -self.max_drift, self.max_drift))
        # Lower envelope: the line shifted down so that no bucket minimum lies below it.
        intercept = float(np.min(dc - slope * tc))
        self._fit = (t_ref, d_ref, intercept, slope)

    def offset_at(self, sensor_t_ns: int) -> int:
        """Estimated ``host - sensor`` offset [ns] at a sensor time; raises RuntimeError before any sample."""
        if self._fit is None:
            raise RuntimeError("no offset sample yet")
        t_ref, d_ref, intercept, slope = self._fit
        return d_ref + int(round(intercept + slope * float(int(sensor_t_ns) - t_ref)))

    @property
    def drift_ppm(self) -> float:
        """Fitted drift of the host clock against the sensor clock [ppm] (0 when not tracked)."""
        return 0.0 if self._fit is None else self._fit[3] * 1e6


class TriggerAligner:
    """Exact event->RGB alignment from external-trigger edges matched to RGB frame stamps.

    Each RGB frame stamp ``s`` (RGB clock) is matched to the trigger edge nearest ``s - prior_offset`` in
    sensor time, within ``max_match_ns``; the prior comes from the header-stamp estimate (the drivers'
    arrival jitter is milliseconds, far below a frame period, so the match is unambiguous). The offset is
    the median of the last ``window`` matched differences ``s - t_trigger`` — exact when the frame stamps
    sit a constant time from their trigger edges — or, with ``track_drift``, a least-squares line.
    """

    def __init__(
        self,
        edge: str = "rising",
        max_match_ns: int = 10_000_000,
        window: int = 64,
        max_triggers: int = 4096,
        track_drift: bool = False,
    ) -> None:
        if edge not in ("rising", "falling", "any"):
            raise ValueError(f"trigger edge must be 'rising', 'falling' or 'any', got {edge!r}")
        self.edge = edge
        self.max_match_ns = int(max_match_ns)
        self.track_drift = bool(track_drift)
        self._triggers: deque[int] = deque(maxlen=int(max_triggers))
        self._pending_frames: deque[tuple[int, int | None]] = deque(maxlen=int(max_triggers))
        self._matches: deque[tuple[int, int]] = deque(maxlen=int(window))  # (t_trigger, s - t_trigger)
        self.matched = 0
        self.unmatched_frames = 0
        self.dropped_triggers = 0

    def reset(self) -> None:
        """Forget triggers, frames and matches."""
        self._triggers.clear()
        self._pending_frames.clear()
        self._matches.clear()

    @property
    def ready(self) -> bool:
        """True once at least one frame was matched to a trigger."""
        return bool(self._matches)

    def add_triggers(self, triggers: Triggers) -> None:
        """Feed decoded trigger edges (sensor time)."""
        if not len(triggers):
            return
        keep = np.ones(len(triggers), bool)
        if self.edge == "rising":
            keep = triggers.edge == 1
        elif self.edge == "falling":
            keep = triggers.edge == 0
        room = self._triggers.maxlen - len(self._triggers)
        t = triggers.t[keep]
        self.dropped_triggers += max(len(t) - room, 0)
        self._triggers.extend(int(v) for v in t)

    def add_frame(self, stamp_ns: int, prior_offset_ns: int | None) -> bool:
        """Match one RGB frame stamp; returns True when it matched a trigger (else it is kept for later)."""
        if self._match(int(stamp_ns), prior_offset_ns):
            return True
        self._pending_frames.append((int(stamp_ns), prior_offset_ns))
        return False

    def retry_pending(self, prior_offset_ns: int | None = None) -> None:
        """Match frames that arrived before their trigger (call after ``add_triggers``).

        ``prior_offset_ns`` stands in for frames queued before any prior was known.
        """
        still = deque(maxlen=self._pending_frames.maxlen)
        newest = self._triggers[-1] if self._triggers else None
        for stamp, own_prior in self._pending_frames:
            prior = own_prior if own_prior is not None else prior_offset_ns
            if self._match(stamp, prior):
                continue
            if prior is None:
                still.append((stamp, own_prior))
                continue
            expected = stamp - prior
            if newest is not None and newest > expected + self.max_match_ns:
                self.unmatched_frames += 1  # its trigger can no longer come
            else:
                still.append((stamp, own_prior))
        self._pending_frames = still

    def _match(self, stamp: int, prior: int | None) -> bool:
        if not self._triggers:
            return False
        if prior is None:
            prior = self.offset_at(0) if self._matches else None
        if prior is None:
            return False
        t = np.fromiter(self._triggers, np.int64, len(self._triggers))
        target = stamp - prior
        i = int(np.searchsorted(t, target))
        best = None
        for j in (i - 1, i):
            if 0 <= j < len(t) and (best is None or abs(t[j] - target) < abs(t[best] - target)):
                best = j
        if best is None or abs(int(t[best]) - target) > self.max_match_ns:
            return False
        self._matches.append((int(t[best]), stamp - int(t[best])))
        self.matched += 1
        return True

    def offset_at(self, sensor_t_ns: int) -> int:
        """Sensor -> RGB offset [ns] (add to sensor time); raises RuntimeError before any match."""
        if not self._matches:
            raise RuntimeError("no trigger matched to a frame yet")
        m = np.array(self._matches, dtype=np.int64)
        d_ref = int(m[-1, 1])
        if not self.track_drift or len(m) < 3 or np.ptp(m[:, 0]) == 0:
            return int(np.sort(m[:, 1])[(len(m) - 1) // 2])  # integer (lower) median: exact, no float rounding
        t_ref = int(m[-1, 0])
        tc = (m[:, 0] - t_ref).astype(np.float64)
        slope, intercept = np.polyfit(tc, (m[:, 1] - d_ref).astype(np.float64), 1)
        return d_ref + int(round(intercept + slope * float(int(sensor_t_ns) - t_ref)))


class TransportDelay:
    """Lower envelope of ``d = host clock at arrival - header stamp`` over a sliding window of host time.

    ``d`` is the offset between the clock that stamped the packets and the host clock, plus the transport and
    queueing delay; its minimum over the last ``window_ns`` is the offset plus the fastest delivery, so
    ``d - min`` is how long a packet waited beyond that (a subscription backlog, a busy node). One minimum per
    ``window_ns / 8`` bucket of host time keeps this O(1) per packet; a forward jump of either clock is
    forgotten after ``window_ns``.
    """

    def __init__(self, window_ns: int = 10_000_000_000) -> None:
        if window_ns <= 0:
            raise ValueError(f"window_ns must be > 0, got {window_ns}")
        self.window_ns = int(window_ns)
        self._bucket_ns = max(self.window_ns // 8, 1)
        self._buckets: deque[tuple[int, int]] = deque()  # (bucket index, minimum d)
        self._min: int | None = None

    def reset(self) -> None:
        """Forget every sample (a new stream or clock)."""
        self._buckets.clear()
        self._min = None

    @property
    def min_ns(self) -> int | None:
        """The current minimum of ``d`` (None before any sample)."""
        return self._min

    def add(self, now_ns: int, d_ns: int) -> int:
        """Feed one arrival (``d_ns = now_ns - header stamp``); returns its lag ``d - min`` (>= 0)."""
        index = int(now_ns) // self._bucket_ns
        if self._buckets and self._buckets[-1][0] == index:
            if d_ns < self._buckets[-1][1]:
                self._buckets[-1] = (index, int(d_ns))
        else:
            self._buckets.append((index, int(d_ns)))
            while self._buckets[0][0] <= index - 8:
                self._buckets.popleft()
        self._min = min(b[1] for b in self._buckets) if len(self._buckets) > 1 else self._buckets[0][1]
        return int(d_ns) - self._min


@dataclass(frozen=True)
class ActivityClockConfig:
    """Settings of the ``activity`` clock mode (``Synchronizer(config, activity=...)``)."""

    frames: int = 15  # RGB frames correlated with event activity (their events must still be in the buffer)
    range_ns: int = 50_000_000  # search the correction within +- this
    step_ns: int = 1_000_000  # resolution of the correction
    min_correlation: float = 0.5  # below this the estimate is retried on the next frames

    def validate(self) -> None:
        """Raise ConfigError for an invalid value."""
        from had_tracker.errors import ConfigError

        if self.frames < 3 or self.range_ns <= 0 or self.step_ns <= 0 or not -1.0 <= self.min_correlation <= 1.0:
            raise ConfigError(
                f"activity clock: need frames >= 3, range_ns > 0, step_ns > 0, |min_correlation| <= 1: {self}"
            )


def estimate_offset_from_activity(
    events: Events,
    frames: list[np.ndarray] | np.ndarray,
    frame_stamps_ns: np.ndarray,
    search_range_ns: tuple[int, int] = (-100_000_000, 100_000_000),
    step_ns: int = 1_000_000,
) -> tuple[int, float]:
    """Offset (add to event time) that best aligns event activity with RGB frame differences.

    For consecutive frames ``i-1, i`` the mean absolute grey-level difference is compared with the number
    of events in ``[stamp[i-1], stamp[i])`` shifted by each candidate offset; the candidate with the largest
    Pearson correlation wins. Coarse (``step_ns``), for rigs without a trigger wire and a configured offset.
    Returns ``(offset_ns, correlation)``.
    """
    stamps = np.asarray(frame_stamps_ns, dtype=np.int64)
    if len(stamps) < 3 or len(frames) != len(stamps):
        raise ValueError("need at least 3 frames with one stamp each")
    grey = [
        np.asarray(f, dtype=np.float32).mean(axis=2) if np.ndim(f) == 3 else np.asarray(f, np.float32) for f in frames
    ]
    diff = np.array([np.abs(grey[i] - grey[i - 1]).mean() for i in range(1, len(grey))])
    candidates = np.arange(int(search_range_ns[0]), int(search_range_ns[1]) + 1, int(step_ns), dtype=np.int64)
    # counts[k, i] = events with t + offset_k in [stamps[i], stamps[i+1])
    edges = stamps[None, :] - candidates[:, None]
    idx = np.searchsorted(events.t, edges.ravel()).reshape(edges.shape)
    counts = np.diff(idx, axis=1).astype(np.float64)
    dz = (diff - diff.mean()) / (diff.std() + 1e-12)
    cz = (counts - counts.mean(axis=1, keepdims=True)) / (counts.std(axis=1, keepdims=True) + 1e-12)
    corr = (cz * dz[None, :]).mean(axis=1)
    k = int(np.argmax(corr))
    return int(candidates[k]), float(corr[k])
