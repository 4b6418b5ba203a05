"""Centre error along the motion (had_tracker.evaluation.motion_bias): lead, lag, and frames left out."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.evaluation.motion_bias import motion_bias


def _moving(n: int = 30, speed_px_s: float = 100.0, period_ms: float = 40.0, angle: float = 0.6):
    """A 20x10 px target moving in a straight line at ``speed_px_s`` along ``angle``; stamps every ``period_ms``."""
    t = (np.arange(n) * period_ms * 1e6).astype(np.int64) + 1_000_000_000
    d = np.array([np.cos(angle), np.sin(angle)])
    centre = np.array([50.0, 60.0]) + (t - t[0])[:, None] * 1e-9 * speed_px_s * d
    gt = np.column_stack([centre - [10.0, 5.0], np.tile([20.0, 10.0], (n, 1))])
    return t, gt, d


@pytest.mark.parametrize("shift_ms", [30.0, -50.0])
def test_a_box_shifted_in_time_reads_as_that_lead_or_lag(shift_ms):
    t, gt, d = _moving()
    pred = gt.copy()
    pred[:, :2] += d * 100.0 * shift_ms * 1e-3  # where the target is shift_ms later (earlier when negative)
    pred[:, 1] += 1.0 * np.where(np.arange(len(t)) % 2, 1, -1)  # noise across the motion does not count
    bias = motion_bias(pred, gt, t)
    assert bias.ms == pytest.approx(shift_ms, abs=1e-6)
    assert bias.px == pytest.approx(100.0 * shift_ms * 1e-3, abs=1e-6)
    assert bias.frames == len(t) - 2  # central differences: not the first and last frame


def test_a_box_on_the_target_has_no_bias_and_lost_or_static_frames_are_left_out():
    t, gt, _ = _moving(n=20)
    pred = gt.copy()
    pred[10:13, :2] += 200.0  # lost: far off the target, not a lag
    gt[15:, :2] = gt[15, :2]  # the target stops: no motion, no timing information
    bias = motion_bias(pred, gt, t)
    assert bias.px == pytest.approx(0.0) and bias.ms == pytest.approx(0.0)
    assert bias.frames == 18 - 3 - 3  # frames 1..18, minus the lost ones, minus the still ones (16..18; 15 moves)


def test_absent_frames_break_the_velocity_and_too_few_frames_give_none():
    t, gt, _ = _moving(n=6)
    absent = np.zeros(6, bool)
    absent[2] = True  # its neighbours 1 and 3 lose their central difference too
    bias = motion_bias(gt, gt, t, absent)
    assert bias.frames == 1 and bias.px is None and bias.ms is None
    assert bias.scalars() == {"motion_bias_px": None, "motion_bias_ms": None, "motion_bias_frames": 1}
    assert motion_bias(gt[:2], gt[:2], t[:2]).frames == 0


def test_bad_input_is_an_error():
    t, gt, _ = _moving(n=5)
    with pytest.raises(ValueError, match="as many boxes"):
        motion_bias(gt[:4], gt, t)
    with pytest.raises(ValueError, match="increase"):
        motion_bias(gt, gt, t[::-1].copy())
