"""Decoded events from the event topics of a rosbag2 bag (no ROS needed).

``event_camera_msgs/EventPacket`` and ``event_array_msgs/EventArray`` go through one stateful decoder
per stream (:class:`DecoderRegistry`); dvs/dv/prophesee ``EventArray`` are parsed from their raw CDR.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from had_tracker.errors import BagError
from had_tracker.events.container import Triggers
from had_tracker.events.decoders import DecodedPacket, DecoderRegistry
from had_tracker.events.event_arrays import EVENT_ARRAY_TYPES, parse_event_array_cdr

PACKET_TYPES = ("event_camera_msgs/msg/EventPacket", "event_array_msgs/msg/EventArray")
EVENT_TYPES = PACKET_TYPES + EVENT_ARRAY_TYPES


@dataclass(frozen=True)
class BagEventChunk:
    """The events of one bag message: topic, type, encoding, bag receive time and header stamp [ns]."""

    topic: str
    msgtype: str
    encoding: str
    recv_ns: int
    stamp_ns: int
    width: int
    height: int
    decoded: DecodedPacket
    dropped_out_of_geometry: int = 0  # only for struct arrays; packet decoders count in their stats


def event_topics(path: str | Path) -> dict[str, str]:
    """Topic -> message type of every event topic in the bag."""
    from had_tracker.ros_io.bag import bag_info

    return {t["topic"]: t["msgtype"] for t in bag_info(path)["topics"] if t["msgtype"] in EVENT_TYPES}


def iter_bag_events(
    path: str | Path, topics: list[str] | None = None, registry: DecoderRegistry | None = None
) -> Iterator[BagEventChunk]:
    """Decode the bag's event messages in receive order (all event topics unless ``topics``)."""
    from had_tracker.ros_io.bag import read_bag
    from had_tracker.ros_io.msgs import time_to_ns

    available = event_topics(path)
    if topics is None:
        topics = sorted(available)
    elif bad := [t for t in topics if t not in available]:
        raise BagError(f"{path}: {bad} not event topics; event topics are {sorted(available)}")
    if not topics:
        return
    registry = registry if registry is not None else DecoderRegistry()
    for bm in read_bag(path, topics=topics):
        if bm.msgtype in PACKET_TYPES:
            msg = bm.msg
            decoded = registry.decode(bm.topic, msg)
            yield BagEventChunk(
                bm.topic, bm.msgtype, str(msg.encoding), bm.recv_ns, time_to_ns(msg.header.stamp),
                int(msg.width), int(msg.height), decoded,
            )  # fmt: skip
        else:
            arr = parse_event_array_cdr(bm.raw)
            yield BagEventChunk(
                bm.topic, bm.msgtype, "struct_array", bm.recv_ns, arr.stamp_ns, arr.width, arr.height,
                DecodedPacket(arr.events, Triggers.empty()), arr.dropped_out_of_geometry,
            )  # fmt: skip
