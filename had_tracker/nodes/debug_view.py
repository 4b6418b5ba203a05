"""The debug image users look at in rviz (it has no 2D-detection display): events and/or RGB with the box drawn.

Pure numpy/OpenCV, no rclpy. Events are painted by polarity (ON blue, OFF red, in BGR) with one vectorised
scatter; the box colour tells the state (tracking green, lost red, initialising yellow).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

SOURCES = ("events", "rgb", "overlay")
_STATE_COLOURS_BGR = {0: (0, 215, 255), 1: (0, 200, 0), 2: (0, 0, 230)}
_STATE_NAMES = {0: "init", 1: "tracking", 2: "lost"}
_ON_BGR = np.array([255, 128, 0], np.uint8)
_OFF_BGR = np.array([0, 0, 255], np.uint8)


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
        canvas = np.ascontiguousarray(rgb[:, :, ::-1])  # RGB -> BGR, a copy
        if source == "overlay":
            canvas = (canvas.astype(np.uint16) * 3 // 5).astype(np.uint8)
    else:
        canvas = np.zeros((height, width, 3), np.uint8)
    if source != "rgb" or rgb is None:
        _paint_events(canvas, x, y, polarity)
    if box_xywh is not None:
        _draw_box(canvas, box_xywh, state, score, target_id)
    return canvas


def _paint_events(canvas: np.ndarray, x: np.ndarray, y: np.ndarray, polarity: np.ndarray) -> None:
    height, width = canvas.shape[:2]
    x = np.asarray(x, np.int64)
    y = np.asarray(y, np.int64)
    on = np.asarray(polarity).astype(bool)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    canvas[y[inside & on], x[inside & on]] = _ON_BGR
    canvas[y[inside & ~on], x[inside & ~on]] = _OFF_BGR


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
