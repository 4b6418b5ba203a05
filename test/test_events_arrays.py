"""dvs/dv event-struct arrays: CDR numpy views agree with the rosbags deserializer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from had_tracker.errors import DecodeError
from had_tracker.events.event_arrays import events_from_event_array, parse_event_array_cdr

TYPES = ("dvs_msgs/msg/EventArray", "dv_ros2_msgs/msg/EventArray", "prophesee_event_msgs/msg/EventArray")


def make_array(store, msgtype, n, frame_id="cam", width=346, height=260):
    from had_tracker.ros_io.msgs import make_header, make_msg, ns_to_time

    event_type = store.types[msgtype.replace("EventArray", "Event")]
    rng = np.random.default_rng(n)
    events = [
        event_type(
            x=int(rng.integers(0, 400)),
            y=int(rng.integers(0, 300)),
            ts=ns_to_time(store, 1_700_000_000_000_000_000 + i * 1001),
            polarity=bool(i % 3),
        )
        for i in range(n)
    ]
    return make_msg(store, msgtype, header=make_header(store, 42_000_000_123, frame_id), width=width, height=height,
                    events=events)  # fmt: skip


@pytest.mark.parametrize("msgtype", TYPES)
@pytest.mark.parametrize("n", [0, 1, 2, 37])
@pytest.mark.parametrize("frame_id", ["", "c", "cam0", "dvxplorer_left"])
def test_cdr_view_equals_deserialized_message(msgtype, n, frame_id):
    from had_tracker.ros_io.typestore import get_typestore

    store = get_typestore()
    msg = make_array(store, msgtype, n, frame_id)
    raw = store.serialize_cdr(msg, msgtype)
    fast = parse_event_array_cdr(raw)
    slow = events_from_event_array(store.deserialize_cdr(raw, msgtype))
    assert fast.stamp_ns == slow.stamp_ns == 42_000_000_123
    assert fast.frame_id == slow.frame_id == frame_id
    assert (fast.width, fast.height) == (346, 260)
    inside = [(e.x < 346 and e.y < 260) for e in msg.events]
    assert len(fast.events) == sum(inside) and fast.dropped_out_of_geometry == n - sum(inside)
    for name in "txyp":
        np.testing.assert_array_equal(getattr(fast.events, name), getattr(slow.events, name))
    expect_t = [1_700_000_000_000_000_000 + i * 1001 for i, keep in enumerate(inside) if keep]
    assert fast.events.t.tolist() == expect_t
    big_endian = parse_event_array_cdr(store.serialize_cdr(msg, msgtype, little_endian=False))
    np.testing.assert_array_equal(big_endian.events.t, fast.events.t)


def test_truncated_buffer_raises_decode_error():
    from had_tracker.ros_io.typestore import get_typestore

    store = get_typestore()
    raw = bytes(store.serialize_cdr(make_array(store, TYPES[0], 5), TYPES[0]))
    for cut in (0, 3, 10, 30, len(raw) - 20, len(raw) - 1):
        with pytest.raises(DecodeError):
            parse_event_array_cdr(raw[:cut])


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200), n_events=st.integers(0, 2**32 - 1), width=st.integers(0, 2**32 - 1))
@example(raw=b"\x00\x00\x00\x00\x80\x00\x00\x00", n_events=0, width=0)  # stamp.sec = -2**31
def test_random_buffers_parse_or_raise_decode_error(raw, n_events, width):
    header = bytes([0, 1, 0, 0]) + (0).to_bytes(8, "little") + (1).to_bytes(4, "little") + b"\x00\x00\x00\x00"
    crafted = header + (10).to_bytes(4, "little") + width.to_bytes(4, "little") + n_events.to_bytes(4, "little") + raw
    for buf in (raw, crafted):
        try:
            data = parse_event_array_cdr(buf)
        except DecodeError:
            continue
        assert len(data.events.t) == len(data.events.x) == len(data.events.p)


def test_synchronizer_takes_raw_arrays_as_it_takes_messages_and_counts_geometry_drops():
    """The node's raw path (add_event_array on the CDR bytes) gives the same windows as the message path."""
    from had_tracker.ros_io.typestore import get_typestore
    from had_tracker.sync.synchronizer import SyncConfig, Synchronizer

    store = get_typestore()
    msgtype = "dvs_msgs/msg/EventArray"
    msg = make_array(store, msgtype, 500, frame_id="dvs")
    raw = store.serialize_cdr(msg, msgtype)
    outputs = []
    for feed in ("message", "raw"):
        sync = Synchronizer(SyncConfig(clock="sensor", rate_hz=2000))
        if feed == "message":
            sync.add_event_packet(store.deserialize_cdr(raw, msgtype))
        else:
            sync.add_event_array(parse_event_array_cdr(raw))
        windows = sync.poll() + sync.flush()
        outputs.append((np.concatenate([w.events.t for w in windows]), {w.frame_id for w in windows}, sync.stats))
    (t_msg, frames_msg, stats_msg), (t_raw, frames_raw, stats_raw) = outputs
    inside = sum(e.x < 346 and e.y < 260 for e in msg.events)
    assert len(t_raw) == inside and np.array_equal(t_msg, t_raw)
    assert frames_msg == frames_raw == {"dvs"}
    assert stats_msg.drops["outside_sensor"] == stats_raw.drops["outside_sensor"] == 500 - inside
