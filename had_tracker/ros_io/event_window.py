"""Duck-typed conversion: ``AlignedSample`` <-> had_msgs/EventWindow, ``TrackResult`` -> had_msgs/Track.

``sample_to_window_msg`` / ``result_to_track_msg`` write into an existing message instance by field name, so the same code fills
an rclpy message (``EventWindow()`` from ``had_msgs.msg``) and a rosbags one (``default_msg(store, ...)``).
Array fields take the container type the instance already holds: ``array.array`` for rclpy (its fast,
checked-once path), numpy for rosbags. ``window_msg_to_sample`` reads either kind zero-copy.
"""

from __future__ import annotations

import array
from typing import Any

import numpy as np

from had_tracker.errors import DecodeError
from had_tracker.events.container import Events
from had_tracker.sync.synchronizer import AlignedSample
from had_tracker.tracking.result import TrackResult, TrackState

EVENT_WINDOW_TYPE = "had_msgs/msg/EventWindow"
TRACK_TYPE = "had_msgs/msg/Track"
_TYPECODES = {np.dtype(np.uint8): "B", np.dtype(np.uint16): "H", np.dtype(np.uint32): "I"}


def set_time(time_msg: Any, ns: int) -> None:
    """Write ``ns`` into an existing builtin_interfaces/Time (floor division for negative times)."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    time_msg.sec = sec
    time_msg.nanosec = nanosec


def _time_ns(time_msg: Any) -> int:
    return int(time_msg.sec) * 1_000_000_000 + int(time_msg.nanosec)


def _like(current: Any, values: np.ndarray) -> Any:
    """``values`` in the container type the field holds: numpy (rosbags), bytes, else array.array (rclpy).

    rclpy's setters take an ``array.array`` of the right typecode as is (no per-element check) and reject
    numpy arrays for unbounded sequences, so anything that is not numpy or bytes gets an ``array.array``.
    """
    values = np.ascontiguousarray(values)
    if isinstance(current, np.ndarray):
        return values
    if isinstance(current, (bytes, bytearray)):
        return values.tobytes()
    code = _TYPECODES[values.dtype]
    if array.array(code).itemsize != values.dtype.itemsize:  # exotic platforms
        return array.array(code, values.tolist())
    return array.array(code, values.tobytes())


def _as_numpy(values: Any, dtype: np.dtype) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(dtype, copy=False)
    if isinstance(values, (array.array, bytes, bytearray, memoryview)):
        return np.frombuffer(values, dtype=dtype) if len(values) else np.empty(0, dtype)
    return np.asarray(values, dtype=dtype)


def _fill_rgb8_image(msg: Any, image: np.ndarray, stamp_ns: int, frame_id: str = "") -> Any:
    """Fill an existing sensor_msgs/Image with an (H, W, 3) uint8 RGB array as ``rgb8``."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    set_time(msg.header.stamp, stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = int(image.shape[1] * 3)
    msg.data = _like(msg.data, image.reshape(-1))
    return msg


def sample_to_window_msg(
    sample: AlignedSample, msg: Any, include_image: bool = True, frame_id: str | None = None
) -> Any:
    """Fill an existing had_msgs/EventWindow ``msg`` from an aligned sample and return it.

    Events must be time ordered and lie in ``[window_start, window_start + 4.29 s]`` (uint32 ``dt_ns``).
    ``include_image=False`` leaves the RGB frame out (``has_image`` false) to keep the message small.
    """
    events = sample.events
    start = int(sample.window_start_ns)
    dt = events.t - np.int64(start)
    if len(dt) and (dt[0] < 0 or dt[-1] > np.iinfo(np.uint32).max):
        raise ValueError(
            f"event times [{int(events.t[0])}, {int(events.t[-1])}] do not fit a uint32 offset from window start {start}"
        )
    frame = sample.frame_id if frame_id is None else frame_id
    set_time(msg.header.stamp, sample.window_end_ns)
    msg.header.frame_id = frame
    msg.seq = int(sample.seq)
    set_time(msg.window_start, start)
    set_time(msg.window_end, sample.window_end_ns)
    msg.width, msg.height = int(events.width), int(events.height)
    msg.dt_ns = _like(msg.dt_ns, dt.astype(np.uint32))
    msg.x = _like(msg.x, events.x.astype(np.uint16, copy=False))
    msg.y = _like(msg.y, events.y.astype(np.uint16, copy=False))
    msg.polarity = _like(msg.polarity, events.p.astype(np.uint8, copy=False))
    msg.dropped_events = int(min(sample.dropped_events, np.iinfo(np.uint32).max))
    msg.lost_packets = int(min(sample.lost_packets, np.iinfo(np.uint32).max))
    host = sample.newest_event_host_ns or 0
    set_time(msg.newest_event_host, host if 0 <= host < 2**31 * 1_000_000_000 else 0)  # Time.sec is int32
    msg.has_image = bool(include_image and sample.image is not None)
    if msg.has_image:
        stamp = sample.image_stamp_ns if sample.image_stamp_ns is not None else sample.window_end_ns
        _fill_rgb8_image(msg.image, sample.image, stamp, frame)
        msg.image_offset_ns = int(stamp - sample.window_end_ns)
    else:
        msg.image_offset_ns = 0
    return msg


