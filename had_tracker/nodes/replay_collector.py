"""What the replay evaluator node does without ROS: collect tracks and ground truth, score, write the report.

No rclpy here. Tracks (had_msgs/Track) go into the offline harness' :class:`TrackLog` and are scored with
:func:`had_tracker.evaluation.harness.score_log` (each ground-truth frame takes the estimate in force at its
time), so a bag gives the same numbers through ROS as through ``had-tracker replay``. Latency is the
tracker's wall-time ``latency_ms``, never a difference of header stamps (those stay in the bag's clock).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.evaluation.harness import TrackLog, score_log
from had_tracker.evaluation.metrics import DEFAULT_CONVENTION, summarize
from had_tracker.evaluation.report import new_report, write_report
from had_tracker.ros_io.event_window import track_msg_to_result
from had_tracker.ros_io.msgs import time_to_ns

MAX_GROUND_TRUTH = 10_000_000  # frames kept; more are dropped and counted


class ReplayCollector:
    """Tracks and ground-truth boxes of one replayed sequence (one target)."""

    def __init__(self, tracker_name: str = "student") -> None:
        self.log = TrackLog(tracker_name)
        self._gt: dict[int, tuple[bool, tuple[float, float, float, float]]] = {}
        self.target_id: int | None = None
        self.dropped = {"tracks_out_of_order": 0, "tracks_other_target": 0, "ground_truth_overflow": 0}

    def add_track(self, msg: Any) -> bool:
        """Record one had_msgs/Track; False (counted) when it is older than the last or of another target."""
        result = track_msg_to_result(msg)
        if self.target_id is None:
            self.target_id = int(result.target_id)
        elif int(result.target_id) != self.target_id:
            self.dropped["tracks_other_target"] += 1
            return False
        if self.log.t_ns and int(result.window_end_ns) <= self.log.t_ns[-1]:
            self.dropped["tracks_out_of_order"] += 1
            return False
        self.log.add(result)
        return True

    def add_ground_truth(self, msg: Any) -> None:
        """Record one had_msgs/GroundTruth (the latest message for a stamp wins)."""
        if len(self._gt) >= MAX_GROUND_TRUTH:
            self.dropped["ground_truth_overflow"] += 1
            return
        box = (float(msg.box.x), float(msg.box.y), float(msg.box.width), float(msg.box.height))
        self._gt[time_to_ns(msg.header.stamp)] = (bool(msg.present), box)

    @property
    def num_tracks(self) -> int:
        """Tracks recorded."""
        return len(self.log)

    def ground_truth(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(t_ns, boxes (N, 4), absent)`` from the first present frame on, in time order."""
        stamps = np.array(sorted(self._gt), dtype=np.int64)
        if not len(stamps):
            return stamps, np.zeros((0, 4)), np.zeros(0, bool)
        present = np.array([self._gt[int(t)][0] for t in stamps], dtype=bool)
        boxes = np.array([self._gt[int(t)][1] for t in stamps], dtype=np.float64).reshape(-1, 4)
        if not present.any():
            return stamps[:0], boxes[:0], present[:0]
        first = int(np.argmax(present))
        return stamps[first:], boxes[first:], ~present[first:]

    def build_report(
        self, sequence_name: str, source: dict[str, Any], convention: str = DEFAULT_CONVENTION
    ) -> dict[str, Any]:
        """The evaluation report (``had_tracker.evaluation.report`` layout) of what was collected."""
        report = new_report(f"had_tracker replay: {sequence_name}", convention, source)
        gt_t, gt_boxes, absent = self.ground_truth()
        entry: dict[str, Any] = {"overall": None, "per_sequence": [], "timing": self.log.timing(), "files": {}}
        if len(self.log) and len(gt_t):
            result = score_log(self.log, gt_t, gt_boxes, absent, convention=convention, name=sequence_name)
            entry["overall"] = summarize([result], convention)
            entry["per_sequence"] = [{"name": sequence_name, **result.scalars()}]
            report["metrics_available"] = True
        elif not len(gt_t):
            report["notes"].append("no ground truth was received: metrics are unavailable")
        if not len(self.log):
            report["notes"].append("no tracks were received: check that the tracker was initialised")
        if any(self.dropped.values()):
            report["notes"].append("dropped: " + ", ".join(f"{k} {v}" for k, v in self.dropped.items() if v))
        report["trackers"][self.log.name] = entry
        return report

    def write(
        self, out_dir: str | Path, sequence_name: str, source: dict[str, Any], convention: str = DEFAULT_CONVENTION
    ) -> tuple[Path, Path]:
        """Write predictions (CSV, full float precision) and the report (JSON + Markdown) into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        report = self.build_report(sequence_name, source, convention)
        predictions = self.log.save(out / "predictions.csv")
        report["trackers"][self.log.name]["files"]["predictions"] = predictions.name
        report["files"]["predictions"] = predictions.name
        return write_report(report, out)
