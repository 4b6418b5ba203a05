"""Tracker runtime: following a target, invalid boxes, empty windows, LOST and re-acquisition, teacher path.

The network is replaced by a transparent stand-in (event density pooled onto the score-map grid) so that
these tests pin the runtime — crops, representation, Hann window, box decoding, state machine — and
fail when any of it is broken, independently of how well a trained network tracks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from had_tracker.errors import ConfigError
from had_tracker.events.container import Events
from had_tracker.sync.synchronizer import AlignedSample
from had_tracker.tracking.tracker import Tracker, TrackerConfig, TrackState
from test.standin_models import DensityModel

W, H = 346, 260
WINDOW_NS = 5_000_000


def blob_sample(k: int, cx: float | None, cy: float | None, n: int = 400, seed: int = 0, image: bool = False):
    """Window k with n events around (cx, cy) (none when cx is None) plus sparse background noise."""
    rng = np.random.default_rng(seed * 100_003 + k)
    t0 = k * WINDOW_NS
    parts_x, parts_y = [rng.uniform(0, W, 10)], [rng.uniform(0, H, 10)]
    if cx is not None:
        parts_x.append(rng.normal(cx, 3.0, n))
        parts_y.append(rng.normal(cy, 3.0, n))
    x = np.clip(np.concatenate(parts_x), 0, W - 1)
    y = np.clip(np.concatenate(parts_y), 0, H - 1)
    t = np.sort(rng.integers(t0, t0 + WINDOW_NS, len(x)))
    events = Events.from_arrays(t, x, y, rng.integers(0, 2, len(x)), W, H)
    img = np.zeros((H, W, 3), np.uint8) if image else None
    return AlignedSample(k, t0, t0 + WINDOW_NS, events, img, t0 + WINDOW_NS if image else None)


def make_tracker(**overrides) -> tuple[Tracker, DensityModel]:
    model = DensityModel()
    return Tracker(TrackerConfig(**overrides), model=model), model


def centre(box) -> np.ndarray:
    return np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])


def test_tracker_follows_a_moving_target():
    tracker, model = make_tracker()
    result = tracker.initialize(blob_sample(0, 100, 120), (90, 110, 20, 20))
    assert result.state == TrackState.TRACKING
    for k in range(1, 60):
        cx, cy = 100 + 1.5 * k, 120 - 0.5 * k
        result = tracker.update(blob_sample(k, cx, cy))
    assert result.state == TrackState.TRACKING
    assert result.score > 0.5
    assert np.linalg.norm(centre(result.box_xywh) - [cx, cy]) < 6.0  # one score-map cell is 6.7 px here
    assert model.calls == 59
    assert result.window_end_ns == 60 * WINDOW_NS and result.num_events > 0 and result.latency_ms > 0


@pytest.mark.parametrize("centred", [True, False])
def test_the_search_crop_puts_the_box_centre_mid_cell_and_the_roi_covers_it(centred):
    tracker, _ = make_tracker(cell_centred_search=centred)
    tracker.initialize(blob_sample(0, 150, 120), (140, 110, 20, 20))
    cfg = tracker.student.cfg
    crop, mode = tracker._search_crop(cfg, W, H)
    cells = cfg.search_size // cfg.patch_size
    in_cells = (150.0 - crop.x0) / crop.side * cells, (120.0 - crop.y0) / crop.side * cells
    expected = cells // 2 + (0.5 if centred else 0.0)  # a cell's middle, or the corner of four cells
    assert mode == "local" and np.allclose(in_cells, expected, atol=cells / crop.side)  # 1 px of rounding
    roi = tracker.search_roi()
    assert roi.x_lo <= crop.x0 and roi.y_lo <= crop.y0
    assert roi.x_hi >= crop.x0 + crop.side and roi.y_hi >= crop.y0 + crop.side


def test_global_tiles_alternate_the_whole_image_with_training_scale_tiles_nearest_first():
    tracker, _ = make_tracker(global_tiles=True)
    tracker.initialize(blob_sample(0, 300, 60), (290, 50, 20, 20))
    cfg = tracker.student.cfg
    crops = [tracker._global_crop(cfg, W, H) for _ in range(8)]
    assert all(c.side == max(W, H) for c in crops[0::2])  # the whole image every other window
    tiles = crops[1::2]
    side = tiles[0].side
    assert all(c.side == side < 100 for c in tiles) and len({(c.x0, c.y0) for c in tiles}) == 4
    assert all(0 <= c.x0 <= W - side and 0 <= c.y0 <= H - side for c in tiles)
    distance = [np.hypot(c.x0 + side / 2 - 300, c.y0 + side / 2 - 60) for c in tiles]
    assert distance == sorted(distance) and distance[0] < side / 2  # the first tile holds the last box
    plain, _ = make_tracker()
    plain.initialize(blob_sample(0, 300, 60), (290, 50, 20, 20))
    assert all(plain._global_crop(cfg, W, H).side == max(W, H) for _ in range(4))


@pytest.mark.parametrize(
    "box", [(np.nan, 0, 10, 10), (10, 10, 0, 10), (10, 10, 10, -1), (400, 10, 10, 10), (-50, -50, 20, 20), (1, 2, 3)]
)
def test_invalid_boxes_are_refused(box):
    tracker, _ = make_tracker()
    with pytest.raises(ValueError):
        tracker.initialize(blob_sample(0, 100, 100), box)


def test_update_before_initialize_is_a_clear_error():
    tracker, _ = make_tracker()
    with pytest.raises(RuntimeError, match="initialize"):
        tracker.update(blob_sample(0, 100, 100))


def test_empty_windows_hold_the_box_flag_unobserved_and_never_turn_lost():
    """No events = no evidence (a target that stopped moving): hold the box, say so, do not decay to LOST."""
    tracker, model = make_tracker(lost_patience=5, lost_threshold=0.5, unobserved_search_after_ms=1000.0)
    tracker.initialize(blob_sample(0, 100, 100), (90, 90, 20, 20))
    box0 = tracker.update(blob_sample(1, 100, 100)).box_xywh
    calls = model.calls
    scores, states, flags = [], [], []
    for k in range(10, 22):  # later than the 20 ms event history: nothing left to look at
        empty = AlignedSample(k, k * WINDOW_NS, (k + 1) * WINDOW_NS, Events.empty(W, H))
        r = tracker.update(empty)
        scores.append(r.score)
        states.append(r.state)
        flags.append(r.unobserved)
        np.testing.assert_allclose(r.box_xywh, box0)
        assert r.num_events == 0
    assert model.calls == calls  # the model is skipped, not fed empty input
    assert all(b < a for a, b in zip(scores, scores[1:], strict=False))  # the estimate ages
    assert all(s == TrackState.TRACKING for s in states) and all(flags)
    assert tracker.stats["empty_windows"] == tracker.stats["unobserved_windows"] == 12
    r = tracker.update(blob_sample(22, 100, 100))  # it moves again
    assert not r.unobserved and r.state == TrackState.TRACKING


def clutter_sample(k: int, n: int = 500, seed: int = 0):
    """Window k without the target: n events scattered over the top-left 200 px (evidence, but no target)."""
    rng = np.random.default_rng(seed * 7919 + k)
    t0 = k * WINDOW_NS
    x, y = rng.uniform(0, 200, n), rng.uniform(0, 200, n)
    events = Events.from_arrays(np.sort(rng.integers(t0, t0 + WINDOW_NS, n)), x, y, rng.integers(0, 2, n), W, H)
    return AlignedSample(k, t0, t0 + WINDOW_NS, events)


def test_lost_target_is_reacquired_by_widened_then_global_search():
    tracker, _ = make_tracker(lost_patience=3, widen_windows=2, reacquire_threshold=0.9, lost_threshold=0.5)
    tracker.initialize(blob_sample(0, 60, 60), (50, 50, 20, 20))
    for k in range(1, 5):
        tracker.update(blob_sample(k, 60, 60))
    modes, states = [], []
    for k in range(5, 30):  # the target vanishes; the crop still sees events, none of them the target ...
        r = tracker.update(clutter_sample(k))
        modes.append(r.search_mode)
        states.append(r.state)
    assert TrackState.LOST in states
    assert "widened" in modes and "global" in modes
    for k in range(30, 40):  # ... and reappears far outside the local and widened search crops
        r = tracker.update(blob_sample(k, 280, 200))
    assert r.state == TrackState.TRACKING
    assert np.linalg.norm(centre(r.box_xywh) - [280, 200]) < 15.0


def test_a_target_gone_silent_and_back_elsewhere_is_found_by_the_unobserved_global_search():
    tracker, _ = make_tracker(unobserved_search_after_ms=15.0, reacquire_threshold=0.5)
    tracker.initialize(blob_sample(0, 60, 60), (50, 50, 20, 20))
    for k in range(1, 5):
        tracker.update(blob_sample(k, 60, 60))
    for k in range(5, 15):  # silent: held, unobserved (once the 20 ms history has no target left), never LOST
        r = tracker.update(blob_sample(k, None, None))
        assert r.state == TrackState.TRACKING and (r.unobserved or k < 9)
        assert (tracker.search_roi() is None) == r.unobserved  # the whole-image search needs every event
    for k in range(15, 20):  # back, far away
        r = tracker.update(blob_sample(k, 280, 200))
    assert tracker.stats["unobserved_reacquired"] == 1
    assert r.state == TrackState.TRACKING and not r.unobserved
    assert np.linalg.norm(centre(r.box_xywh) - [280, 200]) < 15.0


class GrowModel(nn.Module):
    """A stand-in that always predicts a box filling the search crop, centred (a network whose box runs away)."""

    def __init__(self) -> None:
        super().__init__()
        self.density = DensityModel()
        self.cfg = self.density.cfg

    def forward(self, *inputs):
        out = self.density(*inputs)
        out["size_map"] = torch.ones_like(out["size_map"])
        return out


def test_scale_changes_at_a_bounded_rate_per_second_of_sensor_time():
    """1.25x per window compounded to ~10x in 50 ms at 200 Hz; now the limit is per second of sensor time."""
    import torch  # noqa: F401

    tracker = Tracker(TrackerConfig(max_scale_rate=2.0, max_scale_change=1.25), model=GrowModel())
    tracker.initialize(blob_sample(0, 150, 120, n=2000), (140, 110, 20, 20))
    for k in range(1, 11):  # 10 windows of 5 ms = 50 ms
        r = tracker.update(blob_sample(k, 150, 120, n=2000))
    assert r.box_xywh[2] <= 20 * 2.0**0.05 * (1 + 1e-9)
    assert r.box_xywh[2] > 20.0  # it did grow, at the allowed rate


def test_the_scale_limit_counts_the_time_since_the_box_was_last_set():
    """A box held through empty windows may change as much as the elapsed sensor time allows when it moves again."""
    tracker = Tracker(
        TrackerConfig(max_scale_rate=2.0, max_scale_change=100.0, unobserved_fraction=0.0), model=GrowModel()
    )
    tracker.initialize(blob_sample(0, 150, 120, n=2000), (140, 110, 20, 20))
    for k in range(1, 101):  # 0.5 s without events: the box is held
        tracker.update(blob_sample(k, None, None))
    r = tracker.update(blob_sample(101, 150, 120, n=2000))
    assert r.box_xywh[2] > 20 * 2.0**0.4  # ~0.5 s of allowed change at once, not one window's 2**0.005
    assert r.box_xywh[2] <= 20 * 2.0 ** (101 * WINDOW_NS * 1e-9) * (1 + 1e-9)


class SquareModel(GrowModel):
    """Every box is a square a fifth of the search crop's side (a size head biased towards squares)."""

    def forward(self, *inputs):
        out = self.density(*inputs)
        out["size_map"] = torch.full_like(out["size_map"], 0.2)
        return out


