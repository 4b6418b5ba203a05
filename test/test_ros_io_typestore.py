"""had_msgs parsed from the .msg files, event and vision types registered, CDR round trips."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.errors import MessageTypeError
from had_tracker.ros_io import typestore as ts_module
from had_tracker.ros_io.msgs import default_msg, make_header, make_msg, ns_to_time, time_to_ns
from had_tracker.ros_io.typestore import get_typestore, had_msgs_types

HAD_TYPES = [
    "had_msgs/msg/Box",
    "had_msgs/msg/Track",
    "had_msgs/msg/EventWindow",
    "had_msgs/msg/GroundTruth",
    "had_msgs/srv/StartTracking_Request",
    "had_msgs/srv/StartTracking_Response",
    "had_msgs/srv/ResetTracker_Request",
    "had_msgs/srv/ResetTracker_Response",
]
EVENT_TYPES = [
    "event_camera_msgs/msg/EventPacket",
    "event_array_msgs/msg/EventArray",
    "dvs_msgs/msg/EventArray",
    "dv_ros2_msgs/msg/EventArray",
    "prophesee_event_msgs/msg/EventArray",
    "vision_msgs/msg/Detection2DArray",
]


@pytest.mark.parametrize("distro", ["humble", "jazzy"])
def test_store_has_every_type(distro):
    store = get_typestore(distro)
    for name in HAD_TYPES + EVENT_TYPES:
        assert name in store.types, name


@pytest.mark.parametrize("msgtype", HAD_TYPES + EVENT_TYPES)
def test_default_message_cdr_round_trip(msgtype):
    store = get_typestore()
    msg = default_msg(store, msgtype)
    back = store.deserialize_cdr(store.serialize_cdr(msg, msgtype), msgtype)
    assert type(back) is type(msg)


def test_track_round_trip_keeps_values_and_constants():
    store = get_typestore()
    box = make_msg(store, "had_msgs/msg/Box", x=1.5, y=2.25, width=30.0, height=40.5)
    track = make_msg(
        store,
        "had_msgs/msg/Track",
        header=make_header(store, 1_700_000_000_123_456_789, "camera"),
        target_id=7,
        state=store.types["had_msgs/msg/Track"].STATE_LOST,
        box=box,
        score=0.625,
        window_start=ns_to_time(store, 5_000),
        window_end=ns_to_time(store, 10_000),
        num_events=1234,
        latency_ms=3.5,
    )
    back = store.deserialize_cdr(store.serialize_cdr(track, "had_msgs/msg/Track"), "had_msgs/msg/Track")
    assert time_to_ns(back.header.stamp) == 1_700_000_000_123_456_789
    assert back.header.frame_id == "camera"
    assert (back.box.x, back.box.y, back.box.width, back.box.height) == (1.5, 2.25, 30.0, 40.5)
    assert back.state == 2 and back.target_id == 7 and back.num_events == 1234
    assert back.score == pytest.approx(0.625) and back.latency_ms == pytest.approx(3.5)
    cls = store.types["had_msgs/msg/Track"]
    assert (cls.STATE_INITIALIZING, cls.STATE_TRACKING, cls.STATE_LOST) == (0, 1, 2)


def test_event_window_round_trip_keeps_arrays():
    store = get_typestore()
    n = 1000
    rng = np.random.default_rng(0)
    msg = make_msg(
        store,
        "had_msgs/msg/EventWindow",
        seq=3,
        width=346,
        height=260,
        dt_ns=np.sort(rng.integers(0, 5_000_000, n)).astype(np.uint32),
        x=rng.integers(0, 346, n).astype(np.uint16),
        y=rng.integers(0, 260, n).astype(np.uint16),
        polarity=rng.integers(0, 2, n).astype(np.uint8),
        has_image=True,
        image_offset_ns=-1234,
    )
    raw = store.serialize_cdr(msg, "had_msgs/msg/EventWindow")
    back = store.deserialize_cdr(raw, "had_msgs/msg/EventWindow")
    for field in ("dt_ns", "x", "y", "polarity"):
        np.testing.assert_array_equal(getattr(back, field), getattr(msg, field))
    assert back.image_offset_ns == -1234 and back.has_image
    assert len(raw) < 12 * n  # compact: ~9 bytes per event plus the header


def test_make_msg_rejects_unknown_field():
    with pytest.raises(TypeError, match="no field"):
        make_msg(get_typestore(), "had_msgs/msg/Box", z=1.0)


def test_unknown_type_is_a_clear_error():
    with pytest.raises(MessageTypeError, match="unknown message type"):
        default_msg(get_typestore(), "nope_msgs/msg/Nothing")


def test_unknown_distro_is_a_clear_error():
    with pytest.raises(MessageTypeError, match="unknown ROS distro"):
        get_typestore("rolling-2099")


def test_malformed_msg_file_gives_one_line_error(tmp_path):
    (tmp_path / "msg").mkdir()
    (tmp_path / "msg" / "Bad.msg").write_text("float64 x\nthis is not a field definition !!\n")
    with pytest.raises(MessageTypeError, match=r"malformed message definition .*Bad\.msg"):
        had_msgs_types(tmp_path)


def test_a_field_of_an_undefined_type_is_a_one_line_error(tmp_path, monkeypatch):
    (tmp_path / "msg").mkdir()
    (tmp_path / "msg" / "Box.msg").write_text("float64 x\n")
    (tmp_path / "msg" / "Typo.msg").write_text("Boxx box  # meant Box\nfloat64 y\n")
    monkeypatch.setenv(ts_module.HAD_MSGS_ENV, str(tmp_path))
    ts_module.get_typestore.cache_clear()
    try:
        with pytest.raises(MessageTypeError, match=r"had_msgs/msg/Typo: field 'box' has unknown type 'had_msgs/Boxx'"):
            ts_module.get_typestore()
    finally:
        ts_module.get_typestore.cache_clear()


def test_service_without_separator_is_an_error(tmp_path):
    (tmp_path / "msg").mkdir()
    (tmp_path / "msg" / "Box.msg").write_text("float64 x\n")
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "Odd.srv").write_text("Box box\n")
    with pytest.raises(MessageTypeError, match="'---'"):
        had_msgs_types(tmp_path)


def test_definitions_found_from_env_override(tmp_path, monkeypatch):
    (tmp_path / "msg").mkdir()
    (tmp_path / "msg" / "Box.msg").write_text("float64 x\n")
    monkeypatch.setenv(ts_module.HAD_MSGS_ENV, str(tmp_path))
    assert ts_module.find_had_msgs_dir() == tmp_path


def test_definitions_found_in_colcon_install_layout(tmp_path, monkeypatch):
    share = tmp_path / "install" / "had_msgs" / "share" / "had_msgs"
    (share / "msg").mkdir(parents=True)
    (share / "msg" / "Box.msg").write_text("float64 x\n")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "install" / "had_msgs"))
    assert share in ts_module.had_msgs_candidates()
