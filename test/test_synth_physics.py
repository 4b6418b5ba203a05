"""Physics of the synthetic event model: polarity, threshold, where events happen."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.data.synthetic import SyntheticConfig, generate_sequence

# Small and short so the whole file runs in a few seconds.
SMALL = dict(
    duration_s=0.4,
    width=120,
    height=90,
    target_size_px=(22.0, 28.0),
    target_speed_px_s=90.0,
    rgb_fps=20.0,
    exposure_s=0.01,
    shot_noise_rate_hz=0.0,
    leak_rate_hz=0.0,
    threshold_sigma=0.0,
    gt_hr_rate_hz=100.0,
)


@pytest.fixture(scope="module")
def clean_recording():
    return generate_sequence(SyntheticConfig.from_preset("easy", **SMALL), seed=7)


def test_polarity_agrees_with_sign_of_log_intensity_change(clean_recording):
    rec = clean_recording
    cfg = rec.config
    scene = rec.scene
    l0 = scene.log_intensity(0.0)
    l1 = scene.log_intensity(cfg.duration_s)
    delta = l1 - l0
    ev = rec.events
    net = np.zeros((cfg.height, cfg.width))
    np.add.at(net, (ev.y, ev.x), np.where(ev.p == 1, 1.0, -1.0))
    strong = np.abs(delta) > 2.5 * cfg.contrast_threshold_pos
    assert strong.sum() > 50, "scene too static for the test"
    agree = np.sign(net[strong]) == np.sign(delta[strong])
    assert agree.mean() > 0.97
    # Net event count times the threshold follows the log change to within about one threshold.
    err = np.abs(net[strong] * cfg.contrast_threshold_pos - delta[strong])
    assert np.median(err) <= cfg.contrast_threshold_pos


def test_event_count_falls_as_contrast_threshold_rises():
    counts = []
    for c in (0.12, 0.24, 0.48):
        cfg = SyntheticConfig.from_preset("easy", **SMALL, contrast_threshold_pos=c, contrast_threshold_neg=c)
        counts.append(len(generate_sequence(cfg, seed=3).events))
    assert counts[0] > counts[1] > counts[2] > 0
    assert counts[0] > 2.5 * counts[2]


def test_events_concentrate_on_the_moving_target_over_a_static_background(clean_recording):
    seq = clean_recording.aligned()
    ev = seq.events
    near = np.zeros(len(ev), bool)
    for i in range(len(seq)):
        sl = slice(*np.searchsorted(ev.t, [seq.exposure_start_ns[i] - 25_000_000, seq.exposure_end_ns[i] + 25_000_000]))
        x, y, w, h = seq.gt_boxes[i]
        m = 4.0
        near[sl] |= (ev.x[sl] >= x - m) & (ev.x[sl] <= x + w + m) & (ev.y[sl] >= y - m) & (ev.y[sl] <= y + h + m)
    covered = np.zeros(len(ev), bool)
    for i in range(len(seq)):
        sl = slice(*np.searchsorted(ev.t, [seq.exposure_start_ns[i] - 25_000_000, seq.exposure_end_ns[i] + 25_000_000]))
        covered[sl] = True
    frac = near[covered].mean()
    box_area = np.mean(seq.gt_boxes[:, 2] * seq.gt_boxes[:, 3])
    assert box_area / (seq.width * seq.height) < 0.15
    assert frac > 0.9


def test_events_are_time_ordered_in_sensor_geometry_and_whole_microseconds(clean_recording):
    ev = clean_recording.events
    assert ev.is_time_ordered()
    assert np.all(ev.t % 1000 == 0)
    assert ev.x.max() < clean_recording.config.width and ev.y.max() < clean_recording.config.height
    assert ev.t[0] >= clean_recording.config.event_clock_start_ns


def test_refractory_period_limits_per_pixel_rate():
    cfg = SyntheticConfig.from_preset(
        "easy", **{**SMALL, "contrast_threshold_pos": 0.05, "contrast_threshold_neg": 0.05}
    )
    slow = generate_sequence(cfg.__class__(**{**cfg.to_dict(), "refractory_s": 5e-3}), seed=1)
    fast = generate_sequence(cfg, seed=1)
    assert slow.stats["refractory_drops"] > 0
    assert len(slow.events) < len(fast.events)
    ev = slow.events
    order = np.lexsort((ev.t, ev.y.astype(np.int64) * 1000 + ev.x))
    pix = (ev.y.astype(np.int64) * 1000 + ev.x)[order]
    t = ev.t[order]
    same = pix[1:] == pix[:-1]
    # Microsecond rounding can shave at most 1 us off a gap.
    assert np.all(np.diff(t)[same] >= 5e6 - 1000)


def test_rgb_camera_geometry_and_clock_offset_are_applied_by_aligned():
    h = (1.25, 0.0, 6.0, 0.0, 1.25, -4.0, 0.0, 0.0, 1.0)  # event pixel -> RGB pixel
    overrides = {**SMALL, "shot_noise_rate_hz": 2.0}  # noise everywhere, so some events map off the RGB frame
    cfg = SyntheticConfig.from_preset(
        "easy", **overrides, rgb_width=140, rgb_height=100, homography=h, rgb_clock_start_ns=5_000_000_000
    )
    rec = generate_sequence(cfg, seed=7)
    assert rec.event_to_rgb_offset_ns == 5_000_000_000 - cfg.event_clock_start_ns
    seq = rec.aligned()
    assert (seq.width, seq.height) == (140, 100) and seq.frames[0].shape == (100, 140, 3)
    # Registered events: mapped through H, times shifted onto the RGB clock, off-frame ones counted.
    ev = seq.events
    assert ev.x.max() < 140 and ev.y.max() < 100
    assert seq.meta["events_dropped_registration"] + len(ev) == len(rec.events)
    assert seq.meta["events_dropped_registration"] > 0  # the top rows map above the RGB frame
    u, v = np.rint(rec.events.x * 1.25 + 6.0), np.rint(rec.events.y * 1.25 - 4.0)
    kept = (u >= 0) & (u < 140) & (v >= 0) & (v < 100)
    np.testing.assert_array_equal(ev.t, rec.events.t[kept] + rec.event_to_rgb_offset_ns)
    np.testing.assert_array_equal(ev.x, u[kept])
    np.testing.assert_array_equal(ev.y, v[kept])
    # Ground truth is in RGB pixels: the event-camera box scaled by the homography.
    t_s = (rec.frame_t_ns - cfg.rgb_clock_start_ns) / 1e9
    ev_boxes, _, _ = rec.scene.target_boxes(t_s, rec.scene.event_camera)
    # Box edges: edge = centre + 0.5, so x_rgb_edge = 1.25 * (x_ev_edge - 0.5) + 6 + 0.5.
    expected_x = 1.25 * (ev_boxes[:, 0] - 0.5) + 6.5
    inside = (ev_boxes[:, 0] > 1) & (expected_x > 0) & ~rec.absent
    np.testing.assert_allclose(seq.gt_boxes[inside, 0], expected_x[inside], atol=1e-6)
    np.testing.assert_allclose(seq.gt_boxes[inside, 2], 1.25 * ev_boxes[inside, 2], atol=1e-6)
