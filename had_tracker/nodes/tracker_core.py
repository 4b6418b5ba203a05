"""What tracker_node does with each message, without rclpy: windows in, finite results out, never an exception.

The node subscribes, hands each message to one method here and publishes the returned results; every path a
message takes (window conversion, tracking, debug image, the target starts from rviz or a detector) is tested
directly with rosbags messages (test/test_nodes_callbacks.py). Whatever raises on a message is counted per
kind (``errors_<kind>`` in /diagnostics) and logged at most once per period per kind; the node lives on.

Data age (``Track.data_age_ms``, issue 15 item 4): host clock at publication minus the host time of the newest
event the box is based on (``EventWindow.newest_event_host``, stamped by the synchronizer on the same ROS clock;
a window without events keeps the previous one: the held box is that old). NaN when unknown (no host time yet).
Its p50/p99 go to /diagnostics with the tracker's own counters (``tracker_*``, ``history_dropped``). The
same age, taken when a window's turn comes, lets the session skip stale windows under overload
(``windows_skipped_stale``; :mod:`had_tracker.tracking.stale_windows`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.nodes.debug_view import DebugView
from had_tracker.nodes.health import CallbackGuard, DropRates, worse
from had_tracker.nodes.search_region import SearchRegionSender, tracker_search_region
from had_tracker.nodes.session import InitRequest, TrackingSession
from had_tracker.nodes.targets import best_detection_box, box_from_plane_point, frame_problem
from had_tracker.ros_io.diagnostics import DiagnosticReport, LatencyStats, RateMeter, SequenceGapCounter, format_value
from had_tracker.ros_io.event_window import window_msg_to_sample
from had_tracker.sync.synchronizer import data_age_ns

STATE_LOST = 2


def model_description(tracker: Any, model_param: str) -> str:
    """What the tracker loaded, for the start-up log: the checkpoint path (or "shipped student"), kind, size, runtime."""
    if model_param:
        where = str(model_param)
    else:
        from had_tracker.models.builder import default_student_checkpoint

        where = f"the shipped student ({Path(default_student_checkpoint()).name})"
    runner = getattr(tracker, "student", None)
    model = getattr(runner, "model", None)
    details = []
    kind = getattr(getattr(runner, "cfg", None), "kind", None)
    if kind:
        details.append(str(kind))
    if model is not None and hasattr(model, "parameters"):
        details.append(f"{sum(p.numel() for p in model.parameters()) / 1e3:.0f} k parameters")
    runtime = getattr(runner, "runtime", None)
    if runtime:
        details.append(f"run by {runtime}")
    if getattr(tracker, "teacher", None) is not None:
        details.append("with a teacher for RGB windows")
    return where + (f" [{', '.join(details)}]" if details else "")


def tracker_counters(tracker: Any) -> dict[str, str]:
    """The tracker's own counters for /diagnostics (absent ones skipped).

    ``tracker_<key>`` of ``Tracker.stats`` (unobserved windows, empty windows, ...) and ``history_dropped`` (events
    its bounded EventHistory pushed out).
    """
    values = {}
    stats = getattr(tracker, "stats", None)
    if isinstance(stats, Mapping):
        values.update({f"tracker_{key}": format_value(value) for key, value in stats.items()})
    dropped = getattr(getattr(tracker, "history", None), "dropped", None)
    if dropped is not None:
        values["history_dropped"] = str(int(dropped))
    return values


@dataclass
class WindowOutcome:
    """One window's outcome: its sample (None when it could not be read) and the finite results to publish."""

    sample: Any = None
    results: list[Any] = field(default_factory=list)
    latency_ms: float = 0.0
    data_age_ms: float = math.nan  # publication - newest event used, host clock (NaN: unknown)


