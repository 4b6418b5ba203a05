"""The model input's time window adapts to the event rate (``tracker.max_input_events``); off, nothing changes."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.errors import ConfigError
from had_tracker.events.container import Events
from had_tracker.geometry import CropWindow
from had_tracker.sync.synchronizer import AlignedSample
from had_tracker.tracking.crop_input import CropInputBuilder
from had_tracker.tracking.tracker import Tracker, TrackerConfig, TrackState
from test.standin_models import DensityModel

W, H = 346, 260
WINDOW_NS = 5_000_000


def uniform_chunks(per_chunk: int, count: int = 4, seed: int = 0) -> list[tuple[int, int, Events]]:
    """``count`` 5 ms chunks, each with ``per_chunk`` events spread evenly in time, uniform over the sensor."""
    rng = np.random.default_rng(seed)
    chunks = []
    for k in range(count):
        s = k * WINDOW_NS
        t = s + np.arange(per_chunk, dtype=np.int64) * WINDOW_NS // per_chunk
        ev = Events.from_arrays(
            t, rng.uniform(0, W, per_chunk), rng.uniform(0, H, per_chunk), rng.integers(0, 2, per_chunk), W, H
        )
        chunks.append((s, s + WINDOW_NS, ev))
    return chunks


def in_crop(chunks, crop: CropWindow, t0: int, t1: int) -> int:
    n = 0
    for _, _, ev in chunks:
        part = ev.slice_time(t0, t1)
        x, y = part.x.astype(float) + 0.5, part.y.astype(float) + 0.5
        n += int(
            np.count_nonzero((x >= crop.x0) & (x < crop.x0 + crop.side) & (y >= crop.y0) & (y < crop.y0 + crop.side))
        )
    return n


def test_window_start_holds_about_max_events_at_a_high_rate_and_keeps_t0_otherwise():
    chunks = uniform_chunks(40_000)
    crop = CropWindow(100.0, 60.0, 96.0, 96)
    t1 = 4 * WINDOW_NS
    t0 = t1 - 20_000_000
    builder = CropInputBuilder()
    total = in_crop(chunks, crop, t0, t1)
    assert total > 10_000  # the whole window holds far more than the target below
    start = builder.window_start(chunks, crop, t0, t1, 3_000, 1_000_000)
    assert t0 < start < t1 - 1_000_000
    assert 0.9 * 3_000 <= in_crop(chunks, crop, start, t1) <= 1.1 * 3_000
    # off, or a target above what the window holds: the window is unchanged
    assert builder.window_start(chunks, crop, t0, t1, 0, 1_000_000) == t0
    assert builder.window_start(chunks, crop, t0, t1, total + 1, 1_000_000) == t0
    # the floor: never shorter than min_window_ns
    assert builder.window_start(chunks, crop, t0, t1, 10, 2_000_000) == t1 - 2_000_000


def test_window_start_counts_match_with_cached_moments_and_without():
    chunks = uniform_chunks(20_000, seed=1)
    crop = CropWindow(10.5, 200.0, 120.0, 96)  # past the bottom border
    t0, t1 = 0, 4 * WINDOW_NS
    cold = CropInputBuilder().window_start(chunks, crop, t0, t1, 5_000, 500_000)
    warm = CropInputBuilder()
    warm.build(chunks, crop, t0, t1, DensityModel().cfg)  # moments cached by the build
    assert warm.window_start(chunks, crop, t0, t1, 5_000, 500_000) == cold


class Recorder(DensityModel):
    """The stand-in network, keeping every search input it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[np.ndarray] = []

    def forward(self, *inputs):
        self.inputs.append(inputs[-1][0].numpy().copy())
        return super().forward(*inputs)


def blob_sample(k: int, cx: float, cy: float, n: int, noise: int, seed: int = 0) -> AlignedSample:
    rng = np.random.default_rng(seed * 100_003 + k)
    t0 = k * WINDOW_NS
    x = np.clip(np.r_[rng.uniform(0, W, noise), rng.normal(cx, 3.0, n)], 0, W - 1)
    y = np.clip(np.r_[rng.uniform(0, H, noise), rng.normal(cy, 3.0, n)], 0, H - 1)
    order = rng.permutation(len(x))  # target and background events interleaved in time
    t = np.sort(rng.integers(t0, t0 + WINDOW_NS, len(x)))
    return AlignedSample(
        k, t0, t0 + WINDOW_NS, Events.from_arrays(t, x[order], y[order], rng.integers(0, 2, len(x)), W, H)
    )


def track(config: TrackerConfig, n: int, noise: int, windows: int = 12):
    model = Recorder()
    tracker = Tracker(config, model=model)
    boxes = [tracker.initialize(blob_sample(0, 100, 120, n, noise), (90, 110, 20, 20)).box_xywh]
    for k in range(1, windows):
        boxes.append(tracker.update(blob_sample(k, 100 + k, 120, n, noise)).box_xywh)
    return tracker, model, np.array(boxes)


def test_knob_off_and_a_normal_rate_give_the_old_input_exactly():
    off, model_off, boxes_off = track(TrackerConfig(max_input_events=0), n=400, noise=10)
    on, model_on, boxes_on = track(TrackerConfig(), n=400, noise=10)
    assert len(model_off.inputs) == len(model_on.inputs) == 11
    for a, b in zip(model_off.inputs, model_on.inputs, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(boxes_off, boxes_on)
    crop = CropWindow.around(on.box_xywh, 4.0, 96)
    end = 12 * WINDOW_NS
    assert on._input_window(end, crop) == off._input_window(end, crop) == (end - 20_000_000, end)


def test_a_high_rate_gets_a_shorter_input_window_holding_about_max_input_events():
    cfg = TrackerConfig(max_input_events=1_500, min_event_window_ns=1_000_000)
    tracker, model, _ = track(cfg, n=2_000, noise=2_000)
    off, model_off, _ = track(TrackerConfig(max_input_events=0), n=2_000, noise=2_000)
    assert tracker.state == TrackState.TRACKING
    end = 12 * WINDOW_NS
    crop = CropWindow.around(tracker.box_xywh, 4.0, 96)
    t0, t1 = tracker._input_window(end, crop)
    assert t1 == end and end - 20_000_000 < t0 <= end - 1_000_000
    # the input grids' counts (log1p undone): about max_input_events with the knob, far more without
    counts = [float(np.expm1(x).sum()) for x in model.inputs[4:]]
    counts_off = [float(np.expm1(x).sum()) for x in model_off.inputs[4:]]
    assert all(1_300 <= c <= 1_700 for c in counts), counts
    assert min(counts_off) > 4_000


def test_invalid_window_settings_are_config_errors():
    with pytest.raises(ConfigError):
        TrackerConfig(max_input_events=-1).validate()
    with pytest.raises(ConfigError):
        TrackerConfig(min_event_window_ns=0).validate()
