"""Test-time adaptation at initialisation (tracker.init_adapt_steps) with the shipped student."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from had_tracker.distill.task import task_losses
from had_tracker.geometry import CropWindow
from had_tracker.models.inputs import event_tensor
from had_tracker.sync.synchronizer import AlignedSample
from had_tracker.tracking.adapt import AdaptSettings, adapt_student
from had_tracker.tracking.tracker import Tracker, TrackerConfig
from test.test_tracking_shipped import SIDE, STEP_NS, WINDOW_NS, _moving, simulate


def _scene(ms: int = 60):
    positions = [_moving(i) for i in range(ms)]
    return positions, simulate(positions)


def _windows(events, n):
    return [
        AlignedSample(k, k * WINDOW_NS, (k + 1) * WINDOW_NS, events.slice_time(k * WINDOW_NS, (k + 1) * WINDOW_NS))
        for k in range(n)
    ]


def _start(tracker: Tracker, samples, positions) -> None:
    for s in samples[:3]:
        tracker.push(s)
    x, y = positions[samples[3].window_end_ns // STEP_NS - 1]
    tracker.initialize(samples[3], (x, y, SIDE, SIDE))


def _state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_initialisation_tracks_with_an_adapted_copy_and_the_loaded_student_is_kept():
    positions, events = _scene()
    samples = _windows(events, 10)
    tracker = Tracker(TrackerConfig(init_adapt_steps=5, student_runtime="torch", freeze_student=False))
    runner = tracker.student
    base, base_state = runner.base_model, _state(runner.base_model)
    _start(tracker, samples, positions)
    first = runner.model
    assert first is not base and tracker.update(samples[4]).box_xywh is not None
    # the loaded student is untouched: every initialisation adapts from it, not from the previous target's copy
    assert all(torch.equal(v, base_state[k]) for k, v in base.state_dict().items())
    tracker.reset()
    _start(tracker, samples, positions)
    assert runner.model is not first
    a = dict(first.named_parameters())
    assert all(torch.equal(a[k], v) for k, v in runner.model.named_parameters())  # same window, same seed: same copy


def test_off_means_the_loaded_student_runs():
    positions, events = _scene()
    tracker = Tracker(TrackerConfig(init_adapt_steps=0))
    model = tracker.student.model
    _start(tracker, _windows(events, 5), positions)
    assert tracker.student.model is model and tracker.student.task_weights is None


def test_adaptation_lowers_the_task_loss_on_the_initial_window_and_changes_the_weights():
    positions, events = _scene()
    tracker = Tracker(TrackerConfig(init_adapt_steps=0))  # just for the loaded student's template and inputs
    samples = _windows(events, 4)
    _start(tracker, samples, positions)
    from had_tracker.distill.config import TaskConfig
    from had_tracker.models.builder import default_student_checkpoint, load_checkpoint, load_model

    model, cfg = load_model(default_student_checkpoint())
    weights = TaskConfig(**load_checkpoint(default_student_checkpoint())["distill_config"]["task"])
    t0, t1 = 0, samples[3].window_end_ns
    box = np.array([*positions[t1 // STEP_NS - 1], SIDE, SIDE], float)
    window = events.slice_time(t0, t1)
    settings = AdaptSettings(steps=15, negative_fraction=0.0, seed=1)
    tuned = adapt_student(model, cfg, tracker.student.template_events, window, t0, t1, box, 346, 260, weights, settings)
    assert any(not torch.equal(a, b) for a, b in zip(model.parameters(), tuned.parameters(), strict=True))
    # held-out crops of the same window (another seed's jitter): the copy fits them better than the student did
    rng = np.random.default_rng(123)
    from had_tracker.data.sampler import jitter_box

    crops = [CropWindow.around(jitter_box(box, 3.0, 0.25, rng), cfg.search_factor, cfg.search_size) for _ in range(16)]
    search = torch.from_numpy(np.stack([event_tensor(window, c, t0, t1, cfg) for c in crops]))
    gt = []
    for c in crops:
        b = c.box_to_crop(box) / cfg.search_size
        gt.append([b[0] + b[2] / 2, b[1] + b[3] / 2, b[2], b[3]])
    gt = torch.tensor(gt, dtype=torch.float32)
    template = tracker.student.template_events.expand(len(crops), -1, -1, -1)

    def loss(m) -> float:
        with torch.no_grad():
            terms = task_losses(m(template, search), gt, weights)
        return float(terms["focal"] + terms["giou"] + terms["l1"])

    assert loss(tuned) < loss(model)


def test_a_network_passed_in_is_not_adapted():
    """Adaptation needs the checkpoint's task loss settings; a network handed to the Tracker runs as given."""
    from test.standin_models import DensityModel

    positions, events = _scene()
    model = DensityModel()
    tracker = Tracker(TrackerConfig(init_adapt_steps=20), model=model)
    _start(tracker, _windows(events, 5), positions)
    assert tracker.student.model is model


def _params(model) -> dict:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def test_background_adaptation_takes_over_when_ready_with_the_same_copy_as_in_the_foreground():
    positions, events = _scene()
    samples = _windows(events, 8)
    foreground = Tracker(TrackerConfig(init_adapt_steps=3, student_runtime="torch", freeze_student=False))
    _start(foreground, samples, positions)
    expected = _params(foreground.student.model)

    tracker = Tracker(
        TrackerConfig(init_adapt_steps=3, student_runtime="torch", freeze_student=False), adapt_in_background=True
    )
    loaded = tracker.student.model
    _start(tracker, samples, positions)
    assert tracker.student.model is loaded  # the loaded student tracks until the copy is ready
    tracker._adapt_job.result(timeout=60)
    tracker.update(samples[4])
    assert tracker.student.model is not loaded and tracker.stats["adaptations"] == 1
    got = _params(tracker.student.model)
    assert all(torch.equal(expected[k], v) for k, v in got.items())
    tracker.reset()  # the next target starts from the loaded student again
    assert tracker.student.model is loaded


def test_a_failed_adaptation_is_counted_and_the_loaded_student_keeps_tracking(monkeypatch):
    import had_tracker.tracking.adapt as adapt

    def fail(*args, **kwargs):
        raise FloatingPointError("non-finite task loss")

    monkeypatch.setattr(adapt, "adapt_for_inference", fail)
    positions, events = _scene()
    samples = _windows(events, 8)
    for background in (True, False):
        tracker = Tracker(TrackerConfig(init_adapt_steps=3), adapt_in_background=background)
        loaded = tracker.student.model
        _start(tracker, samples, positions)
        if tracker._adapt_job is not None:
            with pytest.raises(FloatingPointError):
                tracker._adapt_job.result(timeout=60)
        result = tracker.update(samples[4])
        assert result.box_xywh is not None and tracker.student.model is loaded
        assert tracker.stats["adaptation_failures"] == 1 and tracker.stats["adaptations"] == 0


def test_the_onnxruntime_student_is_handed_over_exported():
    positions, events = _scene()
    samples = _windows(events, 8)
    tracker = Tracker(TrackerConfig(init_adapt_steps=2))  # auto: onnxruntime (a package requirement)
    tracker.warm_up()
    loaded_session = tracker.student.onnx
    _start(tracker, samples, positions)
    assert tracker.student.runtime == "onnxruntime" and tracker.stats["adaptations"] == 1
    assert tracker.student.onnx is not None and tracker.student.onnx is not loaded_session  # exported with the copy
    assert tracker.update(samples[4]).box_xywh is not None
    tracker.reset()
    assert tracker.student.onnx is loaded_session  # the loaded student's session is kept, not exported again
