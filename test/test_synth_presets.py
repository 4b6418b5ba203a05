"""Presets, config validation, determinism, and the low-light/HDR asymmetry between RGB and events."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from had_tracker.data.synthetic import PRESET_NAMES, SyntheticConfig, generate_sequence
from had_tracker.errors import ConfigError, HadTrackerError

TINY = dict(duration_s=0.3, width=96, height=72, target_size_px=(18.0, 24.0), rgb_fps=20.0, gt_hr_rate_hz=100.0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"width": -5},
        {"height": 0},
        {"rgb_width": -1},
        {"contrast_threshold_pos": 0.0},
        {"contrast_threshold_neg": -0.1},
        {"duration_s": 0},
        {"exposure_s": 0.5},
        {"target_size_px": (-3.0, 10.0)},
        {"num_distractors": -1},
        {"homography": (1.0, 0.0)},
        {"illumination": 0.0},
    ],
)
def test_bad_config_values_raise_config_error(overrides):
    with pytest.raises(ConfigError):
        SyntheticConfig.from_preset("easy", **overrides)


def test_unknown_preset_and_unknown_field_raise_config_error():
    with pytest.raises(ConfigError, match="unknown synthetic preset"):
        SyntheticConfig.from_preset("nightmare")
    with pytest.raises(ConfigError, match="unknown SyntheticConfig field"):
        SyntheticConfig.from_preset("easy", speed=3)
    with pytest.raises(HadTrackerError):
        generate_sequence("nightmare", seed=0)


def test_same_seed_gives_identical_sequence_and_other_seed_differs():
    a = generate_sequence(SyntheticConfig.from_preset("mixed", **TINY), seed=11)
    b = generate_sequence(SyntheticConfig.from_preset("mixed", **TINY), seed=11)
    c = generate_sequence(SyntheticConfig.from_preset("mixed", **TINY), seed=12)
    for name in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(getattr(a.events, name), getattr(b.events, name))
    np.testing.assert_array_equal(a.rgb_frames, b.rgb_frames)
    np.testing.assert_array_equal(a.gt_boxes, b.gt_boxes)
    assert a.config == b.config and a.attributes == b.attributes
    assert len(a.events) != len(c.events) or not np.array_equal(a.events.x, c.events.x)


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_every_preset_generates_a_consistent_aligned_sequence(preset):
    rec = generate_sequence(SyntheticConfig.from_preset(preset, **TINY), seed=2)
    seq = rec.aligned()
    assert len(seq) == len(rec) >= 5
    assert seq.frames[0].shape == (seq.height, seq.width, 3) and seq.frames[0].dtype == np.uint8
    assert np.all(seq.exposure_start_ns < seq.frame_t_ns) and np.all(seq.frame_t_ns < seq.exposure_end_ns)
    assert np.all(np.diff(seq.frame_t_ns) > 0)
    assert seq.events is not None and seq.events.is_time_ordered() and len(seq.events) > 0
    np.testing.assert_array_equal(seq.events.t, rec.events.t + rec.event_to_rgb_offset_ns)
    assert seq.gt_hr_boxes.shape == (len(seq.gt_hr_t_ns), 4)
    present = ~seq.absent
    assert np.all(seq.gt_boxes[present, 2:] > 0)
    assert np.all(seq.gt_boxes[:, 0] >= 0) and np.all(seq.gt_boxes[:, 0] + seq.gt_boxes[:, 2] <= seq.width + 1e-9)
    assert set(seq.attributes) >= {"fast_motion", "low_light", "over_exposure", "occlusion", "distractors"}


def test_preset_attributes_are_flagged():
    assert SyntheticConfig.from_preset("fast").attribute_flags()["fast_motion"]
    flags = SyntheticConfig.from_preset("hdr").attribute_flags()
    assert flags["low_light"] and flags["over_exposure"]
    assert SyntheticConfig.from_preset("distractors").attribute_flags()["distractors"]
    assert not any(SyntheticConfig.from_preset("easy").attribute_flags().values())


def _noise_sigma(gray: np.ndarray) -> float:
    """Immerkaer's fast noise estimate (Laplacian-difference mask)."""
    g = gray.astype(np.float64)
    lap = g[:-2, :-2] - 2 * g[:-2, 1:-1] + g[:-2, 2:] - 2 * g[1:-1, :-2] + 4 * g[1:-1, 1:-1]
    lap += -2 * g[1:-1, 2:] + g[2:, :-2] - 2 * g[2:, 1:-1] + g[2:, 2:]
    return float(np.sqrt(np.pi / 2) * np.abs(lap).mean() / 6)


