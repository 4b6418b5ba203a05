"""tracker_node: aligned event windows in, the student tracker's box out (a thin adapter over the tracking core).

Subscriptions: ``windows_topic`` (had_msgs/EventWindow, reliable depth 10), ``~/init_box`` (had_msgs/Box: start
tracking ``init_target_id`` at the latest window), ``init_ground_truth_topic`` (had_msgs/GroundTruth, replay),
``init_point_topic`` (geometry_msgs/PointStamped, rviz "Publish Point"), ``init_pose_topic``
(geometry_msgs/PoseStamped, rviz "2D Goal Pose"), ``init_detections_topic`` (vision_msgs/Detection2DArray); the
last four best-effort depth 10, empty name = off. Every callback is guarded (errors counted per kind in
/diagnostics, logged throttled); an invalid topic name stops the node at start-up (exit code 1).
Services: ``~/start_tracking`` (had_msgs/srv/StartTracking), ``~/reset`` (had_msgs/srv/ResetTracker).
Parameter ``init_box`` [x, y, w, h] starts tracking at start-up or when set at run time.
Publications (reliable, depth 10): ``~/track`` (had_msgs/Track, every window while a target is set),
``~/detections`` (vision_msgs/Detection2DArray, 4.x layout; one detection while TRACKING, none otherwise),
``~/debug_image`` (sensor_msgs/Image bgr8), ``~/markers`` (visualization_msgs/MarkerArray), ``/diagnostics``;
``~/search_region`` (sensor_msgs/RegionOfInterest, reliable depth 1, ``publish_search_region``): where the next
windows' search can look (the synchronizer keeps only those events; all zeros = whole sensor), on change and
every 0.25 s. Track.data_age_ms: the node's ROS clock at publication minus the window's ``newest_event_host``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from geometry_msgs.msg import Point, PointStamped, PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, RegionOfInterest
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
from visualization_msgs.msg import Marker, MarkerArray

from had_msgs.msg import Box, EventWindow, GroundTruth, Track
from had_msgs.srv import ResetTracker, StartTracking
from had_tracker import parameters as schema
from had_tracker.gc_freeze import freeze_startup_objects
from had_tracker.nodes.common import (
    DiagnosticsPublisher,
    Throttle,
    bridge_core_logging,
    check_topic_names,
    declare_schema_parameters,
    output_qos,
    parameter_change_guard,
    run_nodes,
    sensor_qos,
    stamp_to_ns,
    wall_timer,
)
from had_tracker.nodes.search_region import roi_to_msg
from had_tracker.nodes.session import InitRequest, TrackingSession
from had_tracker.nodes.tracker_core import TrackerCore, WindowOutcome, model_description
from had_tracker.ros_io.event_window import result_to_track_msg
from had_tracker.ros_io.image import fill_image_msg
from had_tracker.ros_io.track_outputs import fill_box_markers, fill_detection

_STATE_TRACKING = 1
TOPIC_PARAMETERS = (
    "windows_topic", "init_ground_truth_topic", "init_point_topic", "init_pose_topic", "init_detections_topic",
)  # fmt: skip


class TrackerNode(Node):
    """Tracks one target through aligned event windows with the event-only student (logic: TrackerCore)."""

    def __init__(self, search_region_sink: Callable[[Any], None] | None = None, **kwargs: Any) -> None:
        """``search_region_sink``: single process, the synchronizer's ``search_region.offer`` (no topic then)."""
        super().__init__(schema.TRACKER, **kwargs)
        bridge_core_logging(self)
        from had_tracker.tracking.stale_windows import StaleWindowSkipper
        from had_tracker.tracking.tracker import Tracker, TrackerConfig

        self.params = declare_schema_parameters(self, schema.TRACKER)
        check_topic_names(self, self.params, TOPIC_PARAMETERS)
        config = TrackerConfig.from_dict(schema.tracker_config_dict(self.params))
        # a live node must not stall for the initialisation's test-time adaptation: it runs beside the tracking
        tracker = Tracker(config, device=self.params["device"], adapt_in_background=True)
        # the first window would otherwise pay the kernels' cache load and torch's first-call set-up
        self.get_logger().info(f"warmed up the event kernels and the network in {tracker.warm_up():.2f} s")
        model = model_description(tracker, self.params["model"])  # after the warm-up: the runtime is settled
        freeze_startup_objects()  # no full garbage collection over the loaded libraries while tracking
        skipper = StaleWindowSkipper(
            max_age_ns=round(self.params["skip_stale_window_ms"] * 1e6),
            max_in_row=self.params["max_skipped_windows_in_row"],
        )
        self.session = TrackingSession(tracker, skipper)
        clock = self.get_clock()  # ROS time, as the synchronizer's newest_event_host (data age)
        self.core = TrackerCore(
            self.session, self.params, self.get_logger().warning, host_clock=lambda: clock.now().nanoseconds
        )
        guard = self.core.guard
        self._failed_inits_logged = 0
        self._debug_throttle = self._make_debug_throttle(self.params["debug_image_max_rate_hz"])

        qos = output_qos()
        self._track_pub = self.create_publisher(Track, "~/track", qos)
        self._detections_pub = self.create_publisher(Detection2DArray, "~/detections", qos)
        self._debug_pub = self.create_publisher(Image, "~/debug_image", qos)
        self._markers_pub = self.create_publisher(MarkerArray, "~/markers", qos)
        self._search_region_sink = search_region_sink
        if search_region_sink is None and self.params["publish_search_region"]:
            region_pub = self.create_publisher(RegionOfInterest, "~/search_region", output_qos(1))
            self._search_region_sink = lambda roi: region_pub.publish(roi_to_msg(roi, RegionOfInterest()))
        self.create_subscription(
            EventWindow, self.params["windows_topic"], guard.wrap("callback_windows", self._on_window), output_qos()
        )
        self.create_subscription(Box, "~/init_box", guard.wrap("callback_init_box", self._on_init_box), output_qos())
        # Best-effort accepts both reliable and best-effort publishers (rviz tools, detectors, bag play).
        loose_qos = sensor_qos("best_effort", 10)
        starts = ["service ~/start_tracking", "topic ~/init_box", "parameter init_box"]
        if self.params["init_ground_truth_topic"]:
            gt_qos = sensor_qos("best_effort", 100)
            self.create_subscription(
                GroundTruth,
                self.params["init_ground_truth_topic"],
                guard.wrap("callback_ground_truth", self._on_ground_truth),
                gt_qos,
            )
            starts.append(f"ground truth {self.params['init_ground_truth_topic']}")
        if self.params["init_point_topic"]:
            self.create_subscription(
                PointStamped,
                self.params["init_point_topic"],
                guard.wrap("callback_init_point", self._on_init_point),
                loose_qos,
            )
            starts.append(f"rviz point {self.params['init_point_topic']}")
        if self.params["init_pose_topic"]:
            self.create_subscription(
                PoseStamped,
                self.params["init_pose_topic"],
                guard.wrap("callback_init_pose", self._on_init_pose),
                loose_qos,
            )
            starts.append(f"rviz 2D goal {self.params['init_pose_topic']}")
        if self.params["init_detections_topic"]:
            self.create_subscription(
                Detection2DArray,
                self.params["init_detections_topic"],
                guard.wrap("callback_init_detections", self._on_init_detections),
                loose_qos,
            )
            starts.append(f"detections {self.params['init_detections_topic']}")
        self.create_service(StartTracking, "~/start_tracking", guard.service("start_tracking", self._on_start_tracking))
        self.create_service(ResetTracker, "~/reset", guard.service("reset", self._on_reset))
        self._diagnostics = DiagnosticsPublisher(self)
        wall_timer(self, self.params["diagnostics_period_s"], guard.wrap("diagnostics", self._publish_diagnostics))

        box = schema.init_box_from_parameter(self.params["init_box"])
        if box is not None:
            self._request(InitRequest(box, self.params["init_target_id"], 0, "parameter"))
        # Registered after the declarations: rclpy calls on-set callbacks while declaring, too.
        self.add_on_set_parameters_callback(parameter_change_guard(schema.TRACKER, self._apply_parameter))
        self.get_logger().info(
            f"model: {model} on {self.params['device']}; windows from {self.params['windows_topic']}; waiting for a "
            f"target ({', '.join(starts)})"
        )

    # --- inputs (each wrapped by the core's guard: an exception is counted and logged, never raised) ---------------
    def _on_window(self, msg: EventWindow) -> None:
        outcome = self.core.on_window(msg)
        if self.session.failed_inits != self._failed_inits_logged:
            self._failed_inits_logged = self.session.failed_inits
            self.get_logger().warning(self.session.last_error)
        guard = self.core.guard
        guard.run("publish", lambda: self._publish_results(outcome, msg.header.frame_id))
        guard.run("search_region", self._send_search_region)
        guard.run("debug_image", lambda: self._publish_debug(outcome.sample, msg))

    def _on_init_box(self, msg: Box) -> None:
        self._request(InitRequest((msg.x, msg.y, msg.width, msg.height), self.params["init_target_id"], 0, "topic"))

    def _on_init_point(self, msg: PointStamped) -> None:
        self._log_start(*self.core.start_from_point(msg.point, msg.header.frame_id, "rviz point"))

    def _on_init_pose(self, msg: PoseStamped) -> None:
        self._log_start(*self.core.start_from_point(msg.pose.position, msg.header.frame_id, "rviz 2D goal"))

    def _on_init_detections(self, msg: Detection2DArray) -> None:
        outcome = self.core.start_from_detections(msg, stamp_to_ns(msg.header.stamp))
        if outcome is not None:
            self._log_start(*outcome)

    def _on_ground_truth(self, msg: GroundTruth) -> None:
        box = (msg.box.x, msg.box.y, msg.box.width, msg.box.height)
        outcome = self.session.offer_ground_truth(msg.present, box, msg.target_id, stamp_to_ns(msg.header.stamp))
        if outcome is not None:
            self.core.guard.run("search_region", self._send_search_region)
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
        self.core.last_result = None
        self.core.guard.run("search_region", self._send_search_region)
        response.success, response.message = True, "tracker reset; waiting for a new target"
        self.get_logger().info(response.message)
        return response

    def _request(self, request: InitRequest) -> tuple[bool, str]:
        return self._log_start(*self.session.request_init(request))

    def _log_start(self, ok: bool, message: str) -> tuple[bool, str]:
        # a new target may lie outside the current search region: the whole sensor until it is tracked
        self.core.guard.run("search_region", self._send_search_region)
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

    # --- outputs --------------------------------------------------------------------------------------------------
    def _send_search_region(self) -> None:
        send, roi = self.core.search_region()
        if send and self._search_region_sink is not None:
            self._search_region_sink(roi)

    def _publish_results(self, outcome: WindowOutcome, frame_id: str) -> None:
        for result in outcome.results:  # finite only (TrackerCore counts and drops non-finite estimates)
            track = result_to_track_msg(result, Track(), frame_id)
            track.latency_ms = float(outcome.latency_ms)
            track.data_age_ms = float(outcome.data_age_ms)  # NaN: unknown
            self._track_pub.publish(track)
            detections = Detection2DArray()
            detections.header = track.header
            if track.state == _STATE_TRACKING:
                detections.detections = [fill_detection(Detection2D(), ObjectHypothesisWithPose(), track)]
            self._detections_pub.publish(detections)
            if self.params["publish_markers"]:
                self._markers_pub.publish(self._markers(track))

    def _publish_debug(self, sample: Any, window: EventWindow) -> None:
        if sample is None or not self.params["publish_debug_image"] or self._debug_pub.get_subscription_count() == 0:
            return
        if self._debug_throttle is not None and not self._debug_throttle.ready():
            return
        canvas = self.core.debug_image(sample)  # None: invalid size (counted) or a drawing error (counted)
        if canvas is None:
            return
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
        self._diagnostics.publish(self.core.report())

    # --- helpers --------------------------------------------------------------------------------------------------
    @staticmethod
    def _make_debug_throttle(rate_hz: float) -> Throttle | None:
        return Throttle(1.0 / rate_hz) if rate_hz > 0 else None


def main(args: list[str] | None = None) -> int:
    """Entry point ``tracker_node``."""
    return run_nodes([TrackerNode], args=args if args is not None else sys.argv)


if __name__ == "__main__":
    sys.exit(main())
