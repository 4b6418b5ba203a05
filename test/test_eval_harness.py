"""Harness, OpenCV baselines, plots and reports on a tiny hand-made sequence (a textured square moving right)."""

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from had_tracker.data.sequence import TrackingSequence
from had_tracker.errors import ConfigError
from had_tracker.evaluation.baselines import (
    OpenCVBaseline,
    available_baselines,
    event_count_image,
    parse_baseline_name,
)
from had_tracker.evaluation.harness import TrackLog, run_tracker, score_log, sequence_samples
from had_tracker.evaluation.metrics import summarize
from had_tracker.evaluation.plots import frame_strip, plot_precision, plot_success
from had_tracker.evaluation.report import new_report, write_report
from had_tracker.events.container import Events
from had_tracker.tracking.result import TrackResult, TrackState

W, H, N = 96, 72, 16


def moving_square_sequence() -> TrackingSequence:
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    frames, boxes, ts, ev = [], [], [], []
    for i in range(N):
        x, y = 10 + 3 * i, 20 + i
        img = np.full((H, W, 3), 40, np.uint8)
        img[y : y + 16, x : x + 16] = texture
        frames.append(img)
        boxes.append([x, y, 16, 16])
        t = i * 10_000_000
        ts.append(t)
        # events on the square's leading and trailing edges during the interval before this frame
        yy = np.arange(y, y + 16)
        for col, pol in ((x + 15, 1), (x, 0)):
            ev.append((np.full(16, t - 5_000_000), np.full(16, col), yy, np.full(16, pol)))
    t, x, y, p = (np.concatenate([e[k] for e in ev]) for k in range(4))
    order = np.argsort(t, kind="stable")
    events = Events.from_arrays(t[order], x[order], y[order], p[order], W, H)
    n = len(ts)
    return TrackingSequence(
        name="square",
        frames=frames,
        frame_t_ns=np.asarray(ts, np.int64),
        exposure_start_ns=np.asarray(ts, np.int64) - 1_000_000,
        exposure_end_ns=np.asarray(ts, np.int64),
        gt_boxes=np.asarray(boxes, float),
        absent=np.zeros(n, bool),
        width=W,
        height=H,
        events=events,
        attributes={"fast_motion": True},
    )


class StandStill:
    """A tracker that never moves: the harness must score it low."""

    def initialize(self, sample, box_xywh, target_id=0):
        self.box = np.asarray(box_xywh, float)
        return self.update(sample)

    def update(self, sample):
        return TrackResult(self.box, 1.0, TrackState.TRACKING, sample.window_start_ns, sample.window_end_ns, 0, 0.1)


def test_sequence_samples_cut_events_between_frames():
    seq = moving_square_sequence()
    samples = list(sequence_samples(seq))
    assert len(samples) == N
    assert sum(len(s.events) for s in samples) == len(seq.events)
    assert all(s.image.shape == (H, W, 3) for s in samples)
    assert samples[3].window_start_ns == seq.frame_t_ns[2] and samples[3].window_end_ns == seq.frame_t_ns[3]


def test_sequence_samples_at_an_event_window_rate_cut_each_frame_interval():
    seq = moving_square_sequence()  # frames every 10 ms
    whole = list(sequence_samples(seq))
    start = 3
    samples = list(sequence_samples(seq, window_ns=4_000_000, start=start))
    # the start frame whole (as without window_ns), then 3 windows per 10 ms interval, the last at the frame
    assert samples[0].window_end_ns == whole[start].window_end_ns and len(samples[0].events) == len(whole[start].events)
    assert samples[0].image is not None and samples[0].seq == start
    assert len(samples) == 1 + 3 * (N - 1 - start)
    later = samples[1:]
    assert all(b.window_start_ns == a.window_end_ns for a, b in zip(samples, later, strict=False))
    assert all(s.window_end_ns - s.window_start_ns <= 4_000_000 for s in later)
    with_image = [s for s in later if s.image is not None]
    assert [s.window_end_ns for s in with_image] == list(seq.frame_t_ns[start + 1 :])
    assert all(s.image_stamp_ns == s.window_end_ns for s in with_image)
    assert sum(len(s.events) for s in samples) == sum(len(s.events) for s in whole[start:])
    assert [s.seq for s in samples] == list(range(start, start + len(samples)))
    # without window_ns, start is the same as skipping the first frames
    plain = list(sequence_samples(seq, start=start))
    assert [(s.seq, s.window_start_ns, len(s.events)) for s in plain] == [
        (s.seq, s.window_start_ns, len(s.events)) for s in whole[start:]
    ]
    with pytest.raises(ValueError, match="window_ns"):
        next(sequence_samples(seq, window_ns=0))


def test_event_rate_windows_end_exactly_at_frames_with_epoch_time_stamps():
    """Host-clock stamps (~1.6e18 ns) are not exact in float64: the cut must be integer arithmetic."""
    seq = moving_square_sequence()
    offset = 1_589_163_148_725_216_123
    seq.frame_t_ns = np.asarray(seq.frame_t_ns, np.int64) + offset
    ev = seq.events
    seq.events = Events.from_arrays(ev.t + offset, ev.x, ev.y, ev.p, ev.width, ev.height)
    samples = list(sequence_samples(seq, window_ns=3_000_000))
    assert [s.window_end_ns for s in samples if s.image is not None] == list(seq.frame_t_ns)
    assert all(b.window_start_ns == a.window_end_ns for a, b in zip(samples, samples[1:], strict=False))
    assert sum(len(s.events) for s in samples) == len(seq.events)