def test_the_aspect_ratio_changes_at_most_2x_per_second_by_default_held_at_1_and_free_when_off():
    """A size head that predicts squares must not turn a 30x15 box square at once (the real car did)."""
    init = (135, 112.5, 30, 15)
    loose = dict(max_scale_rate=1e6, max_scale_change=100.0)
    default = Tracker(TrackerConfig(**loose), model=SquareModel())
    held = Tracker(TrackerConfig(**loose, max_aspect_rate=1.0), model=SquareModel())
    free = Tracker(TrackerConfig(**loose, max_aspect_rate=0.0), model=SquareModel())
    for tracker in (default, held, free):
        tracker.initialize(blob_sample(0, 150, 120, n=2000), init)
        for k in range(1, 6):
            r = tracker.update(blob_sample(k, 150, 120, n=2000))
        tracker.last = r
    aspect = {name: t.last.box_xywh[2] / t.last.box_xywh[3] for name, t in (("d", default), ("h", held), ("f", free))}
    assert TrackerConfig().max_aspect_rate == 2.0
    # five windows of sensor time: the aspect may fall by 2 ** (5 windows in s) at most, towards the square
    assert aspect["d"] == pytest.approx(2.0 / 2.0 ** (5 * WINDOW_NS * 1e-9))
    assert aspect["d"] < 2.0
    assert aspect["h"] == pytest.approx(2.0)
    assert aspect["f"] < 1.5


