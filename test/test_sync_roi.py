"""Region of interest (issue 15): the synchronizer keeps what the tracker can look at next, and nothing changes
where the ROI holds every event the tracker uses; the search input built from per-chunk moments equals the
event-by-event representation."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.events.container import Events
from had_tracker.geometry import CropWindow
from had_tracker.models.config import ModelConfig
from had_tracker.models.inputs import event_tensor
from had_tracker.sync.roi import Roi, filter_events, roi_around
from had_tracker.sync.synchronizer import SyncConfig, Synchronizer
from had_tracker.tracking.crop_input import CropInputBuilder
from had_tracker.tracking.history import EventHistory
from had_tracker.tracking.tracker import Tracker, TrackerConfig, _count_in_crop, crop_region

W, H = 120, 90


def _events(n: int, t0: int, t1: int, seed: int, width: int = W, height: int = H) -> Events:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t1, n))
    return Events.from_arrays(
        t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n), width, height
    )


def test_filter_events_keeps_exactly_the_inside_in_order():
    ev = _events(5000, 0, 10**6, 0)
    roi = Roi(10, 50, 20, 70)
    kept = filter_events(ev, roi)
    inside = (ev.x >= 10) & (ev.x < 50) & (ev.y >= 20) & (ev.y < 70)
    for name in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(ev, name)[inside])
    assert filter_events(ev, Roi(0, W, 0, H)) is ev  # covers the sensor: no copy


def test_roi_around_contains_the_crop_and_its_border_pixels():
    crop = CropWindow(30.0, 40.0, 20.0, 96)
    roi = roi_around(crop.x0, crop.y0, crop.side, margin_fraction=0.0, min_margin_px=0.0)
    x_lo, x_hi, y_lo, y_hi = crop_region(crop)
    assert roi.contains(Roi(x_lo, x_hi, y_lo, y_hi))
    with pytest.raises(ValueError):
        Roi(5, 4, 0, 1)


def _packets_sync(roi: Roi | None) -> tuple[Synchronizer, list]:
    sync = Synchronizer(SyncConfig(policy="fixed_rate", rate_hz=200.0, clock="sensor"))
    sync.set_roi(roi)
    samples = []
    for k in range(8):
        sync.add_events(_events(2000, k * 2_000_000, (k + 1) * 2_000_000, k))
        samples += sync.poll()
    return sync, samples + sync.flush()


def test_synchronizer_roi_filters_and_counts_but_windows_keep_their_timing():
    full_sync, full = _packets_sync(None)
    roi = Roi(20, 60, 10, 50)
    sync, part = _packets_sync(roi)
    assert [(s.window_start_ns, s.window_end_ns) for s in part] == [(s.window_start_ns, s.window_end_ns) for s in full]
    kept = 0
    for a, b in zip(full, part, strict=True):
        inside = (a.events.x >= 20) & (a.events.x < 60) & (a.events.y >= 10) & (a.events.y < 50)
        np.testing.assert_array_equal(b.events.t, a.events.t[inside])
        np.testing.assert_array_equal(b.events.x, a.events.x[inside])
        assert b.dropped_events == a.dropped_events  # filtered events are not drops
        kept += len(b.events)
    assert sync.stats.roi_filtered == full_sync.stats.events - kept > 0
    assert sync.stats.dropped_events == full_sync.stats.dropped_events


def test_windows_complete_when_a_whole_packet_falls_outside_the_roi():
    """Filtered packets still advance time: a window is emitted when later events arrive, not by max_wait."""
    sync = Synchronizer(SyncConfig(policy="fixed_rate", rate_hz=200.0, clock="sensor"))
    sync.add_events(_events(100, 0, 6_000_000, 0))
    sync.set_roi(Roi(0, 1, 0, 1))
    far = Events.from_arrays([7_000_000, 11_000_000], [100, 100], [80, 80], [1, 1], W, H)
    sync.add_events(far)
    out = sync.poll()
    assert [s.window_end_ns for s in out][-1] == 10_000_000
    assert sync.stats.forced_windows == 0


def _cfg(polarity: bool) -> ModelConfig:
    import dataclasses

    cfg = ModelConfig.from_yaml("cpu-tiny")
    return dataclasses.replace(cfg, events=dataclasses.replace(cfg.events, polarity_channels=polarity))


@pytest.mark.parametrize("polarity", [True, False])
def test_crop_input_matches_event_tensor(polarity):
    cfg = _cfg(polarity)
    history, builder = EventHistory(20_000_000), CropInputBuilder()
    for k in range(8):
        s, e = k * 5_000_000, (k + 1) * 5_000_000
        history.push(s, e, _events(3000, s, e, 10 + k))
        t0, t1 = e - 20_000_000, e
        for crop in (
            CropWindow(30.0, 20.0, 48.0, 96),
            CropWindow(33.0, 21.0, 96.0, 96),
            CropWindow(-10.0, -20, 150, 96),
        ):
            ref_events = history.window(t0, t1, crop_region(crop))
            ref = event_tensor(ref_events, crop, t0, t1, cfg)
            got, count, extent = builder.build(history.chunks(), crop, t0, t1, cfg)
            assert count == _count_in_crop(ref_events, crop)
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert builder.stats["moment_chunks"] > 0
    # a window that does not start on a chunk boundary splats its partial chunk event by event
    got, count, _ = builder.build(history.chunks(), CropWindow(30.0, 20.0, 48.0, 96), 21_000_000, 40_000_000, cfg)
    ref = event_tensor(
        history.window(21_000_000, 40_000_000), CropWindow(30.0, 20.0, 48.0, 96), 21_000_000, 40_000_000, cfg
    )
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert builder.stats["event_chunks"] > 0  # both paths ran


def test_crop_input_extent_is_that_of_the_events_in_the_crop():
    history = EventHistory(20_000_000)
    history.push(0, 5_000_000, _events(500, 0, 5_000_000, 3))
    crop = CropWindow(30.0, 20.0, 40.0, 96)
    _, count, extent = CropInputBuilder().build(history.chunks(), crop, -15_000_000, 5_000_000, _cfg(True))
    ev = history.window(-15_000_000, 5_000_000)
    inside = (ev.x + 0.5 >= 30) & (ev.x + 0.5 < 70) & (ev.y + 0.5 >= 20) & (ev.y + 0.5 < 60)
    assert count == int(inside.sum())
    assert extent == (ev.x[inside].min(), ev.x[inside].max(), ev.y[inside].min(), ev.y[inside].max())


def _scene_packets(seconds: float, rate: float):
    """A 24 px target circling slowly (60 px/s) in 160x120, 30 % of the events, the rest uniform."""
    rng = np.random.default_rng(5)
    n = int(seconds * rate)
    t = np.arange(n, dtype=np.int64) * int(1e9 / rate) // 1000 * 1000
    on = rng.random(n) < 0.3
    a = 2 * np.pi * t * 1e-9 / 8.0
    cx, cy = 80 + 30 * np.cos(a), 60 + 20 * np.sin(a)
    x = np.where(on, cx + rng.uniform(-12, 12, n), rng.uniform(0, 160, n))
    y = np.where(on, cy + rng.uniform(-12, 12, n), rng.uniform(0, 120, n))
    ev = Events.from_arrays(t, np.clip(x, 0, 159), np.clip(y, 0, 119), rng.integers(0, 2, n), 160, 120)
    bounds = np.searchsorted(ev.t, np.arange(0, int(seconds * 1e9) + 1, 1_000_000))
    return [ev[int(a) : int(b)] for a, b in zip(bounds[:-1], bounds[1:], strict=True)], (cx[0], cy[0])


def _track(use_roi: bool) -> tuple[list, Synchronizer, Tracker]:
    packets, (cx, cy) = _scene_packets(0.25, 400_000)
    sync = Synchronizer(SyncConfig(policy="fixed_rate", rate_hz=200.0, clock="sensor"))
    tracker = Tracker(TrackerConfig())
    boxes, started = [], False
    for pkt in packets:
        sync.add_events(pkt)
        for sample in sync.poll():
            if not started:
                tracker.initialize(sample, (cx - 12, cy - 12, 24, 24))
                started = True
            else:
                r = tracker.update(sample)
                boxes.append((r.box_xywh.tolist(), r.score, r.state))
            if use_roi:
                sync.set_roi(tracker.search_roi())
    return boxes, sync, tracker


def test_tracking_with_roi_gives_identical_boxes_where_the_roi_holds_the_search_crops():
    full, _, _ = _track(False)
    part, sync, tracker = _track(True)
    assert sync.stats.roi_filtered > 0 and tracker.search_roi() is not None
    assert len(full) > 20 and part == full  # bit-exact boxes and scores


def test_search_roi_is_none_unless_tracking():
    tracker = Tracker(TrackerConfig())
    assert tracker.search_roi() is None


def test_crop_input_reuses_chunk_moments_for_a_crop_past_the_sensor_border():
    """A crop larger than the sensor that moves does not rebuild the chunks' moments (pixels beyond the border
    hold no events), and the result still equals event_tensor."""
    cfg, history, builder = _cfg(True), EventHistory(20_000_000), CropInputBuilder()
    for k in range(4):
        history.push(k * 5_000_000, (k + 1) * 5_000_000, _events(2000, k * 5_000_000, (k + 1) * 5_000_000, 30 + k))
    for shift in range(0, 60, 6):
        crop = CropWindow(-20.0 + shift, -30.0 + shift, 200.0, 96)
        got, _, _ = builder.build(history.chunks(), crop, 0, 20_000_000, cfg)
        np.testing.assert_allclose(
            got, event_tensor(history.window(0, 20_000_000), crop, 0, 20_000_000, cfg), rtol=1e-5
        )
    assert builder.stats["moments_built"] == 4


def test_crop_input_for_a_crop_that_stays_put_sums_each_chunk_once_per_cell():
    """A global search keeps one crop: each chunk's pixels are summed per output cell once, then reused."""
    cfg, history, builder = _cfg(True), EventHistory(20_000_000), CropInputBuilder()
    crop = CropWindow(0.0, -15.0, 120.0, 48)  # the whole 120x90 sensor, downsampled
    for k in range(8):
        s, e = k * 5_000_000, (k + 1) * 5_000_000
        history.push(s, e, _events(3000, s, e, 50 + k))
        got, count, _ = builder.build(history.chunks(), crop, e - 20_000_000, e, cfg)
        ref_events = history.window(e - 20_000_000, e)
        np.testing.assert_allclose(got, event_tensor(ref_events, crop, e - 20_000_000, e, cfg), rtol=1e-5, atol=1e-6)
        assert count == _count_in_crop(ref_events, crop)
    assert 0 < builder.stats["cells_built"] <= 8  # once per chunk, not once per chunk and window
