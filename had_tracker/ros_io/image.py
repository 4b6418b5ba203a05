"""``sensor_msgs/Image`` <-> numpy in plain numpy (no cv_bridge), duck-typed for rclpy and rosbags messages.

Why not cv_bridge: its compiled module fails to import under NumPy 2 on some installs and its big-endian
path calls a method NumPy 2 removed. The passthrough layout is simple (``height`` rows of ``step`` bytes,
``width * channels`` samples each, byte order from ``is_bigendian``), so we read and write it here.
A caller that has cv_bridge may pass a ``fallback`` for encodings this module does not know.
"""

from __future__ import annotations

import array
import re
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from had_tracker.errors import DecodeError

# encoding -> (sample dtype, channels); the names of sensor_msgs/image_encodings.hpp.
_NAMED_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "mono8": (np.dtype(np.uint8), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgb8": (np.dtype(np.uint8), 3),
    "bgra8": (np.dtype(np.uint8), 4),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgr16": (np.dtype(np.uint16), 3),
    "rgb16": (np.dtype(np.uint16), 3),
    "bgra16": (np.dtype(np.uint16), 4),
    "rgba16": (np.dtype(np.uint16), 4),
    "bayer_rggb8": (np.dtype(np.uint8), 1),
    "bayer_bggr8": (np.dtype(np.uint8), 1),
    "bayer_gbrg8": (np.dtype(np.uint8), 1),
    "bayer_grbg8": (np.dtype(np.uint8), 1),
    "yuv422": (np.dtype(np.uint8), 2),  # UYVY
    "uyvy": (np.dtype(np.uint8), 2),
    "yuv422_yuy2": (np.dtype(np.uint8), 2),  # YUYV
    "yuyv": (np.dtype(np.uint8), 2),
}
_CV_TYPE = re.compile(r"^(8|16|32|64)([USF])C([1-4])$")
_CV_DTYPES = {
    ("8", "U"): np.uint8,
    ("8", "S"): np.int8,
    ("16", "U"): np.uint16,
    ("16", "S"): np.int16,
    ("32", "S"): np.int32,
    ("32", "F"): np.float32,
    ("64", "F"): np.float64,
}
# Conversions to bgr8 for encodings that are not plain channel reorders.
_CV2_TO_BGR = {
    "bayer_rggb8": cv2.COLOR_BayerBG2BGR,
    "bayer_bggr8": cv2.COLOR_BayerRG2BGR,
    "bayer_gbrg8": cv2.COLOR_BayerGR2BGR,
    "bayer_grbg8": cv2.COLOR_BayerGB2BGR,
    "yuv422": cv2.COLOR_YUV2BGR_UYVY,
    "uyvy": cv2.COLOR_YUV2BGR_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2BGR_YUYV,
    "yuyv": cv2.COLOR_YUV2BGR_YUYV,
}
# OpenCV names a Bayer pattern by its second row's second/third pixel, so ROS rggb is OpenCV BayerBG (as cv_bridge).

ImageFallback = Callable[[Any], np.ndarray]


def encoding_layout(encoding: str) -> tuple[np.dtype, int]:
    """The (native sample dtype, channel count) of an image encoding; DecodeError when it is not supported."""
    if encoding in _NAMED_ENCODINGS:
        return _NAMED_ENCODINGS[encoding]
    match = _CV_TYPE.match(encoding)
    if match and (match.group(1), match.group(2)) in _CV_DTYPES:
        return np.dtype(_CV_DTYPES[(match.group(1), match.group(2))]), int(match.group(3))
    supported = ", ".join(sorted(_NAMED_ENCODINGS)) + ", and <8|16|32|64><U|S|F>C<1-4> (e.g. 8UC3, 16UC1, 32FC1)"
    raise DecodeError(f"unsupported image encoding {encoding!r}; supported: {supported}")


def is_supported_encoding(encoding: str) -> bool:
    """True when :func:`image_to_numpy` can read ``encoding`` without a fallback."""
    try:
        encoding_layout(encoding)
    except DecodeError:
        return False
    return True


def _as_uint8_buffer(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).view(np.uint8).reshape(-1)
    if isinstance(data, (bytes, bytearray, memoryview, array.array)):
        return np.frombuffer(data, dtype=np.uint8)
    return np.asarray(data, dtype=np.uint8)  # a plain list of ints


