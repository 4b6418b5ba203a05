"""Tracker behaviour with the SHIPPED student (not the stand-in): a stationary target, a vanishing one.

Events come from a small ESIM-like simulation: a 24 px checkered square on a flat background, rendered with
bilinear sub-pixel shifts every 1 ms; a pixel fires when its log intensity moved by the contrast threshold
since its last event; plus uniform background noise. Windows of 5 ms (200 Hz).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from had_tracker.events.container import Events
from had_tracker.sync.synchronizer import AlignedSample
from had_tracker.tracking.tracker import Tracker, TrackerConfig, TrackState

W, H, SIDE = 346, 260, 24
STEP_NS, WINDOW_NS = 1_000_000, 5_000_000


def _texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cells = rng.choice([0.15, 0.9], size=(4, 4))
    return cv2.resize(cells, (SIDE, SIDE), interpolation=cv2.INTER_NEAREST).astype(np.float32)


def simulate(positions: list[tuple[float, float] | None], noise_hz_per_px: float = 0.2, seed: int = 0) -> Events:
    """Events of the square at ``positions[i]`` (top-left, px; None = not visible) at step i (1 ms each)."""
    rng = np.random.default_rng(seed)
    tex = _texture(seed)
    log_bg = np.log(0.5)
    ref = np.full((H, W), log_bg, np.float32)
    c = 0.2
    ts, xs, ys, ps = [], [], [], []
    for i, pos in enumerate(positions):
        img = np.full((H, W), 0.5, np.float32)
        if pos is not None:
            m = np.float32([[1, 0, pos[0]], [0, 1, pos[1]]])
            mask = cv2.warpAffine(np.ones_like(tex), m, (W, H), flags=cv2.INTER_LINEAR)
            patch = cv2.warpAffine(tex, m, (W, H), flags=cv2.INTER_LINEAR)
            img = img * (1 - mask) + patch
        log = np.log(np.maximum(img, 1e-3))
        diff = log - ref
        y, x = np.nonzero(np.abs(diff) >= c)
        pol = (diff[y, x] > 0).astype(np.uint8)
        ref[y, x] += np.where(pol > 0, c, -c)
        n_noise = rng.poisson(noise_hz_per_px * W * H * 1e-3)
        x = np.concatenate([x, rng.integers(0, W, n_noise)])
        y = np.concatenate([y, rng.integers(0, H, n_noise)])
        pol = np.concatenate([pol, rng.integers(0, 2, n_noise).astype(np.uint8)])
        ts.append(i * STEP_NS + rng.integers(0, STEP_NS, len(x)))
        xs.append(x), ys.append(y), ps.append(pol)
    t = np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    cat = lambda a: np.concatenate(a)[order]  # noqa: E731
    return Events.from_arrays(t[order].astype(np.int64), cat(xs), cat(ys), cat(ps), W, H)


def run(events: Events, positions: list, n_windows: int, tracker: Tracker | None = None) -> list:
    tracker = tracker or Tracker(TrackerConfig())
    results = []
    for k in range(n_windows):
        t0, t1 = k * WINDOW_NS, (k + 1) * WINDOW_NS
        sample = AlignedSample(k, t0, t1, events.slice_time(t0, t1))
        if k == 3:
            x, y = positions[t1 // STEP_NS - 1]
            results.append(tracker.initialize(sample, (x, y, SIDE, SIDE)))
        elif k > 3:
            results.append(tracker.update(sample))
        else:
            tracker.push(sample)
    return results


def iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _moving(i: int, start=(80.0, 110.0), v=(0.12, 0.03)) -> tuple[float, float]:
    return (start[0] + v[0] * i, start[1] + v[1] * i)  # px per 1 ms step: 120 px/s, 30 px/s


def test_a_stationary_target_stays_held_and_is_reported_unobserved():
    moving_ms, still_ms = 300, 300
    positions = [_moving(min(i, moving_ms)) for i in range(moving_ms + still_ms)]
    results = run(simulate(positions), positions, (moving_ms + still_ms) // 5)
    stop = moving_ms // 5 - 4  # index of the first result after the target stops
    still = results[stop + 8 :]  # once the 20 ms history holds no motion
    truth = (*positions[-1], SIDE, SIDE)
    assert all(r.state == TrackState.TRACKING for r in results[1:])  # never LOST
    assert all(r.unobserved for r in still)
    assert all(iou(r.box_xywh, truth) > 0.5 for r in still)
    moving_ious = [iou(r.box_xywh, (*positions[(k + 5) * 5 - 1], SIDE, SIDE)) for k, r in enumerate(results[1:stop])]
    assert np.mean(moving_ious) > 0.5  # it was tracking before it stopped


def _vanish_and_return(jump: tuple[float, float], **config) -> None:
    """Visible 200 ms, gone 300 ms (moving on unseen), back for 200 ms, displaced by ``jump`` px."""
    before, gone, after = 200, 300, 200
    positions = [
        None if before <= i < before + gone else _moving(i) if i < before else tuple(np.add(_moving(i), jump))
        for i in range(before + gone + after)
    ]
    results = run(simulate(positions), positions, (before + gone + after) // 5, Tracker(TrackerConfig(**config)))
    gone_results = results[before // 5 - 4 + 6 : (before + gone) // 5 - 4]
    # while it is gone no window may claim an observed, confident estimate
    assert all(r.unobserved or r.state == TrackState.LOST for r in gone_results)
    first_back = (before + gone) // 5 - 4 + 20  # 100 ms after it returns
    back = results[first_back:]
    truths = [
        (*positions[(j + 4) * 5 - 1], SIDE, SIDE) for j in range(first_back, len(results))
    ]  # result j: window end (j + 4) x 5 ms
    assert all(r.state == TrackState.TRACKING and not r.unobserved for r in back)
    assert np.mean([iou(r.box_xywh, t) for r, t in zip(back, truths, strict=True)]) > 0.5


def test_a_24px_target_that_vanishes_for_300ms_is_flagged_then_reacquired():
    """Back where its motion carried it (36 px on, inside the local search crop)."""
    _vanish_and_return((0.0, 0.0))


@pytest.mark.xfail(
    strict=True,
    reason="shipped student (before the issue-14 retraining): in the whole-image search the 24 px target is ~9 px "
    "of the search input, smaller than its training crops show targets; its peak there reached 0.35 (measured), "
    "below reacquire_threshold 0.45, so the box stays held (unobserved)",
)
def test_a_24px_target_that_returns_far_away_is_found_by_the_whole_image_search():
    """Back 120 px from where its motion carried it: outside the local crop, only the global search sees it."""
    _vanish_and_return((120.0, 60.0))


def test_with_global_tiles_a_24px_target_that_returns_far_away_is_found():
    """The same return 120 px away: the global search's training-scale tiles (tracker.global_tiles) find it."""
    _vanish_and_return((120.0, 60.0), global_tiles=True)


