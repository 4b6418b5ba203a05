"""The tracker's next search region, handed to the synchronizer (``Synchronizer.set_roi``), without rclpy.

The synchronizer then keeps only the events the tracker can look at next (issue 15 item 2): fewer events to
buffer, cut, serialise into EventWindow and deserialise. Offline, ``bench/pipeline.py`` sets the region right
after each box; live it arrives a window or two later (the margin of ``roi_around``, a quarter of the search
crop on each side, covers the box's motion in that time).

- :func:`tracker_search_region` decides the region after each window: the tracker's ``search_roi()`` while it
  tracks an observed target; ``None`` (the whole sensor) while idle, initialising, lost, unobserved (its
  whole-image search needs the whole sensor) or while a new start request is pending (the new target may lie
  outside the old region).
- :class:`SearchRegionSender` (tracker side) says when to send: on every change and at least every
  ``keepalive_s`` (the receiver forgets a region it has not heard of for ``SEARCH_REGION_TIMEOUT_S``).
- :class:`SearchRegionSlot` (synchronizer side) holds the newest region; it may be written from another thread
  (single-process mode: the tracker node's executor thread) because one attribute is replaced atomically, and
  it is read by the synchronizer's own callbacks right before each packet is ingested.
- :func:`roi_to_msg` / :func:`roi_from_msg`: a ``sensor_msgs/RegionOfInterest`` (duck-typed) carries it
  between the two nodes; all zeros = the whole sensor (the message's own convention for "full resolution").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from had_tracker.sync.roi import Roi

SEARCH_REGION_TIMEOUT_S = 1.0  # a region not refreshed for this long is dropped (tracker gone): whole sensor
SEARCH_REGION_KEEPALIVE_S = 0.25  # the tracker re-sends an unchanged region this often
UINT32_MAX = 2**32 - 1


def tracker_search_region(session: Any, last_result: Any) -> Roi | None:
    """The region the next windows need (None = the whole sensor) for a :class:`TrackingSession` and its last result.

    ``session.tracker.search_roi()`` (None unless TRACKING) while a target is tracked and observed; the whole
    sensor when a start request is pending, the session is idle, the tracker has no ``search_roi``, or the last
    result was ``unobserved`` (the tracker's whole-image search would otherwise starve).
    """
    search_roi = getattr(session.tracker, "search_roi", None)
    if search_roi is None or not session.active or session.pending is not None:
        return None
    if last_result is not None and bool(getattr(last_result, "unobserved", False)):
        return None
    roi = search_roi()
    return roi if isinstance(roi, Roi) else None


class SearchRegionSender:
    """Decides when the tracker sends its region: when it changed, and at least every ``keepalive_s``."""

    def __init__(self, keepalive_s: float = SEARCH_REGION_KEEPALIVE_S, clock: Callable[[], float] = time.monotonic):
        self.keepalive_s = float(keepalive_s)
        self._clock = clock
        self._last: Roi | None = None
        self._sent_at: float | None = None
        self.sent = 0

    def due(self, roi: Roi | None) -> bool:
        """True when ``roi`` should be sent now (then it counts as sent)."""
        now = self._clock()
        if self._sent_at is not None and roi == self._last and now - self._sent_at < self.keepalive_s:
            return False
        self._last, self._sent_at = roi, now
        self.sent += 1
        return True


class SearchRegionSlot:
    """The synchronizer's newest region: written by any thread, applied by the synchronizer's callbacks."""

    def __init__(self, timeout_s: float = SEARCH_REGION_TIMEOUT_S, clock: Callable[[], float] = time.monotonic):
        self.timeout_s = float(timeout_s)
        self._clock = clock
        self._offered: tuple[Roi | None, float] | None = None  # replaced whole by the writer only: no lock needed
        self._lapsed: tuple[Roi | None, float] | None = None  # the offer last counted as expired (reader side)
        self.received = 0
        self.expired = 0
        self._applied: Roi | None = None

    def offer(self, roi: Roi | None) -> None:
        """Record the tracker's newest region (None = the whole sensor)."""
        self._offered = (roi, self._clock())
        self.received += 1

    def current(self) -> Roi | None:
        """The region to apply now: the newest offered, or None once it is older than ``timeout_s``.

        Never writes ``_offered``: in single-process mode the tracker's thread may offer a new region between
        this read and any write here, and that region would be lost until the next keep-alive.
        """
        offered = self._offered
        if offered is None:
            return None
        roi, at = offered
        if roi is not None and self._clock() - at > self.timeout_s:
            if self._lapsed is not offered:  # count each lapsed offer once
                self._lapsed = offered
                self.expired += 1
            return None
        return roi

    def apply(self, set_roi: Callable[[Roi | None], None]) -> Roi | None:
        """Pass the current region to ``set_roi`` (``Synchronizer.set_roi``) when it changed; return it."""
        roi = self.current()
        if roi != self._applied:
            set_roi(roi)
            self._applied = roi
        return roi

    def values(self) -> dict[str, str]:
        """Diagnostic values: the region in force and how many were received / expired."""
        roi = self._applied
        where = "whole sensor" if roi is None else f"x [{roi.x_lo}, {roi.x_hi}) y [{roi.y_lo}, {roi.y_hi})"
        return {
            "search_region": where,
            "search_regions_received": str(self.received),
            "search_regions_expired": str(self.expired),
        }


def roi_to_msg(roi: Roi | None, msg: Any) -> Any:
    """Fill a ``sensor_msgs/RegionOfInterest`` ``msg`` (all zeros for None = the whole sensor) and return it."""
    if roi is None:
        msg.x_offset = msg.y_offset = msg.width = msg.height = 0
    else:
        msg.x_offset, msg.y_offset = min(int(roi.x_lo), UINT32_MAX), min(int(roi.y_lo), UINT32_MAX)
        msg.width = min(int(roi.x_hi - roi.x_lo), UINT32_MAX)
        msg.height = min(int(roi.y_hi - roi.y_lo), UINT32_MAX)
    msg.do_rectify = False
    return msg


def roi_from_msg(msg: Any) -> Roi | None:
    """The region of a ``sensor_msgs/RegionOfInterest`` (None: zero width or height = the whole sensor)."""
    width, height = int(msg.width), int(msg.height)
    if width <= 0 or height <= 0:
        return None
    x0, y0 = int(msg.x_offset), int(msg.y_offset)
    return Roi(x0, x0 + width, y0, y0 + height)
