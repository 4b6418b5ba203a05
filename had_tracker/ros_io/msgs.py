"""Build rosbags messages with defaults, and duck-typed time helpers that accept rclpy messages too."""

from __future__ import annotations

from typing import Any

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.typesys.store import Typestore

from had_tracker.ros_io.typestore import require_type

_NUMPY_BASE = {
    "bool": np.bool_,
    "int8": np.int8,
    "uint8": np.uint8,
    "byte": np.uint8,
    "char": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "float32": np.float32,
    "float64": np.float64,
}


def _default(store: Typestore, desc: tuple) -> Any:
    kind, detail = desc
    if kind == Nodetype.BASE:
        name = detail[0]
        if name == "string":
            return ""
        if name == "bool":
            return False
        if name in ("float32", "float64"):
            return 0.0
        return 0
    if kind == Nodetype.NAME:
        return default_msg(store, detail)
    sub, count = detail
    if sub[0] == Nodetype.BASE and sub[1][0] in _NUMPY_BASE:
        return np.zeros(count if kind == Nodetype.ARRAY else 0, dtype=_NUMPY_BASE[sub[1][0]])
    return [_default(store, sub) for _ in range(count if kind == Nodetype.ARRAY else 0)]


def default_msg(store: Typestore, msgtype: str) -> Any:
    """A message of ``msgtype`` with every field at its zero value (recursively)."""
    require_type(store, msgtype)
    fields = store.fielddefs[msgtype][1]
    return store.types[msgtype](**{name: _default(store, desc) for name, desc in fields})


def make_msg(store: Typestore, msgtype: str, **fields: Any) -> Any:
    """A ``msgtype`` message: the given fields, zero values for the rest; unknown field names raise."""
    msg = default_msg(store, msgtype)
    known = {name for name, _ in store.fielddefs[msgtype][1]}
    if unknown := sorted(set(fields) - known):
        raise TypeError(f"{msgtype} has no field(s) {unknown}; fields are {sorted(known)}")
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def time_to_ns(stamp: Any) -> int:
    """Nanoseconds of a ``builtin_interfaces/Time`` (rclpy or rosbags message)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_time(store: Typestore, ns: int) -> Any:
    """A rosbags ``builtin_interfaces/msg/Time`` for ``ns`` nanoseconds (floor division for negatives)."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return store.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)


def make_header(store: Typestore, stamp_ns: int, frame_id: str = "") -> Any:
    """A rosbags ``std_msgs/msg/Header``."""
    return store.types["std_msgs/msg/Header"](stamp=ns_to_time(store, stamp_ns), frame_id=frame_id)
