"""The debug image users look at in rviz (it has no 2D-detection display): events and/or RGB with the box drawn.

Pure numpy/OpenCV, no rclpy. Events are painted by polarity (ON blue, OFF red, in BGR) with one vectorised
scatter; the box colour tells the state (tracking green, lost red, initialising yellow). Costs: see
bench/ros_messages.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

SOURCES = ("events", "rgb", "overlay")
_STATE_COLOURS_BGR = {0: (0, 215, 255), 1: (0, 200, 0), 2: (0, 0, 230)}
_STATE_NAMES = {0: "init", 1: "tracking", 2: "lost"}
_ON_BGR = (255, 128, 0)
_OFF_BGR = (0, 0, 255)
_LABEL_TO_BGR = np.zeros((1, 256, 3), np.uint8)
_LABEL_TO_BGR[0, 1], _LABEL_TO_BGR[0, 2] = _OFF_BGR, _ON_BGR


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