def _mil_and_still_on_the_square() -> tuple[float, float, int, dict]:
    seq = moving_square_sequence()
    mil = run_tracker(OpenCVBaseline("mil", "rgb"), sequence_samples(seq), seq.gt_boxes[0], name="MIL")
    still = run_tracker(StandStill(), sequence_samples(seq), seq.gt_boxes[0], name="still")
    assert mil.box_array.dtype == np.float64
    r_mil = score_log(mil, seq.frame_t_ns, seq.gt_boxes, name="square")
    r_still = score_log(still, seq.frame_t_ns, seq.gt_boxes, name="square")
    return r_mil.scalars()["success_auc"], r_still.scalars()["success_auc"], len(mil), mil.timing()


def test_mil_tracks_the_square_on_rgb_and_beats_standing_still():
    assert "mil" in available_baselines()
    # In a fresh interpreter: OpenCV's MIL draws from per-thread RNG state that earlier tests in this process
    # may have advanced, and its SR on this square was 25 instead of 61 in a full fresh-clone run (never alone).
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        sr_mil, sr_still, n, timing = pool.submit(_mil_and_still_on_the_square).result(timeout=120)
    assert n == N
    # standing still: the square leaves its first box after ~5 frames (3 px/frame, 16 px box)
    assert sr_still < 30
    assert sr_mil > sr_still + 20
    assert timing["n_updates"] == N - 1 and timing["fps"] > 0 and timing["latency_ms_p95"] >= timing["latency_ms_p50"]


def test_event_baseline_runs_on_count_images():
    seq = moving_square_sequence()
    log = run_tracker(OpenCVBaseline("mil", "events"), sequence_samples(seq), seq.gt_boxes[0])
    assert len(log) == N and np.isfinite(log.box_array).all()
    img = event_count_image(seq.events.slice_time(0, 10_000_000), W, H)
    assert img.shape == (H, W, 3) and img.max() > 0 and img[0, 0, 0] == 0


def test_baseline_names_and_missing_contrib_trackers():
    assert parse_baseline_name("mil") == ("mil", "rgb")
    assert parse_baseline_name("CSRT-events") == ("csrt", "events")
    with pytest.raises(ConfigError, match="unknown baseline"):
        parse_baseline_name("siamrpn")
    for kind in ("kcf", "csrt"):
        if kind not in available_baselines():
            with pytest.raises(ConfigError, match="opencv-contrib"):
                OpenCVBaseline(kind)


def test_log_boxes_at_takes_the_estimate_in_force():
    log = TrackLog("x")
    for t, x in ((10, 1.0), (20, 2.0), (30, 3.0)):
        log.add(TrackResult(np.array([x, 0, 1, 1]), 1.0, TrackState.TRACKING, t - 10, t, 0, 1.0))
    np.testing.assert_allclose(log.boxes_at(np.array([5, 10, 19, 20, 99]))[:, 0], [1, 1, 1, 2, 3])


def test_report_and_plots_are_well_formed(tmp_path):
    seq = moving_square_sequence()
    log = run_tracker(OpenCVBaseline("mil", "rgb"), sequence_samples(seq), seq.gt_boxes[0], name="MIL")
    res = score_log(log, seq.frame_t_ns, seq.gt_boxes, name="square", attributes=seq.attributes)
    summary = summarize([res])
    report = new_report("unit", "pytracking", {"sequence": "square"})
    report["metrics_available"] = True
    report["trackers"]["MIL (rgb)"] = {
        "overall": {k: v for k, v in summary.items() if not isinstance(v, list)},
        "per_sequence": [{"name": "square", **res.scalars()}],
        "per_attribute": {"fast_motion": {"success_auc": summary["success_auc"], "precision_20": float("nan")}},
        "timing": log.timing(),
    }
    success = plot_success({"MIL (rgb)": summary}, tmp_path / "success.png")
    precision = plot_precision({"MIL (rgb)": summary}, tmp_path / "precision.png")
    strip = frame_strip(
        [seq.frames[i] for i in (0, 5, 10)],
        [seq.gt_boxes[i] for i in (0, 5, 10)],
        {"MIL": [log.boxes[i] for i in (0, 5, 10)]},
        tmp_path / "frames.png",
        labels=["#0", "#5", "#10"],
    )
    report["files"] = {"success_plot": success.name, "precision_plot": precision.name, "frames": strip.name}
    json_path, md_path = write_report(report, tmp_path)
    for p in (success, precision, strip):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(json_path.read_text())  # strict JSON: NaN written as null
    assert data["trackers"]["MIL (rgb)"]["per_attribute"]["fast_motion"]["precision_20"] is None
    md = md_path.read_text()
    assert "| MIL (rgb) |" in md and "![success_plot](success.png)" in md and "fast_motion" in md


def test_report_without_ground_truth_says_metrics_unavailable(tmp_path):
    report = new_report("no gt", "pytracking", {})
    report["trackers"]["student"] = {"overall": None, "timing": {"fps": 100.0, "n_updates": 3}}
    _, md_path = write_report(report, tmp_path)
    assert "Metrics unavailable" in md_path.read_text()


def test_log_boxes_at_handles_estimates_out_of_time_order():
    log = TrackLog("x")
    for t, x in ((10, 1.0), (9, 2.0), (20, 3.0), (20, 4.0)):
        log.add(TrackResult(np.array([x, 0, 1, 1]), 1.0, TrackState.TRACKING, 0, 0, 0, 1.0), t_ns=t)
    np.testing.assert_allclose(log.boxes_at(np.array([9, 10, 15, 20]))[:, 0], [2, 1, 1, 4])
