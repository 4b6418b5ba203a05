"""What synchronizer_node does with each message, without rclpy: every callback body, guarded and counted.

The node only subscribes, hands each message to one method here and publishes what it returns; so every path a
message takes (decode, image conversion, CameraInfo, poll, window message) is tested directly with rosbags
messages (test/test_nodes_callbacks.py). No method raises: whatever the core raises on a message (a
HadTrackerError, or OverflowError, ValueError, LinAlgError ...) is counted per kind (``errors_<kind>``) and
logged at most once per ``log_period_s`` per kind; the message is dropped, the node lives on.

Host clock (load shedding, data age): the node passes its ROS clock (``node.get_clock()``), the clock the
header stamps are on: system time live, ``/clock`` under ``use_sim_time``. Shedding compares each packet's
``now - header stamp`` with the fastest seen, which only stays constant while the host clock runs at the pace
the stamps advance: a bag played at ``--rate 0.5`` with the system clock would look ever later and be shed
whole, while its sim time keeps pace. Data age is then in the stream's own time (under sim time at rate r,
wall delays count r times) and ``/clock`` steps (10 ms at 100 Hz) add that much jitter. A clock reading 0
(sim time before the first ``/clock``) is not a time (see :meth:`host_now`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from had_tracker import parameters as schema
from had_tracker.nodes.health import CallbackGuard, DropRates, lost_packets, worse
from had_tracker.nodes.search_region import SearchRegionSlot, roi_from_msg
from had_tracker.ros_io.diagnostics import DiagnosticReport, RateMeter, format_value
from had_tracker.ros_io.event_window import sample_to_window_msg
from had_tracker.ros_io.image import image_to_numpy, is_supported_encoding, to_rgb8

EVENT_PACKETS = "event_packets"


def header_stamp_ns(msg: Any) -> int:
    """``msg.header.stamp`` in nanoseconds."""
    stamp = msg.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class SynchronizerCore:
    """A :class:`~had_tracker.sync.synchronizer.Synchronizer` behind callbacks that never raise.

    ``params`` are the validated synchronizer_node parameters; ``log(text)`` receives the throttled warnings;
    ``image_fallback`` converts image encodings ros_io.image does not know (cv_bridge in the node);
    ``host_clock`` (ns; the node's ROS clock) turns on load shedding and data age (None: neither, as offline).
    """

    def __init__(
        self,
        params: Mapping[str, Any],
        log: Callable[[str], None],
        image_fallback: Callable[[Any], Any] | None = None,
        stream: str | None = None,
        host_clock: Callable[[], int] | None = None,
    ) -> None:
        from had_tracker.sync.clock import ActivityClockConfig
        from had_tracker.sync.synchronizer import SyncConfig, Synchronizer

        self.params = dict(params)
        self._host_clock = host_clock
        self._last_host_ns = 0  # the newest non-zero host clock reading
        self.synchronizer = Synchronizer(
            SyncConfig.from_dict(schema.sync_config_dict(self.params)),
            activity=ActivityClockConfig(**schema.activity_config_dict(self.params)),
            host_clock=None if host_clock is None else self.host_now,
        )
        self.search_region = SearchRegionSlot()  # the tracker's next search region (topic or single process)
        self.stream = stream if stream is not None else str(self.params["event_topic"])
        self.guard = CallbackGuard(log)
        self.rates = {name: RateMeter() for name in ("events", "images", "windows")}
        self.drop_rates = DropRates(self.params["drop_warn_ratio"], self.params["drop_error_ratio"])
        self._image_fallback = image_fallback
        self.last_packet_wall: float | None = None  # monotonic time of the newest packet; None once flushed

    def host_now(self) -> int:
        """The host clock [ns] for the Synchronizer; a 0 reading (sim time not started) repeats the last good one.

        Before any good reading it is 0: the Synchronizer's transport-delay minimum then holds ``-stamp`` in a
        bucket of host time 0, which the first real reading evicts at once (it is ages older), and windows cut
        before that carry no host time (:meth:`windows`), so no data age is computed from them.
        """
        now = int(self._host_clock()) if self._host_clock is not None else 0
        if now > 0:
            self._last_host_ns = now
        return self._last_host_ns

    # --- inputs ---------------------------------------------------------------------------------------------------
    def set_search_region_msg(self, msg: Any) -> None:
        """A sensor_msgs/RegionOfInterest from the tracker (all zeros: the whole sensor); applied at the next packet."""
        self.guard.run("search_regions", lambda: self.search_region.offer(roi_from_msg(msg)))

    def _apply_search_region(self) -> None:
        self.guard.run("search_regions", lambda: self.search_region.apply(self.synchronizer.set_roi))

    def add_event_packet(self, msg: Any) -> None:
        """An EventPacket / event_array_msgs EventArray (any exception the decoder raises is a counted drop)."""
        self._event_input()
        self.guard.run(EVENT_PACKETS, lambda: self.synchronizer.add_event_packet(msg, stream=self.stream))

    def add_event_array_bytes(self, data: Any) -> None:
        """A serialized dvs/dv_ros2/prophesee EventArray (the node subscribes to them raw)."""
        from had_tracker.events.event_arrays import parse_event_array_cdr

        self._event_input()
        self.guard.run(EVENT_PACKETS, lambda: self.synchronizer.add_event_array(parse_event_array_cdr(data)))

    def _event_input(self) -> None:
        self._apply_search_region()
        self.rates["events"].tick()
        self.last_packet_wall = time.monotonic()

    def add_image(self, msg: Any) -> None:
        """A sensor_msgs/Image: converted to RGB and queued (a bad encoding, size or stamp is a counted drop)."""
        self.rates["images"].tick()

        def add() -> None:
            fallback = None if is_supported_encoding(msg.encoding) else self._image_fallback
            pixels = image_to_numpy(msg, fallback=fallback)
            rgb = pixels if fallback is not None else to_rgb8(pixels, msg.encoding)
            self.synchronizer.add_image(rgb, header_stamp_ns(msg), msg.header.frame_id)

        self.guard.run("images", add)

    def add_camera_info(self, msg: Any, camera: str = "rgb") -> None:
        """A sensor_msgs/CameraInfo of the ``rgb`` or ``event`` camera."""
        self.guard.run("camera_infos", lambda: self.synchronizer.add_camera_info(msg, camera=camera))

    # --- outputs --------------------------------------------------------------------------------------------------
    def idle_for(self, now: float | None = None) -> float | None:
        """Seconds since the newest packet (None: nothing pending since the last idle flush)."""
        if self.last_packet_wall is None:
            return None
        return (time.monotonic() if now is None else now) - self.last_packet_wall

    def windows(self, new_msg: Callable[[], Any], flush: bool = False) -> list[Any]:
        """The window messages ready now (``flush``: every pending one), each built in ``new_msg()``.

        A failing poll is counted under ``poll`` (nothing is emitted this time); a window that does not fit
        had_msgs/EventWindow is counted under ``windows`` and skipped.
        """
        if flush:
            self.last_packet_wall = None
        samples = self.guard.run("poll", self.synchronizer.flush if flush else self.synchronizer.poll, default=[])
        include_images = bool(self.params["include_images_in_windows"])
        out = []
        for sample in samples:
            if self._host_clock is not None and self._last_host_ns == 0:
                sample.newest_event_host_ns = None  # no host time yet (sim time before /clock): age unknown
            msg = self.guard.run("windows", lambda s=sample: sample_to_window_msg(s, new_msg(), include_images))
            if msg is not None:
                out.append(msg)
                self.rates["windows"].tick()
        return out

    # --- diagnostics ----------------------------------------------------------------------------------------------
    def report(self, rmw_lost: Mapping[str, int], rmw_supported: bool = True) -> DiagnosticReport:
        """The /diagnostics status: rates, every stats counter of the synchronizer, errors, losses, drop ratios.

        Every key of ``Synchronizer.stats.as_dict()`` is published as is (new counters flow through). The level
        is WARN/ERROR when the share of events dropped, or of event packets lost, in the last interval exceeds
        ``drop_warn_ratio`` / ``drop_error_ratio``.
        """
        stats = self.synchronizer.stats
        counters = stats.as_dict()
        values = {f"{name}_rate_hz": format_value(meter.rate_hz()) for name, meter in self.rates.items()}
        values.update({key: format_value(value) for key, value in counters.items()})
        values.update(self.guard.values())
        rmw_packets = rmw_lost.get(EVENT_PACKETS, 0) if rmw_supported else None
        seq_missing = int(counters.get("seq_gaps", 0))
        lost = lost_packets(rmw_packets, seq_missing)
        values["lost_event_packets"] = str(lost)
        values["lost_event_packets_rmw"] = "unknown" if rmw_packets is None else str(rmw_packets)
        values["lost_event_packets_seq"] = str(seq_missing)
        for name, count in rmw_lost.items():
            if name != EVENT_PACKETS:
                values[f"lost_{name}"] = str(count) if rmw_supported else "unknown"
        offset = self.synchronizer.offset_ns
        values["offset_ns"] = "unknown" if offset is None else str(offset)
        values["drift_ppm"] = format_value(float(self.synchronizer.drift_ppm))
        clock = self.guard.run("diagnostics", self.synchronizer.clock_status, default={}) or {}
        rgb_minus_event = clock.get("rgb_minus_event_ns")
        values["rgb_minus_event_ns"] = "unknown" if rgb_minus_event is None else str(int(rgb_minus_event))
        values["host_clock"] = "off (no shedding, no data age)" if self._host_clock is None else "node clock"
        values.update(self.search_region.values())

        dropped = int(stats.dropped_events)
        self.drop_rates.update("events", dropped, max(int(stats.events), dropped))
        self.drop_rates.update("event packets", lost, int(stats.packets) + lost)
        values.update(self.drop_rates.values())
        level, message = self.drop_rates.level()
        if self.rates["events"].total == 0:
            level, message = worse(level, "warn"), f"no event packets on {self.stream} (QoS must be best-effort)"
        elif offset is None and level == "ok":
            level, message = "warn", "clock offset not known yet"
        elif not message:
            message = "aligned"
            if dropped or self.guard.total or lost:
                message = (
                    f"aligned; {dropped} events dropped, {lost} event packets lost, {self.guard.total} messages "
                    "rejected (see drop_*, lost_*, errors_*)"
                )
        return DiagnosticReport("synchronizer", level, message, values)
