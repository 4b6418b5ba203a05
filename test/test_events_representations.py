"""Representations against a direct per-event reference, and crop-and-resize on event coordinates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from had_tracker.events.container import Events
from had_tracker.events.representations import count_frame, time_surface, voxel_grid


def random_events(n=500, width=64, height=48, seed=0, t_span=10_000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, t_span, n)).astype(np.int64)
    return Events.from_arrays(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n),
                              width, height)  # fmt: skip


def reference_voxel(ev, bins, t0, t1, crop, out_hw, polarity_channels, bilinear):
    """Per-event Python loop, written from the formulas in the module docstring."""
    x0, y0, cw, ch = crop
    h, w = out_hw
    out = np.zeros(((2 if polarity_channels else 1) * bins, h, w), np.float64)
    for t, x, y, p in zip(ev.t.tolist(), ev.x.tolist(), ev.y.tolist(), ev.p.tolist(), strict=True):
        if not t0 <= t <= t1:
            continue
        tn = (bins - 1) * (t - t0) / (t1 - t0) if t1 > t0 else 0.0
        u = (x + 0.5 - x0) * w / cw - 0.5
        v = (y + 0.5 - y0) * h / ch - 0.5
        taps = []
        if bilinear:
            iu, iv = math.floor(u), math.floor(v)
            fu, fv = u - iu, v - iv
            taps = [(iv, iu, (1 - fv) * (1 - fu)), (iv, iu + 1, (1 - fv) * fu), (iv + 1, iu, fv * (1 - fu)),
                    (iv + 1, iu + 1, fv * fu)]  # fmt: skip
        else:
            taps = [(math.floor(v + 0.5), math.floor(u + 0.5), 1.0)]
        b0 = int(tn)
        for b, wt in ((b0, 1 - (tn - b0)), (b0 + 1, tn - b0)):
            if b >= bins or wt == 0:
                continue
            c = p * bins + b if polarity_channels else b
            val = 1.0 if polarity_channels or p else -1.0
            for vv, uu, ws in taps:
                if 0 <= vv < h and 0 <= uu < w:
                    out[c, vv, uu] += val * wt * ws
    return out


def test_count_frame_full_sensor_counts_each_polarity():
    ev = random_events()
    frame = count_frame(ev)
    assert frame.shape == (2, 48, 64) and frame.dtype == np.float32 and frame.flags.c_contiguous
    expect = np.zeros((2, 48, 64))
    np.add.at(expect, (ev.p.astype(int), ev.y.astype(int), ev.x.astype(int)), 1)
    np.testing.assert_array_equal(frame, expect)


@settings(max_examples=40, deadline=None)
@given(
    bins=st.integers(1, 6),
    polarity_channels=st.booleans(),
    bilinear=st.booleans(),
    crop=st.tuples(st.floats(-20, 60), st.floats(-20, 40), st.floats(1, 90), st.floats(1, 70)),
    out_hw=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    window=st.tuples(st.integers(-100, 5000), st.integers(0, 12_000)),
    seed=st.integers(0, 5),
)
def test_voxel_grid_matches_reference(bins, polarity_channels, bilinear, crop, out_hw, window, seed):
    ev = random_events(n=200, seed=seed)
    t0, t1 = window[0], window[0] + window[1]
    got = voxel_grid(ev, bins, t0, t1, crop=crop, out_hw=out_hw, polarity_channels=polarity_channels,
                     bilinear=bilinear)  # fmt: skip
    expect = reference_voxel(ev, bins, t0, t1, crop, out_hw, polarity_channels, bilinear)
    assert got.shape == expect.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-4)


def test_voxel_grid_signed_sums_to_on_minus_off_and_splits_in_time():
    ev = Events.from_arrays([0, 50, 100], [1, 1, 2], [0, 0, 0], [1, 0, 1], 4, 2)
    grid = voxel_grid(ev, 3, 0, 100)
    assert grid[:, 0, 1].tolist() == [1.0, -1.0, 0.0]  # t=0 -> bin 0; t=50 -> bin 1 (OFF)
    assert grid[:, 0, 2].tolist() == [0.0, 0.0, 1.0]
    assert grid.sum() == pytest.approx(1.0)
    quarter = voxel_grid(Events.from_arrays([25], [0], [0], [1], 4, 2), 3, 0, 100)
    assert quarter[:, 0, 0].tolist() == [0.5, 0.5, 0.0]


def test_crop_and_resize_maps_event_coordinates():
    # A 2x downscale of the crop starting at (10, 20): pixels 10,11 -> 0; 12,13 -> 1.
    ev = Events.from_arrays([0, 0, 0, 0], [10, 11, 12, 13], [20, 21, 22, 23], [1, 1, 1, 1], 64, 48)
    frame = count_frame(ev, crop=(10, 20, 8, 8), out_hw=(4, 4))
    assert frame[1, 0, 0] == 2 and frame[1, 1, 1] == 2 and frame.sum() == 4
    # A crop extending past the sensor: events keep their place, the outside stays empty.
    frame = count_frame(ev, crop=(-50, -50, 128, 128), out_hw=(128, 128))
    assert frame[1, 70, 60] == 1 and frame.sum() == 4


def test_time_surface_decays_from_latest_event_per_pixel():
    ev = Events.from_arrays([0, 100, 200, 300], [1, 1, 2, 3], [0, 0, 0, 0], [1, 1, 0, 1], 4, 1)
    surf = time_surface(ev, t_ref_ns=250, tau_ns=100.0)
    assert surf.shape == (2, 1, 4)
    assert surf[1, 0, 1] == pytest.approx(math.exp(-1.5))  # latest ON at x=1 is t=100
    assert surf[0, 0, 2] == pytest.approx(math.exp(-0.5))
    assert surf[1, 0, 3] == 0.0  # after t_ref: ignored
    single = time_surface(ev, 250, 100.0, polarity_channels=False)
    assert single.shape == (1, 1, 4) and single[0, 0, 2] == pytest.approx(math.exp(-0.5))


def test_empty_events_give_zero_arrays_of_the_right_shape():
    ev = Events.empty(32, 16)
    assert count_frame(ev).shape == (2, 16, 32)
    assert voxel_grid(ev, 5, crop=(0, 0, 8, 8), out_hw=(4, 4), polarity_channels=True).shape == (10, 4, 4)
    assert not time_surface(ev, 0, 1.0).any()


def test_invalid_arguments_raise():
    ev = random_events(n=10)
    with pytest.raises(ValueError):
        voxel_grid(ev, 0)
    with pytest.raises(ValueError):
        count_frame(ev, crop=(0, 0, 0, 5), out_hw=(4, 4))
    with pytest.raises(ValueError):
        voxel_grid(ev, 3, 100, 50)


@pytest.mark.parametrize("bins, polarity_channels", [(5, False), (1, True), (3, True), (1, False)])
@pytest.mark.parametrize("shuffled", [False, True])
def test_identity_kernel_equals_general_kernel(bins, polarity_channels, shuffled):
    # The full-sensor kernel (carried bin offset, prefetching) against the general kernel with the
    # identity mapping, on a 1280x720 sensor, in time order and shuffled, with events outside the
    # window and p values other than 0/1 (taken as ON).
    from had_tracker.events import representations as rep

    ev = random_events(n=300_000, width=1280, height=720, seed=3, t_span=10**9)
    t, x, y, p = rep._arrays(ev)
    p[::7] = 5
    if shuffled:
        order = np.random.default_rng(0).permutation(len(t))
        t, x, y, p = t[order].copy(), x[order].copy(), y[order].copy(), p[order].copy()
    t0, t1 = int(ev.t[1000]), int(ev.t[-1000])
    scale = (bins - 1) / (t1 - t0)
    shape = ((2 if polarity_channels else 1) * bins, 720, 1280)
    general, identity = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    rep._splat(t, x, y, p, t0, t1, t0, scale, bins, polarity_channels, 0.0, 0.0, 1.0, 1.0, False, general)
    rep._splat_identity(t, x, y, p, t0, t1, t0, scale, bins, polarity_channels, identity)
    np.testing.assert_allclose(identity, general, rtol=1e-6, atol=1e-5)
    inside = (t >= t0) & (t <= t1)
    on = p != 0
    mass = inside.sum() if polarity_channels else (inside & on).sum() - (inside & ~on).sum()
    assert identity.sum(dtype=np.float64) == pytest.approx(mass, abs=1e-3 * len(t))


def test_full_sensor_voxel_grid_and_count_frame_take_the_identity_kernel(monkeypatch):
    from had_tracker.events import representations as rep

    calls = []
    monkeypatch.setattr(rep, "_splat_identity", lambda *a: calls.append("identity"))
    monkeypatch.setattr(rep, "_splat", lambda *a: calls.append("general"))
    ev = random_events(n=100, width=64, height=32, seed=1)
    voxel_grid(ev, 3)
    count_frame(ev)
    voxel_grid(ev, 3, crop=(0, 0, 32, 32), out_hw=(16, 16))
    assert calls == ["identity", "identity", "general"]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 400), st.integers(0, 400), st.integers(0, 300), st.integers(0, 300), st.integers(0, 2**31 - 1))
def test_count_in_rect_counts_the_events_inside_half_open_bounds(x_lo, x_hi, y_lo, y_hi, seed):
    from had_tracker.events.representations import count_in_rect

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 346, 500).astype(np.uint16)
    y = rng.integers(0, 260, 500).astype(np.uint16)
    expected = np.count_nonzero((x >= x_lo) & (x < x_hi) & (y >= y_lo) & (y < y_hi))  # empty when hi <= lo
    assert count_in_rect(x, y, x_lo, x_hi, y_lo, y_hi) == expected


@settings(max_examples=40, deadline=None)
@given(
    n=st.sampled_from([0, 1, 7, 1023, 1024, 2600]),  # across the kernel's 1024-event blocks
    bins=st.integers(1, 5),
    polarity_channels=st.booleans(),
    crop=st.tuples(st.floats(-20, 50), st.floats(-20, 30), st.floats(4, 90)),
    size=st.integers(1, 32),
    seed=st.integers(0, 5),
)
def test_splat_nearest_counted_matches_reference_and_counts_the_crop(n, bins, polarity_channels, crop, size, seed):
    from had_tracker.events.representations import _splat_nearest_counted

    ev = random_events(n=n, seed=seed)
    x0, y0, side = crop
    t0, t1 = 0, 10_000  # every event inside [t0, t1)
    out = np.zeros(((2 if polarity_channels else 1) * bins, size, size), np.float32)
    extent = np.array([65536, -1, 65536, -1], np.int64)
    cx_lo, cy_lo = max(math.ceil(x0 - 0.5), 0), max(math.ceil(y0 - 0.5), 0)
    cx_hi, cy_hi = math.ceil(x0 + side - 0.5), math.ceil(y0 + side - 0.5)
    count = _splat_nearest_counted(
        ev.t, ev.x, ev.y, ev.p, t0, (bins - 1) / (t1 - t0), bins, polarity_channels, x0, y0, size / side,
        size / side, cx_lo, cx_hi, cy_lo, cy_hi, out, extent,
    )  # fmt: skip
    expect = reference_voxel(ev, bins, t0, t1, (x0, y0, side, side), (size, size), polarity_channels, False)
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-4)
    inside = (ev.x >= cx_lo) & (ev.x < cx_hi) & (ev.y >= cy_lo) & (ev.y < cy_hi)
    assert count == np.count_nonzero(inside)
    if count:
        xs, ys = ev.x[inside], ev.y[inside]
        assert extent.tolist() == [xs.min(), xs.max(), ys.min(), ys.max()]
    else:
        assert extent.tolist() == [65536, -1, 65536, -1]
