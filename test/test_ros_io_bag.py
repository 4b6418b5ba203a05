"""Bag reading and writing without ROS: the real mono bag, every event type in both storages, errors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from had_tracker.errors import BagError, MessageTypeError
from had_tracker.ros_io.bag import BagWriter, bag_info, read_bag
from had_tracker.ros_io.msgs import make_header, make_msg
from had_tracker.ros_io.typestore import get_typestore

from .conftest import shared_data


def test_reads_real_mono_bag():
    messages = list(read_bag(shared_data("rosbag_mono_cd")))
    assert [m.topic for m in messages] == ["/event_camera/events"] * 2
    assert all(m.msgtype == "event_array_msgs/msg/EventArray" for m in messages)
    first, second = (m.msg for m in messages)
    assert (first.encoding, first.width, first.height) == ("mono", 640, 480)
    assert (first.time_base, second.time_base) == (0, 50000)
    assert len(first.events) == 50 * 8  # 50 mono events of 8 bytes
    assert messages[0].recv_ns < messages[1].recv_ns


def test_bag_info_of_real_bag():
    info = bag_info(shared_data("rosbag_mono_cd"))
    assert info["message_count"] == 2 and info["storage"] == "sqlite3"
    assert info["topics"] == [
        {"topic": "/event_camera/events", "msgtype": "event_array_msgs/msg/EventArray", "count": 2}
    ]


def _packet(store, msgtype, stamp_ns, seq):
    return make_msg(
        store,
        msgtype,
        header=make_header(store, stamp_ns, "cam"),
        width=346,
        height=260,
        seq=seq,
        time_base=0,
        encoding="evt3",
        events=np.arange(seq, seq + 32, dtype=np.uint8),
    )


def _struct_array(store, msgtype, stamp_ns):
    pkg = msgtype.split("/")[0]
    event_cls = store.types[f"{pkg}/msg/Event"]
    time_cls = store.types["builtin_interfaces/msg/Time"]
    events = [event_cls(x=i, y=2 * i, ts=time_cls(sec=1, nanosec=1000 * i), polarity=bool(i % 2)) for i in range(5)]
    return make_msg(store, msgtype, header=make_header(store, stamp_ns, "cam"), width=346, height=260, events=events)


EVENT_TYPES = [
    "event_camera_msgs/msg/EventPacket",
    "event_array_msgs/msg/EventArray",
    "dvs_msgs/msg/EventArray",
    "dv_ros2_msgs/msg/EventArray",
    "prophesee_event_msgs/msg/EventArray",
]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_write_and_read_back_every_event_type(tmp_path, storage):
    store = get_typestore()
    path = tmp_path / "bag"
    with BagWriter(path, storage=storage) as bag:
        for i, msgtype in enumerate(EVENT_TYPES):
            bag.add_topic(f"/t{i}", msgtype)
        for k in range(3):
            for i, msgtype in enumerate(EVENT_TYPES):
                stamp = 1_000_000_000 + 1000 * k + i
                msg = (
                    _packet(store, msgtype, stamp, k)
                    if "Packet" in msgtype or "event_array_msgs" in msgtype
                    else (_struct_array(store, msgtype, stamp))
                )
                bag.write(f"/t{i}", stamp, msg)
    meta = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 8 and meta["storage_identifier"] == storage
    messages = list(read_bag(path))
    assert len(messages) == 15
    assert [m.recv_ns for m in messages] == sorted(m.recv_ns for m in messages)
    by_topic = {}
    for m in messages:
        by_topic.setdefault(m.topic, []).append(m.msg)
    for i in range(len(EVENT_TYPES)):
        msgs = by_topic[f"/t{i}"]
        assert len(msgs) == 3
        if hasattr(msgs[0], "encoding"):
            np.testing.assert_array_equal(msgs[2].events, np.arange(2, 34, dtype=np.uint8))
            assert msgs[2].seq == 2
        else:
            assert [e.x for e in msgs[0].events] == [0, 1, 2, 3, 4]
            assert [e.ts.nanosec for e in msgs[0].events] == [0, 1000, 2000, 3000, 4000]
            assert [e.polarity for e in msgs[0].events] == [False, True, False, True, False]


def test_read_selected_topics_only(tmp_path):
    store = get_typestore()
    with BagWriter(tmp_path / "bag") as bag:
        bag.add_topic("/a", "had_msgs/msg/Box")
        bag.add_topic("/b", "had_msgs/msg/Box")
        bag.write("/a", 1, make_msg(store, "had_msgs/msg/Box", x=1.0))
        bag.write("/b", 2, make_msg(store, "had_msgs/msg/Box", x=2.0))
    assert [m.msg.x for m in read_bag(tmp_path / "bag", topics=["/b"])] == [2.0]


def test_missing_topic_names_available_topics(tmp_path):
    with BagWriter(tmp_path / "bag") as bag:
        bag.add_topic("/a", "had_msgs/msg/Box")
    with pytest.raises(BagError, match=r"no topic\(s\) \['/nope'\].*'/a'"):
        list(read_bag(tmp_path / "bag", topics=["/nope"]))


def test_unknown_path_and_non_bag_errors(tmp_path):
    with pytest.raises(BagError, match="no bag at"):
        bag_info(tmp_path / "missing")
    with pytest.raises(BagError, match="not a rosbag2 bag"):
        bag_info(tmp_path)


def test_corrupt_metadata_is_a_bag_error(tmp_path):
    (tmp_path / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 8}\n")
    with pytest.raises(BagError, match="cannot open bag"):
        list(read_bag(tmp_path))


def test_corrupt_message_is_a_bag_error(tmp_path):
    with BagWriter(tmp_path / "bag", storage="sqlite3") as bag:
        bag.add_topic("/w", "had_msgs/msg/EventWindow")
        bag.write_raw("/w", 1, b"\x00\x01\x00\x00\xff\xff")
    (message,) = list(read_bag(tmp_path / "bag"))
    with pytest.raises(BagError, match="corrupt had_msgs/msg/EventWindow"):
        _ = message.msg


def test_writer_refuses_existing_path_and_unknown_type(tmp_path):
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="already exists"):
        BagWriter(tmp_path / "exists")
    with BagWriter(tmp_path / "bag") as bag, pytest.raises(MessageTypeError, match="unknown message type"):
        bag.add_topic("/x", "nope_msgs/msg/Nothing")


def test_failed_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), BagWriter(tmp_path / "bag") as bag:
        bag.add_topic("/a", "had_msgs/msg/Box")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