def test_the_frozen_student_tracks_exactly_as_the_eager_one():
    import torch

    positions = [_moving(i) for i in range(150)]
    events = simulate(positions)
    frozen = Tracker(TrackerConfig(student_runtime="torch"))
    eager = Tracker(TrackerConfig(student_runtime="torch", freeze_student=False))
    a, b = run(events, positions, 30, frozen), run(events, positions, 30, eager)
    assert isinstance(frozen.student._frozen, torch.jit.ScriptModule) and eager.student._frozen is None
    assert (frozen.student.runtime, eager.student.runtime) == ("torchscript", "torch")
    np.testing.assert_allclose([r.box_xywh for r in a], [r.box_xywh for r in b], atol=1e-4)
    np.testing.assert_allclose([r.score for r in a], [r.score for r in b], atol=1e-5)


def test_the_onnxruntime_student_tracks_as_the_eager_one():
    pytest.importorskip("onnxruntime", reason="needs onnxruntime (a package requirement)")
    pytest.importorskip("onnx", reason="needs onnx (a package requirement)")
    positions = [_moving(i) for i in range(150)]
    events = simulate(positions)
    onnx = Tracker(TrackerConfig())  # auto: onnxruntime where installed
    eager = Tracker(TrackerConfig(student_runtime="torch", freeze_student=False))
    a, b = run(events, positions, 30, onnx), run(events, positions, 30, eager)
    assert onnx.student.runtime == "onnxruntime" and onnx.student.onnx is not None
    assert onnx.stats["model_runs"] == eager.stats["model_runs"] > 20
    np.testing.assert_allclose([r.box_xywh for r in a], [r.box_xywh for r in b], atol=1e-4)
    np.testing.assert_allclose([r.score for r in a], [r.score for r in b], atol=1e-5)
    assert [r.state for r in a] == [r.state for r in b]


def test_skipped_windows_feed_the_history_and_the_next_tracked_window_stays_on_target():
    """Overload catch-up (StaleWindowSkipper): 3 of every 4 windows only recorded; a 150 px/s target is held."""
    from had_tracker.nodes.session import InitRequest, TrackingSession
    from had_tracker.tracking.stale_windows import StaleWindowSkipper

    positions = [_moving(i, v=(0.12, 0.09)) for i in range(400)]
    events = simulate(positions)
    tracker = Tracker(TrackerConfig())
    session = TrackingSession(tracker, StaleWindowSkipper(max_age_ns=10_000_000, max_in_row=3))
    results = []
    for k in range(80):
        t0, t1 = k * WINDOW_NS, (k + 1) * WINDOW_NS
        if k == 3:
            session.request_init(InitRequest((*positions[t1 // STEP_NS - 1], SIDE, SIDE), 0))
        out = session.process(AlignedSample(k, t0, t1, events.slice_time(t0, t1)), 50_000_000)  # always stale
        results += [(t1, r) for r in out]
    assert session.skipped_stale == 57 and len(results) == 1 + 19  # the start, then every 4th of 76
    errors = [
        np.hypot(*(np.add(r.box_xywh[:2], SIDE / 2) - np.add(positions[t1 // STEP_NS - 1], SIDE / 2)))
        for t1, r in results[1:]
    ]
    assert all(r.state == TrackState.TRACKING for _, r in results)
    assert np.median(errors) < 3.0 and max(errors) < 8.0
