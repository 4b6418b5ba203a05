"""Starting a target from rviz (a clicked point, a 2D goal) or from a detector, without rclpy.

rviz shows the tracker's markers in the z = 0 plane of the window frame with 1 px = ``marker_scale_m`` metres
(x right, y down, as the image; :func:`had_tracker.ros_io.track_outputs.fill_box_markers`). A point picked in
that plane (rviz "Publish Point": geometry_msgs/PointStamped; "2D Goal Pose": geometry_msgs/PoseStamped) is
therefore a pixel, and starts a target of a default size centred on it. A vision_msgs/Detection2DArray (4.x
layout) starts the target from its highest-scoring detection. Messages are duck-typed (rclpy or rosbags).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from had_tracker.ros_io.track_outputs import box_from_detection

Box = tuple[float, float, float, float]


def box_around(center_x: float, center_y: float, size_wh: Sequence[float]) -> Box:
    """``(x, y, w, h)`` of a ``size_wh`` box centred on ``(center_x, center_y)``; ValueError if not finite/positive."""
    w, h = (float(v) for v in size_wh)
    cx, cy = float(center_x), float(center_y)
    if not all(math.isfinite(v) for v in (cx, cy, w, h)) or w <= 0 or h <= 0:
        raise ValueError(f"cannot centre a {w} x {h} box on ({cx}, {cy})")
    return cx - w / 2.0, cy - h / 2.0, w, h


def box_from_plane_point(point: Any, scale_m: float, size_wh: Sequence[float]) -> Box:
    """The box centred on a geometry_msgs/Point of the marker plane (metres -> pixels)."""
    if not scale_m > 0:
        raise ValueError(f"marker_scale_m must be > 0, got {scale_m}")
    return box_around(float(point.x) / scale_m, float(point.y) / scale_m, size_wh)


def frame_problem(frame_id: str, expected: Sequence[str]) -> str | None:
    """Why a point in ``frame_id`` cannot be read as a pixel (None when it can).

    Without tf the node can only use points given in the marker plane's own frame; an empty frame_id is taken
    to mean it. ``expected`` lists the acceptable frames (marker_frame_id and the newest window's frame).
    """
    names = [name for name in expected if name]
    if not frame_id or not names or frame_id in names:
        return None
    return (
        f"the point is in frame {frame_id!r}, the marker plane is {' / '.join(repr(n) for n in names)}: set rviz's "
        "Fixed Frame to the marker frame"
    )


def _detection_score(detection: Any) -> float:
    scores = [float(result.hypothesis.score) for result in getattr(detection, "results", ()) or ()]
    finite = [s for s in scores if math.isfinite(s)]
    return max(finite) if finite else -math.inf


def best_detection_box(array: Any, min_score: float = 0.0) -> tuple[Box, float, int] | None:
    """The box, score and index of the highest-scoring usable detection of a Detection2DArray (None: none).

    Detections without a hypothesis count with score -inf (the first of them wins when none has a score);
    a detection with a non-finite or non-positive size is skipped.
    """
    best: tuple[Box, float, int] | None = None
    for index, detection in enumerate(getattr(array, "detections", ()) or ()):
        try:
            box = box_from_detection(detection)
        except (AttributeError, TypeError, ValueError):
            continue
        if not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0:
            continue
        score = _detection_score(detection)
        if score != -math.inf and score < min_score:
            continue
        if best is None or score > best[1]:
            best = (box, score, index)
    return best
