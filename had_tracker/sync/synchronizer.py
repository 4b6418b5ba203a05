"""The Synchronizer: event packets + RGB frames in, aligned event windows (``AlignedSample``) out.

Used identically by the ROS node, bag replay and the benchmarks. One Synchronizer serves one event camera
(one event stream; several RGB frames per window policy). Data path:

1. ``add_event_packet`` decodes a packet with one stateful decoder per stream (``make_decoder``), after
   the packet-order policy below; ``add_events`` takes already-decoded arrays.
2. Decoded events stay in *sensor* time in a bounded :class:`~had_tracker.events.buffer.EventBuffer`;
   each packet feeds the sensor->host offset estimator, trigger edges feed the trigger aligner.
3. ``poll`` asks the window policy which windows are complete (all their events have arrived), cuts each
   one from the buffer, maps it onto the output clock (``t + offset``) and into the output image frame
   (registration), and attaches the RGB frame.

Packet-order policy (per stream, by ``seq``): the next expected packet is decoded at once; a packet ahead
of it is held (at most ``reorder_depth`` packets, or ``reorder_timeout_ns`` of header time) so that a
reordered one can slot in — stateful encodings like evt3 must be decoded in order; when the hole does not
fill, the held packets are decoded and the decoder resynchronises (``seq_gaps`` counts the lost packets).
A packet already seen (same seq and stamp) is a ``duplicate_packets`` drop; an older one that was not seen
is a ``late_packets`` drop (its place in the stream has passed). A ``seq`` going back is a *new stream*
instead when it is far behind (``> restart_seq_gap``) or its header stamp is newer than the stream's newest
(a restarted driver) or more than ``offset_reset_ns`` older (a bag replayed in a loop); so is decoded event
time jumping back by more than ``backwards_reset_ns`` (camera clock reset), or the header-vs-sensor offset
jumping by more than ``offset_reset_ns`` (an evt3 camera reset decodes as a 24-bit rollover, i.e. forward).
Windows still pending on the old timeline are flushed to the next ``poll``; then a new stream resets buffer,
decoder state, offset estimate and window grid, counted in ``stream_restarts``. Smaller backward steps of
event time drop the offending events (``drops["backwards"]``); events older than the last emitted window
are ``drops["late"]``; not-yet-emitted events pushed out of the bounded buffer are
``drops["buffer_full"]``. Nothing is dropped without a counter, and each window reports the events
dropped since the previous one (``AlignedSample.dropped_events``).

Overload (``shed_policy``, with a ``host_clock``: the node's clock; offline replay passes none and sheds
nothing): each packet's lag is its arrival delay beyond the fastest arrival seen (``TransportDelay``: a constant
offset between the stamps' clock and the host clock is no lag). A packet more than ``max_data_age_ns`` late
starts shedding: packets are decoded (decoder state stays valid, counts stay exact) and their events dropped
(``drops["shed_stale"]``, ``shed_packets``) until one arrives less than ``max_data_age_ns / 2`` late — the
backlog is dropped, tracking resumes on the newest data. Windows lying in a run of shed packets, or whose end
is already older than ``max_data_age_ns`` when they complete, are not emitted (``shed_windows``; their events
are ``shed_stale`` drops, their seq numbers are skipped so gaps show). Each window carries the host time of its
newest event (``newest_event_host_ns``), its ``dropped_events`` (every event counted as dropped since the
previous window) and ``lost_packets`` (seq gaps since the previous window); ``data_age_ns(sample, now)`` gives
its data age.

Clock modes (``SyncConfig.clock``): ``header`` — sensor->host offset estimated from header stamps (the
ROS 2 drivers' case); ``trigger`` — exact offset from external-trigger edges matched to RGB stamps, with
the header estimate as the prior and as the fallback until the first match; ``sensor`` — event times are
already on the output clock (dvs/dv-ros2 arrays stamped in ROS time, arrays from files); ``activity`` — the header estimate plus a
one-time correction that best aligns event activity with RGB frame differences over the first
``ActivityClockConfig.frames`` frames (``estimate_offset_from_activity``; for rigs without a trigger wire whose RGB
stamps sit an unknown time from the host clock; windows before it use the header estimate alone).
``extra_offset_ns`` is added last.

Completeness and liveness: a window is complete when an event at or after its end has been decoded
(packets of one stream arrive in time order). Windows are cut by *event* time: so that nothing waits forever,
a window ending more than ``max_wait_ns`` before the newest event header stamp is emitted anyway
(``forced_windows``). RGB frames drive windows only when the event stream has stalled: no event input while
the RGB stamps advanced by ``event_stall_ns``; windows then follow RGB time from the last event input on,
``event_stall_ns`` behind. A fast RGB stream or a queued event subscription (RGB stamps running hundreds of
ms ahead of the events being processed) therefore never cuts windows before their events arrive, which would
turn a backlog into ``late`` drops (issue 18). RGB stamps far off both the RGB stream and the usual RGB-event
offset are rejected (``image_drops["stamp_outlier"]``); a steady offset is reported in ``clock_status()``.
``flush`` emits everything. Fixed-rate and fixed-count windows get
each RGB frame once: the first window cut after the frame arrived whose end is after its stamp.

Geometry and bad input: the event sensor size comes from ``sensor_width/height``, else the event CameraInfo,
else the packets' declared geometry, else (streams that declare 0x0) the extent of the data; it is never fixed
by a first packet, and the registration is rebuilt when it changes. A packet whose ``time_base`` would wrap
int64 is refused (``packet_drops``), a CameraInfo of size 0 or with a non-finite or singular K is ignored
(``camera_info_drops``), a registration that cannot be built is logged once (``registration_failures``) and
its windows' events are ``no_registration`` drops: none of them raises from ``poll``. ``stats.as_dict()``
also holds the decoders' counters (``decoder_*``) and the fixed-rate policy's ``skipped_windows``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from had_tracker.errors import ConfigError, DecodeError
from had_tracker.events.container import Events, Triggers
from had_tracker.events.decoders import DecoderRegistry, _warn_sometimes, valid_time_base
from had_tracker.events.event_arrays import EventArrayData
from had_tracker.events.time_order import scan_time_order
from had_tracker.sync.clock import (
    ActivityClockConfig,
    OffsetEstimator,
    TransportDelay,
    TriggerAligner,
    estimate_offset_from_activity,
)
from had_tracker.sync.policies import FixedCountPolicy, FixedRatePolicy, FrameItem, PerFramePolicy, WindowSpec
from had_tracker.sync.registration import CameraModel, Registration
from had_tracker.sync.roi import filter_events

log = logging.getLogger(__name__)

DEFAULT_STREAM = "/event_camera/events"
POLICIES = ("fixed_rate", "per_frame", "fixed_count")
CLOCKS = ("header", "trigger", "sensor", "activity")
REGISTRATIONS = ("identity", "homography", "calibration")
SHED_POLICIES = ("newest", "none")
DECODER_COUNTERS = ("dropped_out_of_geometry", "unknown_codes", "skipped_unsynced", "truncated", "lost_packets",
                    "seq_resets", "rejected_time_base", "big_endian_packets")  # fmt: skip


@dataclass
class SyncConfig:
    """Synchronizer settings (YAML: ``config/sync.yaml``; times in ns unless the name says otherwise)."""

    policy: str = "fixed_rate"  # fixed_rate | per_frame | fixed_count
    rate_hz: float = 200.0  # fixed_rate: windows per second
    max_gap_windows: int = 200  # fixed_rate: longest run of empty windows emitted after a silence
    frame_window: str = "exposure"  # per_frame: "exposure" (around the stamp) or "interval" (since previous frame)
    exposure_ns: int = 10_000_000  # per_frame: exposure length when the frame does not say
    stamp_position: str = "middle"  # per_frame: where the RGB stamp sits in the exposure: start | middle | end
    events_per_window: int = 20_000  # fixed_count: events per window
    max_window_ns: int = 50_000_000  # fixed_count: close a window that does not fill after this long
    clock: str = "header"  # header | trigger | sensor | activity (see module docstring)
    extra_offset_ns: int = 0  # added after the sensor->host offset: event (host) clock -> RGB clock
    offset_window_ns: int = 10_000_000_000  # offset estimator: window of samples
    offset_bucket_ns: int = 500_000_000  # offset estimator: one minimum per bucket of sensor time
    track_drift: bool = True  # offset estimator: fit a line through the bucket minima
    offset_reset_ns: int = 1_000_000_000  # offset estimator: a jump this large restarts it
    trigger_edge: str = "rising"  # trigger clock: rising | falling | any
    trigger_max_match_ns: int = 10_000_000  # trigger clock: max |frame stamp - prior - trigger|
    registration: str = "identity"  # identity | homography | calibration
    homography: list[float] | None = None  # 9 values, row-major, event px -> output px
    extrinsic_rotation: list[float] | None = None  # calibration: 9 values, p_rgb = R p_ev + t
    extrinsic_translation_m: list[float] | None = None  # calibration: 3 values [m]
    plane_depth_m: float = float("inf")  # calibration: depth of the scene plane in the event camera [m]
    use_distortion: bool = False  # calibration: use the CameraInfo distortion coefficients
    sensor_width: int | None = None  # event sensor size when the packets declare none (0x0); default: CameraInfo/data
    sensor_height: int | None = None
    output_width: int | None = None  # output image size; default: RGB CameraInfo, first image, else sensor
    output_height: int | None = None
    buffer_duration_ns: int = 1_000_000_000  # EventBuffer bound by time
    buffer_max_events: int = 10_000_000  # EventBuffer bound by count
    max_window_events: int = 2_000_000  # events kept per window (the newest); excess dropped, counted
    image_queue_size: int = 16  # RGB frames waiting for their window; oldest dropped, counted
    attach_image: str = "once"  # fixed_rate/fixed_count: "once" (first window ending after it) | "never"
    max_image_age_ns: int = 100_000_000  # a frame older than this at its window's end is not attached
    max_wait_ns: int = 20_000_000  # a window whose end is this far behind the newest event input is emitted anyway
    event_stall_ns: int = 200_000_000  # no event input while RGB time advanced this much: emit windows by RGB time
    image_stamp_tolerance_ns: int = 2_000_000_000  # an RGB stamp this far off both clocks is an outlier (dropped)
    reorder_depth: int = 4  # packets held while waiting for a missing seq (0: decode immediately)
    reorder_timeout_ns: int = 5_000_000  # header-time span after which held packets are released
    restart_seq_gap: int = 1000  # seq this far behind the stream means the stream restarted
    backwards_reset_ns: int = 100_000_000  # event time going back more than this restarts the stream
    shed_policy: str = "newest"  # overload, with a host clock: newest (drop data older than max_data_age_ns) | none
    max_data_age_ns: int = 250_000_000  # shed_policy newest: packets and windows whose data is older are dropped

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> SyncConfig:
        """Build from a mapping (e.g. a YAML section); unknown keys and bad values raise ConfigError."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(values) - known):
            raise ConfigError(f"unknown sync option(s) {unknown}; known: {sorted(known)}")
        from had_tracker.config_values import check_values

        cfg = cls(**check_values(cls, values, "sync config"))
        cfg.validate()
        return cfg

    @classmethod
    def from_yaml(cls, path: str) -> SyncConfig:
        """Load from a YAML file (top level, or under a ``sync:`` key)."""
        import yaml

        with open(path) as f:
            data = yaml.safe_load(f) or {}
        return cls.from_dict(data.get("sync", data))

    def validate(self) -> None:
        """Raise ConfigError for an invalid value."""

        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(f"sync config: {msg}")

        need(self.policy in POLICIES, f"policy must be one of {POLICIES}, got {self.policy!r}")
        need(self.clock in CLOCKS, f"clock must be one of {CLOCKS}, got {self.clock!r}")
        need(
            self.registration in REGISTRATIONS,
            f"registration must be one of {REGISTRATIONS}, got {self.registration!r}",
        )
        need(self.rate_hz > 0, f"rate_hz must be > 0, got {self.rate_hz}")
        need(
            self.frame_window in ("exposure", "interval"),
            f"frame_window must be exposure|interval, got {self.frame_window!r}",
        )
        need(self.stamp_position in ("start", "middle", "end"), f"bad stamp_position {self.stamp_position!r}")
        need(self.shed_policy in SHED_POLICIES, f"shed_policy must be one of {SHED_POLICIES}, got {self.shed_policy!r}")
        need(self.attach_image in ("once", "never"), f"attach_image must be once|never, got {self.attach_image!r}")
        need(self.trigger_edge in ("rising", "falling", "any"), f"bad trigger_edge {self.trigger_edge!r}")
        for name in ("exposure_ns", "events_per_window", "max_window_ns", "offset_window_ns", "offset_bucket_ns",
                     "buffer_duration_ns", "buffer_max_events", "max_window_events", "image_queue_size",
                     "max_image_age_ns", "max_wait_ns", "event_stall_ns", "image_stamp_tolerance_ns", "max_data_age_ns", "restart_seq_gap", "backwards_reset_ns", "max_gap_windows"):  # fmt: skip
            need(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        need(self.offset_bucket_ns <= self.offset_window_ns, "offset_bucket_ns must be <= offset_window_ns")
        need(self.reorder_depth >= 0 and self.reorder_timeout_ns >= 0, "reorder_depth/reorder_timeout_ns must be >= 0")
        if self.registration == "homography":
            need(self.homography is not None and len(self.homography) == 9, "registration 'homography' needs 9 values")
        if self.registration == "calibration":
            need(
                self.extrinsic_rotation is not None and len(self.extrinsic_rotation) == 9,
                "calibration needs extrinsic_rotation (9)",
            )
            need(
                self.extrinsic_translation_m is not None and len(self.extrinsic_translation_m) == 3,
                "calibration needs extrinsic_translation_m (3)",
            )
            need(self.plane_depth_m > 0, f"plane_depth_m must be > 0, got {self.plane_depth_m}")
        if self.sensor_width is not None or self.sensor_height is not None:
            need((self.sensor_width or 0) > 0 and (self.sensor_height or 0) > 0, "sensor_width/height must both be > 0")
        if self.output_width is not None or self.output_height is not None:
            need((self.output_width or 0) > 0 and (self.output_height or 0) > 0, "output_width/height must both be > 0")


@dataclass
class AlignedSample:
    """One aligned event window: events on the output clock and in the output image frame (+ RGB frame).

    Every event lies in ``[window_start_ns, window_end_ns)``: times are clamped into the window, which moves
    an event by at most the change of the offset estimate between two windows (microseconds).
    """

    seq: int
    window_start_ns: int  # output clock, inclusive
    window_end_ns: int  # output clock, exclusive
    events: Events  # output frame + clock, time ordered
    image: np.ndarray | None = None  # (H, W, 3) uint8 RGB
    image_stamp_ns: int | None = None  # output (RGB) clock
    dropped_events: int = 0  # events dropped since the previous window (bounds, geometry, late, backwards)
    frame_id: str = ""  # output image frame
    offset_ns: int = 0  # sensor -> output offset applied to this window
    newest_event_host_ns: int | None = None  # host clock time the newest event was available at; None when empty
    lost_packets: int = 0  # event packets missing in the seq numbering since the previous window (not decoded)

    @property
    def width(self) -> int:
        return self.events.width

    @property
    def height(self) -> int:
        return self.events.height


def data_age_ns(newest_event_host_ns: int | None, now_ns: int) -> int | None:
    """Data age at host time ``now_ns`` of a window (or a box computed from it): ``now - newest_event_host_ns``.

    ``newest_event_host_ns`` (``AlignedSample``, ``EventWindow.newest_event_host``) is the newest event's sensor
    time mapped onto the host clock: the sensor->header-stamp offset estimate plus the fastest arrival seen
    (``TransportDelay``), i.e. when that event would have reached this node with no queueing. A constant offset
    between the stamps' clock and the host clock (a bag played without sim time) is therefore not age, and the
    minimum transport delay is not counted. None when the window holds no event.
    """
    return None if newest_event_host_ns is None else int(now_ns) - int(newest_event_host_ns)


@dataclass
class SyncStats:
    """Counters: inputs, outputs and every kind of drop."""

    packets: int = 0
    events: int = 0  # decoded (or added) events
    images: int = 0
    windows: int = 0
    empty_windows: int = 0
    forced_windows: int = 0  # emitted before all their events could be confirmed (max_wait / flush)
    duplicate_packets: int = 0
    late_packets: int = 0
    seq_gaps: int = 0  # packets missing in the seq numbering
    stream_restarts: int = 0
    triggers: int = 0
    registration_failures: int = 0  # registrations that could not be built from the inputs (logged)
    shed_packets: int = 0  # packets older than max_data_age_ns on arrival: decoded, events dropped (drop_shed_stale)
    shed_windows: int = 0  # windows older than max_data_age_ns when complete: not emitted (seq skips them)
    roi_filtered: int = 0  # events outside the region of interest (set_roi): not asked for, not buffered
    drops: dict[str, int] = field(default_factory=dict)  # events dropped, by reason
    image_drops: dict[str, int] = field(default_factory=dict)  # frames dropped, by reason
    packet_drops: dict[str, int] = field(default_factory=dict)  # event packets rejected whole, by reason
    camera_info_drops: dict[str, int] = field(default_factory=dict)  # CameraInfo messages rejected, by reason
    # Counters kept elsewhere (decoders, window policy), read when the dict is built: set by the Synchronizer.
    sources: Any = field(default=None, repr=False, compare=False)

    def drop(self, reason: str, n: int = 1, image: bool = False) -> None:
        if n > 0:
            table = self.image_drops if image else self.drops
            table[reason] = table.get(reason, 0) + int(n)

    @property
    def dropped_events(self) -> int:
        return sum(self.drops.values())

    def as_dict(self) -> dict[str, Any]:
        tables = {"drops": "drop_", "image_drops": "image_drop_", "packet_drops": "packet_drop_",
                  "camera_info_drops": "camera_info_drop_"}  # fmt: skip
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in tables and f.name != "sources"}
        for name, prefix in tables.items():
            out.update({f"{prefix}{k}": v for k, v in getattr(self, name).items()})
        if self.sources is not None:
            out.update(self.sources())
        return out


