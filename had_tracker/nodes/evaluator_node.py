"""replay_evaluator: collects the tracker's tracks and the bag's ground truth, writes the evaluation report.

Used by ``replay_eval.launch.py``; writes the report ``had-tracker replay`` writes (see replay_collector). It
writes it when no track arrived for ``idle_timeout_s`` of wall time (after some did) and then exits, which ends
the launch; it also writes it on shutdown (Ctrl-C). Subscriptions: ``track_topic`` (had_msgs/Track, reliable
depth 1000), ``ground_truth_topic`` (had_msgs/GroundTruth, best-effort depth 1000: accepts the bag player's
reliable or best-effort QoS), ``image_topic`` (sensor_msgs/Image, sensor-data QoS: a bounded sample of frames for the
report's annotated frame strip), ``/diagnostics`` (the synchronizer's and tracker's newest status: their drops,
losses and errors go into the report, under ``sync`` as ``had-tracker replay`` reports the synchronizer).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import Image

from had_msgs.msg import GroundTruth, Track
from had_tracker import parameters as schema
from had_tracker.errors import HadTrackerError
from had_tracker.nodes.common import (
    LostMessages,
    bridge_core_logging,
    check_topic_names,
    declare_schema_parameters,
    output_qos,
    run_nodes,
    sensor_qos,
    stamp_to_ns,
    wall_timer,
)
from had_tracker.nodes.health import CallbackGuard
from had_tracker.nodes.replay_collector import ReplayCollector
from had_tracker.ros_io.image import image_to_numpy, to_rgb8

_QUEUE_DEPTH = 1000


class ReplayEvaluatorNode(Node):
    """Scores a replayed bag online and writes the same report as the offline replay."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(schema.EVALUATOR, **kwargs)
        bridge_core_logging(self)
        self.params = declare_schema_parameters(self, schema.EVALUATOR)
        check_topic_names(self, self.params, ("track_topic", "ground_truth_topic", "image_topic"))
        self.collector = ReplayCollector()
        guard = self.guard = CallbackGuard(self.get_logger().warning)  # a bad message is counted, never fatal
        self._last_track_wall = None
        self._written = False
        self.finished = False
        # Messages the middleware loses are counted into the report (a best-effort reader can miss samples).
        self._lost = LostMessages(self)
        self._lost.subscribe(
            "tracks", Track, self.params["track_topic"], guard.wrap("tracks", self._on_track), output_qos(_QUEUE_DEPTH)
        )
        self._lost.subscribe(
            "ground_truth",
            GroundTruth,
            self.params["ground_truth_topic"],
            guard.wrap("ground_truth", self.collector.add_ground_truth),
            sensor_qos("best_effort", _QUEUE_DEPTH),
        )
        if self.params["image_topic"]:
            image_qos = sensor_qos("best_effort", 5)
            self.create_subscription(Image, self.params["image_topic"], guard.wrap("images", self._on_image), image_qos)
        # The synchronizer's and tracker's drops (their newest /diagnostics status) go into the report.
        self.create_subscription(
            DiagnosticArray, "/diagnostics", guard.wrap("diagnostics", self._on_diagnostics), output_qos()
        )
        if self.params["idle_timeout_s"] > 0:
            wall_timer(self, 0.5, guard.wrap("idle_check", self._check_idle))
        self.get_logger().info(
            f"collecting {self.params['track_topic']} against {self.params['ground_truth_topic']}; "
            f"report -> {self.params['output_dir']}"
        )

    def _on_image(self, msg: Image) -> None:
        try:  # converted only when the collector keeps the frame
            self.collector.add_image(stamp_to_ns(msg.header.stamp), lambda: to_rgb8(image_to_numpy(msg), msg.encoding))
        except HadTrackerError as exc:  # the strip is a nicety: skip frames that do not convert
            self.get_logger().warning(f"image not used for the frame strip: {exc}", throttle_duration_sec=5.0)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            self.collector.add_diagnostic_status(status.name, status.level, status.message, values)

    def _on_track(self, msg: Track) -> None:
        self.collector.add_track(msg)
        self._last_track_wall = time.monotonic()

    def _check_idle(self) -> None:
        if self._last_track_wall is None or self._written:
            return
        if time.monotonic() - self._last_track_wall >= self.params["idle_timeout_s"]:
            self.write_report()
            self.get_logger().info("no tracks for idle_timeout_s: evaluation finished")
            self.finished = True  # run_nodes stops spinning; the process exits 0 and the launch shuts down

    def write_report(self) -> None:
        """Write predictions + report once (JSON and Markdown) and print where."""
        if self._written:
            return
        self._written = True
        name = self.params["sequence_name"] or "ros_replay"
        source = {
            "bag": self.params["bag"] or name,
            "gt_topic": self.params["ground_truth_topic"],
            "track_topic": self.params["track_topic"],
            "mode": "ros2 replay (replay_eval.launch.py)",
        }
        self.collector.lost_in_transport = {
            kind: count if self._lost.supported else None for kind, count in self._lost.counts.items()
        }
        for kind, count in self.guard.counts.items():  # messages the evaluator could not use
            self.collector.dropped[f"unreadable_{kind}"] = count
        report = self.collector.write_report(self.params["output_dir"], name, source)
        print(
            f"[replay_evaluator] {self.collector.num_tracks} tracks, metrics available: "
            f"{report['metrics_available']}; report: {self.params['output_dir']}/report.md",
            flush=True,
        )

    def close(self) -> None:
        """Called by run_nodes on shutdown: make sure the report exists."""
        self.write_report()


def main(args: list[str] | None = None) -> int:
    """Entry point ``replay_evaluator``."""
    return run_nodes([ReplayEvaluatorNode], args=args if args is not None else sys.argv)


if __name__ == "__main__":
    sys.exit(main())
