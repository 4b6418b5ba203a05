"""Event thinning, shading and window jitter in the pair sampler: the student's inputs change, the teacher's do not."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.data.sampler import (
    PairSampler,
    SamplerConfig,
    draw_keep_fraction,
    draw_shading,
    draw_window_lengths,
    shade_events,
    shading_keep,
    thin_events,
)
from had_tracker.events.container import Events
from had_tracker.models.builder import ModelConfig
from had_tracker.training.toy import moving_square_sequence


@pytest.fixture(scope="module")
def toy():
    return [moving_square_sequence(seed, num_frames=12) for seed in range(2)]


def _samples(toy, n: int = 6, **kw) -> list[dict[str, np.ndarray]]:
    sampler = PairSampler(toy, ModelConfig(), SamplerConfig(**kw), seed=3, epoch_size=16, with_bins=True)
    return [sampler[i] for i in range(n)]


def _events_in(tensor: np.ndarray) -> float:
    """Event count of a crop tensor: the inputs are log1p of (time-bilinear) counts."""
    return float(np.expm1(tensor).sum())


@pytest.mark.parametrize(
    "off",
    [
        {"event_thinning": 0.0, "event_keep_range": (0.1, 0.1)},
        {"event_shading": 0.0, "shading_floor_range": (0.1, 0.1)},
        {"window_jitter": 0.0, "window_ms_range": (5.0, 5.0)},
    ],
)
def test_thinning_shading_and_window_jitter_off_leave_the_pairs_bit_identical(toy, off):
    for a, b in zip(_samples(toy), _samples(toy, **off), strict=True):
        assert a.keys() == b.keys()
        assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("on", "lo", "hi"),
    [
        ({"event_thinning": 1.0, "event_keep_range": (0.2, 0.2)}, 0.15, 0.25),  # the drawn fraction
        # the ramp keeps ~half of a target's events, more of the lit side's surroundings
        ({"event_shading": 1.0, "shading_floor_range": (0.05, 0.05)}, 0.2, 0.9),
    ],
)
def test_thinned_and_shaded_pairs_drop_the_students_events_only(toy, on, lo, hi):
    plain, sparse = _samples(toy), _samples(toy, **on)
    for key in ("template_events", "search_events", "search_bins"):
        ratio = sum(_events_in(s[key]) for s in sparse) / sum(_events_in(s[key]) for s in plain)
        assert lo < ratio < hi, (key, ratio)
    for a, b in zip(plain, sparse, strict=True):
        np.testing.assert_array_equal(a["search_box"], b["search_box"])  # same crops and targets: the whole target
        for key in ("template_events_teacher", "search_events_teacher", "template_rgb", "search_rgb"):
            np.testing.assert_array_equal(a[key], b[key])


def test_keep_fractions_are_log_uniform_in_the_range_and_thinning_is_drawn_with_its_probability():
    rng = np.random.default_rng(0)
    cfg = SamplerConfig(event_thinning=0.5, event_keep_range=(0.01, 1.0))
    keeps = np.array([draw_keep_fraction(cfg, rng) for _ in range(4000)])
    thinned = keeps[keeps < 1.0]
    assert 0.45 < len(thinned) / len(keeps) < 0.55
    assert thinned.min() >= 0.01
    assert abs(np.median(np.log10(thinned)) + 1.0) < 0.1  # log-uniform in [1e-2, 1]: median 1e-1


def test_thin_events_keeps_each_event_independently():
    n = 20000
    events = Events.from_arrays(np.arange(n), np.zeros(n), np.zeros(n), np.ones(n), 4, 4)
    kept = thin_events(events, 0.3, np.random.default_rng(1))
    assert 0.28 * n < len(kept) < 0.32 * n
    assert kept.is_time_ordered()
    assert thin_events(events, 1.0, np.random.default_rng(1)) is events


def test_bad_thinning_settings_raise():
    with pytest.raises(ValueError, match="event_thinning"):
        SamplerConfig(event_thinning=1.5)
    with pytest.raises(ValueError, match="event_keep_range"):
        SamplerConfig(event_thinning=0.5, event_keep_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="event_keep_range"):
        SamplerConfig(event_keep_range=(0.5, 0.2))


def test_the_keep_probability_ramps_across_the_box_along_the_direction():
    box = np.array([10.0, 20.0, 20.0, 10.0])  # centre (20, 25)
    x = np.array([-100.0, 9.5, 19.5, 29.5, 100.0])  # pixel centres at x + 0.5: the box's edges and centre
    y = np.full(5, 24.5)
    keep = shading_keep(x, y, box, 0.0, 0.1)  # dim towards +x
    np.testing.assert_allclose(keep, [1.0, 1.0, 0.55, 0.1, 0.1], atol=1e-6)
    up = shading_keep(np.full(3, 19.5), np.array([19.5, 24.5, 29.5]), box, -np.pi / 2, 0.2)  # dim towards -y
    np.testing.assert_allclose(up, [0.2, 0.6, 1.0], atol=1e-6)


def test_shade_events_keeps_the_lit_side_and_thins_the_dim_side():
    n = 40000
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 40, n), rng.integers(0, 40, n)
    events = Events.from_arrays(np.arange(n), x, y, np.ones(n), 40, 40)
    kept = shade_events(events, np.array([0.0, 0.0, 40.0, 40.0]), (np.pi, 0.1), np.random.default_rng(1))
    left, right = np.count_nonzero(kept.x < 4), np.count_nonzero(kept.x >= 36)  # dim towards -x
    assert 0.1 < left / right < 0.25
    assert kept.is_time_ordered()
    assert shade_events(events, np.array([0.0, 0.0, 4.0, 4.0]), None, rng) is events


def test_shading_is_drawn_with_its_probability_and_floors_are_log_uniform():
    rng = np.random.default_rng(0)
    cfg = SamplerConfig(event_shading=0.5, shading_floor_range=(0.01, 1.0))
    draws = [draw_shading(cfg, rng) for _ in range(4000)]
    shaded = [d for d in draws if d is not None]
    assert 0.45 < len(shaded) / len(draws) < 0.55
    floors = np.array([f for _, f in shaded])
    angles = np.array([a for a, _ in shaded])
    assert floors.min() >= 0.01 and abs(np.median(np.log10(floors)) + 1.0) < 0.1
    assert 0 <= angles.min() and angles.max() < 2 * np.pi and abs(angles.mean() - np.pi) < 0.15


def test_bad_shading_settings_raise():
    with pytest.raises(ValueError, match="event_shading"):
        SamplerConfig(event_shading=-0.1)
    with pytest.raises(ValueError, match="shading_floor_range"):
        SamplerConfig(event_shading=0.5, shading_floor_range=(0.0, 0.5))
    with pytest.raises(ValueError, match=r"shading_floor_range=\(0.1, 0.2, 0.3\)"):  # not a (lo, hi) pair
        SamplerConfig(event_shading=0.5, shading_floor_range=(0.1, 0.2, 0.3))


@pytest.mark.parametrize(("length_ms", "lo", "hi"), [(5.0, 0.1, 0.5), (60.0, 1.5, 4.0)])
def test_jittered_windows_change_the_students_time_support_only(toy, length_ms, lo, hi):
    """The toy square makes events at a steady rate: a 5 ms (60 ms) window holds ~1/4 (up to 3x) of the 20 ms one's."""
    plain, jittered = _samples(toy), _samples(toy, window_jitter=1.0, window_ms_range=(length_ms, length_ms))
    for key in ("template_events", "search_events", "search_bins"):
        ratio = sum(_events_in(s[key]) for s in jittered) / sum(_events_in(s[key]) for s in plain)
        assert lo < ratio < hi, (key, ratio)
    for a, b in zip(plain, jittered, strict=True):
        np.testing.assert_array_equal(a["search_box"], b["search_box"])
        for key in ("template_events_teacher", "search_events_teacher", "template_rgb", "search_rgb"):
            np.testing.assert_array_equal(a[key], b[key])


def test_window_lengths_are_drawn_with_their_probability_log_uniform_and_independently():
    rng = np.random.default_rng(0)
    cfg = SamplerConfig(window_jitter=0.5, window_ms_range=(1.0, 100.0))
    draws = [draw_window_lengths(cfg, rng) for _ in range(4000)]
    drawn = np.array([d for d in draws if d is not None], dtype=np.float64) / 1e6  # ms
    assert 0.45 < len(drawn) / len(draws) < 0.55
    assert drawn.min() >= 1.0 and drawn.max() <= 100.0
    assert np.all(np.abs(np.median(np.log10(drawn), axis=0) - 1.0) < 0.1)  # log-uniform in [1, 100]: median 10
    assert abs(np.corrcoef(np.log(drawn).T)[0, 1]) < 0.1  # template and search drawn independently


def test_bad_window_jitter_settings_raise():
    with pytest.raises(ValueError, match="window_jitter"):
        SamplerConfig(window_jitter=2.0)
    with pytest.raises(ValueError, match="window_ms_range"):
        SamplerConfig(window_jitter=0.5, window_ms_range=(0.0, 10.0))
    with pytest.raises(ValueError, match="window_ms_range"):
        SamplerConfig(window_ms_range=(40.0, 10.0))
