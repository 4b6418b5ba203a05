"""synchronizer_node: event packets + RGB frames in, aligned ``had_msgs/EventWindow`` out.

A thin adapter over :class:`had_tracker.nodes.synchronizer_core.SynchronizerCore` (the Synchronizer behind
callbacks that never raise: every error is counted per kind, logged throttled and shown in /diagnostics).

Subscriptions: ``event_topic`` (type from ``event_msg_type``; best-effort, keep-last ``event_qos_depth``),
``image_topic`` and ``camera_info_topic`` (sensor-data QoS, ``reliability`` parameter; empty name = off),
``search_region_topic`` (sensor_msgs/RegionOfInterest from tracker_node: only events inside are kept; empty = off).
Host clock: the node's ROS clock (system time, or ``/clock`` under ``use_sim_time``) turns on load shedding
and stamps each window's ``newest_event_host`` (why this clock: ``had_tracker.nodes.synchronizer_core``).
Publications: ``~/windows`` (had_msgs/EventWindow, reliable, depth 10), ``/diagnostics`` (WARN/ERROR when the
share of events dropped or event packets lost, seq gaps included, passes ``drop_warn_ratio``/``drop_error_ratio``).
An invalid topic name stops the node at start-up with one line (exit code 1).
"""

from __future__ import annotations

import sys
from typing import Any

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest

from had_msgs.msg import EventWindow
from had_tracker import parameters as schema
from had_tracker.events.event_arrays import EVENT_ARRAY_TYPES
from had_tracker.nodes.common import (
    DiagnosticsPublisher,
    LostMessages,
    bridge_core_logging,
    check_topic_names,
    declare_schema_parameters,
    event_qos,
    import_message,
    output_qos,
    run_nodes,
    sensor_qos,
    wall_timer,
)
from had_tracker.nodes.synchronizer_core import EVENT_PACKETS, SynchronizerCore

TOPIC_PARAMETERS = (
    "event_topic", "image_topic", "camera_info_topic", "event_camera_info_topic", "search_region_topic",
)  # fmt: skip


def _cv_bridge_fallback() -> Any:
    """A cv_bridge passthrough for encodings ros_io.image does not know, or None when cv_bridge cannot load.

    cv_bridge's compiled module fails to import under NumPy 2 on some installs, so any exception means "no".
    """
    try:
        from cv_bridge import CvBridge

        bridge = CvBridge()
    except Exception:  # noqa: BLE001 - ImportError, AttributeError (_ARRAY_API), RuntimeError ...
        return None

    def convert(msg: Any) -> Any:
        return bridge.imgmsg_to_cv2(msg, desired_encoding="rgb8")

    return convert


class SynchronizerNode(Node):
    """Aligns event packets and RGB frames into compact event windows (logic: :class:`SynchronizerCore`)."""

    def __init__(self, search_region_direct: bool = False, **kwargs: Any) -> None:
        """``search_region_direct``: the tracker in this process hands its region over (no subscription)."""
        super().__init__(schema.SYNCHRONIZER, **kwargs)
        bridge_core_logging(self)
        self.params = declare_schema_parameters(self, schema.SYNCHRONIZER)
        check_topic_names(self, self.params, TOPIC_PARAMETERS)
        clock = self.get_clock()  # ROS time: the header stamps' clock (sim time under use_sim_time)
        self.core = SynchronizerCore(
            self.params,
            self.get_logger().warning,
            image_fallback=_cv_bridge_fallback(),
            host_clock=lambda: clock.now().nanoseconds,
        )
        self.synchronizer = self.core.synchronizer
        guard = self.core.guard

        self._windows_pub = self.create_publisher(EventWindow, "~/windows", output_qos())
        event_type = import_message(self.params["event_msg_type"])
        # Arrays of event structs arrive serialized (raw=True) and are parsed as numpy views of the CDR bytes:
        # deserializing them would build one Python object per event.
        struct_array = self.params["event_msg_type"] in EVENT_ARRAY_TYPES
        self._lost = LostMessages(self)
        self._lost.subscribe(
            EVENT_PACKETS,
            event_type,
            self.params["event_topic"],
            guard.wrap("callback_events", self._on_event_array_bytes if struct_array else self._on_events),
            event_qos(self.params["event_qos_depth"]),
            raw=struct_array,
        )
        image_qos = sensor_qos(self.params["reliability"], self.params["image_qos_depth"])
        if self.params["image_topic"]:
            self._lost.subscribe(
                "images", Image, self.params["image_topic"], guard.wrap("callback_images", self._on_image), image_qos
            )
        if self.params["camera_info_topic"]:
            self.create_subscription(
                CameraInfo,
                self.params["camera_info_topic"],
                guard.wrap("callback_camera_infos", self.core.add_camera_info),
                image_qos,
            )
        if self.params["event_camera_info_topic"]:
            self.create_subscription(
                CameraInfo,
                self.params["event_camera_info_topic"],
                guard.wrap("callback_camera_infos", lambda msg: self.core.add_camera_info(msg, camera="event")),
                image_qos,
            )
        if self.params["search_region_topic"] and not search_region_direct:
            self.create_subscription(
                RegionOfInterest,
                self.params["search_region_topic"],
                guard.wrap("callback_search_region", self.core.set_search_region_msg),
                output_qos(1),  # only the newest region matters
            )
        from had_tracker.events.warmup import warm_up
        from had_tracker.gc_freeze import freeze_startup_objects

        # the first packet would otherwise pay the decoders' cache load (a second or more)
        self.get_logger().info(f"warmed up the event kernels in {warm_up():.2f} s")
        freeze_startup_objects()  # no full garbage collection over the loaded libraries while synchronising
        self._diagnostics = DiagnosticsPublisher(self)
        wall_timer(self, self.params["diagnostics_period_s"], guard.wrap("diagnostics", self._publish_diagnostics))
        if self.params["flush_idle_s"] > 0:
            wall_timer(self, min(0.1, self.params["flush_idle_s"]), guard.wrap("flush", self._flush_when_idle))
        self.get_logger().info(
            f"events: {self.params['event_topic']} ({self.params['event_msg_type']}), images: "
            f"{self.params['image_topic'] or 'off (event-only)'}, policy {self.synchronizer.config.policy}, clock "
            f"{self.synchronizer.config.clock} -> ~/windows"
        )

    # --- callbacks: hand the message to the core, publish what is ready (each guarded: see SynchronizerCore) -------
    def _on_events(self, msg: Any) -> None:
        self.core.add_event_packet(msg)
        self._publish_windows()

    def _on_event_array_bytes(self, data: bytes) -> None:
        self.core.add_event_array_bytes(data)
        self._publish_windows()

    def _on_image(self, msg: Image) -> None:
        self.core.add_image(msg)
        self._publish_windows()

    def _flush_when_idle(self) -> None:
        """No packet for flush_idle_s (bag ended, camera paused): emit what is pending, once per silence."""
        idle = self.core.idle_for()
        if idle is not None and idle >= self.params["flush_idle_s"]:
            self._publish_windows(flush=True)

    def _publish_windows(self, flush: bool = False) -> None:
        for msg in self.core.windows(EventWindow, flush=flush):
            self.core.guard.run("publish", lambda m=msg: self._windows_pub.publish(m))

    def _publish_diagnostics(self) -> None:
        self._diagnostics.publish(self.core.report(self._lost.counts, self._lost.supported))


def main(args: list[str] | None = None) -> int:
    """Entry point ``synchronizer_node``."""
    return run_nodes([SynchronizerNode], args=args if args is not None else sys.argv)


if __name__ == "__main__":
    sys.exit(main())