def _lum(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _contrast(rec) -> float:
    """Std of the smoothed (noise-suppressed) luminance over pixels that are not clipped."""
    vals = []
    for frame in _lum(rec.rgb_frames):
        smooth = cv2.GaussianBlur(frame, (0, 0), 2.0)
        vals.append(smooth[smooth < 250].std())
    return float(np.mean(vals))


def _fidelity(rec) -> float:
    """Correlation of the frames with the ideal log radiance (what an unlimited-range sensor would see)."""
    cors = []
    for i in range(0, len(rec), 2):
        t_s = (rec.frame_t_ns[i] - rec.config.rgb_clock_start_ns) / 1e9
        ideal = np.log(rec.scene.render(t_s, rec.scene.rgb_camera).mean(axis=2) + 1e-4)
        cors.append(np.corrcoef(ideal.ravel(), _lum(rec.rgb_frames[i]).ravel())[0, 1])
    return float(np.mean(cors))


def _near_target_fraction(rec) -> float:
    seq = rec.aligned()
    inside = total = 0
    for i in range(len(seq)):
        ev = seq.events.slice_time(seq.exposure_start_ns[i], seq.exposure_end_ns[i])
        x, y, w, h = seq.gt_boxes[i]
        inside += np.sum((ev.x >= x - 4) & (ev.x <= x + w + 4) & (ev.y >= y - 4) & (ev.y <= y + h + 4))
        total += len(ev)
    return inside / max(total, 1)


@pytest.fixture(scope="module")
def light_variants():
    common = dict(
        duration_s=0.5,
        width=128,
        height=96,
        target_size_px=(24.0, 30.0),
        rgb_fps=20.0,
        exposure_s=0.02,
        gt_hr_rate_hz=100.0,
    )
    base = SyntheticConfig.from_preset("easy", **common)
    return {
        "normal": generate_sequence(base, seed=5),
        "low_light": generate_sequence(base.with_attributes(low_light=True), seed=5),
        "hdr": generate_sequence(SyntheticConfig.from_preset("hdr", **common), seed=5),
    }


def test_low_light_makes_rgb_darker_noisier_and_flatter(light_variants):
    normal, dark = light_variants["normal"], light_variants["low_light"]
    np.testing.assert_allclose(normal.gt_boxes, dark.gt_boxes, atol=1e-6)  # same scene, other light
    noise_n = np.mean([_noise_sigma(f) for f in _lum(normal.rgb_frames)])
    noise_d = np.mean([_noise_sigma(f) for f in _lum(dark.rgb_frames)])
    assert noise_d > 1.5 * noise_n
    assert _contrast(dark) < 0.8 * _contrast(normal)
    assert _lum(dark.rgb_frames).mean() < 0.8 * _lum(normal.rgb_frames).mean()
    assert _fidelity(dark) < _fidelity(normal) - 0.03


def test_hdr_clips_the_bright_region_and_flattens_its_texture(light_variants):
    normal, hdr = light_variants["normal"], light_variants["hdr"]
    assert np.mean(_lum(hdr.rgb_frames) >= 254) > 0.02
    assert np.mean(_lum(normal.rgb_frames) >= 254) < 0.005
    illum = hdr.scene.rgb_camera.illumination
    bright = illum > 0.8 * illum.max()
    assert bright.sum() > 50
    detail_normal = np.mean([f[bright].std() for f in _lum(normal.rgb_frames)])
    detail_hdr = np.mean([f[bright].std() for f in _lum(hdr.rgb_frames)])
    assert detail_hdr < 0.5 * detail_normal


@pytest.mark.parametrize("variant", ["low_light", "hdr"])
def test_event_statistics_do_not_degrade_with_light(light_variants, variant):
    normal, other = light_variants["normal"], light_variants[variant]
    ratio = other.stats["signal_events"] / normal.stats["signal_events"]
    assert 0.75 < ratio < 1.25
    assert abs(_near_target_fraction(other) - _near_target_fraction(normal)) < 0.1


def _median_aspect(rec) -> float:
    seq = rec.aligned() if hasattr(rec, "aligned") else rec
    boxes = np.asarray(seq.gt_boxes)
    boxes = boxes[boxes[:, 3] > 0]
    return float(np.median(boxes[:, 2] / boxes[:, 3]))


def test_target_stretch_elongates_the_target_and_is_off_by_default():
    common = {**TINY, "width": 160, "height": 120, "rotation_speed_deg_s": 0.0, "scale_amplitude": 0.0}
    plain = generate_sequence(SyntheticConfig.from_preset("easy", **common), seed=3)
    again = generate_sequence(SyntheticConfig.from_preset("easy", target_stretch_max=1.0, **common), seed=3)
    np.testing.assert_array_equal(plain.events.t, again.events.t)  # off: no extra random draw
    rng = np.random.default_rng(0)
    assert SyntheticConfig.from_preset("easy").draw_stretch(rng) == 1.0
    cfg = SyntheticConfig.from_preset("easy", target_stretch_max=3.0)
    draws = np.array([cfg.draw_stretch(rng) for _ in range(2000)])
    assert draws.min() >= 1 / 3 - 1e-9 and draws.max() <= 3 + 1e-9
    assert abs(np.median(np.log(draws))) < 0.1 and (draws > 2).mean() > 0.15 and (draws < 0.5).mean() > 0.15

    # the ground truth's aspect spreads with the stretch (shape aspects 0.65-1.5, tilted up to ~17 degrees)
    def log_aspect_sd(**extra) -> float:
        cfg = SyntheticConfig.from_preset("easy", **common, **extra)
        return float(np.std([np.log(_median_aspect(generate_sequence(cfg, seed))) for seed in range(10)]))

    assert log_aspect_sd(target_stretch_max=4.0) > 1.5 * log_aspect_sd()
    with pytest.raises(ConfigError):
        SyntheticConfig.from_preset("easy", target_stretch_max=0.5)


def test_contrast_threshold_scale_randomises_the_sensor_per_sequence_and_is_off_by_default():
    plain = generate_sequence(SyntheticConfig.from_preset("easy", **TINY), seed=3)
    again = generate_sequence(SyntheticConfig.from_preset("easy", contrast_threshold_scale_max=1.0, **TINY), seed=3)
    np.testing.assert_array_equal(plain.events.t, again.events.t)  # off: no extra random draw
    mixed = SyntheticConfig.from_preset("mixed-real", contrast_threshold_scale_max=3.0)
    base = SyntheticConfig.from_preset("mixed-real")
    factors = []
    for seed in range(400):
        drawn, reference = mixed.resolve(np.random.default_rng(seed)), base.resolve(np.random.default_rng(seed))
        assert drawn.scene_kind == reference.scene_kind  # the scene draws are those without the option
        factor = drawn.contrast_threshold_pos / reference.contrast_threshold_pos
        assert drawn.contrast_threshold_neg / reference.contrast_threshold_neg == pytest.approx(factor)
        assert drawn.contrast_threshold_scale_max == 1.0  # resolved: drawn once
        factors.append(factor)
    factors = np.array(factors)
    assert factors.min() >= 1.0 - 1e-9 and factors.max() <= 3.0 + 1e-9
    assert abs(np.median(np.log(factors)) - 0.5 * np.log(3.0)) < 0.1  # log-uniform in [1, 3]
    # a higher threshold: fewer events from the same scene
    common = {**TINY, "contrast_threshold_scale_max": 4.0}
    counts = {
        seed: (
            len(generate_sequence(SyntheticConfig.from_preset("easy", **common), seed=seed).events),
            len(generate_sequence(SyntheticConfig.from_preset("easy", **TINY), seed=seed).events),
        )
        for seed in range(3)
    }
    assert all(scaled < unscaled for scaled, unscaled in counts.values()), counts
    with pytest.raises(ConfigError):
        SyntheticConfig.from_preset("easy", contrast_threshold_scale_max=0.5)