def make_window_msg(
    typestore: Any, sample: AlignedSample, include_image: bool = True, frame_id: str | None = None
) -> Any:
    """A rosbags had_msgs/EventWindow built from a sample (for bags and tests)."""
    from had_tracker.ros_io.msgs import default_msg

    return sample_to_window_msg(sample, default_msg(typestore, EVENT_WINDOW_TYPE), include_image, frame_id)


def image_from_msg(msg: Any) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array from a sensor_msgs/Image in ``rgb8``, ``bgr8`` or ``mono8``."""
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    data = _as_numpy(msg.data, np.uint8)
    channels = {"rgb8": 3, "bgr8": 3, "mono8": 1}.get(msg.encoding)
    if channels is None:
        raise DecodeError(f"EventWindow image encoding {msg.encoding!r} unsupported here (rgb8, bgr8, mono8)")
    if step < w * channels or len(data) < h * step:
        raise DecodeError(f"image data too short: {len(data)} bytes for {h}x{w} {msg.encoding}, step {step}")
    rows = data[: h * step].reshape(h, step)[:, : w * channels].reshape(h, w, channels)
    if msg.encoding == "bgr8":
        rows = rows[:, :, ::-1]
    elif channels == 1:
        rows = np.repeat(rows, 3, axis=2)
    return np.ascontiguousarray(rows)


def window_msg_to_sample(msg: Any) -> AlignedSample:
    """An :class:`AlignedSample` from a had_msgs/EventWindow (rclpy or rosbags); arrays are views when possible."""
    start = _time_ns(msg.window_start)
    dt = _as_numpy(msg.dt_ns, np.uint32)
    x, y, p = _as_numpy(msg.x, np.uint16), _as_numpy(msg.y, np.uint16), _as_numpy(msg.polarity, np.uint8)
    if not (len(dt) == len(x) == len(y) == len(p)):
        raise DecodeError(
            f"EventWindow arrays differ in length: dt_ns={len(dt)}, x={len(x)}, y={len(y)}, polarity={len(p)}"
        )
    events = Events(dt.astype(np.int64) + np.int64(start), x, y, p, int(msg.width), int(msg.height))
    image, image_stamp = None, None
    if msg.has_image:
        image = image_from_msg(msg.image)
        image_stamp = _time_ns(msg.window_end) + int(msg.image_offset_ns)
    return AlignedSample(
        seq=int(msg.seq),
        window_start_ns=start,
        window_end_ns=_time_ns(msg.window_end),
        events=events,
        image=image,
        image_stamp_ns=image_stamp,
        dropped_events=int(msg.dropped_events),
        frame_id=str(msg.header.frame_id),
        newest_event_host_ns=_time_ns(msg.newest_event_host) or None,
        lost_packets=int(msg.lost_packets),
    )


def result_to_track_msg(result: TrackResult, msg: Any, frame_id: str = "", target_id: int | None = None) -> Any:
    """Fill an existing had_msgs/Track ``msg`` from a tracker result and return it."""
    set_time(msg.header.stamp, result.window_end_ns)
    msg.header.frame_id = frame_id
    msg.target_id = int(result.target_id if target_id is None else target_id)
    msg.state = int(TrackState(result.state))
    x, y, w, h = (float(v) for v in result.box_xywh)
    msg.box.x, msg.box.y, msg.box.width, msg.box.height = x, y, w, h
    msg.score = float(result.score)
    set_time(msg.window_start, result.window_start_ns)
    set_time(msg.window_end, result.window_end_ns)
    msg.num_events = int(result.num_events)
    msg.latency_ms = float(result.latency_ms)
    msg.unobserved = bool(getattr(result, "unobserved", False))
    return msg


def make_track_msg(typestore: Any, result: TrackResult, frame_id: str = "", target_id: int | None = None) -> Any:
    """A rosbags had_msgs/Track built from a result."""
    from had_tracker.ros_io.msgs import default_msg

    return result_to_track_msg(result, default_msg(typestore, TRACK_TYPE), frame_id, target_id)


def track_msg_to_result(msg: Any) -> TrackResult:
    """A :class:`TrackResult` from a had_msgs/Track (rclpy or rosbags)."""
    return TrackResult(
        box_xywh=np.array([msg.box.x, msg.box.y, msg.box.width, msg.box.height], dtype=np.float64),
        score=float(msg.score),
        state=TrackState(int(msg.state)),
        window_start_ns=_time_ns(msg.window_start),
        window_end_ns=_time_ns(msg.window_end),
        num_events=int(msg.num_events),
        latency_ms=float(msg.latency_ms),
        target_id=int(msg.target_id),
        unobserved=bool(getattr(msg, "unobserved", False)),  # older bags lack the field
    )