@dataclass
class _StreamState:
    last_seq: int | None = None
    last_stamp: int | None = None
    recent: deque = field(default_factory=lambda: deque(maxlen=256))  # (seq, stamp) decoded
    held: dict = field(default_factory=dict)  # seq -> (packet, stamp)
    seq_usable: bool = True


def _header_stamp_ns(msg: Any) -> int:
    """``header.stamp`` in ns (rclpy/rosbags message), or ``stamp_ns`` (``EventPacketData``)."""
    header = getattr(msg, "header", None)
    if header is None:
        return int(getattr(msg, "stamp_ns", 0))
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _header_frame_id(msg: Any) -> str:
    """``header.frame_id`` (rclpy/rosbags message), or ``frame_id`` (``EventPacketData``)."""
    return str(getattr(getattr(msg, "header", msg), "frame_id", "") or "")


class Synchronizer:
    """Packets and frames in, :class:`AlignedSample` out (see module docstring for every policy)."""

    def __init__(
        self,
        config: SyncConfig | None = None,
        activity: ActivityClockConfig | None = None,
        host_clock: Callable[[], int] | None = None,
    ) -> None:
        from had_tracker.events.buffer import EventBuffer

        self.config = config or SyncConfig()
        self.config.validate()
        c = self.config
        self.activity = activity or ActivityClockConfig()
        self.activity.validate()
        self.stats = SyncStats(sources=self._other_counters)
        self._buffer = EventBuffer(
            c.buffer_duration_ns, c.buffer_max_events, backward_tolerance_ns=c.backwards_reset_ns
        )
        self._offset = OffsetEstimator(
            c.offset_window_ns, c.offset_bucket_ns, c.track_drift, reset_threshold_ns=c.offset_reset_ns
        )
        self._trigger = TriggerAligner(c.trigger_edge, c.trigger_max_match_ns) if c.clock == "trigger" else None
        if c.policy == "fixed_rate":
            self._policy = FixedRatePolicy(c.rate_hz, c.max_gap_windows)
        elif c.policy == "per_frame":
            self._policy = PerFramePolicy(c.frame_window, c.exposure_ns, c.stamp_position)
        else:
            self._policy = FixedCountPolicy(c.events_per_window, c.max_window_ns)
        self._frames: deque[FrameItem] = deque()
        self._decoders = DecoderRegistry()
        self._streams: dict[str, _StreamState] = {}
        self._registration: Registration | None = None
        self._registration_failed: tuple | None = None  # inputs of the last registration that could not be built
        self._registration_geometry: tuple[int, int] | None = None  # event geometry the registration was built for
        self._sensor_size: tuple[int, int] | None = None  # geometry the event packets declare (last non-zero)
        self._data_size: tuple[int, int] | None = None  # extent of the events of streams declaring 0x0
        self._rgb_camera: CameraModel | None = None
        self._event_camera: CameraModel | None = None
        self._image_size: tuple[int, int] | None = None
        self._frame_id = ""  # from images: the output image frame
        self._event_frame_id = ""  # from event packets: the output frame when registration is identity
        self._seq = 0
        self._emitted_until_out: int | None = None  # output end of the last emitted window
        self._emitted_until_sensor: int | None = None  # sensor end of the last emitted window
        self._latest_sensor_t: int | None = None  # newest buffered event (sensor time)
        self._latest_input_out: int | None = None  # newest header/image stamp seen (output clock), for liveness
        self._latest_image_out: int | None = None  # newest accepted RGB stamp
        self._rgb_advance_ns = 0  # RGB time since the last event input arrived (steps capped): the stall clock
        self._rgb_minus_event: deque[int] = deque(maxlen=16)  # RGB stamp - newest event input, at frame arrival
        self._warned_rgb_offset = False
        self._pending_drops = 0
        self._warned_no_images = False
        self._host_clock = host_clock  # node clock [ns] for data age and load shedding; None: neither (offline)
        self._transport = TransportDelay(c.offset_window_ns)  # min(host clock - header stamp): clock offset + delay
        self._shed_input = False  # the packet being ingested arrived older than max_data_age_ns
        self._shedding = False  # dropping a backlog: until a packet arrives less than max_data_age_ns / 2 late
        self._shed_span: list[int] | None = None  # [first, last] output time of the latest run of shed packets
        self._shed_episode = False  # the latest packet with events was shed
        self._seq_gaps_reported = 0
        self._carry: list[AlignedSample] = []  # windows flushed at a stream restart, returned by the next poll
        # (small grey frame, stamp) until calibrated; the newest ``frames`` only (no events yet: older ones dropped)
        self._activity_frames: deque[tuple[np.ndarray, int]] = deque(maxlen=self.activity.frames)
        self.activity_correction_ns: int | None = None  # activity clock: the measured correction
        self.activity_correlation: float | None = None
        self._roi = None  # set_roi: events kept at ingest (None: the whole sensor)

    def _output_frame_id(self, frame: FrameItem | None) -> str:
        """The window's frame: its image's, else the last image's, else the event packets' own frame.

        The event frame is used only with identity registration (events already in the output frame).
        """
        if frame is not None and frame.frame_id:
            return frame.frame_id
        if self._frame_id or self.config.registration != "identity":
            return self._frame_id
        return self._event_frame_id

    # ------------------------------------------------------------------ inputs

    def add_event_packet(self, packet: Any, stream: str = DEFAULT_STREAM) -> None:
        """Decode and buffer one EventPacket / event_array_msgs EventArray, or a dvs/dv EventArray (duck-typed)."""
        self.stats.packets += 1
        stamp = _header_stamp_ns(packet)
        self._arrival(stamp)
        if not self._event_frame_id:
            self._event_frame_id = _header_frame_id(packet)
        if not hasattr(packet, "encoding"):
            self._decode_struct_array(packet)
            return
        state = self._streams.setdefault(stream, _StreamState())
        seq = getattr(packet, "seq", None)
        if seq is None:
            self._decode_packet(packet, stamp, stream)
            return
        for pkt, pstamp in self._order(state, packet, int(seq), stamp, stream):
            self._decode_packet(pkt, pstamp, stream)

    def add_event_array(self, array: EventArrayData) -> None:
        """Buffer a dvs/dv/prophesee ``EventArray`` parsed from its serialized bytes (:func:`parse_event_array_cdr`).

        The fast path for event-struct arrays: the node subscribes to them raw and bag replay reads the raw
        CDR, so no Python object per event is ever built.
        """
        self.stats.packets += 1
        self._arrival(array.stamp_ns)
        if not self._event_frame_id:
            self._event_frame_id = array.frame_id
        self._add_struct_array(array)

    def add_events(self, events: Events, header_stamp_ns: int | None = None, triggers: Triggers | None = None) -> None:
        """Buffer already-decoded events (sensor time); ``header_stamp_ns`` feeds the offset estimator."""
        self._ingest(events, triggers if triggers is not None else Triggers.empty(), header_stamp_ns)

    def _arrival(self, header_stamp_ns: int) -> None:
        """With a host clock: time this packet's arrival; with shed_policy newest, mark it stale when it is late.

        Lag = (now - header stamp) - min(now - header stamp) over ``offset_window_ns`` of arrivals: the queueing
        delay beyond the fastest arrival seen, so a constant offset between the stamps' clock and the host clock
        (a bag played without sim time) is no lag. A packet more than ``max_data_age_ns`` late starts shedding;
        packets are shed until one arrives less than ``max_data_age_ns / 2`` late (the backlog is dropped).
        """
        self._shed_input = False
        if self._host_clock is None or header_stamp_ns <= 0:
            return
        now = int(self._host_clock())
        lag = self._transport.add(now, now - int(header_stamp_ns))
        if self.config.shed_policy != "newest":
            return
        # Hysteresis: a backlog is dropped, not trimmed to the bound (which would keep every window at the bound).
        limit = self.config.max_data_age_ns // 2 if self._shedding else self.config.max_data_age_ns
        self._shedding = lag > limit
        if self._shedding:
            self._shed_input = True
            self.stats.shed_packets += 1

    def add_image(self, image: np.ndarray, stamp_ns: int, frame_id: str = "", exposure_ns: int | None = None) -> None:
        """Queue one RGB frame (``(H, W, 3)`` uint8 RGB, or ``(H, W)`` grey) stamped on the RGB clock."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or not image.size:
            raise DecodeError(
                f"add_image needs an (H, W, 3) uint8 RGB array, got shape {image.shape} dtype {image.dtype}"
            )
        self.stats.images += 1
        stamp_ns = int(stamp_ns)
        if not self._accept_image_stamp(stamp_ns):
            return
        self._image_size = (image.shape[1], image.shape[0])
        if frame_id:
            self._frame_id = frame_id
        if self.config.clock == "activity" and self.activity_correction_ns is None:
            self._collect_activity_frame(image, stamp_ns)
        if self._trigger is not None:
            self._trigger.add_frame(
                stamp_ns, self._header_offset(self._latest_sensor_t) if self._offset.ready else None
            )
        if self.config.policy == "fixed_count" or self.config.policy == "fixed_rate":
            if self.config.attach_image == "never":
                return
        frame = FrameItem(image, stamp_ns, frame_id or self._frame_id, exposure_ns)
        if self.config.policy == "per_frame":
            if len(self._policy._pending) >= self.config.image_queue_size:
                self._policy._pending.popleft()
                self.stats.drop("queue_full", image=True)
            if not self._policy.add_frame(frame):
                self.stats.drop("stamp_not_increasing", image=True)
            return
        if self._frames and stamp_ns <= self._frames[-1].stamp_ns:
            self.stats.drop("stamp_not_increasing", image=True)
            return
        if len(self._frames) >= self.config.image_queue_size:
            self._frames.popleft()
            self.stats.drop("queue_full", image=True)
        self._frames.append(frame)

    def _accept_image_stamp(self, stamp_ns: int) -> bool:
        """Reject (count, log) a frame stamp that jumps away from both the RGB stream and the event clock.

        ``d = stamp - newest event input`` is kept for the last 16 frames: a steady offset between the cameras'
        clocks moves every ``d`` alike and is only reported (``clock_status()['rgb_minus_event_ns']``); one frame
        whose ``d`` is more than ``image_stamp_tolerance_ns`` from their median *and* whose stamp is that far from
        the previous frame's is an outlier. A lasting step of the RGB clock is accepted once it is the median.
        """
        c = self.config
        last = self._latest_image_out
        ref = self._latest_input_out
        if ref is not None:
            d = stamp_ns - ref
            history = self._rgb_minus_event
            tol = c.image_stamp_tolerance_ns
            outlier = (
                len(history) >= 3
                and abs(d - sorted(history)[len(history) // 2]) > tol
                and (last is None or abs(stamp_ns - last) > tol)
            )
            history.append(d)
            if outlier:
                self.stats.drop("stamp_outlier", image=True)
                _warn_sometimes(
                    self.stats.image_drops["stamp_outlier"],
                    "RGB frame stamped %+.3f s from the event clock (typical %+.3f s): rejected",
                    d * 1e-9,
                    sorted(history)[len(history) // 2] * 1e-9,
                )
                return False
            offset = sorted(history)[len(history) // 2]
            if len(history) == history.maxlen and abs(offset) > 250_000_000 and not self._warned_rgb_offset:
                self._warned_rgb_offset = True
                log.warning(
                    "RGB frames arrive stamped %+.0f ms from the newest event input: a clock offset between the "
                    "cameras (set sync.extra_offset_ns) or an event backlog; windows are still cut by event time",
                    offset * 1e-6,
                )
        if last is not None and stamp_ns > last:
            self._rgb_advance_ns += min(stamp_ns - last, c.event_stall_ns)
        self._latest_image_out = stamp_ns if last is None else max(last, stamp_ns)
        return True

    def add_camera_info(self, info: Any, camera: str = "rgb") -> None:
        """Register a sensor_msgs/CameraInfo (duck-typed or dict) of the ``rgb`` or ``event`` camera."""
        if camera not in ("rgb", "event"):
            raise ConfigError(f"camera must be 'rgb' or 'event', got {camera!r}")
        # A bad CameraInfo is a counted, logged drop: the previous calibration (if any) stays in use.
        try:
            model = CameraModel.from_camera_info(info)
        except ConfigError as exc:
            self._drop_camera_info("bad_intrinsics", f"{camera}: {exc}")
            return
        if model.width <= 0 or model.height <= 0:
            self._drop_camera_info("zero_size", f"{camera}: size {model.width}x{model.height}")
            return
        old = self._rgb_camera if camera == "rgb" else self._event_camera
        if (
            old is not None
            and old.width == model.width
            and np.array_equal(old.K, model.K)
            and np.array_equal(old.D, model.D)
        ):
            return
        if camera == "rgb":
            self._rgb_camera = model
        else:
            self._event_camera = model
        self._registration = None  # rebuilt with the new calibration at the next window

    # ------------------------------------------------------------------ outputs

    def poll(self) -> list[AlignedSample]:
        """Windows that are complete now (may be empty)."""
        carried, self._carry = self._carry, []
        return carried + self._emit(force=False)

    def flush(self) -> list[AlignedSample]:
        """Every pending window, complete or not (end of a bag / shutdown)."""
        carried, self._carry = self._carry, []
        return carried + self._emit(force=True)

    def reset(self) -> None:
        """Forget all buffered data and clock state (keeps counters)."""
        self._buffer.clear()
        self._offset.reset()
        if self._trigger is not None:
            self._trigger.reset()
        self._policy.reset()
        self._frames.clear()
        self._decoders.reset()
        self._streams.clear()
        self._emitted_until_out = self._emitted_until_sensor = None
        self._latest_sensor_t = self._latest_input_out = self._latest_image_out = None

    @property
    def offset_ns(self) -> int | None:
        """Current sensor -> output offset [ns] (None until it is known)."""
        return self._offset_at(self._latest_sensor_t or 0)

    @property
    def drift_ppm(self) -> float:
        """Fitted drift of the host clock against the sensor clock [ppm]."""
        return self._offset.drift_ppm

    def clock_status(self) -> dict[str, Any]:
        """The clock model's state, for diagnostics."""
        status: dict[str, Any] = {
            "clock": self.config.clock,
            "offset_ns": self.offset_ns,
            "drift_ppm": self.drift_ppm,
            "offset_samples": self._offset.samples,
            "offset_resets": self._offset.resets,
        }
        if self._trigger is not None:
            status.update(
                trigger_locked=self._trigger.ready,
                trigger_matched=self._trigger.matched,
                trigger_unmatched_frames=self._trigger.unmatched_frames,
                trigger_dropped=self._trigger.dropped_triggers,
            )
        if self._rgb_minus_event:
            # RGB stamp minus the newest event input at frame arrival: a steady clock offset between the cameras
            # plus any event backlog; reported, not applied (sync.extra_offset_ns corrects a known offset).
            status["rgb_minus_event_ns"] = sorted(self._rgb_minus_event)[len(self._rgb_minus_event) // 2]
        if self.config.clock == "activity":
            status.update(
                activity_correction_ns=self.activity_correction_ns, activity_correlation=self.activity_correlation
            )
        return status

    # ------------------------------------------------------------------ packet order and decoding

    def _order(self, state: _StreamState, packet: Any, seq: int, stamp: int, stream: str) -> list[tuple[Any, int]]:
        c = self.config
        if state.last_seq is None:
            state.last_seq, state.last_stamp = seq - 1, stamp
        if (
            state.seq_usable
            and seq == state.last_seq
            and stamp != state.last_stamp
            and (seq, stamp) not in state.recent
        ):
            if not state.recent or all(s == seq for s, _ in state.recent):
                # The publisher does not number its packets: decode in arrival order.
                log.warning("stream %s: seq does not advance (%d); ignoring seq numbers", stream, seq)
                state.seq_usable = False
        if not state.seq_usable:
            return [(packet, stamp)]
        if seq <= state.last_seq or seq in state.held:
            if (seq, stamp) in state.recent or (seq in state.held and state.held[seq][1] == stamp):
                self.stats.duplicate_packets += 1
                return []
            # A new stream, not a straggler: seq far behind, or a header stamp newer than the stream's newest
            # (a restarted driver), or far older (a bag replayed in a loop with its recorded stamps).
            newest = state.last_stamp if state.last_stamp is not None else stamp
            if state.last_seq - seq > c.restart_seq_gap or stamp > newest or newest - stamp > c.offset_reset_ns:
                log.warning("stream %s: seq went back from %d to %d: stream restarted", stream, state.last_seq, seq)
                self._restart_stream(stream)
                state = self._streams.setdefault(stream, _StreamState())
                state.last_seq, state.last_stamp = seq, stamp
                state.recent.append((seq, stamp))
                return [(packet, stamp)]
            self.stats.late_packets += 1
            return []
        ready: list[tuple[Any, int]] = []
        if seq == state.last_seq + 1 or c.reorder_depth == 0:
            ready.append((packet, stamp))
            self._advance(state, seq, stamp)
        else:
            state.held[seq] = (packet, stamp)
        # Release held packets: contiguous ones, or all when the hole is unlikely to fill.
        while state.held:
            first = min(state.held)
            newest_stamp = max(s for _, s in state.held.values())
            oldest_stamp = state.held[first][1]
            hole_open = first != state.last_seq + 1
            if hole_open and len(state.held) <= c.reorder_depth and newest_stamp - oldest_stamp <= c.reorder_timeout_ns:
                break
            pkt, pstamp = state.held.pop(first)
            ready.append((pkt, pstamp))
            self._advance(state, first, pstamp)
        return ready

    def _advance(self, state: _StreamState, seq: int, stamp: int) -> None:
        if state.last_seq is not None and seq > state.last_seq + 1:
            self.stats.seq_gaps += seq - state.last_seq - 1
        state.last_seq, state.last_stamp = seq, stamp
        state.recent.append((seq, stamp))

    def _other_counters(self) -> dict[str, int]:
        """Counters kept outside SyncStats, for ``stats.as_dict()`` (diagnostics, replay report).

        ``decoder_*``: every stream decoder's drop counters summed (events outside the sensor geometry, unknown
        evt3 codes, events before the first time stamp, truncated packets, packets lost per seq, seq resets,
        rejected time bases) and big-endian packets swapped; ``skipped_windows``: fixed-rate windows skipped
        after a long silence (their events, if any, are ``drop_skipped_gap``).
        """
        out = {f"decoder_{name}": 0 for name in DECODER_COUNTERS}
        for dec in self._decoders.streams().values():
            for name in DECODER_COUNTERS:
                out[f"decoder_{name}"] += int(getattr(dec.stats, name))
        out["skipped_windows"] = int(getattr(self._policy, "skipped_windows", 0))
        return out

    @property
    def decoder_stats(self) -> dict[str, dict[str, int]]:
        """Counters of each stream decoder (unknown codes, out-of-geometry drops, truncation, seq gaps)."""
        return {"/".join(map(str, key)): dec.stats.as_dict() for key, dec in self._decoders.streams().items()}

    def _decode_packet(self, packet: Any, stamp: int, stream: str) -> None:
        width, height = int(packet.width), int(packet.height)
        decoder = self._decoders.get(stream, str(packet.encoding), width, height)
        time_base = int(getattr(packet, "time_base", 0) or 0)
        if decoder.uses_time_base and not valid_time_base(time_base):
            self._drop_packet("time_base_overflow", f"time_base {time_base} would wrap past int64")
            return
        state = self._streams.get(stream)
        if state is not None and not state.seq_usable:
            # Without usable seq numbers the decoder must not read a repeated seq as a stream restart.
            big_endian = bool(getattr(packet, "is_bigendian", False))
            decoded = decoder.decode_bytes(packet.events, time_base, seq=None, big_endian=big_endian)
        else:
            decoded = decoder.decode(packet)
        if width > 0 and height > 0:
            self._sensor_size = (width, height)
        self._ingest(decoded.events, decoded.triggers, stamp)

    def _decode_struct_array(self, msg: Any) -> None:
        from had_tracker.events.event_arrays import events_from_event_array

        self._add_struct_array(events_from_event_array(msg))

    def _add_struct_array(self, array: EventArrayData) -> None:
        if array.width > 0 and array.height > 0:
            self._sensor_size = (array.width, array.height)
        self._drop("outside_sensor", array.dropped_out_of_geometry)
        self._ingest(array.events, Triggers.empty(), array.stamp_ns)

    def _restart_stream(self, stream: str) -> None:
        """A new stream: hand out what the old one still holds, then forget its state."""
        self.stats.stream_restarts += 1
        self._reset_time_state()
        self._decoders.reset()
        self._streams.clear()

    # ------------------------------------------------------------------ buffering and clocks

    def _ingest(self, events: Events, triggers: Triggers, header_stamp_ns: int | None) -> None:
        c = self.config
        self._rgb_advance_ns = 0  # the event stream is alive
        if events.width > 0 and events.height > 0:
            if self._sensor_size is None:
                self._sensor_size = (events.width, events.height)
        elif len(events):
            events = self._fit_geometry(events)
        self.stats.triggers += len(triggers)
        n = len(events)
        cut, ordered = scan_time_order(events.t, c.backwards_reset_ns)
        if cut >= 0:  # a clock reset inside the batch: each piece on its own
            self._ingest(events[:cut], triggers, header_stamp_ns)
            self._ingest(events[cut:], Triggers.empty(), None)
            return
        self.stats.events += n
        if not ordered:
            keep = events.t == np.maximum.accumulate(events.t)  # small steps back inside the batch
            self._drop("backwards", n - int(np.count_nonzero(keep)))
            events = events[keep]
            n = len(events)
        if n and self._latest_sensor_t is not None and int(events.t[0]) < self._latest_sensor_t:
            back = self._latest_sensor_t - int(events.t[0])
            if back > c.backwards_reset_ns:
                log.warning("event time went back by %.3f s: restarting the stream", back * 1e-9)
                self.stats.stream_restarts += 1
                self._reset_time_state()
            else:
                keep = events.t >= self._latest_sensor_t
                self._drop("backwards", n - int(np.count_nonzero(keep)))
                events = events[keep]
                n = len(events)
        if n and header_stamp_ns is not None:
            t0, stamp = int(events.t[0]), int(header_stamp_ns)
            if self._offset.ready and abs(stamp - t0 - self._offset.offset_at(t0)) > c.offset_reset_ns:
                # Sensor and host clocks disagree by a jump (e.g. an evt3 camera reset decodes as a rollover).
                log.warning("sensor->host offset jumped: restarting the stream")
                self.stats.stream_restarts += 1
                self._reset_time_state()
            self._offset.add_sample(t0, stamp)
        if self._trigger is not None and len(triggers):
            self._trigger.add_triggers(triggers)
            self._trigger.retry_pending(self._header_offset(self._latest_sensor_t))
        if header_stamp_ns is not None and c.clock != "sensor":
            # The header stamp on the output clock (trigger/activity clocks move it off the host clock).
            out_minus_host = self._host_offset_of_output()
            self._see_input(int(header_stamp_ns) + (c.extra_offset_ns if out_minus_host is None else out_minus_host))
        if not n:
            return
        offset = self._offset_at(int(events.t[-1]))
        if offset is None:
            self._drop("no_clock", n)
            return
        done = self._emitted_until_sensor
        if done is not None:
            late = int(np.searchsorted(events.t, done))
            if late:
                self._drop("late", late)
                events = events[late:]
                n = len(events)
                if not n:
                    return
        if self._shed_input:  # stale on arrival: time advances (windows complete), its events are shed
            self._drop("shed_stale", n)
            kept = events[:0]
            offset = self._offset_at(int(events.t[-1])) or 0
            if not self._shed_episode:  # the first shed packet after kept ones: a new span of shed data
                self._shed_span = [int(events.t[0]) + offset, int(events.t[-1]) + offset]
            self._shed_span[1] = int(events.t[-1]) + offset
            self._shed_episode = True
        else:
            self._shed_episode = False
            kept = self._roi_filter(events)
        if done is not None and not (c.clock == "activity" and self.activity_correction_ns is None):
            # Events of emitted windows are never cut again (later ones before `done` are dropped as late);
            # only the activity clock's estimate looks back at them, until it is made.
            self._buffer.release_before(done)
        # Events lost inside the buffer = not-yet-emitted events that the bounds pushed out.
        pending_before = len(self._buffer) - (self._buffer.count_before(done) if done is not None else 0)
        self._buffer.append(kept, time_ordered=True)  # ordered above: no step back inside the batch
        pending_after = len(self._buffer) - (self._buffer.count_before(done) if done is not None else 0)
        self._drop("buffer_full", max(pending_before + len(kept) - pending_after, 0))
        # The newest decoded event, kept or not: windows complete on it (filtered packets still advance time).
        self._latest_sensor_t = max(self._buffer.latest_t_ns or int(events.t[-1]), int(events.t[-1]))
        if c.clock == "sensor":
            self._see_input(self._latest_sensor_t + offset)
        if isinstance(self._policy, (FixedRatePolicy, FixedCountPolicy)):
            self._policy.start_at(int(events.t[0]) + offset)

    def set_roi(self, roi: Any) -> None:
        """Keep only the events inside ``roi`` (a :class:`~had_tracker.sync.roi.Roi`, output pixels) from now on.

        ``None`` keeps the whole sensor. The tracker side sets it after every box (``Tracker.search_roi``).
        Applied with identity registration only (output pixels are sensor pixels); filtered events are
        counted in ``stats.roi_filtered``, not as drops. A window policy that counts events (fixed_count)
        then counts the events inside the ROI.
        """
        self._roi = roi

    def _roi_filter(self, events: Events) -> Events:
        if self._roi is None or self.config.registration != "identity" or not len(events):
            return events
        kept = filter_events(events, self._roi)
        self.stats.roi_filtered += len(events) - len(kept)
        return kept

    def _drop_packet(self, reason: str, why: str) -> None:
        """Count one event packet rejected whole for ``reason`` (logged at powers of two)."""
        self.stats.packet_drops[reason] = self.stats.packet_drops.get(reason, 0) + 1
        _warn_sometimes(self.stats.packet_drops[reason], "event packet rejected (%s): %s", reason, why)

    def _drop_camera_info(self, reason: str, why: str) -> None:
        self.stats.camera_info_drops[reason] = self.stats.camera_info_drops.get(reason, 0) + 1
        _warn_sometimes(self.stats.camera_info_drops[reason], "CameraInfo ignored (%s): %s", reason, why)

    def _drop(self, reason: str, n: int) -> None:
        """Count ``n`` events dropped for ``reason`` (reported with the next window too)."""
        if n > 0:
            self.stats.drop(reason, n)
            self._pending_drops += n

    def _reset_time_state(self) -> None:
        self._carry += self._emit(force=True)  # windows of the old timeline are still delivered
        self.stats.drop("stream_restart", len(self._frames), image=True)
        self._frames.clear()
        self._buffer.clear()
        self._offset.reset()
        if self._trigger is not None:
            self._trigger.reset()
        self._policy.reset()
        self._emitted_until_out = self._emitted_until_sensor = None
        self._latest_sensor_t = None
        self._latest_input_out = None
        self._transport.reset()
        self._shedding = self._shed_episode = False
        self._shed_span = None

    def _header_offset(self, sensor_t: int | None) -> int | None:
        if not self._offset.ready:
            return None
        return self._offset.offset_at(sensor_t or 0) + self.config.extra_offset_ns + (self.activity_correction_ns or 0)

    def _collect_activity_frame(self, image: np.ndarray, stamp_ns: int) -> None:
        step = max(image.shape[1] // 64, 1)  # a small grey copy is enough for frame differences
        if len(self._activity_frames) == self._activity_frames.maxlen:
            self.stats.drop("activity_unused", image=True)  # its events never came (or no offset yet)
        self._activity_frames.append((image[::step, ::step].mean(axis=2, dtype=np.float32), stamp_ns))
        a = self.activity
        if len(self._activity_frames) < a.frames or not self._offset.ready:
            return
        frames = [f for f, _ in self._activity_frames]
        stamps = np.array([t for _, t in self._activity_frames], np.int64)
        self._activity_frames.clear()
        offset = self._header_offset(self._latest_sensor_t)
        raw = self._buffer.window(int(stamps[0]) - offset - a.range_ns, int(stamps[-1]) - offset + a.range_ns)
        if not len(raw):
            return
        shift, corr = estimate_offset_from_activity(
            raw.shift_time(offset), frames, stamps, (-a.range_ns, a.range_ns), a.step_ns
        )
        self.activity_correlation = corr
        if corr >= a.min_correlation:
            self.activity_correction_ns = int(shift)
            log.info("activity clock: event->RGB correction %+.1f ms (correlation %.2f)", shift * 1e-6, corr)
        else:
            log.warning(
                "activity clock: correlation %.2f below %.2f; retrying on the next frames",
                corr,
                a.min_correlation,
            )

    def _offset_at(self, sensor_t: int) -> int | None:
        c = self.config
        if c.clock == "sensor":
            return c.extra_offset_ns
        if c.clock == "trigger" and self._trigger is not None and self._trigger.ready:
            return self._trigger.offset_at(sensor_t)
        return self._header_offset(sensor_t)

    def _see_input(self, t_out: int) -> None:
        if self._latest_input_out is None or t_out > self._latest_input_out:
            self._latest_input_out = t_out

    def _watermark(self) -> int | None:
        """Output time before which every event has arrived (newest event; packets arrive in order)."""
        if self._latest_sensor_t is None:
            return None
        offset = self._offset_at(self._latest_sensor_t)
        return None if offset is None else self._latest_sensor_t + offset

    # ------------------------------------------------------------------ windows

    def _declared_geometry(self) -> tuple[int, int] | None:
        """Event sensor size from sync.sensor_width/height, else the event CameraInfo, else the packets' geometry."""
        c = self.config
        if c.sensor_width is not None:
            return int(c.sensor_width), int(c.sensor_height)
        if self._event_camera is not None:
            return self._event_camera.width, self._event_camera.height
        return self._sensor_size

    def _geometry(self) -> tuple[int, int] | None:
        """Event sensor size: the declared one, else the extent of the data of 0x0 streams; None while unknown.

        Never fixed by a first packet: it becomes valid (and the registration is rebuilt) once known.
        """
        return self._declared_geometry() or self._data_size

    def _fit_geometry(self, events: Events) -> Events:
        """Bound events of a stream that declares no geometry (0x0) by the known one, or grow it from the data."""
        known = self._declared_geometry()
        if known is None:
            w = max(int(events.x.max()) + 1, (self._data_size or (0, 0))[0])
            h = max(int(events.y.max()) + 1, (self._data_size or (0, 0))[1])
            self._data_size = (w, h)
            return Events(events.t, events.x, events.y, events.p, w, h)
        w, h = known
        inside = (events.x < w) & (events.y < h)
        if not inside.all():
            self._drop("outside_sensor", len(events) - int(np.count_nonzero(inside)))
            events = events[np.flatnonzero(inside)]
        return Events(events.t, events.x, events.y, events.p, w, h)

    def _ensure_registration(self) -> Registration | None:
        if self._registration is not None and self._registration_geometry == self._geometry():
            return self._registration
        self._registration = None  # the geometry became known, or changed: rebuild
        self._registration_geometry = self._geometry()
        key = (self._geometry(), self._image_size, id(self._rgb_camera), id(self._event_camera))
        if self._registration_failed == key:  # same inputs as the last failure: do not retry every window
            return None
        try:
            return self._build_registration()
        except (ConfigError, ValueError, np.linalg.LinAlgError) as exc:
            self._registration_failed = key
            self.stats.registration_failures += 1
            log.warning("cannot build the registration (%s); its windows' events are no_registration drops", exc)
            return None

    def _build_registration(self) -> Registration | None:
        c = self.config
        sensor = self._geometry()
        if sensor is None or min(sensor) <= 0:
            return None
        if c.output_width is not None:
            out = (int(c.output_width), int(c.output_height))
        elif self._rgb_camera is not None:
            out = (self._rgb_camera.width, self._rgb_camera.height)
        elif self._image_size is not None:
            out = self._image_size
        else:
            out = sensor
        if c.registration == "identity":
            self._registration = Registration.identity(sensor[0], sensor[1], out[0], out[1])
        elif c.registration == "homography":
            self._registration = Registration.from_homography(
                np.asarray(c.homography, float).reshape(3, 3), sensor[0], sensor[1], out[0], out[1]
            )
        else:
            if self._event_camera is None or self._rgb_camera is None:
                return None
            self._registration = Registration.from_calibration(
                self._event_camera,
                self._rgb_camera,
                np.asarray(c.extrinsic_rotation, float).reshape(3, 3),
                c.extrinsic_translation_m,
                c.plane_depth_m,
                c.use_distortion,
            )
        return self._registration

    def _emit(self, force: bool) -> list[AlignedSample]:
        c = self.config
        watermark = self._watermark()
        # Liveness: a window far enough behind the newest event input is emitted even if its events never came.
        # RGB frames only count once no event input has arrived for event_stall_ns of RGB time (a stalled event
        # stream): RGB stamps that run ahead of a queued event subscription must not cut windows (issue 18).
        forced = [] if self._latest_input_out is None else [self._latest_input_out - c.max_wait_ns]
        if self._rgb_advance_ns > c.event_stall_ns:
            ref = self._latest_input_out if self._latest_input_out is not None else self._latest_image_out
            if ref is not None:
                forced.append(ref + self._rgb_advance_ns - c.event_stall_ns)
        forced_until = max(forced) if forced else None
        plan_mark = watermark
        if forced_until is not None and (plan_mark is None or forced_until > plan_mark) and self._offset_known():
            plan_mark = forced_until
        if force:
            candidates = [v for v in (watermark, self._latest_input_out, self._latest_image_out) if v is not None]
            plan_mark = max(candidates) if candidates else None
        if (
            c.policy == "per_frame"
            and not self._warned_no_images
            and self.stats.packets > 1000
            and not self.stats.images
        ):
            log.warning("policy 'per_frame' but no RGB images received: no windows are produced (use fixed_rate)")
            self._warned_no_images = True
        specs = self._policy.plan(plan_mark, force=force or False, times_between=self._times_between)
        if c.policy == "per_frame" and force and plan_mark is None:
            specs = self._policy.plan(None, force=True)
        stale_before = self._stale_before() if specs and not force else None
        samples = []
        for spec in specs:
            span = self._shed_span
            in_shed = span is not None and span[0] <= spec.start_ns and spec.end_ns <= span[1] + 1
            if in_shed or (stale_before is not None and spec.end_ns <= stale_before):
                self._shed_window(spec)  # its data is too old, or was all shed on arrival
                continue
            sample = self._cut(spec, complete=watermark is not None and spec.end_ns <= watermark)
            if sample is not None:
                samples.append(sample)
        return samples

    def _host_offset_of_output(self) -> int | None:
        """``output time - host (header-stamp clock) time`` now: what extra, trigger or activity offsets add."""
        c = self.config
        if c.clock == "sensor":
            return c.extra_offset_ns
        if not self._offset.ready:
            return None
        s = self._latest_sensor_t or 0
        full = self._offset_at(s)
        return None if full is None else full - self._offset.offset_at(s)

    def _stale_before(self) -> int | None:
        """Output time before which window ends are older than max_data_age_ns (None: no shedding now)."""
        c = self.config
        if c.shed_policy != "newest" or self._host_clock is None or self._transport.min_ns is None:
            return None
        out_minus_host = self._host_offset_of_output()
        if out_minus_host is None:
            return None
        now = int(self._host_clock())
        return now - self._transport.min_ns - c.max_data_age_ns + out_minus_host

    def data_age_ns(self, sample: AlignedSample, now_ns: int | None = None) -> int | None:
        """Data age of ``sample`` at host time ``now_ns`` (default: the host clock now): see :func:`data_age_ns`."""
        if now_ns is None:
            if self._host_clock is None:
                return None
            now_ns = int(self._host_clock())
        return data_age_ns(sample.newest_event_host_ns, now_ns)

    def _shed_window(self, spec: WindowSpec) -> None:
        """Skip a window that is already older than max_data_age_ns: count its events and frame, use its seq."""
        _, s0, s1, skipped = self._sensor_span(spec)
        shed = self._buffer.count_before(s1) - self._buffer.count_before(s0) if s1 > s0 else 0
        self._drop("skipped_gap", skipped)
        self._drop("shed_stale", shed)
        self._emitted_until_sensor = s1 if self._emitted_until_sensor is None else max(self._emitted_until_sensor, s1)
        self._emitted_until_out = spec.end_ns
        frame = spec.frame if spec.frame is not None else self._take_frame(spec.end_ns)
        if frame is not None:
            self.stats.drop("shed_stale", image=True)
        self._seq += 1
        self.stats.shed_windows += 1

    def _offset_known(self) -> bool:
        return self._offset_at(self._latest_sensor_t or 0) is not None

    def _times_between(self, start_out: int, end_out: int) -> np.ndarray:
        offset = self._offset_at(self._latest_sensor_t or 0)
        if offset is None:
            return np.empty(0, np.int64)
        return self._buffer.window(start_out - offset, end_out - offset).t + offset

    def _sensor_span(self, spec: WindowSpec) -> tuple[int, int, int, int]:
        """``(offset, s0, s1, skipped)``: the window in sensor time and the events of a stretch skipped before it."""
        offset = self._offset_at(self._latest_sensor_t if self._latest_sensor_t is not None else spec.start_ns)
        if offset is None:
            offset = 0
        s0, s1 = spec.start_ns - offset, spec.end_ns - offset
        skipped = 0
        done = self._emitted_until_sensor
        if done is not None:
            if spec.frame is None and abs(s0 - done) <= s1 - s0:
                # Back-to-back windows stay back to back in sensor time even when the offset estimate moves.
                s0 = done
            elif s0 > done and spec.frame is None:
                skipped = len(self._buffer.window(done, s0))  # a stretch the policy skipped (long silence)
            s0 = max(s0, done)
        elif spec.frame is None and self._buffer.oldest_t_ns is not None:
            # First back-to-back window: it also takes events the moving offset estimate put before its start.
            s0 = min(s0, self._buffer.oldest_t_ns)
        return offset, s0, max(s1, s0), skipped

    def _cut(self, spec: WindowSpec, complete: bool) -> AlignedSample | None:
        c = self.config
        registration = self._ensure_registration()
        offset, s0, s1, skipped = self._sensor_span(spec)
        self.stats.drop("skipped_gap", skipped)
        dropped = self._pending_drops + skipped
        self._pending_drops = 0
        # On the output clock from here (the shift is the window's copy of the times; registration keeps them).
        raw = self._buffer.window(s0, s1, offset) if s1 > s0 else Events.empty(*(self._geometry() or (0, 0)))
        if len(raw) > c.max_window_events:
            extra = len(raw) - c.max_window_events
            raw = raw[extra:]
            self.stats.drop("window_cap", extra)
            dropped += extra
        if registration is None:
            if len(raw):
                self.stats.drop("no_registration", len(raw))
                dropped += len(raw)
            w, h = self._image_size or self._geometry() or (0, 0)
            events = Events.empty(w, h)
        else:
            events, geo = registration.apply(raw)
            self.stats.drop("outside_image", geo)
            dropped += geo
        if len(events):
            # The offset estimate moves by microseconds between windows; keep every event inside its window.
            t_out = events.t  # the window's own copy
            if t_out[0] < spec.start_ns or t_out[-1] >= spec.end_ns:  # time ordered: the ends tell
                np.clip(t_out, spec.start_ns, spec.end_ns - 1, out=t_out)
        self._emitted_until_sensor = s1 if self._emitted_until_sensor is None else max(self._emitted_until_sensor, s1)
        self._emitted_until_out = spec.end_ns
        frame = spec.frame if spec.frame is not None else self._take_frame(spec.end_ns)
        sample = AlignedSample(
            seq=self._seq,
            window_start_ns=int(spec.start_ns),
            window_end_ns=int(spec.end_ns),
            events=events,
            image=None if frame is None else frame.image,
            image_stamp_ns=None if frame is None else int(frame.stamp_ns),
            dropped_events=int(dropped),
            frame_id=self._output_frame_id(frame),
            offset_ns=int(offset),
            lost_packets=self.stats.seq_gaps - self._seq_gaps_reported,
        )
        self._seq_gaps_reported = self.stats.seq_gaps
        if len(events):
            out_minus_host = self._host_offset_of_output()
            if out_minus_host is not None:  # + the fastest arrival: on the host clock itself (0 without one)
                sample.newest_event_host_ns = int(events.t[-1]) - out_minus_host + (self._transport.min_ns or 0)
        self._seq += 1
        self.stats.windows += 1
        if not len(events):
            self.stats.empty_windows += 1
        if not complete:
            self.stats.forced_windows += 1
        return sample

    def _take_frame(self, end_ns: int) -> FrameItem | None:
        """The newest queued frame stamped before ``end_ns`` (attached once); older ones are dropped."""
        chosen = None
        while self._frames and self._frames[0].stamp_ns < end_ns:
            if chosen is not None:
                self.stats.drop("superseded", image=True)
            chosen = self._frames.popleft()
        if chosen is not None and end_ns - chosen.stamp_ns > self.config.max_image_age_ns:
            self.stats.drop("too_old", image=True)
            return None
        return chosen
