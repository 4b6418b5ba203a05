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


def _as_driver_wrote_it(bag, version: int = 5) -> None:
    """Rewrite metadata.yaml as some real drivers' recorders leave it: old version, empty storage identifier."""
    meta_path = bag / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    info = meta["rosbag2_bagfile_information"]
    info["version"], info["storage_identifier"] = version, ""
    for key in ("ros_distro", "custom_data"):
        info.pop(key, None)
    meta_path.write_text(yaml.safe_dump(meta))


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_empty_storage_identifier_is_detected_from_the_files(tmp_path, storage):
    store = get_typestore()
    bag = tmp_path / "bag"
    with BagWriter(bag, storage=storage) as writer:
        writer.add_topic("/events", "event_camera_msgs/msg/EventPacket")
        for i in range(3):
            writer.write("/events", 1000 + i, _packet(store, "event_camera_msgs/msg/EventPacket", 1000 + i, i))
    _as_driver_wrote_it(bag)
    info = bag_info(bag)
    assert info["version"] == 5 and info["storage"] == f"{storage} (detected)" and info["message_count"] == 3
    assert [m.msg.seq for m in read_bag(bag)] == [0, 1, 2]


def test_ros2idl_embedded_definitions_register_unknown_types():
    from rosbags.typesys.store import Typestore

    from had_tracker.ros_io.bag import IDL_SEPARATOR, _embedded_types

    idl = (
        f'{IDL_SEPARATOR}\nIDL: test_msgs/msg/Blob\n#include "builtin_interfaces/msg/Time.idl"\n\n'
        "module test_msgs {\n  module msg {\n    struct Blob {\n      builtin_interfaces::msg::Time stamp;\n"
        "      uint32 width;\n      sequence<uint8> data;\n    };\n  };\n};\n\n"
        f"{IDL_SEPARATOR}\nIDL: builtin_interfaces/msg/Time\n\nmodule builtin_interfaces {{\n  module msg {{\n"
        "    struct Time {\n      int32 sec;\n      uint32 nanosec;\n    };\n  };\n};\n"
    )
    types = _embedded_types(idl, "test_msgs/msg/Blob")
    assert {"test_msgs/msg/Blob", "builtin_interfaces/msg/Time"} <= set(types)
    store = Typestore()
    store.register(types)
    blob_type, time_type = store.types["test_msgs/msg/Blob"], store.types["builtin_interfaces/msg/Time"]
    raw = store.serialize_cdr(
        blob_type(stamp=time_type(sec=1, nanosec=2), width=7, data=np.arange(3, dtype=np.uint8)), "test_msgs/msg/Blob"
    )
    back = store.deserialize_cdr(raw, "test_msgs/msg/Blob")
    assert back.width == 7 and back.data.tolist() == [0, 1, 2]


def test_real_driver_mcap_bag_version5_empty_storage_ros2idl():
    """libcaer_driver's DAVIS346 recording: metadata v5, storage_identifier "", ros2idl schemas in the mcap."""
    from rosbags.typesys import Stores
    from rosbags.typesys import get_typestore as rosbags_typestore

    from had_tracker.events.bag_events import iter_bag_events

    bag = shared_data("ros2_davis346_apriltag_libcaer_cmp")
    info = bag_info(bag)
    assert (info["version"], info["storage"], info["message_count"]) == (5, "mcap (detected)", 100)
    messages = list(read_bag(bag))
    assert len(messages) == 100 and {m.msg.encoding for m in messages} == {"libcaer_cmp"}
    assert (messages[0].msg.width, messages[0].msg.height) == (346, 260)
    assert sum(len(chunk.decoded.events) for chunk in iter_bag_events(bag)) == 571_266  # the recording's known total
    # A store without event_camera_msgs reads the same messages from the bag's own ros2idl schemas.
    plain = rosbags_typestore(Stores.ROS2_HUMBLE)
    assert "event_camera_msgs/msg/EventPacket" not in plain.fielddefs
    from_idl = [m.msg for m in read_bag(bag, typestore=plain)]
    assert [(m.seq, m.time_base, bytes(m.events)) for m in from_idl[:5]] == [
        (m.msg.seq, m.msg.time_base, bytes(m.msg.events)) for m in messages[:5]
    ]
