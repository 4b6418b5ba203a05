"""sensor_msgs/Image <-> numpy: every encoding, both byte orders, row padding, rclpy- and rosbags-style containers."""

from __future__ import annotations

import array
from types import SimpleNamespace

import numpy as np
import pytest

from had_tracker.errors import DecodeError
from had_tracker.ros_io.image import (
    encoding_layout,
    fill_image_msg,
    image_fields,
    image_to_numpy,
    to_bgr8,
    to_rgb8,
)
from had_tracker.ros_io.msgs import make_msg
from had_tracker.ros_io.typestore import get_typestore

ENCODINGS = [
    "bgr8", "rgb8", "bgra8", "rgba8", "mono8", "mono16", "rgb16", "bgr16", "rgba16", "bgra16",
    "8UC1", "8UC3", "8UC4", "16UC1", "16UC3", "16SC1", "32FC1", "32FC3", "64FC1", "bayer_rggb8", "yuv422",
]  # fmt: skip


def _random_pixels(encoding: str, height: int = 5, width: int = 7, seed: int = 0) -> np.ndarray:
    dtype, channels = encoding_layout(encoding)
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    if dtype.kind == "f":
        return rng.normal(size=shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def _rclpy_like_image(**fields) -> SimpleNamespace:
    """An object with sensor_msgs/Image fields whose ``data`` is an array.array('B'), as rclpy builds it."""
    msg = SimpleNamespace(height=0, width=0, encoding="", is_bigendian=0, step=0, data=array.array("B"))
    return fill_image_msg(msg, **fields) if fields else msg


@pytest.fixture(scope="module")
def store():
    return get_typestore("humble")


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("is_bigendian", [False, True])
@pytest.mark.parametrize("row_padding", [0, 3])
def test_round_trip_through_an_rclpy_style_message(encoding, is_bigendian, row_padding):
    pixels = _random_pixels(encoding)
    msg = _rclpy_like_image(pixels=pixels, encoding=encoding, is_bigendian=is_bigendian, row_padding=row_padding)
    assert isinstance(msg.data, array.array) and msg.data.typecode == "B"
    assert msg.step == pixels.shape[1] * pixels.itemsize * (1 if pixels.ndim == 2 else pixels.shape[2]) + row_padding
    assert len(msg.data) == msg.step * msg.height
    decoded = image_to_numpy(msg)
    assert decoded.dtype == pixels.dtype.newbyteorder("=") and decoded.shape == pixels.shape
    np.testing.assert_array_equal(decoded, pixels)


@pytest.mark.parametrize("encoding", ["rgb8", "mono16", "rgb16", "32FC1"])
@pytest.mark.parametrize("is_bigendian", [False, True])
def test_round_trip_through_rosbags_cdr(store, encoding, is_bigendian):
    pixels = _random_pixels(encoding, height=4, width=9, seed=1)
    msg = make_msg(store, "sensor_msgs/msg/Image")
    fill_image_msg(msg, pixels, encoding, is_bigendian=is_bigendian, row_padding=1)
    assert isinstance(msg.data, np.ndarray) and msg.data.dtype == np.uint8
    wire = store.serialize_cdr(msg, "sensor_msgs/msg/Image")
    back = store.deserialize_cdr(wire, "sensor_msgs/msg/Image")
    np.testing.assert_array_equal(image_to_numpy(back), pixels)


def test_big_endian_mono16_reads_the_documented_byte_order():
    """Independent of the encoder: bytes 0x01 0x02 are 0x0102 big-endian and 0x0201 little-endian."""
    raw = bytes([0x01, 0x02, 0xAB, 0xCD, 0xEE])  # two pixels + one padding byte
    big = SimpleNamespace(height=1, width=2, encoding="mono16", is_bigendian=1, step=5, data=raw)
    little = SimpleNamespace(height=1, width=2, encoding="mono16", is_bigendian=0, step=5, data=raw)
    assert image_to_numpy(big).tolist() == [[0x0102, 0xABCD]]
    assert image_to_numpy(little).tolist() == [[0x0201, 0xCDAB]]


def test_step_padding_bytes_are_skipped():
    rows = [bytes([1, 2, 3, 9, 9]), bytes([4, 5, 6, 9, 9])]  # 3 px mono8 + 2 padding bytes
    msg = SimpleNamespace(height=2, width=3, encoding="mono8", is_bigendian=0, step=5, data=b"".join(rows))
    assert image_to_numpy(msg).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_last_row_without_padding_is_accepted():
    msg = SimpleNamespace(height=2, width=2, encoding="mono8", is_bigendian=0, step=4, data=bytes([1, 2, 0, 0, 3, 4]))
    assert image_to_numpy(msg).tolist() == [[1, 2], [3, 4]]


def test_result_does_not_alias_the_message_buffer():
    msg = _rclpy_like_image(pixels=np.zeros((2, 2), np.uint8), encoding="mono8")
    out = image_to_numpy(msg)
    out[0, 0] = 7
    assert msg.data[0] == 0


def test_truncated_data_is_a_clear_error():
    msg = SimpleNamespace(height=4, width=4, encoding="rgb8", is_bigendian=0, step=12, data=bytes(40))
    with pytest.raises(DecodeError, match="truncated"):
        image_to_numpy(msg)


def test_step_shorter_than_a_row_is_a_clear_error():
    msg = SimpleNamespace(height=1, width=4, encoding="rgb8", is_bigendian=0, step=8, data=bytes(12))
    with pytest.raises(DecodeError, match="step"):
        image_to_numpy(msg)


def test_unsupported_encoding_names_the_supported_ones():
    msg = SimpleNamespace(height=1, width=1, encoding="nv21", is_bigendian=0, step=1, data=bytes(1))
    with pytest.raises(DecodeError, match="unsupported image encoding 'nv21'.*mono16"):
        image_to_numpy(msg)


def test_fallback_is_used_only_for_unknown_encodings():
    calls = []

    def fallback(msg):
        calls.append(msg.encoding)
        return np.full((1, 1), 5, np.uint8)

    unknown = SimpleNamespace(height=1, width=1, encoding="nv21", is_bigendian=0, step=1, data=bytes(1))
    known = SimpleNamespace(height=1, width=1, encoding="mono8", is_bigendian=0, step=1, data=bytes([3]))
    assert image_to_numpy(unknown, fallback=fallback).tolist() == [[5]]
    assert image_to_numpy(known, fallback=fallback).tolist() == [[3]]
    assert calls == ["nv21"]


def test_a_failing_fallback_becomes_a_decode_error():
    def broken(msg):
        raise AttributeError("_ARRAY_API not found")  # what a NumPy-1 cv_bridge binary says under NumPy 2

    unknown = SimpleNamespace(height=1, width=1, encoding="nv21", is_bigendian=0, step=1, data=bytes(1))
    with pytest.raises(DecodeError, match="fallback converter failed: _ARRAY_API"):
        image_to_numpy(unknown, fallback=broken)


def test_array_that_does_not_fit_the_encoding_is_rejected():
    with pytest.raises(DecodeError, match="does not fit"):
        image_fields(np.zeros((2, 2, 3), np.uint16), "rgb8")
    with pytest.raises(DecodeError, match="does not fit"):
        image_fields(np.zeros((2, 2), np.uint8), "bgr8")


def test_colour_conversions_reorder_and_scale():
    rgb = np.array([[[10, 20, 30]]], np.uint8)
    assert to_bgr8(rgb, "rgb8").tolist() == [[[30, 20, 10]]]
    assert to_rgb8(rgb[:, :, ::-1], "bgr8").tolist() == [[[10, 20, 30]]]
    assert to_bgr8(np.array([[0x1234]], np.uint16), "mono16").tolist() == [[[0x12, 0x12, 0x12]]]
    assert to_bgr8(np.array([[[1, 2, 3, 4]]], np.uint8), "rgba8").tolist() == [[[3, 2, 1]]]
    assert to_bgr8(np.zeros((4, 4), np.uint8), "bayer_rggb8").shape == (4, 4, 3)


@pytest.mark.parametrize("encoding", ["yuv422", "yuyv", "bayer_rggb8"])
def test_an_image_opencv_cannot_convert_is_a_decode_error(encoding):
    # An odd width for 4:2:2, or a Bayer frame with extra channels: OpenCV refuses; the nodes count a DecodeError.
    pixels = np.zeros((5, 7, 3), np.uint8)
    with pytest.raises(DecodeError, match=encoding):
        to_rgb8(pixels, encoding)
