"""The one schema of every ROS 2 node parameter: name, type, default, description, range, read-only.

The nodes declare their parameters from here (descriptors with ranges), ``config/tracker.yaml`` lists every
entry (a test checks they agree key by key), and the same validation runs at node start-up and in tests,
so a bad value is a clear :class:`ConfigError`, not a surprise later. No rclpy here.

Names with a dot belong to a core config section: ``sync.*`` is passed to ``SyncConfig.from_dict`` and
``tracker.*`` to ``TrackerConfig.from_dict`` (see :func:`sync_config_dict`, :func:`tracker_config_dict`); in
YAML they are nested mappings (ROS 2 flattens them to dotted names).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from had_tracker.errors import ConfigError

SYNCHRONIZER = "synchronizer_node"
TRACKER = "tracker_node"
EVALUATOR = "replay_evaluator"
NODES = (SYNCHRONIZER, TRACKER, EVALUATOR)

TYPES = ("bool", "int", "double", "string", "double_array")
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "double": (float,),
    "string": (str,),
    "double_array": (list, tuple),
}
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter. ``value_range`` is inclusive ``(low, high)`` for int/double (and array elements)."""

    name: str
    type: str
    default: Any
    description: str
    nodes: tuple[str, ...]
    value_range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = True
    length: int | None = None  # fixed length of a double_array
    pattern: str | None = None  # regular expression a string must match (full match)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: unknown type {self.type}")
        if unknown := set(self.nodes) - set(NODES):
            raise ValueError(f"{self.name}: unknown node(s) {sorted(unknown)}")
        self.validate(self.default)  # a schema whose default is invalid is a programming error

    @property
    def constraints(self) -> str:
        """The limits as text, for the descriptor's ``additional_constraints``."""
        parts = []
        if self.value_range is not None:
            parts.append(f"range [{_fmt(self.value_range[0])}, {_fmt(self.value_range[1])}]")
        if self.choices:
            parts.append("one of: " + ", ".join(self.choices))
        if self.length is not None:
            parts.append(f"exactly {self.length} values")
        if self.pattern:
            parts.append(f"matches {self.pattern}")
        if not self.read_only:
            parts.append("can be changed at run time")
        return "; ".join(parts)

    def validate(self, value: Any) -> Any:
        """``value`` normalised to the schema type (int for double widens, tuples become lists); ConfigError if bad."""
        where = f"parameter {self.name!r}"
        if self.type == "double" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type == "double_array" and not isinstance(value, (list, tuple)) and hasattr(value, "__len__"):
            value = list(value)  # array.array from rclpy
        if not isinstance(value, _PY_TYPES[self.type]) or (self.type == "int" and isinstance(value, bool)):
            raise ConfigError(f"{where} must be of type {self.type}, got {value!r} ({type(value).__name__})")
        if self.type == "double_array":
            value = [float(v) for v in value]
            if self.length is not None and len(value) != self.length:
                raise ConfigError(f"{where} must hold exactly {self.length} values, got {len(value)}")
            numbers = value
        elif self.type in ("int", "double"):
            numbers = [value]
        else:
            numbers = []
        for number in numbers:
            if isinstance(number, float) and not math.isfinite(number):
                raise ConfigError(f"{where} must be finite, got {number}")
            if self.value_range is not None and not (self.value_range[0] <= number <= self.value_range[1]):
                raise ConfigError(f"{where} = {number} is outside [{self.value_range[0]}, {self.value_range[1]}]")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where} = {value!r} is not one of {', '.join(self.choices)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ConfigError(f"{where} = {value!r} does not match {self.pattern}")
        return value


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _spec(name: str, type_: str, default: Any, description: str, nodes: Iterable[str], **kw: Any) -> ParamSpec:
    return ParamSpec(name, type_, default, description, tuple(nodes), **kw)


S, T, E = (SYNCHRONIZER,), (TRACKER,), (EVALUATOR,)
EVENT_MSG_TYPES = (
    "event_camera_msgs/msg/EventPacket",
    "event_array_msgs/msg/EventArray",
    "dvs_msgs/msg/EventArray",
    "dv_ros2_msgs/msg/EventArray",
    "prophesee_event_msgs/msg/EventArray",
)
RELIABILITY = ("best_effort", "reliable", "system_default")
STUDENT_RUNTIMES = ("auto", "onnxruntime", "torch")  # TrackerConfig.student_runtime
# had_msgs/EventWindow stores event times as uint32 nanoseconds from the window start (and x/y as uint16).
MAX_WINDOW_NS = 2**32 - 1

# fmt: off
SCHEMA: tuple[ParamSpec, ...] = (
    # --- synchronizer_node: inputs -------------------------------------------------------------------------------
    _spec("event_topic", "string", "/event_camera/events", "event packets from the camera driver", S),
    _spec("event_msg_type", "string", EVENT_MSG_TYPES[0], "message type on event_topic", S, choices=EVENT_MSG_TYPES),
    _spec("event_qos_depth", "int", 1000, "keep-last depth of the best-effort event subscription (drivers publish "
          "best-effort with a deep queue; a reliable subscriber would never connect)", S, value_range=(100, 100_000)),
    _spec("image_topic", "string", "/camera/image_raw", "RGB/grey frames; empty = no RGB (event-only windows)", S),
    _spec("camera_info_topic", "string", "/camera/camera_info", "CameraInfo of image_topic; empty = do not subscribe", S),
    _spec("event_camera_info_topic", "string", "", "CameraInfo of the event camera (sync.registration: "
          "calibration needs it); empty = do not subscribe", S),
    _spec("reliability", "string", "best_effort", "QoS reliability of the image and camera_info subscriptions "
          "(best_effort accepts reliable and best-effort publishers)", S, choices=RELIABILITY),
    _spec("image_qos_depth", "int", 5, "keep-last depth of the image and camera_info subscriptions (sensor-data "
          "profile: 5)", S, value_range=(1, 1000)),
    _spec("flush_idle_s", "double", 0.5, "emit every pending window when no event packet arrived for this long "
          "(wall time: the end of a bag, a paused camera); 0 = never", S, value_range=(0.0, 3600.0)),
    _spec("include_images_in_windows", "bool", True, "put the RGB frame attached to a window into its EventWindow "
          "message (needed for RGB debug images and the teacher; off = events only, smaller messages)", S),
    _spec("search_region_topic", "string", "tracker_node/search_region", "the tracker's next search region "
          "(sensor_msgs/RegionOfInterest; all zeros = whole sensor): only events inside it are kept (identity "
          "registration; a region not refreshed for 1 s lapses); empty = keep the whole sensor", S),
    # --- synchronizer_node: sync.* = SyncConfig (had_tracker/sync/synchronizer.py); times in ns ---------------------
    _spec("sync.policy", "string", "fixed_rate", "window policy: fixed_rate (e.g. 200 Hz, works without RGB), "
          "per_frame (one window per RGB frame), fixed_count (N events)", S,
          choices=("fixed_rate", "per_frame", "fixed_count")),
    _spec("sync.rate_hz", "double", 200.0, "fixed_rate: windows per second", S, value_range=(0.1, 10_000.0)),
    _spec("sync.max_gap_windows", "int", 200, "fixed_rate: longest run of empty windows emitted after a silence", S,
          value_range=(1, 1_000_000)),
    _spec("sync.frame_window", "string", "exposure", "per_frame: exposure (around the frame stamp) or interval "
          "(since the previous frame)", S, choices=("exposure", "interval")),
    _spec("sync.exposure_ns", "int", 10_000_000, "per_frame: exposure length when the frame does not say", S,
          value_range=(1, MAX_WINDOW_NS)),
    _spec("sync.stamp_position", "string", "middle", "per_frame: where the RGB stamp sits in the exposure", S,
          choices=("start", "middle", "end")),
    _spec("sync.events_per_window", "int", 20_000, "fixed_count: events per window", S, value_range=(1, 10**8)),
    _spec("sync.max_window_ns", "int", 50_000_000, "fixed_count: close a window that does not fill after this long",
          S, value_range=(1, MAX_WINDOW_NS)),
    _spec("sync.clock", "string", "header", "event time -> output clock: header (offset estimated from packet "
          "header stamps, the ROS 2 drivers' case), trigger (external-trigger edges matched to RGB stamps), sensor "
          "(events already on the output clock: dvs/dv-ros2 arrays, synthetic bags), activity (header plus a "
          "one-time correction from event activity vs RGB frame differences: rigs without a trigger wire)", S,
          choices=("header", "trigger", "sensor", "activity")),
    _spec("sync.extra_offset_ns", "int", 0, "added after the sensor->host offset: event (host) clock -> RGB clock", S,
          value_range=(-(10**11), 10**11)),
    _spec("sync.offset_window_ns", "int", 10_000_000_000, "offset estimator: window of samples", S,
          value_range=(1, 10**12)),
    _spec("sync.offset_bucket_ns", "int", 500_000_000, "offset estimator: one minimum per bucket of sensor time "
          "(<= offset_window_ns)", S, value_range=(1, 10**12)),
    _spec("sync.track_drift", "bool", True, "offset estimator: fit a line through the bucket minima (clock drift)", S),
    _spec("sync.offset_reset_ns", "int", 1_000_000_000, "offset estimator: a jump this large restarts it", S,
          value_range=(1, 10**12)),
    _spec("sync.trigger_edge", "string", "rising", "trigger clock: which edges mark frames", S,
          choices=("rising", "falling", "any")),
    _spec("sync.trigger_max_match_ns", "int", 10_000_000, "trigger clock: max |frame stamp - prior - trigger|", S,
          value_range=(1, 10**10)),
    _spec("activity.frames", "int", 15, "activity clock: RGB frames correlated with event activity", S,
          value_range=(3, 1000)),
    _spec("activity.range_ns", "int", 50_000_000, "activity clock: search the correction within +- this", S,
          value_range=(1, 10**10)),
    _spec("activity.step_ns", "int", 1_000_000, "activity clock: resolution of the correction", S,
          value_range=(1, 10**9)),
    _spec("activity.min_correlation", "double", 0.5, "activity clock: below this the estimate is retried on the "
          "next frames", S, value_range=(-1.0, 1.0)),
    _spec("sync.registration", "string", "identity", "event pixel -> output image pixel: identity (co-located "
          "DAVIS), homography (sync.homography), calibration (two CameraInfo + extrinsic, planar scene)", S,
          choices=("identity", "homography", "calibration")),
    _spec("sync.homography", "double_array", [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], "homography: 3x3 "
          "row-major, event px -> output px", S, length=9),
    _spec("sync.extrinsic_rotation", "double_array", [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], "calibration: "
          "R (3x3 row-major) with p_rgb = R p_event + t", S, length=9),
    _spec("sync.extrinsic_translation_m", "double_array", [0.0, 0.0, 0.0], "calibration: t [m]", S, length=3),
    _spec("sync.plane_depth_m", "double", 0.0, "calibration: depth of the scene plane in the event camera [m]; "
          "0 = infinitely far (rotation-only homography)", S, value_range=(0.0, 1e6)),
    _spec("sync.use_distortion", "bool", False, "calibration: use the CameraInfo distortion coefficients", S),
    _spec("sync.output_width", "int", 0, "output image width [px]; 0 = from the RGB CameraInfo, the first image, "
          "else the event sensor (set with output_height)", S, value_range=(0, 65_535)),
    _spec("sync.sensor_width", "int", 0, "event sensor width [px] when the event packets declare no geometry "
          "(0x0); 0 = from the event CameraInfo or the data", S, value_range=(0, 65535)),
    _spec("sync.sensor_height", "int", 0, "event sensor height [px]; 0 = automatic (see sensor_width)", S,
          value_range=(0, 65535)),
    _spec("sync.output_height", "int", 0, "output image height [px]; 0 = automatic (see output_width)", S,
          value_range=(0, 65_535)),
    _spec("sync.buffer_duration_ns", "int", 1_000_000_000, "event buffer bound by time (oldest dropped, counted)",
          S, value_range=(1, 10**12)),
    _spec("sync.buffer_max_events", "int", 10_000_000, "event buffer bound by count (oldest dropped, counted)", S,
          value_range=(1, 10**9)),
    _spec("sync.max_window_events", "int", 2_000_000, "events kept per window (the newest; excess dropped, "
          "counted)", S, value_range=(1, 10**9)),
    _spec("sync.image_queue_size", "int", 16, "RGB frames waiting for their window (oldest dropped, counted)", S,
          value_range=(1, 1000)),
    _spec("sync.attach_image", "string", "once", "fixed_rate/fixed_count: attach each frame to the first window "
          "ending after it (once) or never", S, choices=("once", "never")),
    _spec("sync.max_image_age_ns", "int", 100_000_000, "a frame older than this at its window's end is not "
          "attached", S, value_range=(1, 10**11)),
    _spec("sync.max_wait_ns", "int", 20_000_000, "a window whose end is this far behind the newest event input is "
          "emitted anyway (latency bound)", S, value_range=(1, 10**11)),
    _spec("sync.event_stall_ns", "int", 200_000_000, "no event input while RGB time advanced this much: the "
          "event stream is stalled and windows follow RGB time", S, value_range=(1, 10**11)),
    _spec("sync.image_stamp_tolerance_ns", "int", 2_000_000_000, "an RGB stamp this far from both the previous "
          "frame and the usual RGB-event offset is an outlier (dropped, counted)", S, value_range=(1, 10**13)),
    _spec("sync.reorder_depth", "int", 4, "packets held while waiting for a missing seq (0 = decode at once)", S,
          value_range=(0, 10_000)),
    _spec("sync.reorder_timeout_ns", "int", 5_000_000, "header-time span after which held packets are released", S,
          value_range=(0, 10**11)),
    _spec("sync.restart_seq_gap", "int", 1000, "a seq this far behind the stream means the stream restarted", S,
          value_range=(1, 10**12)),
    _spec("sync.backwards_reset_ns", "int", 100_000_000, "event time going back more than this restarts the "
          "stream", S, value_range=(1, 10**12)),
    _spec("sync.shed_policy", "string", "newest", "overload: newest = packets arriving more than max_data_age_ns "
          "late and windows older than that are dropped (counted: drop_shed_stale, shed_packets, shed_windows) "
          "until the node is current again; none = queue everything", S, choices=("newest", "none")),
    _spec("sync.max_data_age_ns", "int", 250_000_000, "shed_policy newest: the data age bound (arrival delay "
          "beyond the fastest arrival seen)", S, value_range=(1, 10**12)),
    # --- tracker_node ----------------------------------------------------------------------------------------------
    _spec("windows_topic", "string", "synchronizer_node/windows", "aligned event windows (had_msgs/EventWindow); "
          "relative names resolve in the node's namespace", T),
    _spec("model", "string", "", "student checkpoint (.pt, torch.load weights_only); empty = the student shipped "
          "with the package (cpu-tiny preset)", T),
    _spec("teacher_model", "string", "", "optional teacher checkpoint (RGB + events), used on windows that carry an "
          "RGB frame; empty = student only", T),
    _spec("device", "string", "cpu", "torch device", T, pattern=_DEVICE.pattern),
    _spec("init_box", "double_array", [0.0, 0.0, 0.0, 0.0], "initial target box [x, y, width, height] in pixels of "
          "the window image frame; width or height 0 = no box. Setting it at run time (ros2 param set) restarts "
          "tracking on the next window", T, value_range=(0.0, 1e6), length=4, read_only=False),
    _spec("init_target_id", "int", 1, "target id reported for a box given by init_box or ~/init_box", T,
          value_range=(0, 2**32 - 1), read_only=False),
    _spec("init_ground_truth_topic", "string", "", "had_msgs/GroundTruth topic used to initialise (and re-initialise "
          "after reset) from the first present box, as bag replay does; empty = off", T),
    _spec("init_point_topic", "string", "~/init_point", "geometry_msgs/PointStamped (rviz 'Publish Point') in the "
          "marker plane (1 px = marker_scale_m m, frame marker_frame_id or the window's): starts a target of "
          "init_default_size centred there; empty = off", T),
    _spec("init_pose_topic", "string", "~/init_pose", "geometry_msgs/PoseStamped (rviz '2D Goal Pose') in the marker "
          "plane: starts a target of init_default_size centred at its position; empty = off (never /goal_pose "
          "where nav2 runs)", T),
    _spec("init_detections_topic", "string", "", "vision_msgs/Detection2DArray of an external detector: its "
          "highest-scoring detection starts the target while none is tracked (again after ~/reset); empty = off",
          T),
    _spec("init_default_size", "double_array", [40.0, 40.0], "[width, height] in pixels of a target started from a "
          "point (init_point_topic, init_pose_topic)", T, value_range=(1.0, 65_535.0), length=2, read_only=False),
    _spec("publish_debug_image", "bool", True, "publish ~/debug_image (events and/or RGB with the box drawn)", T,
          read_only=False),
    _spec("debug_image_source", "string", "overlay", "what ~/debug_image shows under the box", T,
          choices=("events", "rgb", "overlay"), read_only=False),
    _spec("debug_image_max_rate_hz", "double", 30.0, "upper bound on the debug image rate; 0 = every window", T,
          value_range=(0.0, 1000.0), read_only=False),
    _spec("debug_image_max_size", "int", 1280, "longest side of ~/debug_image [px]: larger windows are drawn scaled "
          "down (a window may declare up to 65535 x 65535)", T, value_range=(16, 65_535)),
    _spec("publish_markers", "bool", True, "publish ~/markers (box outline and label as a visualization_msgs "
          "MarkerArray in the image plane, 1 px = marker_scale_m m)", T, read_only=False),
    _spec("marker_scale_m", "double", 0.001, "metres per pixel of the marker plane", T, value_range=(1e-6, 1.0)),
    _spec("marker_frame_id", "string", "", "frame of the markers; empty = the window's frame_id", T),
    _spec("skip_stale_window_ms", "double", 15.0, "overload catch-up: a window whose data age exceeds this when "
          "its turn comes is recorded in the event history but not tracked (no box for it; counted as "
          "windows_skipped_stale), so the next boxes come from newer data; 0 = track every window", T,
          value_range=(0.0, 10_000.0)),
    _spec("max_skipped_windows_in_row", "int", 3, "overload catch-up: at most this many stale windows skipped in "
          "a row (the box moves at least every max + 1 windows); 0 = track every window", T,
          value_range=(0, 1000)),
    _spec("publish_search_region", "bool", True, "publish ~/search_region (sensor_msgs/RegionOfInterest): the "
          "search crop + margin while tracking an observed target, all zeros (whole sensor) otherwise; in "
          "single_process mode handed to the synchronizer directly", T),
    # --- tracker_node: tracker.* = TrackerConfig (had_tracker/tracking/tracker.py) ---------------------------------
    _spec("tracker.num_threads", "int", 1, "torch intra-op threads; 0 = torch's default (1 is fastest for the "
          "cpu-tiny student next to the synchronizer)", T, value_range=(0, 1024)),
    _spec("tracker.freeze_student", "bool", True, "run the loaded student as a traced, frozen TorchScript graph "
          "(the same outputs, ~15 % less CPU per window); false = eager PyTorch; used where torch runs the student",
          T),
    _spec("tracker.student_runtime", "string", "auto", "what runs the student on the CPU: onnxruntime (exported in "
          "memory at start-up; the same outputs to float rounding, ~25 % less CPU per forward than TorchScript), "
          "torch (see freeze_student), or auto = onnxruntime where onnx and onnxruntime are installed, else torch",
          T, choices=STUDENT_RUNTIMES),
    _spec("tracker.event_window_ns", "int", 0, "event time support of the model input; 0 = the model's window_ms",
          T, value_range=(0, 10**10)),
    _spec("tracker.max_input_events", "int", 40_000, "more events than this in a crop over the input window "
          "(high event rates): the window is shortened to hold about this many; 0 = off", T, value_range=(0, 10**9)),
    _spec("tracker.min_event_window_ns", "int", 1_000_000, "floor of the shortened input window", T,
          value_range=(1, 10**10)),
    _spec("tracker.hann_weight", "double", 1.0, "motion prior: 1 = score x Hann window (OSTrack), 0 = none", T,
          value_range=(0.0, 1.0)),
    _spec("tracker.min_template_events", "int", 20, "events needed in the template crop to start tracking", T,
          value_range=(0, 10**9)),
    _spec("tracker.min_search_events", "int", 5, "fewer events in the search crop: skip the model, keep the box",
          T, value_range=(0, 10**9)),
    _spec("tracker.empty_decay", "double", 0.9, "confidence factor per skipped (empty) window", T,
          value_range=(0.001, 1.0)),
    _spec("tracker.lost_threshold", "double", 0.25, "confidence below this counts as a low-confidence window", T,
          value_range=(0.0, 1.0)),
    _spec("tracker.lost_patience", "int", 20, "consecutive low-confidence windows before LOST", T,
          value_range=(1, 1_000_000)),
    _spec("tracker.reacquire_threshold", "double", 0.45, "a peak at least this high ends LOST", T,
          value_range=(0.0, 1.0)),
    _spec("tracker.box_update_threshold", "double", 0.1, "below this confidence the box is not moved", T,
          value_range=(0.0, 1.0)),
    _spec("tracker.widen_factor", "double", 2.0, "LOST: search crop side multiplier", T, value_range=(1.0, 100.0)),
    _spec("tracker.widen_windows", "int", 20, "LOST: windows of widened search before global search", T,
          value_range=(0, 1_000_000)),
    _spec("tracker.max_scale_change", "double", 1.25, "per-window limit on the box width/height change", T,
          value_range=(1.0, 100.0)),
    _spec("tracker.max_scale_rate", "double", 2.0, "limit on the box width/height change per second of sensor "
          "time (a factor per second; max_scale_change still caps one window)", T, value_range=(1.0, 1e6)),
    _spec("tracker.max_aspect_rate", "double", 2.0, "limit on the box aspect-ratio (w/h) change per second of "
          "sensor time (1 = held, 0 = off); an axis at the image border stays free", T, value_range=(0.0, 1e6)),
    _spec("tracker.cell_centred_search", "bool", True, "search crop shifted by half a score cell so that the box "
          "centre falls in the middle of a cell, not on a corner of four (where the peak alternates between "
          "cells from window to window); the Hann window follows", T),
    _spec("tracker.peak_refine", "bool", True, "box centre = score-weighted mean of the centres (cell + offset) of "
          "the peak's 3x3 cells scoring at least half the peak; false = the peak cell's alone (OSTrack)", T),
    _spec("tracker.global_tiles", "bool", False, "global search (LOST, or unobserved for a while): every other "
          "window a search crop at the training scale (search_factor around the box's size; tiles overlapping by "
          "a quarter, nearest the last box first) instead of the whole image, where a small target is a few "
          "pixels of the input; off: no gain on the validation or test sets", T),
    _spec("tracker.unobserved_fraction", "double", 0.2, "a search crop with fewer events than this share of its "
          "level while tracked is unobserved (target static or hidden): box held, flagged, never LOST", T,
          value_range=(0.0, 1.0)),
    _spec("tracker.unobserved_search_after_ms", "double", 200.0, "unobserved this long (sensor time): each further "
          "unobserved window also searches the whole image for the target", T, value_range=(0.0, 1e7)),
    _spec("tracker.min_box_size", "double", 2.0, "smallest box side [px]", T, value_range=(0.001, 10_000.0)),
    _spec("tracker.template_update_interval", "int", 0, "windows between template updates; 0 = never", T,
          value_range=(0, 1_000_000)),
    _spec("tracker.template_update_threshold", "double", 0.7, "min confidence for a template update", T,
          value_range=(0.0, 1.0)),
    _spec("tracker.max_image_age_ns", "int", 200_000_000, "teacher: an RGB frame older than this is not used", T,
          value_range=(1, 10**11)),
    _spec("tracker.history_max_events", "int", 5_000_000, "bound of the tracker's event history (oldest windows "
          "dropped, counted)", T, value_range=(1, 10**9)),
    _spec("tracker.init_adapt_steps", "int", 0, "test-time adaptation: at each initialisation a copy of the "
          "student is fine-tuned for this many steps (batch 8) on search crops of the first window around the given "
          "box and negative crops elsewhere (~2 s of one CPU core for 20 steps); the node runs it beside the "
          "tracking, the loaded student tracking until the copy is ready; 0 = off (not shown to help)", T,
          value_range=(0, 10_000)),
    # --- both nodes ------------------------------------------------------------------------------------------------
    _spec("diagnostics_period_s", "double", 1.0, "period of /diagnostics messages (input rates, drops, latency)",
          S + T, value_range=(0.05, 60.0)),
    _spec("drop_warn_ratio", "double", 0.01, "/diagnostics turns WARN when more than this share of the inputs was "
          "dropped or lost in the last diagnostics period (synchronizer: events, event packets; tracker: windows); "
          "0 = never", S + T, value_range=(0.0, 1.0)),
    _spec("drop_error_ratio", "double", 0.2, "/diagnostics turns ERROR above this share (see drop_warn_ratio); "
          "0 = never", S + T, value_range=(0.0, 1.0)),
    # --- replay_evaluator ------------------------------------------------------------------------------------------
    _spec("track_topic", "string", "tracker_node/track", "had_msgs/Track estimates to evaluate", E),
    _spec("ground_truth_topic", "string", "/ground_truth", "had_msgs/GroundTruth of the replayed bag", E),
    _spec("image_topic", "string", "/camera/image_raw", "RGB frames of the replayed bag, sampled for the report's "
          "annotated frame strip; empty = no strip", E),
    _spec("output_dir", "string", "replay_eval", "folder for the report (JSON + Markdown + plots)", E),
    _spec("bag", "string", "", "path of the replayed bag, recorded in the report", E),
    _spec("sequence_name", "string", "", "name of the sequence in the report; empty = 'ros_replay'", E),
    _spec("idle_timeout_s", "double", 5.0, "write the report and exit after this long (wall time) without new "
          "tracks, once some arrived; 0 = only at shutdown", E, value_range=(0.0, 3600.0)),
)
# fmt: on


def specs_for(node: str) -> tuple[ParamSpec, ...]:
    """The parameters ``node`` declares, in schema order (a name may appear once per node)."""
    if node not in NODES:
        raise ValueError(f"unknown node {node!r}; nodes are {NODES}")
    return tuple(spec for spec in SCHEMA if node in spec.nodes)


def spec(node: str, name: str) -> ParamSpec:
    """The schema entry of ``name`` for ``node``."""
    for entry in specs_for(node):
        if entry.name == name:
            return entry
    raise KeyError(f"{node} has no parameter {name!r}")


def defaults(node: str) -> dict[str, Any]:
    """``{name: default}`` for ``node``."""
    return {entry.name: entry.default for entry in specs_for(node)}


def validate(node: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``node`` validated (missing ones take defaults); one ConfigError listing all problems."""
    result: dict[str, Any] = {}
    problems: list[str] = []
    entries = specs_for(node)
    known = {entry.name for entry in entries}
    problems += [f"unknown parameter {name!r}" for name in sorted(set(values) - known)]
    for entry in entries:
        try:
            result[entry.name] = entry.validate(values.get(entry.name, entry.default))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(f"{node}: invalid parameters: " + "; ".join(problems))
    return result


def section(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The ``prefix.*`` parameters as a nested mapping: ``{"sync.a.b": 1}`` -> ``{"a": {"b": 1}}`` for ``sync``."""
    nested: dict[str, Any] = {}
    for name, value in values.items():
        if not name.startswith(prefix + "."):
            continue
        *parents, leaf = name[len(prefix) + 1 :].split(".")
        target = nested
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return nested


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested ``ros__parameters`` mapping as dotted names (what ROS 2 does with nested YAML)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def init_box_from_parameter(values: Iterable[float]) -> tuple[float, float, float, float] | None:
    """The ``init_box`` parameter as ``(x, y, w, h)``, or None when width or height is 0 (no box)."""
    x, y, w, h = (float(v) for v in values)
    return None if w <= 0.0 or h <= 0.0 else (x, y, w, h)


def sync_config_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``sync.*`` parameters as ``SyncConfig.from_dict`` input (0 = automatic/infinite become None/inf)."""
    config = section(values, "sync")
    if config.get("plane_depth_m") == 0.0:
        config["plane_depth_m"] = math.inf
    if config.get("output_width") == 0 or config.get("output_height") == 0:
        config["output_width"] = config["output_height"] = None
    if config.get("sensor_width") == 0 or config.get("sensor_height") == 0:
        config["sensor_width"] = config["sensor_height"] = None
    for name in ("homography", "extrinsic_rotation", "extrinsic_translation_m"):
        if name in config:
            config[name] = [float(v) for v in config[name]]
    return config


def activity_config_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``activity.*`` parameters as ``ActivityClockConfig`` keyword arguments."""
    return section(values, "activity")


def tracker_config_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    """``TrackerConfig.from_dict`` input: the ``tracker.*`` parameters plus ``model``/``teacher_model``/``device``."""
    config = section(values, "tracker")
    config["checkpoint"] = values.get("model") or None
    config["teacher_checkpoint"] = values.get("teacher_model") or None
    config["device"] = values.get("device", "cpu")
    return config


def _markdown_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return _fmt(value) if isinstance(value, (int, float)) and math.isfinite(value) else str(value)


def markdown_reference() -> str:
    """Every parameter of every node as Markdown tables: the README's reference.

    Regenerate it with ``python -m had_tracker.parameters``; a test keeps the README equal to it.
    """
    lines: list[str] = []
    for node in NODES:
        lines += [f"`{node}`:", "", "| parameter | type | default | constraints | meaning |", "|---|---|---|---|---|"]
        for entry in specs_for(node):
            meaning = entry.description.replace("|", "\\|")
            constraints = entry.constraints.replace("|", "\\|")
            lines.append(
                f"| `{entry.name}` | {entry.type} | {_markdown_value(entry.default)} | {constraints} | {meaning} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown_reference(), end="")
