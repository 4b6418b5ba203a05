"""Tracker outputs as vision_msgs messages, duck-typed (rclpy or rosbags objects); Track: ros_io.event_window.

vision_msgs 4.x layout (Humble, Jazzy and later): ``bbox.center.position.x/y`` is the box centre in pixels,
``bbox.size_x/size_y`` its size, ``results[].hypothesis.class_id/score``, ``id`` the track id.
"""

from __future__ import annotations

from typing import Any

from had_tracker.ros_io.msgs import time_to_ns

TARGET_CLASS_ID = "target"


def fill_detection(detection: Any, hypothesis: Any, track: Any, class_id: str = TARGET_CLASS_ID) -> Any:
    """Write a had_msgs/Track into a vision_msgs/Detection2D and its ObjectHypothesisWithPose; return the detection."""
    box = track.box
    detection.header = track.header
    detection.bbox.center.position.x = float(box.x) + 0.5 * float(box.width)
    detection.bbox.center.position.y = float(box.y) + 0.5 * float(box.height)
    detection.bbox.center.theta = 0.0
    detection.bbox.size_x = float(box.width)
    detection.bbox.size_y = float(box.height)
    hypothesis.hypothesis.class_id = class_id
    hypothesis.hypothesis.score = float(track.score)
    detection.results = [hypothesis]
    detection.id = str(int(track.target_id))
    return detection


def box_from_detection(detection: Any) -> tuple[float, float, float, float]:
    """``(x, y, w, h)`` (top-left corner) of a vision_msgs 4.x Detection2D or BoundingBox2D."""
    bbox = getattr(detection, "bbox", detection)
    w, h = float(bbox.size_x), float(bbox.size_y)
    return float(bbox.center.position.x) - 0.5 * w, float(bbox.center.position.y) - 0.5 * h, w, h


def track_stamp_ns(track: Any) -> int:
    """The window-end stamp of a had_msgs/Track [ns]."""
    return time_to_ns(track.header.stamp)
