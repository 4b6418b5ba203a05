"""The tracker node's logic without ROS: target initialisation requests and per-window updates.

No rclpy here, so it is tested directly. A target can be started by the ``~/start_tracking`` service, the
``~/init_box`` topic, the ``init_box`` parameter or a ground-truth topic (replay); all end in
:meth:`TrackingSession.request_init`. A request names the time its box is valid at (0 = now): it starts the
tracker on the first window that reaches that time (the next window for 0 or a past time; windows come at
the synchronizer's rate, e.g. every 5 ms). Windows seen while idle still go into the tracker's event history
(``Tracker.push``), so the template has its full time support when the target arrives. Under overload, a
window whose data is already stale is recorded the same way instead of tracked
(:class:`~had_tracker.tracking.stale_windows.StaleWindowSkipper`; the node passes each window's data age).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from had_tracker.errors import HadTrackerError
from had_tracker.tracking.stale_windows import StaleWindowSkipper


class TrackerLike(Protocol):
    """What the session needs from :class:`had_tracker.tracking.tracker.Tracker`."""

    def push(self, sample: Any) -> None: ...  # noqa: D102

    def initialize(self, sample: Any, box_xywh: Any, target_id: int = 0) -> Any: ...  # noqa: D102

    def update(self, sample: Any) -> Any: ...  # noqa: D102

    def reset(self) -> None: ...  # noqa: D102


@dataclass
class InitRequest:
    """A box ``(x, y, w, h)`` in output-image pixels, valid at ``stamp_ns`` (0 = now)."""

    box_xywh: tuple[float, float, float, float]
    target_id: int
    stamp_ns: int = 0
    source: str = "service"


def check_box(box_xywh: Any, width: int | None = None, height: int | None = None) -> tuple[float, float, float, float]:
    """A valid ``(x, y, w, h)``: finite, positive size, overlapping the image when its size is known; else ValueError."""
    values = tuple(float(v) for v in box_xywh)
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"a box needs 4 finite numbers [x, y, width, height], got {list(box_xywh)}")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise ValueError(f"box width and height must be > 0, got {w} x {h}")
    if width and height and (x >= width or y >= height or x + w <= 0 or y + h <= 0):
        raise ValueError(f"box {list(values)} lies outside the {width}x{height} image")
    return x, y, w, h


class TrackingSession:
    """Owns the tracker: starts it on the window an init request names, updates it on every later window."""

    def __init__(self, tracker: TrackerLike, skipper: StaleWindowSkipper | None = None) -> None:
        """``skipper``: catch-up under overload (None: every window is tracked, as offline replay needs)."""
        self.tracker = tracker
        self.skipper = skipper
        self.pending: InitRequest | None = None
        self.latest_sample: Any | None = None
        self.active = False
        self.target_id = 0
        self.init_source = ""
        self.inits = 0
        self.failed_inits = 0
        self.last_error = ""
        self._ground_truth_used = False

    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of the newest window, when one arrived."""
        if self.latest_sample is None:
            return None
        return int(self.latest_sample.width), int(self.latest_sample.height)

    def request_init(self, request: InitRequest) -> tuple[bool, str]:
        """Queue a (re)start: ``(accepted, message)``; a bad box is refused at once; a newer request replaces it."""
        size = self.image_size()
        try:
            box = check_box(request.box_xywh, *(size or (None, None)))
        except ValueError as exc:
            self.failed_inits += 1
            self.last_error = str(exc)
            return False, str(exc)
        self.pending = InitRequest(box, int(request.target_id), int(request.stamp_ns), request.source)
        latest_end = None if self.latest_sample is None else int(self.latest_sample.window_end_ns)
        if request.stamp_ns and (latest_end is None or request.stamp_ns > latest_end):
            when = f"the first window reaching t={request.stamp_ns} ns"
        else:
            when = "the next window"
        return True, f"accepted target {request.target_id} ({request.source}); tracking starts with {when}"

    def offer_ground_truth(
        self, present: bool, box_xywh: Any, target_id: int, stamp_ns: int
    ) -> tuple[bool, str] | None:
        """Replay protocol: the first present ground-truth box starts the target (again after a reset).

        Returns the request's ``(accepted, message)``, or None when the box was not used (absent target, already
        tracking, a request pending, or ground truth already used since the last reset).
        """
        if self._ground_truth_used or not present or self.active or self.pending is not None:
            return None
        accepted, message = self.request_init(
            InitRequest(tuple(box_xywh), int(target_id), int(stamp_ns), "ground_truth")
        )
        self._ground_truth_used = accepted
        return accepted, message

    def reset(self) -> None:
        """Stop tracking and forget the target and any pending request (the event history is kept)."""
        self.tracker.reset()
        self.pending = None
        self.active = False
        self.init_source = ""
        self._ground_truth_used = False

    @property
    def skipped_stale(self) -> int:
        """Windows recorded but not tracked because their data was stale (0 without a skipper)."""
        return self.skipper.skipped if self.skipper is not None else 0

    def process(self, sample: Any, data_age_ns: int | None = None) -> list[Any]:
        """Feed one window: the TrackResults it produced (none while idle, none for a skipped stale window).

        ``data_age_ns``: the window's data age now (host clock), for the skipper; None = unknown (tracked).

        A failed initialisation (e.g. the box lies outside this window's image) drops the request, counts it in
        ``failed_inits`` / ``last_error`` and the window is processed as if there had been no request.
        """
        self.latest_sample = sample
        request = self.pending
        if request is not None and (request.stamp_ns == 0 or int(sample.window_end_ns) >= request.stamp_ns):
            self.pending = None
            try:
                result = self.tracker.initialize(sample, list(request.box_xywh), request.target_id)
            except (HadTrackerError, ValueError) as exc:
                self.failed_inits += 1
                self.last_error = f"target {request.target_id} ({request.source}) not started: {exc}"
            else:
                self.active = True
                self.target_id = request.target_id
                self.init_source = request.source
                self.inits += 1
                return [result]
        if not self.active or (self.skipper is not None and not self.skipper.should_track(data_age_ns)):
            self.tracker.push(sample)
            return []
        return [self.tracker.update(sample)]
