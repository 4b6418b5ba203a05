"""Centre error along the target's motion: whether the box leads or trails a moving target.

A tracker that is right on average can still sit systematically ahead of a moving target or behind it: a
time offset between the event windows and the ground-truth stamps (e.g. labels at APS exposure start, events
up to the window end), a model that extrapolates motion, or one that centres on the densest edge of the
target. The precision curve cannot tell these apart from noise; the signed error along the direction of
motion can. Per frame, with ``v`` the ground-truth centre's velocity (central differences over the frame
stamps) and ``e`` the predicted minus the ground-truth centre, the error along the motion is ``e . v / |v|``
(px, positive = ahead) and, divided by the speed, a time (ms: how far ahead in time the box is).

Only frames that say something about timing count: the target present in the frame and both neighbours,
moving at least ``min_speed_px_s``, and the box still on the target (centre error below the target's
geometric-mean side), so that a lost track does not pass for a lag. The medians are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MotionBias:
    """Median centre error along the motion (px and ms, positive = ahead of the target) over ``frames`` frames."""

    px: float | None
    ms: float | None
    frames: int

    def scalars(self) -> dict[str, float | int | None]:
        """Report fields: ``motion_bias_px``, ``motion_bias_ms`` (None below ``min_frames``), ``motion_bias_frames``."""
        return {"motion_bias_px": self.px, "motion_bias_ms": self.ms, "motion_bias_frames": self.frames}


def motion_bias(
    pred_xywh: np.ndarray,
    gt_xywh: np.ndarray,
    t_ns: np.ndarray,
    absent: np.ndarray | None = None,
    min_speed_px_s: float = 30.0,
    min_frames: int = 3,
) -> MotionBias:
    """The median signed centre error along the ground truth's motion (see the module docstring).

    ``pred_xywh`` and ``gt_xywh`` are ``(N, 4)`` boxes at the strictly increasing stamps ``t_ns``; frames with
    a non-finite or empty box on either side are skipped. ``px`` and ``ms`` are None when fewer than
    ``min_frames`` frames qualify. ValueError for mismatched shapes or stamps that do not increase.
    """
    pred = np.asarray(pred_xywh, np.float64).reshape(-1, 4)
    gt = np.asarray(gt_xywh, np.float64).reshape(-1, 4)
    t = np.asarray(t_ns, np.int64).reshape(-1)
    n = len(gt)
    if len(pred) != n or len(t) != n:
        raise ValueError(f"need as many boxes as stamps: pred {len(pred)}, gt {n}, t {len(t)}")
    if n < 3:
        return MotionBias(None, None, 0)
    if np.any(np.diff(t) <= 0):
        raise ValueError("frame stamps must increase strictly")
    gone = np.zeros(n, bool) if absent is None else np.asarray(absent, bool).reshape(-1)
    valid_gt = ~gone & np.isfinite(gt).all(1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    valid_pred = np.isfinite(pred).all(1) & (pred[:, 2] > 0) & (pred[:, 3] > 0)
    centre_gt = gt[:, :2] + 0.5 * gt[:, 2:]
    centre_pred = pred[:, :2] + 0.5 * pred[:, 2:]
    # central differences: frames 1..n-2 with both neighbours present
    inner = np.zeros(n, bool)
    inner[1:-1] = valid_gt[:-2] & valid_gt[1:-1] & valid_gt[2:]
    velocity = np.zeros((n, 2))
    velocity[1:-1] = (centre_gt[2:] - centre_gt[:-2]) / ((t[2:] - t[:-2]) * 1e-9)[:, None]
    speed = np.hypot(velocity[:, 0], velocity[:, 1])
    error = centre_pred - centre_gt
    side = np.sqrt(np.abs(gt[:, 2] * gt[:, 3]))
    with np.errstate(invalid="ignore"):
        on_target = np.hypot(error[:, 0], error[:, 1]) < side
    use = inner & valid_pred & (speed >= min_speed_px_s) & on_target
    frames = int(use.sum())
    if frames < max(min_frames, 1):
        return MotionBias(None, None, frames)
    along = (error[use] * velocity[use]).sum(1) / speed[use]
    return MotionBias(float(np.median(along)), float(np.median(along / speed[use]) * 1e3), frames)