def test_a_box_never_grows_beyond_the_events_in_the_search_crop():
    tracker = Tracker(TrackerConfig(max_scale_rate=1e9, max_scale_change=100.0), model=GrowModel())
    rng = np.random.default_rng(0)
    for k in range(0, 6):
        t0 = k * WINDOW_NS
        x, y = rng.uniform(145, 155, 500), rng.uniform(115, 125, 500)  # a 10 px target, no noise
        ev = Events.from_arrays(np.sort(rng.integers(t0, t0 + WINDOW_NS, 500)), x, y, np.ones(500, int), W, H)
        sample = AlignedSample(k, t0, t0 + WINDOW_NS, ev)
        r = tracker.initialize(sample, (145, 115, 10, 10)) if k == 0 else tracker.update(sample)
    assert r.box_xywh[2] <= 11.0 and r.box_xywh[3] <= 11.0  # inclusive pixel extent of the events


def test_growth_is_bounded_by_the_extent_of_the_events_and_never_shrinks_a_side():
    from had_tracker.tracking.tracker import limit_growth_to_extent

    prev = np.array([100.0, 100.0, 10.0, 10.0])
    grown = np.array([90.0, 95.0, 30.0, 20.0])  # centre (105, 105)
    box = limit_growth_to_extent(grown, prev, (96, 109, 100, 104))  # extent 14 x 5 px
    np.testing.assert_allclose(box, [98.0, 100.0, 14.0, 10.0])  # width up to 14, height stays 10, same centre
    np.testing.assert_allclose(limit_growth_to_extent(grown, prev, None), [100.0, 100.0, 10.0, 10.0])
    shrunk = np.array([101.0, 101.0, 8.0, 8.0])
    assert limit_growth_to_extent(shrunk, prev, None) is shrunk


