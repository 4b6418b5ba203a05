"""AlignedSample <-> had_msgs/EventWindow and TrackResult -> had_msgs/Track through rosbags messages and CDR."""

from __future__ import annotations

import array
import types

import numpy as np
import pytest

from had_tracker.events.container import Events
from had_tracker.ros_io.event_window import (
    make_track_msg,
    make_window_msg,
    result_to_track_msg,
    sample_to_window_msg,
    track_msg_to_result,
    window_msg_to_sample,
)
from had_tracker.ros_io.typestore import get_typestore
from had_tracker.sync.synchronizer import AlignedSample
from had_tracker.tracking.result import TrackResult, TrackState


@pytest.fixture(scope="module")
def store():
    return get_typestore()


def _sample(with_image: bool) -> AlignedSample:
    rng = np.random.default_rng(0)
    start = 1_700_000_000_123_000_000
    t = np.sort(rng.integers(start, start + 5_000_000, 1000))
    events = Events.from_arrays(
        t, rng.integers(0, 346, 1000), rng.integers(0, 260, 1000), rng.integers(0, 2, 1000), 346, 260
    )
    image = rng.integers(0, 255, (260, 346, 3), dtype=np.uint8) if with_image else None
    return AlignedSample(
        7, start, start + 5_000_000, events, image, start + 4_000_000 if with_image else None, 3, "cam"
    )


@pytest.mark.parametrize("with_image", [True, False])
def test_event_window_round_trips_through_cdr(store, with_image):
    sample = _sample(with_image)
    msg = make_window_msg(store, sample)
    raw = store.serialize_cdr(msg, "had_msgs/msg/EventWindow")
    back = window_msg_to_sample(store.deserialize_cdr(raw, "had_msgs/msg/EventWindow"))
    assert (back.seq, back.window_start_ns, back.window_end_ns, back.dropped_events, back.frame_id) == (
        7,
        sample.window_start_ns,
        sample.window_end_ns,
        3,
        "cam",
    )
    for name in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(getattr(back.events, name), getattr(sample.events, name))
    assert (back.width, back.height) == (346, 260)
    if with_image:
        np.testing.assert_array_equal(back.image, sample.image)
        assert back.image_stamp_ns == sample.image_stamp_ns
    else:
        assert back.image is None and back.image_stamp_ns is None


def test_image_can_be_left_out_and_rclpy_style_arrays_are_filled(store):
    sample = _sample(True)
    # rclpy messages hold array.array fields: the same function fills them with array.array.
    rclpy_like = make_window_msg(store, _sample(False))
    for name, code in (("dt_ns", "I"), ("x", "H"), ("y", "H"), ("polarity", "B")):
        setattr(rclpy_like, name, array.array(code))
    msg = sample_to_window_msg(sample, rclpy_like, include_image=False)
    assert not msg.has_image and isinstance(msg.x, array.array) and msg.x.typecode == "H"
    assert list(msg.x) == sample.events.x.tolist()
    back = window_msg_to_sample(msg)
    np.testing.assert_array_equal(back.events.t, sample.events.t)


def test_event_times_outside_the_uint32_range_are_refused(store):
    sample = _sample(False)
    bad = AlignedSample(0, int(sample.events.t[-1]), sample.window_end_ns, sample.events)  # events before start
    with pytest.raises(ValueError):
        make_window_msg(store, bad)


def test_track_message_carries_every_result_field(store):
    result = TrackResult(np.array([10.5, 20.25, 30.0, 40.0]), 0.875, TrackState.LOST, 100, 5_000_100, 1234, 2.5, 9)
    msg = make_track_msg(store, result, frame_id="cam")
    raw = store.serialize_cdr(msg, "had_msgs/msg/Track")
    decoded = store.deserialize_cdr(raw, "had_msgs/msg/Track")
    assert decoded.state == decoded.STATE_LOST == int(TrackState.LOST)
    back = track_msg_to_result(decoded)
    np.testing.assert_allclose(back.box_xywh, result.box_xywh)
    assert (back.state, back.window_start_ns, back.window_end_ns, back.num_events, back.target_id) == (
        TrackState.LOST,
        100,
        5_000_100,
        1234,
        9,
    )
    assert back.score == pytest.approx(0.875) and back.latency_ms == pytest.approx(2.5)
    assert decoded.header.frame_id == "cam"


def test_track_state_values_match_the_message_constants(store):
    msg = make_track_msg(store, TrackResult(np.ones(4), 0.0, TrackState.TRACKING, 0, 1, 0, 0.0))
    assert (msg.STATE_INITIALIZING, msg.STATE_TRACKING, msg.STATE_LOST) == tuple(int(s) for s in TrackState)
    # Duck typing: any object with the fields works as the target.
    box = types.SimpleNamespace(x=0.0, y=0.0, width=0.0, height=0.0)
    t = types.SimpleNamespace(sec=0, nanosec=0)
    plain = types.SimpleNamespace(
        header=types.SimpleNamespace(stamp=types.SimpleNamespace(sec=0, nanosec=0), frame_id=""),
        target_id=0, state=0, box=box, score=0.0, window_start=t, window_end=types.SimpleNamespace(sec=0, nanosec=0),
        num_events=0, latency_ms=0.0,
    )  # fmt: skip
    result_to_track_msg(
        TrackResult(np.array([1.0, 2, 3, 4]), 0.5, TrackState.TRACKING, 0, 2_000_000_001, 5, 1.0), plain
    )
    assert plain.window_end.sec == 2 and plain.window_end.nanosec == 1 and plain.box.height == 4.0


def test_event_window_carries_lost_packets_and_the_newest_event_host_time(store):
    sample = _sample(False)
    sample.lost_packets, sample.newest_event_host_ns = 4, int(sample.events.t[-1]) + 1_250_000
    back = window_msg_to_sample(
        store.deserialize_cdr(store.serialize_cdr(make_window_msg(store, sample), "had_msgs/msg/EventWindow"),
                              "had_msgs/msg/EventWindow")
    )  # fmt: skip
    assert (back.lost_packets, back.newest_event_host_ns) == (4, sample.newest_event_host_ns)
    sample.newest_event_host_ns = None  # an empty window: no time (0 on the wire)
    assert window_msg_to_sample(make_window_msg(store, sample)).newest_event_host_ns is None