def image_to_numpy(msg: Any, fallback: ImageFallback | None = None) -> np.ndarray:
    """The pixels of a ``sensor_msgs/Image`` as a new native-endian array, (H, W) or (H, W, C).

    Honours ``step`` (row padding) and ``is_bigendian``; the result never aliases the message buffer.
    Unknown encodings go to ``fallback(msg)`` when given (e.g. a cv_bridge conversion; any error it raises
    becomes a DecodeError), else DecodeError.
    Truncated data, a ``step`` shorter than a row, or zero-size images raise DecodeError.
    """
    encoding = str(msg.encoding)
    if not is_supported_encoding(encoding) and fallback is not None:
        try:
            return np.array(fallback(msg), copy=True)
        except Exception as exc:  # noqa: BLE001 - e.g. cv_bridge's CvBridgeError, or NumPy-ABI errors at call time
            raise DecodeError(f"image encoding {encoding!r}: the fallback converter failed: {exc}") from None
    dtype, channels = encoding_layout(encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise DecodeError(f"image has no pixels ({width}x{height}, encoding {encoding})")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise DecodeError(
            f"image step {step} B is shorter than one row ({width} px x {channels} ch x {dtype.itemsize} B)"
        )
    buffer = _as_uint8_buffer(msg.data)
    # The last row may omit its padding; anything shorter is a truncated message.
    needed = step * (height - 1) + row_bytes
    if buffer.size < needed:
        raise DecodeError(f"image data is truncated: {buffer.size} B, need {needed} B for {width}x{height} {encoding}")
    wire_dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<") if dtype.itemsize > 1 else dtype
    view = np.ndarray(
        shape=(height, width, channels),
        dtype=wire_dtype,
        buffer=buffer,
        strides=(step, channels * dtype.itemsize, dtype.itemsize),
    )
    pixels = view.astype(dtype.newbyteorder("="), copy=True)
    return pixels[:, :, 0] if channels == 1 else pixels


def image_fields(pixels: np.ndarray, encoding: str, *, is_bigendian: bool = False, row_padding: int = 0) -> dict:
    """The ``height, width, encoding, is_bigendian, step, data`` of an Image holding ``pixels``.

    ``data`` is ``bytes``; ``row_padding`` extra zero bytes end every row (``step`` grows by it).
    DecodeError when the array's dtype or channel count does not match ``encoding``.
    """
    dtype, channels = encoding_layout(encoding)
    pixels = np.asarray(pixels)
    shape_channels = 1 if pixels.ndim == 2 else (pixels.shape[2] if pixels.ndim == 3 else -1)
    if shape_channels != channels or pixels.dtype.newbyteorder("=") != dtype.newbyteorder("="):
        raise DecodeError(
            f"array of shape {pixels.shape} and dtype {pixels.dtype} does not fit encoding {encoding!r} "
            f"({channels} channel(s) of {dtype})"
        )
    if row_padding < 0:
        raise ValueError(f"row_padding must be >= 0, got {row_padding}")
    height, width = pixels.shape[:2]
    wire = pixels.astype(dtype.newbyteorder(">" if is_bigendian else "<"), copy=False)
    rows = np.ascontiguousarray(wire).view(np.uint8).reshape(height, -1)
    if row_padding:
        rows = np.concatenate([rows, np.zeros((height, row_padding), np.uint8)], axis=1)
    return {
        "height": int(height),
        "width": int(width),
        "encoding": encoding,
        "is_bigendian": int(bool(is_bigendian)),
        "step": int(rows.shape[1]),
        "data": rows.tobytes(),
    }


def _container_like(current: Any, raw: bytes) -> Any:
    """``raw`` in the container type a message field already uses (rclpy: array.array('B'); rosbags: ndarray)."""
    if isinstance(current, array.array):
        return array.array("B", raw)
    if isinstance(current, np.ndarray):
        return np.frombuffer(raw, dtype=np.uint8).copy()
    if isinstance(current, list):
        return list(raw)
    return raw


def fill_image_msg(
    msg: Any, pixels: np.ndarray, encoding: str, *, is_bigendian: bool = False, row_padding: int = 0
) -> Any:
    """Write ``pixels`` into an existing Image message (rclpy or rosbags) and return it; the header is untouched."""
    fields = image_fields(pixels, encoding, is_bigendian=is_bigendian, row_padding=row_padding)
    msg.height, msg.width, msg.encoding = fields["height"], fields["width"], fields["encoding"]
    msg.is_bigendian = fields["is_bigendian"]
    msg.step = fields["step"]
    msg.data = _container_like(msg.data, fields["data"])
    return msg


def to_bgr8(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """A (H, W, 3) uint8 BGR copy of an image array in ``encoding``, for display (16-bit scaled by >> 8)."""
    if encoding in _CV2_TO_BGR:
        try:
            return cv2.cvtColor(np.ascontiguousarray(pixels), _CV2_TO_BGR[encoding])
        except cv2.error as exc:  # e.g. an odd width for a 4:2:2 encoding
            message = str(exc).strip().splitlines()[-1]
            raise DecodeError(f"cannot convert a {encoding} image of shape {pixels.shape}: {message}") from exc
    dtype, channels = encoding_layout(encoding)
    image = pixels if pixels.ndim == 3 else pixels[:, :, None]
    if dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif dtype != np.uint8:
        finite = np.nan_to_num(image.astype(np.float64))
        low, high = float(finite.min()), float(finite.max())
        image = ((finite - low) * (255.0 / (high - low if high > low else 1.0))).astype(np.uint8)
    if channels == 1:
        return np.repeat(image, 3, axis=2)
    if channels == 2:
        raise DecodeError(f"cannot show 2-channel encoding {encoding!r} as colour")
    if encoding.startswith(("rgb", "rgba")):
        return np.ascontiguousarray(image[:, :, 2::-1])
    return np.ascontiguousarray(image[:, :, :3])


def to_rgb8(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """A (H, W, 3) uint8 RGB copy of an image array in ``encoding`` (the channel order the models take)."""
    return np.ascontiguousarray(to_bgr8(pixels, encoding)[:, :, ::-1])
