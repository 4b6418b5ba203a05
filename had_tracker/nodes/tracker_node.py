"""tracker_node: aligned event windows in, the student tracker's box out (a thin adapter over the tracking core).

Subscriptions: ``windows_topic`` (had_msgs/EventWindow, reliable depth 10), ``~/init_box`` (had_msgs/Box: start
tracking ``init_target_id`` at the latest window), ``init_ground_truth_topic`` (had_msgs/GroundTruth, replay).
Services: ``~/start_tracking`` (had_msgs/srv/StartTracking), ``~/reset`` (had_msgs/srv/ResetTracker).
Parameter ``init_box`` [x, y, w, h] starts tracking at start-up or when set at run time.
Publications (reliable, depth 10): ``~/track`` (had_msgs/Track, every window while a target is set),
``~/detections`` (vision_msgs/Detection2DArray, 4.x layout; one detection while TRACKING, none otherwise),
``~/debug_image`` (sensor_msgs/Image bgr8), ``~/markers`` (visualization_msgs/MarkerArray), ``/diagnostics``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from geometry_msgs.msg import Point
from rclpy.node import Node
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
from visualization_msgs.msg import Marker, MarkerArray

from had_msgs.msg import Box, EventWindow, GroundTruth, Track
from had_msgs.srv import ResetTracker, StartTracking
from had_tracker import parameters as schema
from had_tracker.errors import HadTrackerError
from had_tracker.nodes.common import (
    DiagnosticsPublisher,
    Throttle,
    declare_schema_parameters,
    output_qos,
    parameter_change_guard,
    run_nodes,
    sensor_qos,
    stamp_to_ns,
    wall_timer,
)
from had_tracker.nodes.debug_view import render_debug_image
from had_tracker.nodes.session import InitRequest, TrackingSession
from had_tracker.ros_io.diagnostics import DiagnosticReport, LatencyStats, RateMeter, SequenceGapCounter, format_value
from had_tracker.ros_io.event_window import result_to_track_msg, window_msg_to_sample
from had_tracker.ros_io.image import fill_image_msg
from had_tracker.ros_io.track_outputs import fill_box_markers, fill_detection

_STATE_TRACKING = 1


class TrackerNode(Node):
    """Tracks one target through aligned event windows with the event-only student."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(schema.TRACKER, **kwargs)
        from had_tracker.tracking.tracker import Tracker, TrackerConfig

        self.params = declare_schema_parameters(self, schema.TRACKER)
        config = TrackerConfig.from_dict(schema.tracker_config_dict(self.params))
        tracker = Tracker(config, device=self.params["device"])
        # the first window would otherwise pay the kernels' cache load and torch's first-call set-up
        self.get_logger().info(f"warmed up the event kernels and the network in {tracker.warm_up():.2f} s")
        self.session = TrackingSession(tracker)
        self._failed_inits_logged = 0
        self._rates = {"windows": RateMeter(), "tracks": RateMeter()}
        self._latency = LatencyStats()
        self._window_gaps = SequenceGapCounter()
        self._dropped_events = 0
        self._window_errors = 0
        self._last_result: Any = None
        self._warn = Throttle(5.0)
        self._debug_throttle = self._make_debug_throttle(self.params["debug_image_max_rate_hz"])

        qos = output_qos()
        self._track_pub = self.create_publisher(Track, "~/track", qos)
        self._detections_pub = self.create_publisher(Detection2DArray, "~/detections", qos)
        self._debug_pub = self.create_publisher(Image, "~/debug_image", qos)
        self._markers_pub = self.create_publisher(MarkerArray, "~/markers", qos)
        self.create_subscription(EventWindow, self.params["windows_topic"], self._on_window, output_qos())
        self.create_subscription(Box, "~/init_box", self._on_init_box, output_qos())
        if self.params["init_ground_truth_topic"]:
            # Best-effort accepts both reliable and best-effort publishers (bag play replays the recorded QoS).
            gt_qos = sensor_qos("best_effort", 100)
            self.create_subscription(GroundTruth, self.params["init_ground_truth_topic"], self._on_ground_truth, gt_qos)
        self.create_service(StartTracking, "~/start_tracking", self._on_start_tracking)
        self.create_service(ResetTracker, "~/reset", self._on_reset)
        self._diagnostics = DiagnosticsPublisher(self)
        wall_timer(self, self.params["diagnostics_period_s"], self._publish_diagnostics)

        box = schema.init_box_from_parameter(self.params["init_box"])
        if box is not None:
            self._request(InitRequest(box, self.params["init_target_id"], 0, "parameter"))
        # Registered after the declarations: rclpy calls on-set callbacks while declaring, too.
        self.add_on_set_parameters_callback(parameter_change_guard(schema.TRACKER, self._apply_parameter))
        self.get_logger().info(
            f"model: {self.params['model'] or 'untrained preset'} on {self.params['device']}; windows from "
            f"{self.params['windows_topic']}; waiting for a target (service ~/start_tracking, topic ~/init_box, "
            f"parameter init_box{', ground truth' if self.params['init_ground_truth_topic'] else ''})"
        )

    # --- inputs ---------------------------------------------------------------------------------------------------------
    def _on_window(self, msg: EventWindow) -> None:
        started = time.perf_counter()
        self._rates["windows"].tick()
        self._window_gaps.observe(msg.seq)
        self._dropped_events += int(msg.dropped_events)
        try:
            sample = window_msg_to_sample(msg)
            results = self.session.process(sample)
        except (HadTrackerError, ValueError, RuntimeError) as exc:  # RuntimeError: torch (e.g. CUDA out of memory)
            self._window_errors += 1
            if self._warn.ready():
                self.get_logger().warning(f"window {msg.seq} not tracked: {exc} ({self._window_errors} so far)")
            return
        latency_ms = (time.perf_counter() - started) * 1e3
        if self.session.failed_inits != self._failed_inits_logged:
            self._failed_inits_logged = self.session.failed_inits
            self.get_logger().warning(self.session.last_error)
        self._publish_results(results, msg.header.frame_id, latency_ms)
        self._publish_debug(sample, msg)

    def _on_init_box(self, msg: Box) -> None:
        self._request(InitRequest((msg.x, msg.y, msg.width, msg.height), self.params["init_target_id"], 0, "topic"))

    def _on_ground_truth(self, msg: GroundTruth) -> None:
        box = (msg.box.x, msg.box.y, msg.box.width, msg.box.height)
        outcome = self.session.offer_ground_truth(msg.present, box, msg.target_id, stamp_to_ns(msg.header.stamp))
        if outcome is not None:
            # one call site per severity: rclpy raises if a call site's severity changes between calls
            if outcome[0]:
                self.get_logger().info(f"ground truth: {outcome[1]}")
            else:
                self._failed_inits_logged = self.session.failed_inits
                self.get_logger().warning(f"ground truth: {outcome[1]}")

    def _on_start_tracking(self, request: StartTracking.Request, response: StartTracking.Response) -> Any:
        box = (request.box.x, request.box.y, request.box.width, request.box.height)
        response.success, response.message = self._request(
            InitRequest(box, int(request.target_id), stamp_to_ns(request.stamp), "service")
        )
        return response

    def _on_reset(self, request: ResetTracker.Request, response: ResetTracker.Response) -> Any:
        self.session.reset()
        self._last_result = None
        response.success, response.message = True, "tracker reset; waiting for a new target"
        self.get_logger().info(response.message)
        return response

    def _request(self, request: InitRequest) -> tuple[bool, str]:
        ok, message = self.session.request_init(request)
        if ok:
            self.get_logger().info(f"start tracking: {message}")
        else:  # a separate call site: rclpy forbids changing one call site's severity
            self._failed_inits_logged = self.session.failed_inits
            self.get_logger().warning(f"start tracking: {message}")
        return ok, message

    def _apply_parameter(self, name: str, value: Any) -> str | None:
        if name == "init_box":
            box = schema.init_box_from_parameter(value)
            if box is not None:
                ok, message = self._request(InitRequest(box, self.params["init_target_id"], 0, "parameter"))
                if not ok:
                    return message
        elif name == "debug_image_max_rate_hz":
            self._debug_throttle = self._make_debug_throttle(value)
        self.params[name] = value
        return None

    # --- outputs --------------------------------------------------------------------------------------------------------
    def _publish_results(self, results: list, frame_id: str, latency_ms: float) -> None:
        for result in results:
            if not (np.all(np.isfinite(result.box_xywh)) and np.isfinite(result.score)):
                self._window_errors += 1  # never publish NaN boxes; counted in diagnostics (window_errors)
                if self._warn.ready():
                    self.get_logger().warning(f"tracker returned a non-finite estimate at {result.window_end_ns} ns")
                continue
            track = result_to_track_msg(result, Track(), frame_id)
            track.latency_ms = float(latency_ms)
            self._track_pub.publish(track)
            detections = Detection2DArray()
            detections.header = track.header
            if track.state == _STATE_TRACKING:
                detections.detections = [fill_detection(Detection2D(), ObjectHypothesisWithPose(), track)]
            self._detections_pub.publish(detections)
            if self.params["publish_markers"]:
                self._markers_pub.publish(self._markers(track))
            self._rates["tracks"].tick()
            self._latency.add(latency_ms)
            self._last_result = result

    def _publish_debug(self, sample: Any, window: EventWindow) -> None:
        if not self.params["publish_debug_image"] or self._debug_pub.get_subscription_count() == 0:
            return
        if self._debug_throttle is not None and not self._debug_throttle.ready():
            return
        result = self._last_result if self.session.active else None
        events = sample.events
        canvas = render_debug_image(
            sample.width,
            sample.height,
            events.x,
            events.y,
            events.p,
            rgb=sample.image,
            source=self.params["debug_image_source"],
            box_xywh=None if result is None else result.box_xywh,
            state=0 if result is None else int(result.state),
            score=0.0 if result is None else float(result.score),
            target_id=None if result is None else int(result.target_id),
        )
        image = Image()
        image.header = window.header
        self._debug_pub.publish(fill_image_msg(image, canvas, "bgr8"))

    def _markers(self, track: Track) -> MarkerArray:
        frame_id = self.params["marker_frame_id"] or track.header.frame_id
        markers = MarkerArray()
        markers.markers = list(
            fill_box_markers(Marker(), Marker(), track, self.params["marker_scale_m"], frame_id, Point)
        )
        return markers

    def _publish_diagnostics(self) -> None:
        values = {f"{name}_rate_hz": format_value(meter.rate_hz()) for name, meter in self._rates.items()}
        values.update(
            {
                "latency_p50_ms": format_value(self._latency.percentile(50)),
                "latency_p99_ms": format_value(self._latency.percentile(99)),
                "windows_missing": str(self._window_gaps.missing),
                "window_restarts": str(self._window_gaps.restarts),
                "window_errors": str(self._window_errors),
                "events_dropped_upstream": str(self._dropped_events),
                "active": str(self.session.active),
                "target_id": str(self.session.target_id),
                "init_source": self.session.init_source or "none",
                "inits": str(self.session.inits),
                "failed_inits": str(self.session.failed_inits),
            }
        )
        if self._last_result is not None:
            values["state"] = str(int(self._last_result.state))
            values["score"] = format_value(float(self._last_result.score))
        level, message = "ok", "tracking" if self.session.active else "waiting for a target"
        if self._rates["windows"].total == 0:
            level, message = "warn", f"no event windows on {self.params['windows_topic']}"
        elif self._last_result is not None and int(self._last_result.state) == 2:
            level, message = "warn", "target lost; re-acquiring"
        self._diagnostics.publish(DiagnosticReport("tracker", level, message, values))

    # --- helpers --------------------------------------------------------------------------------------------------------
    @staticmethod
    def _make_debug_throttle(rate_hz: float) -> Throttle | None:
        return Throttle(1.0 / rate_hz) if rate_hz > 0 else None


def main(args: list[str] | None = None) -> int:
    """Entry point ``tracker_node``."""
    return run_nodes([TrackerNode], args=args if args is not None else sys.argv)


if __name__ == "__main__":
    sys.exit(main())
