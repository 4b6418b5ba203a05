"""The v2e-style sensor model: low light lags and is noisier, hot pixels, refractory, flicker, mismatch."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.data.synthetic import SyntheticConfig, generate_sequence
from had_tracker.data.synthetic.sensor import dark_factor, internal_times, simulate_sensor

QUIET = dict(shot_noise_rate_hz=0.0, leak_rate_hz=0.0, hot_pixel_fraction=0.0)


def sensor_config(**overrides) -> SyntheticConfig:
    values = dict(
        duration_s=0.3, width=24, height=16, target_size_px=(4.0, 6.0), rgb_fps=20.0, sensor_model="v2e",
        refractory_s=0.0, threshold_sigma=0.0, **QUIET,
    )  # fmt: skip
    values.update(overrides)
    return SyntheticConfig(**values)


def run(config: SyntheticConfig, radiance, seed: int = 0):
    times = internal_times(config, 0.0)
    return simulate_sensor(config, radiance, np.random.default_rng(seed), times)


def step_latency(level: float) -> float:
    """Median delay [s] of the ON events that follow a doubling of the light at t = 0.05 s.

    The sensor samples at 1 kHz and interpolates linearly, so an ideal pixel fires within (0.049, 0.05].
    """
    cfg = sensor_config()
    res = run(cfg, lambda t: np.full((cfg.height, cfg.width), level * (2.0 if t >= 0.0499 else 1.0), np.float32))
    on = (res.p == 1) & (res.t_s >= 0.045)
    assert on.sum() >= 2 * cfg.width * cfg.height, "every pixel crosses ~3 thresholds (log 2 / 0.2)"
    return float(np.median(res.t_s[on]) - 0.05)


def test_events_lag_behind_a_step_more_in_the_dark():
    bright, dark = step_latency(0.8), step_latency(0.02)
    # bandwidth 300 Hz x intensity: time constant ~0.7 ms at 0.8, ~27 ms at 0.02 (measured medians: -0.4 ms
    # (within the 1 ms sampling step), 9.6 ms)
    assert bright < 0.001
    assert dark > bright + 0.005


def static_scene_event_rate(illumination: float) -> float:
    """Events per pixel per second of a photoreal scene where nothing moves (only noise and leak fire)."""
    cfg = SyntheticConfig.from_preset(
        "photoreal", duration_s=0.4, width=64, height=48, target_size_px=(14.0, 18.0), rgb_fps=20.0,
        gt_hr_rate_hz=50.0, illumination=illumination, camera_speed_px_s=0.0, camera_shake_px=0.0,
        target_speed_px_s=0.0, rotation_speed_deg_s=0.0, scale_amplitude=0.0, target_tilt_deg=0.0,
        num_distractors=0, same_appearance_distractors=0, num_occluders=0, hot_pixel_fraction=0.0,
        shot_noise_rate_hz=1.0, leak_rate_hz=0.5,
    )  # fmt: skip
    rec = generate_sequence(cfg, seed=3)
    # the camera and target are still; the target's wobble still moves a little: count outside its box
    return len(rec.events) / (cfg.width * cfg.height * cfg.duration_s)


def test_darker_scene_has_more_noise_events_per_pixel():
    bright = static_scene_event_rate(1.0)
    dark = static_scene_event_rate(0.03)
    assert dark > 1.5 * bright


def test_dark_factor_grows_as_the_light_falls():
    f = dark_factor(np.array([2.0, 1.0, 0.3, 0.03, 0.0]), 4.0)
    assert f[0] == f[1] == 1.0 and f[-1] == 5.0 and np.all(np.diff(f) >= 0)


def test_hot_pixels_fire_at_their_rate_from_few_pixels():
    cfg = sensor_config(width=100, height=100, duration_s=1.0, hot_pixel_fraction=0.01, hot_pixel_rate_hz=40.0)
    res = run(cfg, lambda t: np.full((cfg.height, cfg.width), 0.5, np.float32))
    idx = res.y.astype(int) * cfg.width + res.x
    counts = np.bincount(idx, minlength=cfg.width * cfg.height)
    assert (counts > 0).sum() == 100  # 1 % of 10 000 pixels, nothing else fires on a static scene
    per_pixel = counts[counts > 0].mean()
    assert 25 < per_pixel < 70  # ~40 Hz x 1 s with a lognormal spread (mean x1.13)


def test_refractory_period_separates_events_of_a_pixel():
    cfg = sensor_config(refractory_s=0.004, duration_s=0.1)
    # log intensity rises 100/s: a threshold (0.2) every 2 ms without the refractory period
    res = run(cfg, lambda t: np.full((cfg.height, cfg.width), 0.5 * np.exp(100.0 * t), np.float32))
    idx = res.y.astype(int) * cfg.width + res.x
    order = np.lexsort((res.t_s, idx))
    same = np.diff(idx[order]) == 0
    gaps = np.diff(res.t_s[order])[same]
    assert len(gaps) > 100 and gaps.min() >= 0.004 - 1e-9
    free = run(
        sensor_config(duration_s=0.1), lambda t: np.full((cfg.height, cfg.width), 0.5 * np.exp(100.0 * t), np.float32)
    )
    assert len(free.t_s) > 1.5 * len(res.t_s) and res.stats["refractory_drops"] > 0


@pytest.mark.parametrize("flicker_hz", [100.0, 120.0])
def test_flicker_makes_events_at_the_light_frequency(flicker_hz):
    cfg = SyntheticConfig.from_preset(
        "photoreal", duration_s=0.25, width=48, height=32, target_size_px=(10.0, 14.0), rgb_fps=20.0,
        gt_hr_rate_hz=50.0, flicker_hz=flicker_hz, flicker_depth=0.4, camera_speed_px_s=0.0, camera_shake_px=0.0,
        target_speed_px_s=0.0, rotation_speed_deg_s=0.0, scale_amplitude=0.0, target_tilt_deg=0.0,
        num_distractors=0, same_appearance_distractors=0, num_occluders=0, cutoff_hz=3000.0, **QUIET,
    )  # fmt: skip
    rec = generate_sequence(cfg, seed=1)
    t = (rec.events.t - cfg.event_clock_start_ns) / 1e9
    # ON minus OFF events per 0.25 ms: the light's own frequency (all events together beat at twice it)
    hist, _ = np.histogram(t, bins=1000, range=(0.0, 0.25), weights=np.where(rec.events.p == 1, 1.0, -1.0))
    spectrum = np.abs(np.fft.rfft(hist - hist.mean()))
    freqs = np.fft.rfftfreq(len(hist), 0.25 / 1000)
    peak = freqs[np.argmax(spectrum[1:]) + 1]
    assert peak == pytest.approx(flicker_hz, abs=8.0)


def test_threshold_mismatch_spreads_the_event_counts():
    def counts(sigma: float) -> np.ndarray:
        cfg = sensor_config(threshold_sigma=sigma, width=40, height=40)
        res = run(cfg, lambda t: np.full((cfg.height, cfg.width), 0.1 * np.exp(8.0 * t), np.float32))
        return np.bincount(res.y.astype(int) * cfg.width + res.x, minlength=cfg.width * cfg.height)

    uniform, spread = counts(0.0), counts(0.15)
    assert uniform.std() <= 1.0 and spread.std() > 1.0


def test_low_light_changes_the_events_of_the_shape_presets_too():
    common = dict(duration_s=0.4, width=96, height=72, target_size_px=(18.0, 24.0), rgb_fps=20.0, gt_hr_rate_hz=100.0)
    ideal = generate_sequence(SyntheticConfig.from_preset("hdr", **common), seed=2)
    real = generate_sequence(SyntheticConfig.from_preset("hdr", sensor_model="v2e", **common), seed=2)
    bright = generate_sequence(
        SyntheticConfig.from_preset("hdr", sensor_model="v2e", **{**common, "illumination": 1.0}), seed=2
    )
    assert real.stats["shot_noise_events"] > 1.5 * bright.stats["shot_noise_events"]
    assert len(real.events) != len(ideal.events)
