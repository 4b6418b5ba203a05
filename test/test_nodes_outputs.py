"""What the nodes publish, built without ROS: Detection2D (vision_msgs 4.x), debug image, diagnostics, replay report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from had_tracker.nodes.debug_view import render_debug_image
from had_tracker.nodes.replay_collector import ReplayCollector
from had_tracker.ros_io.diagnostics import LatencyStats, RateMeter, SequenceGapCounter, format_value
from had_tracker.ros_io.event_window import make_track_msg
from had_tracker.ros_io.msgs import make_header, make_msg
from had_tracker.ros_io.track_outputs import box_from_detection, fill_detection
from had_tracker.ros_io.typestore import get_typestore
from had_tracker.tracking.result import TrackResult, TrackState


@pytest.fixture(scope="module", params=["humble", "jazzy"])
def store(request):
    return get_typestore(request.param)


def _result(t_ns: int, box=(10.0, 20.0, 30.0, 40.0), state=TrackState.TRACKING, score=0.8, target_id=4) -> TrackResult:
    return TrackResult(np.array(box), score, state, t_ns - 5_000_000, t_ns, 100, 2.5, target_id)


def _ground_truth(store, t_ns: int, box, present: bool = True, target_id: int = 4):
    gt = make_msg(store, "had_msgs/msg/GroundTruth", target_id=target_id, present=present)
    gt.header = make_header(store, t_ns, "cam")
    gt.box.x, gt.box.y, gt.box.width, gt.box.height = box
    return gt


def test_detection_uses_the_vision_msgs_4_layout_and_survives_cdr(store):
    track = make_track_msg(store, _result(2_000_000_000), frame_id="cam")
    detection = make_msg(store, "vision_msgs/msg/Detection2D")
    hypothesis = make_msg(store, "vision_msgs/msg/ObjectHypothesisWithPose")
    fill_detection(detection, hypothesis, track)
    array = make_msg(store, "vision_msgs/msg/Detection2DArray", header=track.header, detections=[detection])
    back = store.deserialize_cdr(
        store.serialize_cdr(array, "vision_msgs/msg/Detection2DArray"), "vision_msgs/msg/Detection2DArray"
    )
    (det,) = back.detections
    assert (det.bbox.center.position.x, det.bbox.center.position.y) == (25.0, 40.0)
    assert (det.bbox.size_x, det.bbox.size_y, det.bbox.center.theta) == (30.0, 40.0, 0.0)
    assert det.id == "4" and det.header.frame_id == "cam"
    assert det.results[0].hypothesis.class_id == "target" and det.results[0].hypothesis.score == pytest.approx(0.8)
    assert back.header.stamp.sec == 2 and back.header.stamp.nanosec == 0
    assert box_from_detection(det) == (10.0, 20.0, 30.0, 40.0)


def test_debug_image_paints_events_by_polarity_and_the_box_by_state():
    x = np.array([1, 2, 60], np.uint16)
    y = np.array([1, 2, 3], np.uint16)
    p = np.array([1, 0, 1], np.uint8)
    image = render_debug_image(64, 48, x, y, p, source="events")
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    assert image[1, 1].tolist() == [255, 128, 0] and image[2, 2].tolist() == [0, 0, 255]
    assert image[10, 10].tolist() == [0, 0, 0]
    boxed = render_debug_image(64, 48, x, y, p, source="events", box_xywh=(20, 10, 20, 20), state=1, score=0.9)
    assert boxed[10, 30].tolist() == [0, 200, 0]  # top edge of a tracking box is green
    lost = render_debug_image(64, 48, x, y, p, source="events", box_xywh=(20, 10, 20, 20), state=2)
    assert lost[10, 30].tolist() == [0, 0, 230]


def test_debug_image_sources_use_the_rgb_frame_when_there_is_one():
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :, 0] = 200  # red in RGB
    x, y, p = np.array([5], np.uint16), np.array([5], np.uint16), np.array([1], np.uint8)
    plain = render_debug_image(64, 48, x, y, p, rgb=rgb, source="rgb")
    assert plain[5, 5].tolist() == [0, 0, 200]  # BGR, and no events drawn on the rgb source
    overlay = render_debug_image(64, 48, x, y, p, rgb=rgb, source="overlay")
    assert overlay[0, 0].tolist() == [0, 0, 120] and overlay[5, 5].tolist() == [255, 128, 0]
    fallback = render_debug_image(64, 48, x, y, p, rgb=None, source="rgb")
    assert fallback[5, 5].tolist() == [255, 128, 0]  # no frame: events on black
    with pytest.raises(ValueError, match="source"):
        render_debug_image(64, 48, x, y, p, source="depth")


def test_diagnostic_helpers():
    meter = RateMeter(window_s=10.0)
    for i in range(11):
        meter.tick(now=100.0 + 0.1 * i)
    assert meter.rate_hz(now=101.0) == pytest.approx(10.0)
    assert meter.rate_hz(now=200.0) == 0.0 and meter.total == 11
    stats = LatencyStats(capacity=3)
    for value in (1.0, 2.0, 3.0, 100.0):
        stats.add(value)
    assert len(stats) == 3 and stats.percentile(50) == 3.0
    gaps = SequenceGapCounter()
    assert [gaps.observe(s) for s in (0, 1, 4, 5, 2)] == [0, 0, 2, 0, 0]
    assert gaps.missing == 2 and gaps.restarts == 1
    assert format_value(float("nan")) == "n/a" and format_value(1.23456) == "1.235" and format_value(3) == "3"


def test_replay_collector_scores_tracks_from_their_window_ends(store, tmp_path):
    from had_tracker.evaluation.harness import TrackLog
    from had_tracker.evaluation.metrics import evaluate_sequence

    collector = ReplayCollector()
    t0 = 1_000_000_000
    truth = [(t0 + i * 33_000_000, (10.0 + i, 20.0, 30.0, 40.0)) for i in range(10)]
    collector.add_ground_truth(_ground_truth(store, t0 - 33_000_000, (0, 0, 0, 0), present=False))
    for t, box in truth:
        collector.add_ground_truth(_ground_truth(store, t, box))
    offline = TrackLog("HAD student")
    results = [_result(t0 + 2_000_000 + i * 5_000_000, box=(10.0 + i * 5 / 33, 20.0, 30.0, 40.0)) for i in range(60)]
    for result in reversed(results):  # arrival order does not matter: the log is rebuilt in window order
        collector.add_track(make_track_msg(store, result, "cam"))
    for result in results:
        offline.add(result)
    assert not collector.add_track(make_track_msg(store, results[0], "cam"))  # same window again
    assert not collector.add_track(make_track_msg(store, _result(9_000_000_000, target_id=9), "cam"))
    assert collector.track_log().t_ns == offline.t_ns

    report = collector.write_report(tmp_path, "seq0", {"bag": "synthetic"})
    gt_t, gt_boxes, absent = collector.gt.arrays(offline.t_ns[0])
    assert gt_t[0] == truth[1][0]  # scored from the first estimate on, as replay_bag does
    expected = evaluate_sequence(offline.boxes_at(gt_t), gt_boxes, absent, name="seq0")
    entry = report["trackers"]["HAD student"]
    assert report["metrics_available"] is True
    assert entry["overall"]["success_auc"] == pytest.approx(expected.success_auc)
    assert entry["timing"]["n_updates"] == 59
    notes = " ".join(report["notes"])
    assert "tracks_duplicate 1" in notes and "tracks_other_target 1" in notes
    assert (tmp_path / "predictions_had_student.csv").read_text().count("\n") == 61
    assert {"report.json", "report.md", "gt.csv", "success.png", "precision.png"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert json.loads((tmp_path / "report.json").read_text())["title"] == "Replay of seq0"


def test_replay_collector_without_ground_truth_still_reports(store, tmp_path):
    collector = ReplayCollector()
    collector.add_track(make_track_msg(store, _result(1_000_000_000), "cam"))
    report = collector.write_report(tmp_path, "seq", {})
    assert report["metrics_available"] is False and report["trackers"]["HAD student"]["overall"] is None
    assert any("no ground truth was received" in note for note in report["notes"])
    assert json.loads((tmp_path / "report.json").read_text())["metrics_available"] is False


def test_replay_collector_reports_messages_lost_in_transport(store, tmp_path):
    collector = ReplayCollector()
    collector.add_track(make_track_msg(store, _result(1_000_000_000), "cam"))
    collector.lost_in_transport = {"tracks": 0, "ground_truth": 3}
    report = collector.write_report(tmp_path / "lost", "seq", {})
    assert report["replay"]["lost_ground_truth"] == 3 and report["replay"]["lost_tracks"] == 0
    assert any("lost in transport" in note and "ground_truth 3" in note for note in report["notes"])

    collector.lost_in_transport = {"tracks": None, "ground_truth": None}  # the rmw cannot tell
    report = collector.write_report(tmp_path / "unknown", "seq", {})
    assert report["replay"]["lost_ground_truth"] is None
    assert any("transport losses unknown" in note for note in report["notes"])


def test_replay_report_includes_the_synchronizer_and_tracker_drops(store, tmp_path):
    """issue 18.4: the ROS replay report shows what the pipeline dropped (from the nodes' last /diagnostics)."""
    collector = ReplayCollector()
    collector.add_track(make_track_msg(store, _result(1_000_000_000), "cam"))
    report = collector.write_report(tmp_path / "none", "seq", {})
    assert any("drops are unknown" in note for note in report["notes"])

    sync_values = {"events": "353511", "drop_late": "261195", "drop_outside_image": "0", "lost_event_packets": "12",
                   "events_rate_hz": "950.250", "drop_ratio_events": "0.740", "offset_ns": "unknown"}  # fmt: skip
    assert collector.add_diagnostic_status("/synchronizer_node: synchronizer", b"\x02", "74% dropped", sync_values)
    assert collector.add_diagnostic_status("ns/tracker_node: tracker", 0, "tracking", {"errors_windows": "2"})
    assert not collector.add_diagnostic_status("/other_node: camera", 0, "ok", {"drop_x": "5"})
    report = collector.write_report(tmp_path / "drops", "seq", {})
    assert report["sync"] == {
        "diagnostics_level": 2, "diagnostics": "74% dropped", "events": 353511, "drop_late": 261195,
        "lost_event_packets": 12,
    }  # fmt: skip
    assert report["replay"]["tracker_errors_windows"] == 2
    notes = " ".join(report["notes"])
    assert "drop_late 261195" in notes and "lost_event_packets 12" in notes and "errors_windows 2" in notes
    markdown = (tmp_path / "drops" / "report.md").read_text()
    assert "## Synchronizer" in markdown and "drop_late: 261195" in markdown


def test_box_markers_fill_real_marker_fields_and_survive_cdr(store):
    from had_tracker.ros_io.track_outputs import fill_box_markers

    track = make_track_msg(store, _result(3_000_000_000, box=(100.0, 50.0, 20.0, 10.0)), frame_id="cam")
    outline, label = fill_box_markers(
        make_msg(store, "visualization_msgs/msg/Marker"),
        make_msg(store, "visualization_msgs/msg/Marker"),
        track,
        0.01,
        "cam_optical",
        lambda: make_msg(store, "geometry_msgs/msg/Point"),
    )
    markers = make_msg(store, "visualization_msgs/msg/MarkerArray", markers=[outline, label])
    back = store.deserialize_cdr(
        store.serialize_cdr(markers, "visualization_msgs/msg/MarkerArray"), "visualization_msgs/msg/MarkerArray"
    )
    box, text = back.markers
    assert box.type == 4 and text.type == 9 and box.action == 0  # LINE_STRIP, TEXT_VIEW_FACING, ADD
    corners = [(p.x, p.y) for p in box.points]
    np.testing.assert_allclose(corners, [(1.0, 0.5), (1.2, 0.5), (1.2, 0.6), (1.0, 0.6), (1.0, 0.5)])
    assert box.header.frame_id == "cam_optical" and box.header.stamp.sec == 3
    assert (box.color.g, box.color.a) == pytest.approx((0.9, 1.0)) and box.pose.orientation.w == 1.0
    assert (box.lifetime.sec, box.lifetime.nanosec) == (0, 500_000_000)
    assert text.text == "id 4 0.80" and text.ns != box.ns


def test_replay_collector_keeps_a_bounded_evenly_spread_frame_sample():
    from had_tracker.nodes.replay_collector import STRIP_FRAMES

    collector = ReplayCollector()
    for i in range(1000):
        collector.add_image(i * 1000, np.full((2, 2, 3), i % 256, np.uint8))
        assert len(collector._frames) < 4 * STRIP_FRAMES  # bounded however long the replay runs
    stamps = [t for t, _ in collector.strip_frames()]
    assert len(stamps) == STRIP_FRAMES and stamps == sorted(stamps)
    assert stamps[0] == 0 and stamps[-1] >= 900_000  # spread from the start to near the end
    assert collector.counts["images"] == 1000
    converted = []
    lazy = ReplayCollector()
    for i in range(100):  # a callable is only called for the frames that are kept
        lazy.add_image(i, lambda i=i: converted.append(i) or np.zeros((2, 2, 3), np.uint8))
    assert len(converted) < 100 and {t for t, _ in lazy._frames} <= set(converted)