def test_template_waits_for_events_then_tracking_starts():
    tracker, _ = make_tracker(min_template_events=50)
    r = tracker.initialize(blob_sample(0, None, None), (90, 90, 20, 20))
    assert r.state == TrackState.INITIALIZING and r.score == 0.0
    r = tracker.update(blob_sample(1, 100, 100))
    assert r.state == TrackState.TRACKING


def test_reset_forgets_the_target():
    tracker, _ = make_tracker()
    tracker.initialize(blob_sample(0, 100, 100), (90, 90, 20, 20))
    tracker.reset()
    assert tracker.state == TrackState.INITIALIZING and tracker.box_xywh is None
    with pytest.raises(RuntimeError):
        tracker.update(blob_sample(1, 100, 100))


def test_teacher_runs_on_windows_with_rgb_and_the_student_without():
    student, teacher = DensityModel("student"), DensityModel("teacher")
    tracker = Tracker(TrackerConfig(max_image_age_ns=2 * WINDOW_NS), model=student, teacher=teacher)
    tracker.initialize(blob_sample(0, 100, 100, image=True), (90, 90, 20, 20))
    for k in range(1, 5):
        tracker.update(blob_sample(k, 100, 100, image=True))
    assert teacher.calls == 4 and student.calls == 0
    for k in range(5, 10):
        tracker.update(blob_sample(k, 100, 100))  # RGB stops: after max_image_age the student takes over
    assert student.calls >= 3
    assert tracker.stats["teacher_runs"] == teacher.calls


