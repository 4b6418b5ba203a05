"""The nodes' callbacks never die on a message (issue 16.10, 16.3, 18.2), driven without rclpy.

synchronizer_node and tracker_node hand every message to SynchronizerCore / TrackerCore and publish what they
return; here the same methods get each bad input a robot can send (rosbags messages with the real field
layouts). Each must be counted per kind and the node must keep working on the next good message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest

from had_tracker import parameters as schema
from had_tracker.events.container import Events
from had_tracker.events.encoders import Evt3Encoder
from had_tracker.nodes.debug_view import DebugView, debug_scale
from had_tracker.nodes.health import CallbackGuard, CoreLogBridge, DropRates, lost_packets, topic_name_problem
from had_tracker.nodes.session import InitRequest, TrackingSession
from had_tracker.nodes.synchronizer_core import SynchronizerCore
from had_tracker.nodes.targets import best_detection_box, box_from_plane_point, frame_problem
from had_tracker.nodes.tracker_core import TrackerCore, model_description
from had_tracker.ros_io.event_window import sample_to_window_msg
from had_tracker.ros_io.msgs import default_msg, make_header, make_msg
from had_tracker.ros_io.typestore import get_typestore
from had_tracker.sync.synchronizer import AlignedSample
from had_tracker.tracking.result import TrackResult, TrackState

WIDTH, HEIGHT = 64, 48
HOST_NS = 1_700_000_000_000_000_000
PACKET_NS = 1_000_000


@pytest.fixture(scope="module")
def store():
    return get_typestore("humble")


def _packet(store, seq: int, t0_ns: int, encoder: Evt3Encoder, **fields):
    t = np.arange(t0_ns, t0_ns + PACKET_NS, 20_000, dtype=np.int64)
    events = Events.from_arrays(t, (t // 20_000) % WIDTH, (t // 40_000) % HEIGHT, t % 2, WIDTH, HEIGHT)
    values = dict(height=HEIGHT, width=WIDTH, seq=seq, time_base=0, encoding="evt3", is_bigendian=False)
    values["events"] = np.asarray(encoder.encode(events), np.uint8)
    values.update(fields)
    packet = make_msg(store, "event_camera_msgs/msg/EventPacket", **values)
    packet.header = make_header(store, HOST_NS + t0_ns + PACKET_NS + 300_000, "event_camera")
    return packet


def _good_packets(store, count: int, first_seq: int = 0, start_ns: int = 5_000_000, encoder=None):
    encoder = encoder or Evt3Encoder()
    return [_packet(store, first_seq + i, start_ns + i * PACKET_NS, encoder) for i in range(count)]


def _sync_core(log=None, **overrides) -> SynchronizerCore:
    params = {**schema.defaults(schema.SYNCHRONIZER), **overrides}
    return SynchronizerCore(schema.validate(schema.SYNCHRONIZER, params), log or (lambda text: None))


def _window_factory(store):
    return lambda: default_msg(store, "had_msgs/msg/EventWindow")


def _image(store, encoding="rgb8", width=WIDTH, height=HEIGHT, data=None, step=None):
    channels = 1 if encoding in ("mono8",) else 3
    step = width * channels if step is None else step
    data = np.zeros(height * step, np.uint8) if data is None else data
    msg = make_msg(
        store, "sensor_msgs/msg/Image", height=height, width=width, encoding=encoding, is_bigendian=0, step=step,
        data=data,
    )  # fmt: skip
    msg.header = make_header(store, HOST_NS + 6_000_000, "camera")
    return msg


def _camera_info(store, width, height, k):
    msg = default_msg(store, "sensor_msgs/msg/CameraInfo")
    msg.width, msg.height = width, height
    msg.k = np.asarray(k, np.float64)
    msg.header = make_header(store, HOST_NS, "camera")
    return msg


# --- synchronizer_node ------------------------------------------------------------------------------------------------
PLAIN_COUNTERS = {"packets", "events", "images", "windows", "empty_windows", "forced_windows", "triggers"}


def _counted(core: SynchronizerCore) -> int:
    """Everything the node reports as refused or dropped: guard errors plus every other stats counter."""
    stats = core.synchronizer.stats.as_dict()
    return core.guard.total + sum(int(v) for k, v in stats.items() if k not in PLAIN_COUNTERS and isinstance(v, int))


BAD_INPUTS = {
    "unknown encoding": lambda s, c: c.add_event_packet(_packet(s, 0, 5_000_000, Evt3Encoder(), encoding="nope")),
    "time_base 2**64-1": lambda s, c: c.add_event_packet(
        _packet(s, 0, 5_000_000, Evt3Encoder(), encoding="libcaer", time_base=2**64 - 1)
    ),
    "truncated mono": lambda s, c: c.add_event_packet(
        _packet(s, 0, 5_000_000, Evt3Encoder(), encoding="mono", events=np.zeros(7, np.uint8))
    ),
    "packet without fields": lambda s, c: c.add_event_packet(SimpleNamespace(header=None, encoding="evt3")),
    "garbage event array": lambda s, c: c.add_event_array_bytes(b"\x00\x01garbage"),
    "short image data": lambda s, c: c.add_image(_image(s, data=np.zeros(5, np.uint8))),
    "unknown image encoding": lambda s, c: c.add_image(_image(s, encoding="nope")),
    "camera info without fields": lambda s, c: c.add_camera_info(SimpleNamespace()),
    "camera info 0x0": lambda s, c: c.add_camera_info(_camera_info(s, 0, 0, [0.0] * 9)),
    "camera info NaN K": lambda s, c: c.add_camera_info(_camera_info(s, WIDTH, HEIGHT, [float("nan")] * 9)),
    "camera info of no camera": lambda s, c: c.add_camera_info(_camera_info(s, WIDTH, HEIGHT, [1.0] * 9), "x"),
}


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
def test_synchronizer_callbacks_count_every_bad_input_and_keep_working(store, bad):
    logged = []
    core = _sync_core(logged.append, image_topic="", camera_info_topic="")
    new_window = _window_factory(store)
    before = _counted(core)
    BAD_INPUTS[bad](store, core)  # must not raise
    windows = core.windows(new_window)
    assert _counted(core) > before, f"{bad}: neither an error nor a drop was counted"
    assert all("error(s) so far" in line for line in logged)
    values = core.report({"event_packets": 0}, True).values
    assert all(values[f"errors_{kind}"] == str(n) for kind, n in core.guard.counts.items())

    # The node still works: good packets from a fresh stream position give windows with events.
    for packet in _good_packets(store, 40, first_seq=100, start_ns=2_000_000_000):
        core.add_event_packet(packet)
        windows += core.windows(new_window)
    windows += core.windows(new_window, flush=True)
    assert sum(len(w.x) for w in windows) > 0, core.synchronizer.stats.as_dict()


def test_a_poll_or_window_message_that_raises_is_counted_not_raised(store, monkeypatch):
    core = _sync_core(image_topic="", camera_info_topic="")
    for packet in _good_packets(store, 30):
        core.add_event_packet(packet)

    def broken_poll():
        raise OverflowError("Python int too large to convert to C long")

    monkeypatch.setattr(core.synchronizer, "poll", broken_poll)
    assert core.windows(_window_factory(store)) == []
    assert core.guard.counts["poll"] == 1
    monkeypatch.undo()

    def failing_factory():
        raise ValueError("event offsets do not fit uint32")

    assert core.windows(failing_factory, flush=True) == []
    assert core.guard.counts["windows"] >= 1
    assert core.report({}, True).values["errors_poll_OverflowError"] == "1"


def test_seq_gaps_are_lost_packets_in_diagnostics_and_raise_the_level(store):
    """single_process: queue overwrites show only as EventPacket.seq gaps (the rmw lost event reads 0)."""
    core = _sync_core(image_topic="", camera_info_topic="", drop_warn_ratio=0.01, drop_error_ratio=0.2)
    packets = _good_packets(store, 100)
    for packet in packets[:10]:
        core.add_event_packet(packet)
        core.windows(_window_factory(store))
    report = core.report({"event_packets": 0}, True)
    assert report.values["lost_event_packets"] == "0" and report.level == "ok", report
    for packet in packets[10:50:2]:  # every other packet overwritten in the subscription queue
        core.add_event_packet(packet)
        core.windows(_window_factory(store))
    report = core.report({"event_packets": 0}, True)
    assert int(report.values["lost_event_packets_seq"]) >= 15
    assert report.values["lost_event_packets"] == report.values["lost_event_packets_seq"]
    assert report.values["lost_event_packets_rmw"] == "0"
    assert report.level == "error" and "event packets" in report.message, report
    # levels follow recent drops, not the whole run: once the stream is whole again, the level is OK again
    for chunk in (packets[49:75], packets[75:]):
        for packet in chunk:
            core.add_event_packet(packet)
            core.windows(_window_factory(store))
        report = core.report({"event_packets": 0}, True)
    assert report.level == "ok", report
    assert core.report({"event_packets": 40}, True).values["lost_event_packets"] == "40"  # rmw count, when larger


def test_every_synchronizer_stats_key_reaches_diagnostics(store):
    core = _sync_core(image_topic="", camera_info_topic="")
    core.synchronizer.stats.drop("a_reason_added_later", 3)
    values = core.report({"event_packets": 2, "images": 1}, True).values
    for key in core.synchronizer.stats.as_dict():
        assert key in values, key
    assert values["drop_a_reason_added_later"] == "3" and values["lost_images"] == "1"
    assert core.report({"event_packets": 2}, False).values["lost_event_packets_rmw"] == "unknown"


# --- health helpers ---------------------------------------------------------------------------------------------------
def test_callback_guard_counts_per_kind_and_throttles_logs_per_kind():
    now = [0.0]
    logged = []
    guard = CallbackGuard(logged.append, period_s=5.0, clock=lambda: now[0])

    def fail(exc):
        raise exc

    for _ in range(3):
        assert guard.run("images", lambda: fail(ValueError("odd width")), default="dropped") == "dropped"
    guard.run("poll", lambda: fail(OverflowError("too big")))
    assert guard.counts == {"images": 3, "poll": 1} and guard.total == 4
    assert len(logged) == 2  # first of each kind; the two repeats within 5 s are counted only
    now[0] = 6.0
    guard.run("images", lambda: fail(KeyError("x")))
    assert len(logged) == 3 and "images: KeyError" in logged[-1]
    values = guard.values()
    assert values["errors_images"] == "4" and values["errors_images_ValueError"] == "3"
    assert guard.run("images", lambda: 7) == 7

    response = SimpleNamespace(success=True, message="")
    answered = guard.service("start_tracking", lambda req, resp: fail(RuntimeError("boom")))(None, response)
    assert answered is response and response.success is False and "boom" in response.message


def test_drop_rates_use_the_last_interval_and_two_thresholds():
    rates = DropRates(warn_ratio=0.01, error_ratio=0.2)
    assert rates.update("events", 0, 1000) == 0.0 and rates.level() == ("ok", "")
    assert rates.update("events", 50, 2000) == pytest.approx(0.05)
    assert rates.level()[0] == "warn"
    assert rates.update("events", 550, 3000) == pytest.approx(0.5)
    level, message = rates.level()
    assert level == "error" and "events" in message
    assert rates.update("events", 550, 4000) == 0.0 and rates.level()[0] == "ok"
    assert rates.update("events", 10, 10) == 1.0  # a restarted counter starts a new interval
    assert DropRates(0.0, 0.0).level() == ("ok", "")
    assert lost_packets(None, 4) == 4 and lost_packets(7, 4) == 7 and lost_packets(0, 0) == 0


def test_core_warnings_reach_the_node_logger_not_stderr(capsys):
    received = []
    CoreLogBridge.uninstall()
    try:
        CoreLogBridge.install(lambda level, text: received.append((level, text)))
        CoreLogBridge.install(lambda level, text: received.append(("second", text)))  # one bridge per process
        logging.getLogger("had_tracker.events.decoders").warning("evt3 stream: seq jumped %d -> %d", 1, 5)
        logging.getLogger("had_tracker.sync.synchronizer").info("activity clock: correction")
    finally:
        CoreLogBridge.uninstall()
    assert received == [
        (logging.WARNING, "[had_tracker.events.decoders] evt3 stream: seq jumped 1 -> 5"),
        (logging.INFO, "[had_tracker.sync.synchronizer] activity clock: correction"),
    ]
    assert "seq jumped" not in capsys.readouterr().err
    assert logging.getLogger("had_tracker").propagate


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("/event_camera/events", True),
        ("synchronizer_node/windows", True),
        ("~/init_point", True),
        ("{node}/x", True),
        ("''", False),  # what image_topic:="''" passes
        ("", False),
        ("/camera/", False),
        ("/a b", False),
        ("/1abc", False),
        ("a//b", False),
        ("/a~b", False),
        ("/", False),
    ],
)
def test_topic_names_are_checked_with_rcl_rules(name, valid):
    assert (topic_name_problem(name) is None) == valid, topic_name_problem(name)


# --- tracker_node -------------------------------------------------------------------------------------------------------
@dataclass
class StubTracker:
    results: list = field(default_factory=list)

    def push(self, sample):
        pass

    def initialize(self, sample, box_xywh, target_id=0):
        return self.results.pop(0) if self.results else _result(sample, box_xywh)

    def update(self, sample):
        return self.results.pop(0) if self.results else _result(sample, (1.0, 1.0, 4.0, 4.0))

    def reset(self):
        pass


def _result(sample, box, score=0.8, state=TrackState.TRACKING):
    return TrackResult(np.asarray(box, float), score, state, sample.window_start_ns, sample.window_end_ns, 0, 0.0, 1)


def _tracker_core(tracker=None, logged=None, **overrides) -> TrackerCore:
    params = {**schema.defaults(schema.TRACKER), **overrides}
    session = TrackingSession(tracker or StubTracker())
    return TrackerCore(session, schema.validate(schema.TRACKER, params), (logged if logged is not None else []).append)


def _sample(index: int, width=WIDTH, height=HEIGHT, image=None, n=20) -> AlignedSample:
    start = 1_000_000_000 + index * 5_000_000
    t = np.linspace(start, start + 4_000_000, n).astype(np.int64)
    events = Events.from_arrays(t, np.arange(n) % max(width, 1), np.arange(n) % max(height, 1), np.arange(n) % 2,
                                width, height)  # fmt: skip
    return AlignedSample(
        index, start, start + 5_000_000, events, image=image, image_stamp_ns=start if image is not None else None
    )


def _window_msg(store, sample):
    return sample_to_window_msg(sample, default_msg(store, "had_msgs/msg/EventWindow"), include_image=True)


def test_tracker_callbacks_count_bad_windows_and_never_publish_non_finite_boxes(store):
    logged = []
    stub = StubTracker()
    core = _tracker_core(stub, logged)
    good = _window_msg(store, _sample(0))
    broken = _window_msg(store, _sample(1))
    broken.x = np.zeros(3, np.uint16)  # columns of different lengths
    no_fields = SimpleNamespace(seq=2, dropped_events=0, header=SimpleNamespace(frame_id="cam"))
    assert core.on_window(good).sample is not None
    for bad in (broken, no_fields):
        outcome = core.on_window(bad)
        assert outcome.results == []
    assert core.guard.counts["windows"] == 2 and len(logged) == 1  # throttled: one line per kind and period

    assert core.session.request_init(InitRequest((2.0, 2.0, 8.0, 8.0), 1))[0]
    nan_sample = _sample(3)
    stub.results = [_result(nan_sample, (np.nan, 1.0, 4.0, 4.0))]
    outcome = core.on_window(_window_msg(store, nan_sample))
    assert outcome.results == [] and core.nonfinite_results == 1
    assert core.on_window(_window_msg(store, _sample(4))).results  # the next window tracks again
    values = core.report().values
    assert values["window_errors"] == "3" and values["errors_windows"] == "2"


def test_debug_image_skips_invalid_sizes_and_caps_huge_ones():
    view = DebugView(max_side=256)
    assert view.render(_sample(0, width=0, height=0, n=0)) is None
    assert view.skipped == {"invalid_size": 1}
    huge = _sample(1, width=65535, height=65535)
    image = view.render(huge, box_xywh=(1000.0, 2000.0, 5000.0, 5000.0), state=1)
    assert image.shape == (256, 256, 3)  # not 65535 x 65535 x 3 (12 GiB)
    assert debug_scale(640, 480, 1280) == 1.0 and debug_scale(0, 480) is None
    assert debug_scale(2560, 1440, 1280) == pytest.approx(0.5)


def test_tracker_core_debug_image_survives_a_zero_size_window(store):
    core = _tracker_core()
    outcome = core.on_window(_window_msg(store, _sample(0)))
    empty = _sample(1, width=0, height=0, n=0)
    assert core.debug_image(empty) is None and core.debug_image(outcome.sample) is not None
    assert core.report().values["debug_image_skipped_invalid_size"] == "1"


def test_debug_image_keeps_the_last_rgb_frame_between_frames():
    rgb = np.full((HEIGHT, WIDTH, 3), 200, np.uint8)
    view = DebugView(rgb_max_age_ns=50_000_000)
    with_frame = view.render(_sample(0, image=rgb, n=0), source="rgb")
    without = view.render(_sample(1, n=0), source="rgb")
    assert with_frame.max() == 200 and np.array_equal(without, with_frame)  # was black before
    assert view.render(_sample(20, n=0), source="rgb").max() == 0  # 100 ms later: too old
    view.remember(_sample(21, image=rgb))
    assert view.render(_sample(22, width=32, height=24, n=0), source="rgb").max() == 0  # another size


# --- starting a target from rviz or a detector --------------------------------------------------------------------------
def test_rviz_points_in_the_marker_plane_become_boxes_of_the_default_size():
    point = SimpleNamespace(x=0.1, y=0.05, z=0.0)
    assert box_from_plane_point(point, 0.001, [40.0, 20.0]) == pytest.approx((80.0, 40.0, 40.0, 20.0))
    with pytest.raises(ValueError):
        box_from_plane_point(SimpleNamespace(x=float("nan"), y=0.0), 0.001, [40.0, 20.0])
    assert frame_problem("", ["camera"]) is None and frame_problem("camera", ["", "camera"]) is None
    assert "Fixed Frame" in frame_problem("map", ["camera"])


def test_start_from_point_and_pose_and_refuse_other_frames():
    core = _tracker_core(init_default_size=[20.0, 10.0], marker_scale_m=0.01)
    core.last_frame_id = "camera"
    ok, message = core.start_from_point(SimpleNamespace(x=0.3, y=0.2, z=0.0), "camera", "rviz point")
    assert ok, message
    assert core.session.pending.box_xywh == pytest.approx((20.0, 15.0, 20.0, 10.0))
    assert core.session.pending.source == "rviz point"
    ok, message = core.start_from_point(SimpleNamespace(x=0.3, y=0.2, z=0.0), "map", "rviz 2D goal")
    assert not ok and core.session.failed_inits == 1


def _detections(store, boxes_scores):
    array = make_msg(store, "vision_msgs/msg/Detection2DArray", header=make_header(store, 123, "camera"))
    detections = []
    for (cx, cy, w, h), score in boxes_scores:
        detection = make_msg(store, "vision_msgs/msg/Detection2D")
        detection.bbox.center.position.x, detection.bbox.center.position.y = cx, cy
        detection.bbox.size_x, detection.bbox.size_y = w, h
        if score is not None:
            hypothesis = make_msg(store, "vision_msgs/msg/ObjectHypothesisWithPose")
            hypothesis.hypothesis.score = score
            detection.results = [hypothesis]
        detections.append(detection)
    array.detections = detections
    return array


def test_the_best_detection_starts_the_target_only_while_none_is_tracked(store):
    array = _detections(store, [((10, 10, 4, 4), 0.3), ((30, 20, 10, 8), 0.9), ((5, 5, float("nan"), 2), 1.0)])
    box, score, index = best_detection_box(array)
    assert box == pytest.approx((25.0, 16.0, 10.0, 8.0)) and score == pytest.approx(0.9) and index == 1
    assert best_detection_box(_detections(store, [((10, 10, 4, 4), None), ((20, 10, 4, 4), None)]))[2] == 0
    assert best_detection_box(_detections(store, [])) is None

    core = _tracker_core()
    ok, message = core.start_from_detections(array, 5_000_000)
    assert ok and "detection 1" in message and core.session.pending.stamp_ns == 5_000_000
    assert core.start_from_detections(array, 6_000_000) is None  # a request is pending
    core.on_window(_window_msg(store, _sample(2)))
    assert core.session.active and core.start_from_detections(array, 7_000_000) is None  # tracking
    core.session.reset()
    assert core.start_from_detections(array, 8_000_000)[0]  # after ~/reset the next detection starts it


def test_model_description_names_the_shipped_student_not_an_untrained_preset():
    torch = pytest.importorskip("torch")
    tracker = SimpleNamespace(
        student=SimpleNamespace(model=torch.nn.Linear(10, 10), cfg=SimpleNamespace(kind="student"))
    )
    text = model_description(tracker, "")
    assert "shipped student" in text and "student_cpu_tiny.pt" in text and "untrained" not in text
    assert model_description(tracker, "/tmp/mine.pt").startswith("/tmp/mine.pt")
    tracker.student.runtime = "onnxruntime"
    assert "run by onnxruntime" in model_description(tracker, "")
