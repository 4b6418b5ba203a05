"""Arrays of event structs (``dvs_msgs/EventArray``, ``dv_ros2_msgs/EventArray``, ``prophesee_event_msgs``).

Each ROS 2 ``Event`` is ``uint16 x, uint16 y, builtin_interfaces/Time ts, bool polarity``. In CDR the
first event of the sequence packs into 13 bytes (x@0, y@2, sec@4, nanosec@8, polarity@12) and every
later one sits on a 16-byte stride (x@0, y@2, 2 pad bytes, sec@6, nanosec@10, polarity@14, counted
from 14 bytes after the first). :func:`parse_event_array_cdr` reads them as numpy structured views of
the serialized buffer, never one Python object per event. Event time is ``ts`` (sec, nanosec) as the
driver wrote it (host-based for rpg_dvs_ros / dv-ros2), in ns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from had_tracker.errors import DecodeError
from had_tracker.events.container import Events

EVENT_ARRAY_TYPES = (
    "dvs_msgs/msg/EventArray",
    "dv_ros2_msgs/msg/EventArray",
    "prophesee_event_msgs/msg/EventArray",
)
_CDR_BE, _CDR_LE = 0x00, 0x01
_FIRST_EVENT_BYTES = 13
_EVENT_STRIDE = 16


@dataclass(frozen=True)
class EventArrayData:
    """A parsed event-struct array: header stamp/frame, geometry, events (out-of-geometry dropped)."""

    stamp_ns: int
    frame_id: str
    width: int
    height: int
    events: Events
    dropped_out_of_geometry: int = 0


def _event_dtype(order: str, first: bool) -> np.dtype:
    ts = 4 if first else 6
    return np.dtype(
        {
            "names": ["x", "y", "sec", "nanosec", "polarity"],
            "formats": [order + "u2", order + "u2", order + "i4", order + "u4", "u1"],
            "offsets": [0, 2, ts, ts + 4, ts + 8],
            "itemsize": ts + 9,
        }
    )


def _filter_geometry(t, x, y, p, width: int, height: int) -> tuple[Events, int]:
    if width and height:
        inside = (x < width) & (y < height)
        dropped = int(len(inside) - np.count_nonzero(inside))
        if dropped:
            t, x, y, p = t[inside], x[inside], y[inside], p[inside]
    else:
        dropped = 0
    return Events.from_arrays(t, x, y, p, width, height), dropped


def parse_event_array_cdr(raw: bytes | bytearray | memoryview | np.ndarray) -> EventArrayData:
    """Parse a serialized (CDR, ROS 2) dvs/dv/prophesee ``EventArray`` without per-event objects.

    Raises DecodeError for a buffer that is too short for what its counts announce.
    """
    buf = raw if isinstance(raw, np.ndarray) else np.frombuffer(memoryview(raw).cast("B"), np.uint8)
    buf = buf.reshape(-1).view(np.uint8)
    if len(buf) < 4 or buf[1] not in (_CDR_BE, _CDR_LE):
        raise DecodeError("event array: not a plain CDR buffer (bad encapsulation header)")
    order = "<" if buf[1] == _CDR_LE else ">"
    data = buf[4:]  # CDR alignment is relative to the end of the encapsulation header
    u32 = np.dtype(order + "u4")

    def read_u32(off: int) -> int:
        if off + 4 > len(data):
            raise DecodeError(f"event array truncated: {len(data)} bytes, need more than {off + 4}")
        return int(data[off : off + 4].view(u32)[0])

    sec = read_u32(0)
    sec -= (sec >> 31) << 32  # int32 stamp.sec (np.int32() of a Python int >= 2**31 raises in NumPy 2)
    nanosec = read_u32(4)
    str_len = read_u32(8)
    if 12 + str_len > len(data):
        raise DecodeError(f"event array truncated inside frame_id ({str_len} bytes announced)")
    frame_id = bytes(data[12 : 12 + max(str_len - 1, 0)]).decode("utf-8", errors="replace")
    off = (12 + str_len + 3) & ~3
    height = read_u32(off)
    width = read_u32(off + 4)
    n = read_u32(off + 8)
    base = off + 12
    need = base + (_EVENT_STRIDE * n - 3 if n else 0)
    if need > len(data):
        raise DecodeError(f"event array truncated: {n} events announced need {need} bytes, buffer has {len(data)}")
    t = np.empty(n, np.int64)
    x = np.empty(n, np.uint16)
    y = np.empty(n, np.uint16)
    p = np.empty(n, np.uint8)
    if n:
        views = [(slice(0, 1), np.ndarray((1,), _event_dtype(order, True), buffer=data, offset=base))]
        if n > 1:
            rest = np.ndarray(
                (n - 1,), _event_dtype(order, False), buffer=data, offset=base + 14, strides=(_EVENT_STRIDE,)
            )
            views.append((slice(1, n), rest))
        for sl, view in views:
            t[sl] = view["sec"].astype(np.int64) * 1_000_000_000 + view["nanosec"]
            x[sl] = view["x"]
            y[sl] = view["y"]
            p[sl] = view["polarity"] != 0
    events, dropped = _filter_geometry(t, x, y, p, width, height)
    return EventArrayData(sec * 1_000_000_000 + nanosec, frame_id, width, height, events, dropped)


def events_from_event_array(msg: Any) -> EventArrayData:
    """Convert an already-deserialized dvs/dv/prophesee ``EventArray`` (rclpy or rosbags message).

    The per-event objects already exist, so this reads their fields in bulk list comprehensions;
    prefer :func:`parse_event_array_cdr` on the raw bytes (bags: ``BagMessage.raw``) when available.
    """
    evs = msg.events
    n = len(evs)
    x = np.fromiter((e.x for e in evs), np.uint16, n)
    y = np.fromiter((e.y for e in evs), np.uint16, n)
    p = np.fromiter((bool(e.polarity) for e in evs), np.uint8, n)
    sec = np.fromiter((e.ts.sec for e in evs), np.int64, n)
    nanosec = np.fromiter((e.ts.nanosec for e in evs), np.int64, n)
    width, height = int(msg.width), int(msg.height)
    events, dropped = _filter_geometry(sec * 1_000_000_000 + nanosec, x, y, p, width, height)
    stamp = msg.header.stamp
    return EventArrayData(
        int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec), str(msg.header.frame_id), width, height, events, dropped
    )
