"""Ladder statistics: mean +- SD over seeds and the paired per-sequence bootstrap CI against ``none``."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.training.protocol import mean_sd, paired_bootstrap_ci


def test_a_consistent_gain_has_a_ci_excluding_zero():
    rng = np.random.default_rng(0)
    base = rng.uniform(30, 80, size=(3, 64))  # 3 seeds x 64 test sequences
    rung = base + 5.0 + rng.normal(0, 2.0, size=base.shape)
    cmp = paired_bootstrap_ci(rung, base)
    assert cmp.excludes_zero and cmp.ci_low < 5.0 < cmp.ci_high and cmp.n_sequences == 64


def test_pure_noise_has_a_ci_that_contains_zero():
    rng = np.random.default_rng(1)
    base = rng.uniform(30, 80, size=64)
    rung = base + rng.normal(0, 10.0, size=64)
    rung += -rung.mean() + base.mean()  # no true difference at all
    cmp = paired_bootstrap_ci(rung, base)
    assert not cmp.excludes_zero and cmp.ci_low < 0.0 < cmp.ci_high


def test_pairing_matters_more_than_the_spread_between_sequences():
    """Sequences differ by 50 SR points, the rung is +1 on every one: paired, the CI is tight around 1."""
    base = np.linspace(20, 70, 64)
    cmp = paired_bootstrap_ci(base + 1.0, base)
    assert cmp.ci_low == pytest.approx(1.0) and cmp.ci_high == pytest.approx(1.0)


def test_mismatched_sequences_are_refused_and_sd_uses_ddof_1():
    with pytest.raises(ValueError, match="same"):
        paired_bootstrap_ci(np.zeros(5), np.zeros(6))
    assert mean_sd(np.array([1.0, 3.0])) == (2.0, pytest.approx(np.sqrt(2.0)))


def test_thresholds_are_calibrated_from_validation_peaks():
    from had_tracker.training.protocol import calibrate_thresholds

    rng = np.random.default_rng(0)
    good = rng.uniform(0.5, 1.0, 200)
    wrong = rng.uniform(0.0, 0.4, 150)
    overlap = rng.uniform(0.4, 0.6, 50)  # negatives that look like the target
    scores = np.concatenate([good, wrong, overlap])
    correct = np.concatenate([np.ones(200, bool), np.zeros(200, bool)])
    negative = np.concatenate([np.zeros(200, bool), np.ones(200, bool)])
    th = calibrate_thresholds(scores, correct, negative, min_precision=0.95)
    assert 0.4 <= th["lost_threshold"] <= 0.6 and th["lost_balanced_accuracy"] > 0.9
    above = scores >= th["reacquire_threshold"]
    assert correct[above].mean() >= 0.95 and th["reacquire_threshold"] >= th["lost_threshold"]
    with pytest.raises(ValueError, match="both"):
        calibrate_thresholds(good, np.ones(200, bool), np.zeros(200, bool))


def test_validation_peaks_mix_negative_crops_into_the_pairs():
    from had_tracker.models.builder import ModelConfig, build_model
    from had_tracker.training.protocol import validation_peaks
    from had_tracker.training.toy import moving_square_sequence

    cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    sequences = [moving_square_sequence(seed, num_frames=12) for seed in range(2)]
    scores, correct, negative = validation_peaks(build_model(cfg), cfg, sequences, n=64)
    assert len(scores) == len(correct) == len(negative) == 64
    assert 16 <= negative.sum() <= 48  # about half negative crops
    assert np.all((scores >= 0) & (scores <= 1)) and not correct[negative].any()