def test_tracker_config_rejects_bad_values():
    with pytest.raises(ConfigError):
        TrackerConfig.from_dict({"hann_weight": 2.0})
    with pytest.raises(ConfigError):
        TrackerConfig.from_dict({"unknown_key": 1})
    with pytest.raises(ConfigError):
        Tracker(TrackerConfig(), model=nn.Identity())  # no ModelConfig to go with it
    with pytest.raises(ConfigError, match="student_runtime"):
        TrackerConfig.from_dict({"student_runtime": "tensorrt"})


def test_student_runtime_auto_falls_back_to_torch_without_onnxruntime(monkeypatch):
    """Auto picks onnxruntime only where it is installed; asked for explicitly, its absence is a clear error."""
    import had_tracker.models.onnx_student as onnx_student

    monkeypatch.setattr(onnx_student, "onnxruntime_available", lambda: False)
    assert Tracker(TrackerConfig()).student.runtime == "torchscript"
    assert Tracker(TrackerConfig(freeze_student=False)).student.runtime == "torch"
    with pytest.raises(ConfigError, match="pip install onnx onnxruntime"):
        Tracker(TrackerConfig(student_runtime="onnxruntime"))


def test_a_student_whose_export_fails_runs_in_torch(monkeypatch, caplog):
    """Where onnxruntime cannot take the network, torch runs it (one warning), not a crash mid-stream."""
    import had_tracker.models.onnx_student as onnx_student

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(onnx_student, "onnxruntime_available", lambda: True)
    monkeypatch.setattr(onnx_student, "OnnxStudent", broken)
    tracker = Tracker(TrackerConfig(student_runtime="onnxruntime"))
    assert tracker.student.runtime == "onnxruntime"
    with caplog.at_level("WARNING"):
        tracker.warm_up()
    assert tracker.student.runtime == "torchscript" and "unsupported operator" in caplog.text


def test_template_is_updated_only_when_asked_and_confident():
    tracker, _ = make_tracker(template_update_interval=5, template_update_threshold=0.5)
    tracker.initialize(blob_sample(0, 100, 100), (90, 90, 20, 20))
    first = tracker.student.template_events.clone()
    for k in range(1, 21):
        tracker.update(blob_sample(k, 100 + k, 100))
    assert tracker.stats["template_updates"] == 4
    assert not bool((tracker.student.template_events == first).all())
    never, _ = make_tracker()
    never.initialize(blob_sample(0, 100, 100), (90, 90, 20, 20))
    kept = never.student.template_events
    for k in range(1, 21):
        never.update(blob_sample(k, 100 + k, 100))
    assert never.stats["template_updates"] == 0 and never.student.template_events is kept


def test_teacher_template_is_built_when_rgb_first_arrives_after_initialisation():
    student, teacher = DensityModel("student"), DensityModel("teacher")
    tracker = Tracker(TrackerConfig(), model=student, teacher=teacher)
    tracker.initialize(blob_sample(0, 100, 100), (90, 90, 20, 20))  # no RGB yet: student only
    assert tracker.teacher.template_events is None
    tracker.update(blob_sample(1, 100, 100))
    assert student.calls == 1 and teacher.calls == 0
    for k in range(2, 5):
        tracker.update(blob_sample(k, 100, 100, image=True))
    assert tracker.teacher.template_events is not None and teacher.calls == 3


def test_warm_up_runs_each_network_once_and_leaves_the_tracker_untouched():
    student, teacher = DensityModel("student"), DensityModel("teacher")
    tracker = Tracker(TrackerConfig(), model=student, teacher=teacher)
    stats = dict(tracker.stats)
    assert tracker.warm_up() > 0.0
    assert student.calls == 1 and teacher.calls == 1
    assert tracker.stats == stats and not tracker.initialized and tracker.box_xywh is None
    tracker.initialize(blob_sample(0, 100.0, 80.0), (80.0, 60.0, 40.0, 40.0))
    assert tracker.update(blob_sample(1, 102.0, 80.0)).state == TrackState.TRACKING


def test_warm_up_runs_the_shipped_student():
    tracker = Tracker(TrackerConfig())
    assert tracker.warm_up() > 0.0 and not tracker.initialized
