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


def fill_box_markers(
    outline: Any, label: Any, track: Any, scale_m: float, frame_id: str, make_point: Any, lifetime_ns: int = 500_000_000
) -> tuple[Any, Any]:
    """Fill two visualization_msgs/Marker: the box outline (LINE_STRIP) and a label (TEXT_VIEW_FACING).

    The box lies in the z = 0 plane of ``frame_id`` with 1 px = ``scale_m`` metres (x right, y down, as the
    image). ``make_point()`` returns a new geometry_msgs/Point. Green while tracking, red otherwise.
    """
    green = int(track.state) == 1
    x0, y0 = float(track.box.x) * scale_m, float(track.box.y) * scale_m
    x1 = (float(track.box.x) + float(track.box.width)) * scale_m
    y1 = (float(track.box.y) + float(track.box.height)) * scale_m
    for marker, namespace, kind in ((outline, "had_tracker/box", 4), (label, "had_tracker/label", 9)):
        marker.header.stamp = track.header.stamp
        marker.header.frame_id = frame_id
        marker.ns, marker.id, marker.type, marker.action = namespace, 0, kind, 0  # LINE_STRIP / TEXT, ADD
        marker.pose.orientation.w = 1.0
        marker.color.r, marker.color.g, marker.color.b, marker.color.a = (
            (0.1, 0.9, 0.1, 1.0) if green else (0.9, 0.1, 0.1, 1.0)
        )
        marker.lifetime.sec, marker.lifetime.nanosec = divmod(int(lifetime_ns), 1_000_000_000)
    points = []
    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)):
        point = make_point()
        point.x, point.y, point.z = x, y, 0.0
        points.append(point)
    outline.points = points
    outline.scale.x = 2.0 * scale_m  # line width
    label.pose.position.x, label.pose.position.y = x0, y0 - 8.0 * scale_m
    label.scale.z = 12.0 * scale_m  # text height
    label.text = f"id {int(track.target_id)} {float(track.score):.2f}"
    return outline, label
