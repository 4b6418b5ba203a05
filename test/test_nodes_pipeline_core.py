"""The node chain without ROS: EventPacket -> Synchronizer -> EventWindow (CDR) -> tracker -> Track/Detection (CDR).

Every step calls the functions synchronizer_node and tracker_node call, on rosbags messages with the real
field layouts, so the plumbing (stamps, geometry, message fields, init protocol) is checked here; the same
flow runs over DDS in test_launch_tracking_pipeline.py where ROS 2 exists. The network is an untrained
cpu-tiny student, so only properties that hold for any weights are asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.events.container import Events
from had_tracker.events.encoders import Evt3Encoder
from had_tracker.nodes.session import InitRequest, TrackingSession
from had_tracker.ros_io.event_window import result_to_track_msg, sample_to_window_msg, window_msg_to_sample
from had_tracker.ros_io.msgs import default_msg, make_header, make_msg
from had_tracker.ros_io.track_outputs import fill_detection
from had_tracker.ros_io.typestore import get_typestore
from had_tracker.sync.synchronizer import SyncConfig, Synchronizer

WIDTH, HEIGHT = 128, 96
SENSOR_START_NS = 5_000_000  # evt3 time starts near 0 on the sensor
HOST_OFFSET_NS = 1_700_000_000_000_000_000  # header stamps: host wall clock
PACKET_NS = 1_000_000
SIDE = 16


def _square_edges(t0_ns: int, t1_ns: int, rng: np.random.Generator) -> Events:
    """Edge events of a SIDE x SIDE square moving right at 200 px/s, one burst every 0.25 ms."""
    ts, xs, ys, ps = [], [], [], []
    for t in range(t0_ns, t1_ns, 250_000):
        left = 20.0 + 200.0 * (t - SENSOR_START_NS) * 1e-9
        rows = rng.integers(30, 30 + SIDE, size=8)
        for x, p in ((left, 0), (left + SIDE, 1)):
            xs.append(np.full(8, int(x)))
            ys.append(rows)
            ps.append(np.full(8, p))
            ts.append(np.full(8, t))
    return Events.from_arrays(
        np.concatenate(ts), np.concatenate(xs), np.concatenate(ys), np.concatenate(ps), WIDTH, HEIGHT
    )


def _packets(store, duration_ns: int):
    encoder = Evt3Encoder()
    rng = np.random.default_rng(0)
    for seq, t0 in enumerate(range(SENSOR_START_NS, SENSOR_START_NS + duration_ns, PACKET_NS)):
        events = _square_edges(t0, t0 + PACKET_NS, rng)
        payload = encoder.encode(events)
        packet = make_msg(
            store,
            "event_camera_msgs/msg/EventPacket",
            height=HEIGHT,
            width=WIDTH,
            seq=seq,
            time_base=0,
            encoding="evt3",
            is_bigendian=False,
            events=np.asarray(payload, np.uint8),
        )
        # The driver stamps arrival: host clock, a little after the packet's last event.
        packet.header = make_header(store, HOST_OFFSET_NS + t0 + PACKET_NS + 300_000, "event_camera")
        yield packet


@pytest.fixture(scope="module")
def store():
    return get_typestore("humble")


@pytest.fixture(scope="module")
def tracker():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    from had_tracker.models.builder import build_model
    from had_tracker.models.config import ModelConfig
    from had_tracker.tracking.tracker import Tracker, TrackerConfig

    config = ModelConfig()
    return Tracker(TrackerConfig(min_template_events=1), model=build_model(config).eval(), model_config=config)


def _round_trip(store, msg, msgtype):
    return store.deserialize_cdr(store.serialize_cdr(msg, msgtype), msgtype)


def test_packets_become_windows_then_tracks_and_detections(store, tracker):
    synchronizer = Synchronizer(SyncConfig.from_dict({"policy": "fixed_rate", "rate_hz": 200.0}))
    session = TrackingSession(tracker)
    windows, tracks, detections = [], [], []
    init_box = (20.0, 28.0, 18.0, 20.0)
    for packet in _packets(store, 300_000_000):
        synchronizer.add_event_packet(packet, stream="/event_camera/events")
        for sample in synchronizer.poll():
            window = sample_to_window_msg(sample, default_msg(store, "had_msgs/msg/EventWindow"), include_image=True)
            window = _round_trip(store, window, "had_msgs/msg/EventWindow")
            windows.append(window)
            received = window_msg_to_sample(window)
            if len(windows) == 5:  # a start request arrives before the 5th window is tracked (service/topic/param)
                ok, _ = session.request_init(InitRequest(init_box, target_id=3, source="service"))
                assert ok
            for result in session.process(received):
                track = result_to_track_msg(result, default_msg(store, "had_msgs/msg/Track"), window.header.frame_id)
                tracks.append(_round_trip(store, track, "had_msgs/msg/Track"))
                array = make_msg(store, "vision_msgs/msg/Detection2DArray", header=track.header)
                if track.state == 1:
                    detection = fill_detection(
                        make_msg(store, "vision_msgs/msg/Detection2D"),
                        make_msg(store, "vision_msgs/msg/ObjectHypothesisWithPose"),
                        track,
                    )
                    array.detections = [detection]
                detections.append(_round_trip(store, array, "vision_msgs/msg/Detection2DArray"))

    # ~200 Hz windows over 0.3 s of events, on the host clock, back to back, in the sensor geometry.
    assert 50 <= len(windows) <= 62
    ends = [w.window_end.sec * 10**9 + w.window_end.nanosec for w in windows]
    starts = [w.window_start.sec * 10**9 + w.window_start.nanosec for w in windows]
    assert all(e - s == 5_000_000 for s, e in zip(starts, ends, strict=True))
    assert all(b == a for a, b in zip(ends, starts[1:], strict=False))
    assert abs(ends[0] - (HOST_OFFSET_NS + SENSOR_START_NS)) < 50_000_000
    assert all((w.width, w.height) == (WIDTH, HEIGHT) for w in windows)
    assert sum(len(w.x) for w in windows) > 0 and all(np.all(np.asarray(w.x) < WIDTH) for w in windows)

    # The request started the tracker on the next window it saw; every later window gave one track.
    assert len(tracks) == len(windows) - 4
    first = tracks[0]
    assert (first.box.x, first.box.y, first.box.width, first.box.height) == pytest.approx(init_box)
    assert first.header.stamp == windows[4].header.stamp and first.target_id == 3
    stamps = [t.header.stamp.sec * 10**9 + t.header.stamp.nanosec for t in tracks]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    for track in tracks:
        box = np.array([track.box.x, track.box.y, track.box.width, track.box.height])
        assert np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0
        assert box[0] < WIDTH and box[1] < HEIGHT and box[0] + box[2] > 0 and box[1] + box[3] > 0
        assert track.state in (0, 1, 2) and 0.0 <= track.score <= 1.0 and track.latency_ms >= 0.0
    for track, array in zip(tracks, detections, strict=True):
        assert len(array.detections) == (1 if track.state == 1 else 0)
        for det in array.detections:
            assert det.bbox.center.position.x == pytest.approx(track.box.x + track.box.width / 2)
            assert det.id == "3"
    assert synchronizer.stats.dropped_events == 0, synchronizer.stats.as_dict()
