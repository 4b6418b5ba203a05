"""synchronizer_node: event packets + RGB frames in, aligned ``had_msgs/EventWindow`` out.

A thin adapter over :class:`had_tracker.sync.synchronizer.Synchronizer`.

Subscriptions: ``event_topic`` (type from ``event_msg_type``; best-effort, keep-last ``event_qos_depth``),
``image_topic`` and ``camera_info_topic`` (sensor-data QoS, ``reliability`` parameter; empty name = off).
Publications: ``~/windows`` (had_msgs/EventWindow, reliable, depth 10), ``/diagnostics``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from had_msgs.msg import EventWindow
from had_tracker import parameters as schema
from had_tracker.errors import HadTrackerError
from had_tracker.events.event_arrays import EVENT_ARRAY_TYPES, parse_event_array_cdr
from had_tracker.nodes.common import (
    DiagnosticsPublisher,
    LostMessages,
    Throttle,
    declare_schema_parameters,
    event_qos,
    import_message,
    output_qos,
    run_nodes,
    sensor_qos,
    stamp_to_ns,
    wall_timer,
)
from had_tracker.ros_io.diagnostics import DiagnosticReport, RateMeter, format_value
from had_tracker.ros_io.event_window import sample_to_window_msg
from had_tracker.ros_io.image import image_to_numpy, is_supported_encoding, to_rgb8


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
    """Aligns event packets and RGB frames into compact event windows."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(schema.SYNCHRONIZER, **kwargs)
        from had_tracker.sync.clock import ActivityClockConfig
        from had_tracker.sync.synchronizer import SyncConfig, Synchronizer

        self.params = declare_schema_parameters(self, schema.SYNCHRONIZER)
        self.synchronizer = Synchronizer(
            SyncConfig.from_dict(schema.sync_config_dict(self.params)),
            activity=ActivityClockConfig(**schema.activity_config_dict(self.params)),
        )
        self._stream = self.params["event_topic"]
        self._image_fallback = _cv_bridge_fallback()
        self._rates = {name: RateMeter() for name in ("events", "images", "windows")}
        self._input_errors = {"event_packets": 0, "images": 0, "camera_infos": 0, "windows": 0}
        self._warn = Throttle(5.0)
        self._last_packet_wall: float | None = None  # monotonic time of the newest packet; None once flushed

        self._windows_pub = self.create_publisher(EventWindow, "~/windows", output_qos())
        event_type = import_message(self.params["event_msg_type"])
        # Arrays of event structs arrive serialized (raw=True) and are parsed as numpy views of the CDR bytes:
        # deserializing them would build one Python object per event.
        struct_array = self.params["event_msg_type"] in EVENT_ARRAY_TYPES
        self._lost = LostMessages(self)
        self._lost.subscribe(
            "event_packets",
            event_type,
            self._stream,
            self._on_event_array_bytes if struct_array else self._on_events,
            event_qos(self.params["event_qos_depth"]),
            raw=struct_array,
        )
        image_qos = sensor_qos(self.params["reliability"], self.params["image_qos_depth"])
        if self.params["image_topic"]:
            self._lost.subscribe("images", Image, self.params["image_topic"], self._on_image, image_qos)
        if self.params["camera_info_topic"]:
            self.create_subscription(CameraInfo, self.params["camera_info_topic"], self._on_camera_info, image_qos)
        if self.params["event_camera_info_topic"]:
            self.create_subscription(
                CameraInfo, self.params["event_camera_info_topic"], self._on_event_camera_info, image_qos
            )
        from had_tracker.events.warmup import warm_up

        # the first packet would otherwise pay the decoders' cache load (a second or more)
        self.get_logger().info(f"warmed up the event kernels in {warm_up():.2f} s")
        self._diagnostics = DiagnosticsPublisher(self)
        wall_timer(self, self.params["diagnostics_period_s"], self._publish_diagnostics)
        if self.params["flush_idle_s"] > 0:
            wall_timer(self, min(0.1, self.params["flush_idle_s"]), self._flush_when_idle)
        self.get_logger().info(
            f"events: {self._stream} ({self.params['event_msg_type']}), images: {self.params['image_topic'] or 'off'}, "
            f"policy {self.synchronizer.config.policy}, clock {self.synchronizer.config.clock} -> "
            "~/windows"
        )

    # --- callbacks: convert, call the core, publish -------------------------------------------------------------------
    def _on_events(self, msg: Any) -> None:
        self._ingest_events(lambda: self.synchronizer.add_event_packet(msg, stream=self._stream))

    def _on_event_array_bytes(self, data: bytes) -> None:
        self._ingest_events(lambda: self.synchronizer.add_event_array(parse_event_array_cdr(data)))

    def _ingest_events(self, add: Callable[[], None]) -> None:
        self._rates["events"].tick()
        self._last_packet_wall = time.monotonic()
        try:
            add()
        except HadTrackerError as exc:
            self._count_error("event_packets", f"dropped an event packet: {exc}")
        self._publish_windows()

    def _on_image(self, msg: Image) -> None:
        self._rates["images"].tick()
        try:
            fallback = None if is_supported_encoding(msg.encoding) else self._image_fallback
            pixels = image_to_numpy(msg, fallback=fallback)
            rgb = pixels if fallback is not None else to_rgb8(pixels, msg.encoding)
            self.synchronizer.add_image(rgb, stamp_to_ns(msg.header.stamp), msg.header.frame_id)
        except HadTrackerError as exc:
            self._count_error("images", f"dropped an image: {exc}")
            return
        self._publish_windows()

    def _on_camera_info(self, msg: CameraInfo, camera: str = "rgb") -> None:
        try:
            self.synchronizer.add_camera_info(msg, camera=camera)
        except (HadTrackerError, ValueError) as exc:
            self._count_error("camera_infos", f"ignored a {camera} CameraInfo: {exc}")

    def _on_event_camera_info(self, msg: CameraInfo) -> None:
        self._on_camera_info(msg, camera="event")

    def _flush_when_idle(self) -> None:
        """No packet for flush_idle_s (bag ended, camera paused): emit what is pending, once per silence."""
        if self._last_packet_wall is None or time.monotonic() - self._last_packet_wall < self.params["flush_idle_s"]:
            return
        self._last_packet_wall = None
        self._publish_windows(flush=True)

    def _publish_windows(self, flush: bool = False) -> None:
        for sample in self.synchronizer.flush() if flush else self.synchronizer.poll():
            msg = EventWindow()
            try:
                sample_to_window_msg(sample, msg, include_image=self.params["include_images_in_windows"])
            except ValueError as exc:  # e.g. a window longer than EventWindow's uint32 event offsets can hold
                self._count_error("windows", f"dropped an event window: {exc}")
                continue
            self._windows_pub.publish(msg)
            self._rates["windows"].tick()

    def _count_error(self, kind: str, message: str) -> None:
        self._input_errors[kind] += 1
        if self._warn.ready():
            self.get_logger().warning(f"{message} ({self._input_errors[kind]} {kind} dropped so far)")

    # --- diagnostics ----------------------------------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        stats = self.synchronizer.stats
        values = {f"{name}_rate_hz": format_value(meter.rate_hz()) for name, meter in self._rates.items()}
        values.update({key: format_value(value) for key, value in stats.as_dict().items()})
        values.update({f"rejected_{kind}": str(count) for kind, count in self._input_errors.items()})
        values.update(self._lost.values())
        offset = self.synchronizer.offset_ns
        values["offset_ns"] = "unknown" if offset is None else str(offset)
        values["drift_ppm"] = format_value(float(self.synchronizer.drift_ppm))
        level, message = "ok", "aligned"
        if self._rates["events"].total == 0:
            level, message = "warn", f"no event packets on {self._stream} (QoS must be best-effort compatible)"
        elif offset is None:
            level, message = "warn", "clock offset not known yet"
        elif stats.dropped_events or sum(self._input_errors.values()) or sum(self._lost.counts.values()):
            message = f"aligned; {stats.dropped_events} events dropped (see drop_*, rejected_* and lost_* values)"
        self._diagnostics.publish(DiagnosticReport("synchronizer", level, message, values))


def main(args: list[str] | None = None) -> int:
    """Entry point ``synchronizer_node``."""
    return run_nodes([SynchronizerNode], args=args if args is not None else sys.argv)


if __name__ == "__main__":
    sys.exit(main())