class TrackerCore:
    """A :class:`TrackingSession` behind callbacks that never raise, with the counters /diagnostics shows."""

    def __init__(
        self,
        session: TrackingSession,
        params: Mapping[str, Any],
        log: Callable[[str], None],
        host_clock: Callable[[], int] | None = None,
    ) -> None:
        """``host_clock``: the node's ROS clock [ns], the one the synchronizer stamps windows with (data age)."""
        self.session = session
        self._host_clock = host_clock
        self.data_age = LatencyStats()
        self.data_age_unknown = 0  # results published without a data age
        self.newest_event_host_ns: int | None = None  # of the newest window that had events
        self.search_sender = SearchRegionSender()
        self.params = params  # the node's live parameter dict (run-time changes are seen here)
        self.guard = CallbackGuard(log)
        self.rates = {"windows": RateMeter(), "tracks": RateMeter()}
        self.latency = LatencyStats()
        self.window_gaps = SequenceGapCounter()
        self.dropped_events_upstream = 0
        self.nonfinite_results = 0
        self.last_result: Any = None
        self.last_frame_id = ""
        self.drop_rates = DropRates(params["drop_warn_ratio"], params["drop_error_ratio"])
        self.debug_view = DebugView(max_side=int(params["debug_image_max_size"]))

    # --- windows --------------------------------------------------------------------------------------------------
    def on_window(self, msg: Any) -> WindowOutcome:
        """Track one had_msgs/EventWindow; a window that fails is counted under ``windows`` and yields nothing."""
        started = time.perf_counter()
        self.rates["windows"].tick()
        outcome = WindowOutcome()

        def track() -> None:
            self.window_gaps.observe(int(msg.seq))
            self.dropped_events_upstream += int(msg.dropped_events)
            self.last_frame_id = str(msg.header.frame_id)
            outcome.sample = window_msg_to_sample(msg)
            newest = outcome.sample.newest_event_host_ns
            if newest:
                self.newest_event_host_ns = int(newest)
            self.debug_view.remember(outcome.sample)
            outcome.results = self.session.process(outcome.sample, self._age_ns(newest))

        self.guard.run("windows", track)
        outcome.latency_ms = (time.perf_counter() - started) * 1e3
        finite = []
        for result in outcome.results:
            if np.all(np.isfinite(np.asarray(result.box_xywh, float))) and math.isfinite(float(result.score)):
                finite.append(result)
            else:
                self.nonfinite_results += 1  # never published; counted in diagnostics
        outcome.results = finite
        if finite:
            outcome.data_age_ms = self.data_age_ms()
        for result in finite:
            self.rates["tracks"].tick()
            self.latency.add(outcome.latency_ms)
            if math.isnan(outcome.data_age_ms):
                self.data_age_unknown += 1
            else:
                self.data_age.add(outcome.data_age_ms)
            self.last_result = result
        return outcome

    def _age_ns(self, newest_event_host_ns: int | None, now_ns: int | None = None) -> int | None:
        """Host time now (or ``now_ns``) minus ``newest_event_host_ns``; None when either is unknown."""
        if now_ns is None:
            now_ns = int(self._host_clock()) if self._host_clock is not None else 0
        if now_ns <= 0 or not newest_event_host_ns:  # 0: sim time before the first /clock
            return None
        return data_age_ns(newest_event_host_ns, now_ns)

    def data_age_ms(self, now_ns: int | None = None) -> float:
        """Host time now (or ``now_ns``) minus the newest event's host time [ms]; NaN when either is unknown."""
        age = self._age_ns(self.newest_event_host_ns, now_ns)
        return math.nan if age is None else age / 1e6

    # --- search region ----------------------------------------------------------------------------------------------
    def search_region(self) -> tuple[bool, Any]:
        """``(send, roi)``: the region the synchronizer should keep (None = whole sensor) and whether to send it now.

        Never sent when ``publish_search_region`` is off; otherwise on change and as a keep-alive (see
        :mod:`had_tracker.nodes.search_region`). Call it after each window and after each start request.
        """
        if not self.params["publish_search_region"]:
            return False, None
        roi = self.guard.run(
            "search_region", lambda: tracker_search_region(self.session, self.last_result), default=None
        )
        return self.search_sender.due(roi), roi

    def debug_image(self, sample: Any) -> np.ndarray | None:
        """The bgr8 debug image of ``sample`` (None: invalid size, counted, or a drawing error, counted)."""
        if sample is None:
            return None
        result = self.last_result if self.session.active else None

        def render() -> np.ndarray | None:
            self.debug_view.max_side = int(self.params["debug_image_max_size"])
            return self.debug_view.render(
                sample,
                source=str(self.params["debug_image_source"]),
                box_xywh=None if result is None else result.box_xywh,
                state=0 if result is None else int(result.state),
                score=0.0 if result is None else float(result.score),
                target_id=None if result is None else int(result.target_id),
            )

        return self.guard.run("debug_image", render)

    # --- target starts ------------------------------------------------------------------------------------------------
    def start_from_point(self, point: Any, frame_id: str, source: str) -> tuple[bool, str]:
        """A point of the marker plane (rviz) starts a target of ``init_default_size`` centred on it."""
        problem = frame_problem(frame_id, [str(self.params.get("marker_frame_id", "")), self.last_frame_id])
        if problem is not None:
            self.session.failed_inits += 1
            self.session.last_error = problem
            return False, problem
        try:
            box = box_from_plane_point(point, float(self.params["marker_scale_m"]), self.params["init_default_size"])
        except (ValueError, TypeError, AttributeError) as exc:
            self.session.failed_inits += 1
            self.session.last_error = str(exc)
            return False, str(exc)
        return self.session.request_init(InitRequest(box, int(self.params["init_target_id"]), 0, source))

    def start_from_detections(self, array: Any, stamp_ns: int) -> tuple[bool, str] | None:
        """The best detection of a Detection2DArray starts the target while none is tracked (None: not used)."""
        if self.session.active or self.session.pending is not None:
            return None
        best = best_detection_box(array)
        if best is None:
            return None
        box, score, index = best
        accepted, message = self.session.request_init(
            InitRequest(box, int(self.params["init_target_id"]), int(stamp_ns), "detections")
        )
        return accepted, f"{message} (detection {index}, score {score:.2f})" if accepted else message

    # --- diagnostics ----------------------------------------------------------------------------------------------
    def report(self) -> DiagnosticReport:
        """The /diagnostics status: rates, latency, window gaps, errors per kind, the target, drop ratios."""
        values = {f"{name}_rate_hz": format_value(meter.rate_hz()) for name, meter in self.rates.items()}
        session = self.session
        values.update(
            {
                "latency_p50_ms": format_value(self.latency.percentile(50)),
                "latency_p99_ms": format_value(self.latency.percentile(99)),
                "data_age_p50_ms": format_value(self.data_age.percentile(50)),
                "data_age_p99_ms": format_value(self.data_age.percentile(99)),
                "data_age_unknown": str(self.data_age_unknown),
                "windows_skipped_stale": str(session.skipped_stale),
                "windows_missing": str(self.window_gaps.missing),
                "window_restarts": str(self.window_gaps.restarts),
                "window_errors": str(self.guard.counts.get("windows", 0) + self.nonfinite_results),
                "nonfinite_results": str(self.nonfinite_results),
                "events_dropped_upstream": str(self.dropped_events_upstream),
                "active": str(session.active),
                "target_id": str(session.target_id),
                "init_source": session.init_source or "none",
                "inits": str(session.inits),
                "failed_inits": str(session.failed_inits),
            }
        )
        values.update(self.guard.values())
        values.update({f"debug_image_skipped_{k}": str(v) for k, v in self.debug_view.skipped.items()})
        values.update(tracker_counters(session.tracker))
        values["search_regions_sent"] = str(self.search_sender.sent)
        if self.last_result is not None:
            values["state"] = str(int(self.last_result.state))
            values["score"] = format_value(float(self.last_result.score))
            if hasattr(self.last_result, "unobserved"):  # target static or hidden: box held, not LOST
                values["unobserved"] = str(bool(self.last_result.unobserved))
        received = self.rates["windows"].total
        missing = self.window_gaps.missing
        failed = self.guard.counts.get("windows", 0)
        self.drop_rates.update("windows", missing + failed, received + missing)
        values.update(self.drop_rates.values())
        level, message = self.drop_rates.level()
        if received == 0:
            level, message = worse(level, "warn"), f"no event windows on {self.params['windows_topic']}"
        elif not message:
            message = "tracking" if session.active else "waiting for a target"
            if self.last_result is not None and int(self.last_result.state) == STATE_LOST:
                level, message = "warn", "target lost; re-acquiring"
        return DiagnosticReport("tracker", level, message, values)
