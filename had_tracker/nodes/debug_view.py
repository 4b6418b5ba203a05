"""The debug image users look at in rviz (it has no 2D-detection display): events and/or RGB with the box drawn.

Pure numpy/OpenCV, no rclpy. Events are painted by polarity (ON blue, OFF red, in BGR) with one vectorised
scatter; the box colour tells the state (tracking green, lost red, initialising yellow). Costs: see
bench/ros_messages.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

SOURCES = ("events", "rgb", "overlay")
_STATE_COLOURS_BGR = {0: (0, 215, 255), 1: (0, 200, 0), 2: (0, 0, 230)}
_STATE_NAMES = {0: "init", 1: "tracking", 2: "lost"}
_ON_BGR = (255, 128, 0)
_OFF_BGR = (0, 0, 255)
_LABEL_TO_BGR = np.zeros((1, 256, 3), np.uint8)
_LABEL_TO_BGR[0, 1], _LABEL_TO_BGR[0, 2] = _OFF_BGR, _ON_BGR


MAX_SIDE = 1280  # default cap on the debug image's longer side [px]


def debug_scale(width: int, height: int, max_side: int = MAX_SIDE) -> float | None:
    """The factor (<= 1) that fits a ``width`` x ``height`` image into ``max_side``; None for an invalid size.

    A window may declare any uint16 size: 0 x 0 (OpenCV raises on empty images) or 65535 x 65535 (12 GiB of
    bgr8); the debug image is drawn at most ``max_side`` px wide and high instead, or skipped.
    """
    width, height = int(width), int(height)
    if width <= 0 or height <= 0 or max_side <= 0:
        return None
    return min(1.0, float(max_side) / max(width, height))


class DebugView:
    """Renders the debug image of each window: bounded in size, keeping the last RGB frame between frames.

    Windows carry an RGB frame only now and then (the synchronizer attaches each frame to one window), so the
    newest frame is kept and drawn under the following windows until a newer one arrives, the image size
    changes, or it is older than ``rgb_max_age_ns`` (window time). Invalid sizes are skipped and counted in
    ``skipped``.
    """

    def __init__(self, max_side: int = MAX_SIDE, rgb_max_age_ns: int = 1_000_000_000) -> None:
        self.max_side = int(max_side)
        self.rgb_max_age_ns = int(rgb_max_age_ns)
        self.skipped: dict[str, int] = {}
        self._rgb: np.ndarray | None = None
        self._rgb_end_ns = 0

    def remember(self, sample: Any) -> None:
        """Keep the window's RGB frame, if it carries one (call for every window, rendered or not)."""
        image = getattr(sample, "image", None)
        if image is not None:
            self._rgb, self._rgb_end_ns = image, int(sample.window_end_ns)

    def rgb_for(self, sample: Any) -> np.ndarray | None:
        """The frame to draw under ``sample``: its own, else the kept one when it is recent and the same size."""
        own = getattr(sample, "image", None)
        rgb = own if own is not None else self._rgb
        if rgb is None or rgb.shape[:2] != (int(sample.height), int(sample.width)):
            return None
        if own is None and int(sample.window_end_ns) - self._rgb_end_ns > self.rgb_max_age_ns:
            return None
        return rgb

    def render(
        self,
        sample: Any,
        source: str = "overlay",
        box_xywh: Sequence[float] | None = None,
        state: int = 0,
        score: float = 0.0,
        target_id: int | None = None,
    ) -> np.ndarray | None:
        """The bgr8 debug image of ``sample`` (scaled to fit ``max_side``), or None (counted) for a bad size."""
        self.remember(sample)
        scale = debug_scale(sample.width, sample.height, self.max_side)
        if scale is None:
            reason = "invalid_size"
            self.skipped[reason] = self.skipped.get(reason, 0) + 1
            return None
        width, height = max(1, round(sample.width * scale)), max(1, round(sample.height * scale))
        rgb = self.rgb_for(sample)
        if rgb is not None and scale < 1.0:
            rgb = cv2.resize(np.ascontiguousarray(rgb, dtype=np.uint8), (width, height), interpolation=cv2.INTER_AREA)
        events = sample.events
        x, y = events.x, events.y
        if scale < 1.0:
            x = (np.asarray(x, np.float32) * scale).astype(np.int64)
            y = (np.asarray(y, np.float32) * scale).astype(np.int64)
            if box_xywh is not None:
                box_xywh = [float(v) * scale for v in box_xywh]
        return render_debug_image(
            width, height, x, y, events.p, rgb=rgb, source=source, box_xywh=box_xywh, state=state, score=score,
            target_id=target_id,
        )  # fmt: skip


def render_debug_image(
    width: int,
    height: int,
    x: np.ndarray,
    y: np.ndarray,
    polarity: np.ndarray,
    rgb: np.ndarray | None = None,
    source: str = "overlay",
    box_xywh: Sequence[float] | None = None,
    state: int = 0,
    score: float = 0.0,
    target_id: int | None = None,
) -> np.ndarray:
    """A (height, width, 3) bgr8 image: ``source`` = events | rgb | overlay (RGB dimmed, events on top).

    Without an RGB frame, ``rgb`` and ``overlay`` fall back to events on black. Events outside the image are
    ignored (the synchronizer already dropped and counted them).
    """
    if source not in SOURCES:
        raise ValueError(f"debug image source must be one of {SOURCES}, got {source!r}")
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"debug image size must be positive, got {width}x{height}")
    if rgb is not None and rgb.shape[:2] == (height, width) and source != "events":
        canvas = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2BGR)  # a new array
        if source == "overlay":
            canvas = cv2.convertScaleAbs(canvas, alpha=0.6)  # dim the frame so the events stand out
    else:
        canvas = np.zeros((height, width, 3), np.uint8)
    if source != "rgb" or rgb is None:
        _paint_events(canvas, x, y, polarity)
    if box_xywh is not None:
        _draw_box(canvas, box_xywh, state, score, target_id)
    return canvas


def _paint_events(canvas: np.ndarray, x: np.ndarray, y: np.ndarray, polarity: np.ndarray) -> None:
    # One scatter into a label image (0 none, 1 OFF, 2 ON; the last event at a pixel wins), then OpenCV colours it
    # and copies it over the canvas: numpy fancy-indexed colour writes cost ~10x more at 100 k events.
    height, width = canvas.shape[:2]
    x = np.asarray(x, np.int64)
    y = np.asarray(y, np.int64)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    label = np.zeros(height * width, np.uint8)
    label[y[inside] * width + x[inside]] = np.asarray(polarity)[inside].astype(bool).astype(np.uint8) + 1
    label = label.reshape(height, width)
    colours = cv2.LUT(cv2.merge([label, label, label]), _LABEL_TO_BGR)
    cv2.copyTo(colours, (label > 0).view(np.uint8), canvas)


def _draw_box(canvas: np.ndarray, box_xywh: Sequence[float], state: int, score: float, target_id: int | None) -> None:
    x, y, w, h = (float(v) for v in box_xywh)
    colour = _STATE_COLOURS_BGR.get(int(state), (255, 255, 255))
    thickness = max(1, round(min(canvas.shape[:2]) / 240))
    cv2.rectangle(canvas, (round(x), round(y)), (round(x + w), round(y + h)), colour, thickness)
    label = f"{_STATE_NAMES.get(int(state), state)} {score:.2f}"
    if target_id is not None:
        label = f"id {target_id} {label}"
    scale = max(0.35, min(canvas.shape[:2]) / 700)
    cv2.putText(canvas, label, (max(round(x), 0), max(round(y) - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1)
