"""Clock model: offset estimate under jitter and drift, trigger alignment, activity correlation."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.events.container import Events, Triggers
from had_tracker.sync.clock import OffsetEstimator, TriggerAligner, estimate_offset_from_activity

OFFSET = 1_700_000_000_123_456_789  # host epoch time at sensor time 0


def test_offset_is_the_lower_envelope_not_the_mean_of_jittery_delays():
    rng = np.random.default_rng(1)
    est = OffsetEstimator(track_drift=False)
    sensor = np.arange(0, 5_000_000_000, 1_000_000)
    delay = rng.integers(50_000, 8_000_000, len(sensor))  # 0.05..8 ms arrival delay, always >= 0
    delay[::97] = 0  # some packets arrive without delay
    for s, d in zip(sensor, delay, strict=True):
        est.add_sample(int(s), int(s + OFFSET + d))
    assert est.offset_at(int(sensor[-1])) == OFFSET


def test_drift_is_tracked_by_the_fitted_envelope():
    rng = np.random.default_rng(2)
    drift = 50e-6  # host runs 50 ppm fast
    est = OffsetEstimator(window_ns=10_000_000_000, bucket_ns=500_000_000, track_drift=True)
    sensor = np.arange(0, 20_000_000_000, 2_000_000)
    for s in sensor:
        host = s + OFFSET + int(s * drift) + int(rng.integers(0, 3_000_000))
        est.add_sample(int(s), host)
    t = int(sensor[-1])
    truth = OFFSET + int(t * drift)
    assert abs(est.offset_at(t) - truth) < 200_000  # within 0.2 ms after 20 s (no tracking: 1 ms off)
    assert est.drift_ppm == pytest.approx(50, abs=10)


def test_offset_jump_restarts_the_estimate_and_is_counted():
    est = OffsetEstimator()
    for s in range(0, 1_000_000_000, 10_000_000):
        est.add_sample(s, s + 5_000_000_000)
    for s in range(0, 1_000_000_000, 10_000_000):  # sensor clock restarted: same sensor times, +3 s on host
        est.add_sample(s, s + 8_000_000_000)
    assert est.resets == 1
    assert est.offset_at(500_000_000) == 8_000_000_000


def test_trigger_alignment_recovers_a_known_offset_exactly():
    rng = np.random.default_rng(3)
    true_offset = 2_345_678_901  # sensor -> RGB clock, ns
    trig_t = np.arange(10_000_000, 2_000_000_000, 33_333_333, dtype=np.int64)  # 30 Hz trigger, sensor time
    aligner = TriggerAligner(edge="rising")
    edges = np.ones(len(trig_t), np.uint8)
    # Falling edges in between must be ignored for edge="rising".
    falling = trig_t + 5_000_000
    all_t = np.sort(np.r_[trig_t, falling])
    all_edge = np.where(np.isin(all_t, trig_t), 1, 0).astype(np.uint8)
    aligner.add_triggers(Triggers(all_t, all_edge, np.zeros(len(all_t), np.uint8)))
    assert edges.sum() == len(trig_t)
    for t in trig_t:
        prior = true_offset + int(rng.integers(-4_000_000, 4_000_000))  # header-based prior, ms-level jitter
        assert aligner.add_frame(int(t) + true_offset, prior)
    assert aligner.offset_at(int(trig_t[-1])) == true_offset
    assert aligner.matched == len(trig_t)


def test_trigger_frames_arriving_before_their_trigger_are_matched_later():
    aligner = TriggerAligner()
    assert not aligner.add_frame(1_000_000_500, prior_offset_ns=1_000_000_000)
    aligner.add_triggers(Triggers(np.array([400, 500, 600], np.int64), np.ones(3, np.uint8), np.zeros(3, np.uint8)))
    aligner.retry_pending()
    assert aligner.ready and aligner.offset_at(0) == 1_000_000_000


def test_trigger_aligner_rejects_a_bad_edge_name():
    with pytest.raises(ValueError):
        TriggerAligner(edge="up")


def test_activity_correlation_finds_the_event_to_frame_offset():
    rng = np.random.default_rng(4)
    n_frames, period = 60, 20_000_000
    stamps = np.arange(n_frames, dtype=np.int64) * period
    activity = rng.uniform(0, 1, n_frames)  # motion energy per frame interval
    frames = [np.zeros((8, 8, 3), np.uint8)]
    level = 0.0
    for a in activity[1:]:
        level = (level + 100 * a) % 200
        frames.append(np.full((8, 8, 3), int(level), np.uint8))
    true_offset = 7_000_000
    t_parts = []
    for i in range(1, n_frames):
        diff = abs(float(frames[i][0, 0, 0]) - float(frames[i - 1][0, 0, 0]))
        k = int(diff * 20)
        t_parts.append(rng.integers(stamps[i - 1], stamps[i], k) - true_offset)
    t = np.sort(np.concatenate(t_parts))
    events = Events.from_arrays(t, np.zeros(len(t)), np.zeros(len(t)), np.zeros(len(t)), 8, 8)
    offset, corr = estimate_offset_from_activity(events, frames, stamps, (-15_000_000, 15_000_000), 1_000_000)
    assert offset == true_offset
    assert corr > 0.9
