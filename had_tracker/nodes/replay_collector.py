"""What the replay evaluator node does without ROS: collect tracks and ground truth, write the report.

No rclpy here. The report is the one ``had-tracker replay`` writes (:func:`had_tracker.evaluation.replay.replay_bag`):
the same ground-truth handling (:class:`GroundTruthTrack`, scored from the first estimate on), the same estimate
times (an event tracker's estimate counts from its window end, the ``had_msgs/Track`` stamp; see
:func:`~had_tracker.evaluation.harness.estimate_time_ns`), the same metrics, plots and file names.
The annotated RGB frame strip comes from the frames handed to :meth:`ReplayCollector.add_image` (a bounded sample
spread over the whole replay, since its length is unknown while it runs); the event-frame strip is left out
(the evaluator does not see the events). Latency is the tracker's wall-time ``latency_ms``, never a difference of
header stamps (those stay in the bag's clock).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.evaluation.harness import TrackLog
from had_tracker.evaluation.metrics import DEFAULT_CONVENTION, evaluate_sequence, headline, summarize
from had_tracker.evaluation.replay import GroundTruthTrack, safe_name, write_frame_strip
from had_tracker.ros_io.event_window import track_msg_to_result

TRACKER_NAME = "HAD student"  # the name replay_bag gives our tracker
MAX_TRACKS = 10_000_000
MAX_GROUND_TRUTH = 10_000_000
STRIP_FRAMES = 8  # as had-tracker replay's default strip
PIPELINE_NODES = ("synchronizer", "tracker")  # /diagnostics statuses kept for the report (by name)
_DROP_KEY_PREFIXES = ("drop_", "image_drop_", "lost_", "errors_")


def diagnostic_level(level: Any) -> int:
    """A DiagnosticStatus level as an int (rclpy gives the ``byte`` field as ``bytes``)."""
    if isinstance(level, (bytes, bytearray)):
        return int.from_bytes(level, "little")
    return int(level)


def drop_counts(values: dict[str, str], every_counter: bool = False) -> dict[str, int]:
    """The non-zero integer counters of a diagnostics status: drops, losses and errors (``every_counter``: all).

    Rates, ratios and "unknown" are left out.
    """
    counts = {}
    for key, value in values.items():
        if key.startswith("drop_ratio_") or not (every_counter or key.startswith(_DROP_KEY_PREFIXES)):
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if number:
            counts[key] = number
    return counts


class ReplayCollector:
    """Tracks and ground-truth boxes of one replayed sequence (one target)."""

    def __init__(self, tracker_name: str = TRACKER_NAME) -> None:
        self.tracker_name = tracker_name
        self._results: dict[int, Any] = {}  # window end -> TrackResult
        self.gt = GroundTruthTrack()
        self.target_id: int | None = None
        self.counts = {"tracks": 0, "gt_messages": 0, "images": 0}
        self._frames: list[tuple[int, Any]] = []  # (stamp, RGB image), every _frame_stride-th image
        self._frame_stride = 1
        self.dropped = {"tracks_duplicate": 0, "tracks_other_target": 0, "tracks_overflow": 0, "gt_overflow": 0}
        # Messages the middleware lost before they arrived, per input (None: the rmw does not report losses).
        self.lost_in_transport: dict[str, int | None] = {}
        # The newest /diagnostics status of each pipeline node: {"synchronizer": {"level", "message", "values"}}.
        self.pipeline: dict[str, dict[str, Any]] = {}
        self.data_ages_ms: list[float] = []  # Track.data_age_ms of the kept tracks (finite ones; bounded like them)

    def add_diagnostic_status(self, name: str, level: Any, message: str, values: dict[str, str]) -> bool:
        """Keep the newest status of the synchronizer / tracker (named ``<ns>/<node>: synchronizer`` etc.)."""
        kind = str(name).rsplit(":", 1)[-1].strip()
        if kind not in PIPELINE_NODES:
            return False
        self.pipeline[kind] = {"level": diagnostic_level(level), "message": str(message), "values": dict(values)}
        return True

    def add_track(self, msg: Any) -> bool:
        """Record one had_msgs/Track; False (counted) for another target, a repeated window or overflow."""
        result = track_msg_to_result(msg)
        if self.target_id is None:
            self.target_id = int(result.target_id)
        elif int(result.target_id) != self.target_id:
            self.dropped["tracks_other_target"] += 1
            return False
        end = int(result.window_end_ns)
        if end in self._results:
            self.dropped["tracks_duplicate"] += 1
            return False
        if len(self._results) >= MAX_TRACKS:
            self.dropped["tracks_overflow"] += 1
            return False
        self._results[end] = result
        self.counts["tracks"] += 1
        age = float(getattr(msg, "data_age_ms", math.nan))
        if math.isfinite(age) and age != 0.0:  # NaN: unknown; 0: tracks written without a host clock
            self.data_ages_ms.append(age)
        return True

    def data_age(self) -> dict[str, Any] | None:
        """p50/p99/max of the tracks' data age [ms] (publication - newest event used, host clock), or None."""
        if not self.data_ages_ms:
            return None
        ages = np.asarray(self.data_ages_ms, float)
        return {
            "p50_ms": float(np.percentile(ages, 50)),
            "p99_ms": float(np.percentile(ages, 99)),
            "max_ms": float(ages.max()),
            "tracks": len(ages),
        }

    def add_ground_truth(self, msg: Any) -> None:
        """Record one had_msgs/GroundTruth."""
        if len(self.gt.t_ns) >= MAX_GROUND_TRUTH:
            self.dropped["gt_overflow"] += 1
            return
        self.counts["gt_messages"] += 1
        self.gt.add(msg)

    def add_image(self, stamp_ns: int, rgb: Any) -> None:
        """Offer one RGB frame for the annotated strip; at most ``4 * STRIP_FRAMES`` are held at any time.

        ``rgb`` is the ``(H, W, 3)`` uint8 frame, or a function returning it (called only for kept frames, so
        the others are never converted). Every ``stride``-th frame is kept; when the store is full every other
        one is dropped and the stride doubles, so the kept frames stay evenly spread over the replay however
        long it runs.
        """
        index = self.counts["images"]
        self.counts["images"] += 1
        if index % self._frame_stride:
            return
        self._frames.append((int(stamp_ns), rgb() if callable(rgb) else rgb))
        if len(self._frames) >= 4 * STRIP_FRAMES:
            self._frames = self._frames[::2]
            self._frame_stride *= 2

    def strip_frames(self) -> list[tuple[int, Any]]:
        """``STRIP_FRAMES`` of the kept frames, evenly spaced, in time order."""
        if len(self._frames) <= STRIP_FRAMES:
            return list(self._frames)
        picks = np.linspace(0, len(self._frames) - 1, STRIP_FRAMES).round().astype(int)
        return [self._frames[i] for i in picks]

    @property
    def num_tracks(self) -> int:
        """Tracks recorded."""
        return len(self._results)

    def track_log(self) -> TrackLog:
        """The tracks in window order as a TrackLog, each valid from its window end."""
        log = TrackLog(self.tracker_name)
        for end in sorted(self._results):
            log.add(self._results[end], end)
        return log

    def write_report(
        self,
        out_dir: str | Path,
        bag_name: str,
        source: dict[str, Any],
        convention: str = DEFAULT_CONVENTION,
        title: str | None = None,
    ) -> dict[str, Any]:
        """Write predictions, ground truth, plots and ``report.json``/``report.md`` into ``out_dir``; return the report."""
        from had_tracker.evaluation.plots import plot_precision, plot_success
        from had_tracker.evaluation.report import new_report, write_report

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        report = new_report(title or f"Replay of {bag_name}", convention, source)
        report["replay"] = {**self.counts, **{f"dropped_{k}": v for k, v in self.dropped.items()}}
        files: dict[str, str] = {}
        log = self.track_log()
        start_ns = log.t_ns[0] if len(log) else None
        gt_t, gt_boxes, gt_absent = self.gt.arrays(start_ns)
        if len(gt_t):
            rows = ["t_ns,x,y,w,h,present"] + [
                f"{t},{','.join(repr(float(v)) for v in b)},{int(not a)}"
                for t, b, a in zip(gt_t, gt_boxes, gt_absent, strict=True)
            ]
            (out_dir / "gt.csv").write_text("\n".join(rows) + "\n")
            files["ground_truth"] = "gt.csv"
        metrics_ok = len(gt_t) > 0
        entry: dict[str, Any] = {"timing": log.timing(), "overall": None, "per_sequence": []}
        entry["files"] = {"predictions": log.save(out_dir / f"predictions_{safe_name(self.tracker_name)}.csv").name}
        summaries = {}
        if not len(log):
            report["notes"].append(f"{self.tracker_name}: never started (no track received)")
        elif metrics_ok:
            result = evaluate_sequence(log.boxes_at(gt_t), gt_boxes, gt_absent, convention=convention, name=bag_name)
            summary = summarize([result], convention)
            summaries[self.tracker_name] = summary
            entry["overall"] = headline(summary)
            entry["per_sequence"] = [{"name": bag_name, **result.scalars()}]
            entry["curves"] = {k: v for k, v in summary.items() if isinstance(v, list)}
        entry["data_age"] = self.data_age()
        if entry["data_age"] is not None:
            age = entry["data_age"]
            report["notes"].append(
                f"data age (publication - newest event used, ROS clock): p50 {age['p50_ms']:.1f} ms, "
                f"p99 {age['p99_ms']:.1f} ms over {age['tracks']} tracks"
            )
        report["trackers"][self.tracker_name] = entry
        report["metrics_available"] = bool(summaries)
        if not metrics_ok:
            why = "no ground truth was received" if not self.gt.t_ns else "no ground truth after the start"
            report["notes"].append(f"Metrics unavailable: {why}; predictions and timing only.")
        if any(self.dropped.values()):
            report["notes"].append("dropped: " + ", ".join(f"{k} {v}" for k, v in self.dropped.items() if v))
        report["replay"].update({f"lost_{k}": v for k, v in self.lost_in_transport.items()})
        lost = {k: v for k, v in self.lost_in_transport.items() if v}
        if lost:
            report["notes"].append(
                "lost in transport (never received, so not scored): " + ", ".join(f"{k} {v}" for k, v in lost.items())
            )
        elif None in self.lost_in_transport.values():
            report["notes"].append("the rmw implementation does not report lost messages: transport losses unknown")
        for kind, status in sorted(self.pipeline.items()):
            # as ``had-tracker replay`` reports the synchronizer's stats under "sync"; the tracker's under "replay"
            counts = drop_counts(status["values"])
            if kind == "synchronizer":
                every = drop_counts(status["values"], every_counter=True)
                report["sync"] = {"diagnostics_level": status["level"], "diagnostics": status["message"], **every}
            else:
                report["replay"].update({f"{kind}_{k}": v for k, v in counts.items()})
            if counts:
                listed = ", ".join(f"{k} {v}" for k, v in counts.items())
                report["notes"].append(f"{kind} (its last /diagnostics): {listed}")
        if not self.pipeline:
            report["notes"].append("no /diagnostics from the synchronizer or tracker: their drops are unknown")
        kept = self.strip_frames()
        if kept:
            gt = (gt_t, gt_boxes, gt_absent) if metrics_ok else None
            files["frames"] = write_frame_strip(kept, gt, {self.tracker_name: log}, out_dir / "frames.png").name
        report["notes"].append("ROS replay: no event-frame strip (the evaluator does not receive the events).")
        if summaries:
            files["success_plot"] = plot_success(summaries, out_dir / "success.png", f"Success — {bag_name}").name
            files["precision_plot"] = plot_precision(
                summaries, out_dir / "precision.png", f"Precision — {bag_name}"
            ).name
        report["files"] = files
        write_report(report, out_dir)
        return report
