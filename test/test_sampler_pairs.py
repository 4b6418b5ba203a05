"""The training pair sampler: shapes, determinism, one crop geometry for both modalities, asymmetric event windows."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.data.sampler import PairSampler, SamplerConfig, collate, event_windows
from had_tracker.data.sequence import TrackingSequence
from had_tracker.errors import ConfigError
from had_tracker.events.container import Events
from had_tracker.models.builder import ModelConfig
from had_tracker.training.toy import moving_square_sequence

CFG = ModelConfig.from_yaml("cpu-tiny", "student")
NO_JITTER = SamplerConfig(max_gap=2, search_center_jitter=0.0, search_scale_jitter=0.0)


@pytest.fixture(scope="module")
def toy():
    return moving_square_sequence(3, num_frames=12)


def _static_square_sequence(with_late_events: bool = False) -> TrackingSequence:
    """A bright square at a fixed place: RGB shows it, events fire on its pixels in every frame interval."""
    n, w, h = 6, 120, 100
    box = np.array([50.0, 40.0, 16.0, 16.0])
    frame = np.zeros((h, w, 3), np.uint8)
    frame[40:56, 50:66] = 255
    frame_t = (np.arange(n) + 1) * 40_000_000
    yy, xx = np.mgrid[40:56, 50:66]
    ts, ps = [], []
    for t in frame_t:  # OFF events 15 ms before each frame time: in the student's window only
        ts.append(np.full(xx.size, t - 15_000_000))
        ps.append(np.zeros(xx.size))
        if with_late_events:  # ON events 5 ms after it: in the teacher's (exposure-centred) window only
            ts.append(np.full(xx.size, t + 5_000_000))
            ps.append(np.ones(xx.size))
    t_all = np.concatenate(ts)
    reps = len(ts)
    events = Events.from_arrays(t_all, np.tile(xx.ravel(), reps), np.tile(yy.ravel(), reps), np.concatenate(ps), w, h)
    order = np.argsort(events.t, kind="stable")
    return TrackingSequence(
        name="static",
        frames=np.stack([frame] * n),
        frame_t_ns=frame_t,
        exposure_start_ns=frame_t - 10_000_000,
        exposure_end_ns=frame_t + 10_000_000,
        gt_boxes=np.tile(box, (n, 1)),
        absent=np.zeros(n, bool),
        width=w,
        height=h,
        events=events[order],
    )


def test_sample_shapes_and_keys(toy):
    sampler = PairSampler([toy], CFG, seed=1, with_bins=True)
    batch = collate([sampler[i] for i in range(3)])
    c, t, s, k = CFG.events.channels, CFG.template_size, CFG.search_size, CFG.events.temporal_bins
    assert batch["template_events"].shape == (3, c, t, t)
    assert batch["search_events"].shape == (3, c, s, s)
    assert batch["search_events_teacher"].shape == (3, c, s, s)
    assert batch["template_rgb"].shape == (3, 3, t, t) and batch["search_rgb"].shape == (3, 3, s, s)
    assert batch["search_bins"].shape == (3, k, c, s, s)
    boxes = batch["search_box"].numpy()
    assert np.all((boxes[:, :2] > 0) & (boxes[:, :2] < 1)) and np.all(boxes[:, 2:] > 0)


def test_samples_are_a_pure_function_of_seed_and_index(toy):
    a, b = PairSampler([toy], CFG, seed=5), PairSampler([toy], CFG, seed=5)
    for key, value in a[11].items():
        np.testing.assert_array_equal(value, b[11][key])
    other = PairSampler([toy], CFG, seed=6)[11]
    assert not np.array_equal(a[11]["search_box"], other["search_box"])


def test_rgb_and_events_share_one_crop_geometry():
    seq = _static_square_sequence()
    sample = PairSampler([seq], CFG, NO_JITTER, seed=0)[0]
    bright = sample["search_rgb"].mean(0) > 0  # normalised: black is negative, white positive
    active = sample["search_events"].sum(0) > 0
    assert active.sum() > 0 and (bright & active).sum() / active.sum() > 0.9
    # and the target box points at the same place
    cx, cy = sample["search_box"][:2] * CFG.search_size
    rows, cols = np.nonzero(active)
    assert abs(cols.mean() - cx) < 2 and abs(rows.mean() - cy) < 2


def test_teacher_sees_the_exposure_window_and_student_the_window_ending_now():
    seq = _static_square_sequence(with_late_events=True)
    (t0, t1), (s0, s1) = event_windows(seq, 2, CFG.events.window_ms)
    assert s1 == seq.frame_t_ns[2] and s1 - s0 == t1 - t0
    assert t0 <= seq.exposure_start_ns[2] and t1 >= seq.exposure_end_ns[2]
    sample = PairSampler([seq], CFG, NO_JITTER, seed=0)[0]
    bins = CFG.events.num_bins  # channels: [OFF bins, ON bins]
    student, teacher = sample["search_events"], sample["search_events_teacher"]
    assert student[:bins].sum() > 0 and student[bins:].sum() == 0  # only the events before the frame time
    assert teacher[bins:].sum() > 0 and teacher[:bins].sum() == 0  # only the exposure window's events


def test_sequences_without_raw_events_are_refused(toy):
    frames_only = TrackingSequence(
        name="frames_only",
        frames=toy.frames,
        frame_t_ns=toy.frame_t_ns,
        exposure_start_ns=toy.exposure_start_ns,
        exposure_end_ns=toy.exposure_end_ns,
        gt_boxes=toy.gt_boxes,
        absent=toy.absent,
        width=toy.width,
        height=toy.height,
    )
    with pytest.raises(ConfigError, match="no raw events"):
        PairSampler([frames_only], CFG)


def _events_cut_after(seq: TrackingSequence, frame: int) -> TrackingSequence:
    """``seq`` with its event stream ending at frame ``frame``'s time (as the engine's ``max_events`` cap cuts it)."""
    from dataclasses import replace

    events = seq.events
    return replace(seq, events=events[np.asarray(events.t) <= int(seq.frame_t_ns[frame])])


def test_frames_after_the_event_stream_ends_are_not_drawn(toy, caplog):
    cut = _events_cut_after(toy, 5)
    window_ns = int(CFG.events.window_ms * 1e6)
    expected = int((np.asarray(toy.frame_t_ns) - window_ns > int(cut.events.t[-1])).sum())
    assert 0 < expected < len(toy) - 2
    with caplog.at_level("WARNING", logger="had_tracker.data.sampler"):
        sampler = PairSampler([cut], CFG, NO_JITTER, seed=0, with_teacher_inputs=False)
    assert sampler.frames_after_events == expected
    assert "after the end of their event stream" in caplog.text and toy.name in caplog.text
    for i in range(60):  # every pair's student windows hold events (no target box over an empty window)
        sample = sampler[i]
        assert sample["template_events"].any() and sample["search_events"].any()


def test_a_sequence_with_its_whole_stream_present_loses_no_frame(toy):
    sampler = PairSampler([toy], CFG, NO_JITTER, seed=0, with_teacher_inputs=False)
    assert sampler.frames_after_events == 0
    assert len(sampler.sequences[0][1]) == int((~np.asarray(toy.absent, bool)).sum())


def test_a_sequence_whose_events_end_before_its_second_frame_is_refused(toy):
    with pytest.raises(ConfigError, match="events are recorded"):
        PairSampler([_events_cut_after(toy, 0)], CFG, NO_JITTER)
