"""Event history: bounded by time and count; region pre-filtering never changes the model input."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.events.container import Events
from had_tracker.geometry import CropWindow
from had_tracker.tracking.history import EventHistory
from had_tracker.tracking.tracker import crop_region

W, H = 346, 260


def _window(k: int, n: int = 2000, seed: int = 0) -> tuple[int, int, Events]:
    rng = np.random.default_rng(seed + k)
    t0 = k * 5_000_000
    t = np.sort(rng.integers(t0, t0 + 5_000_000, n))
    return (
        t0,
        t0 + 5_000_000,
        Events.from_arrays(t, rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), W, H),
    )


def test_history_keeps_only_its_duration_and_counts_what_its_count_bound_drops():
    hist = EventHistory(max_duration_ns=20_000_000, max_events=5000)
    for k in range(10):
        hist.push(*_window(k))
    assert len(hist) <= 5000
    assert len(hist.window(0, 10**12)) == len(hist)
    assert hist.window(0, 10**12).t[0] >= 30_000_000  # older windows left by duration or count
    assert hist.dropped > 0  # the count bound removed windows still inside the duration


@pytest.mark.parametrize("box", [(100, 80, 20, 30), (-30, -20, 40, 40), (300, 200, 60, 60), (0, 0, 346, 260)])
def test_region_prefilter_gives_the_same_voxel_grid(box):
    from had_tracker.events.representations import voxel_grid

    hist = EventHistory(max_duration_ns=20_000_000)
    for k in range(4):
        hist.push(*_window(k, seed=3))
    crop = CropWindow.around(box, 4.0, 96)
    full = hist.window(0, 20_000_000)
    part = hist.window(0, 20_000_000, crop_region(crop))
    assert len(part) <= len(full)
    for bilinear in (False, True):
        a = voxel_grid(
            full, 3, 0, 20_000_000, crop=crop.rect, out_hw=(96, 96), polarity_channels=True, bilinear=bilinear
        )
        b = voxel_grid(
            part, 3, 0, 20_000_000, crop=crop.rect, out_hw=(96, 96), polarity_channels=True, bilinear=bilinear
        )
        np.testing.assert_array_equal(a, b)


def test_integer_crop_count_equals_the_pixel_centre_definition():
    from had_tracker.tracking.tracker import _count_in_crop

    rng = np.random.default_rng(5)
    n = 20_000
    ev = Events.from_arrays(np.arange(n), rng.integers(0, W, n), rng.integers(0, H, n), np.zeros(n), W, H)
    x, y = ev.x + 0.5, ev.y + 0.5
    crops = [CropWindow(*rng.uniform(-100, 300, 2), rng.uniform(1, 300), 96) for _ in range(300)]
    crops += [CropWindow(v, v, 7.0, 96) for v in (-0.5, 0.5, 1.0, 10.5, -3.0)]
    for c in crops:
        inside = (x >= c.x0) & (x < c.x0 + c.side) & (y >= c.y0) & (y < c.y0 + c.side)
        assert _count_in_crop(ev, c) == int(np.count_nonzero(inside)), c
