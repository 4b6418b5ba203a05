"""Trajectories: keyframed 2D paths (smooth Catmull-Rom or abrupt piecewise-linear), rotation and scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Path2D:
    """A 2D position as a function of time through keyframes; vectorised evaluation."""

    key_t: np.ndarray  # (K,) seconds, increasing
    key_xy: np.ndarray  # (K, 2)
    smooth: bool = True

    def __call__(self, t: np.ndarray | float) -> np.ndarray:
        """Positions ``(N, 2)`` at times ``t`` (seconds)."""
        t = np.atleast_1d(np.asarray(t, np.float64))
        kt, kp = self.key_t, self.key_xy
        i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
        u = np.clip((t - kt[i]) / (kt[i + 1] - kt[i]), 0.0, 1.0)[:, None]
        p1, p2 = kp[i], kp[i + 1]
        if not self.smooth:
            return p1 + (p2 - p1) * u
        p0 = kp[np.maximum(i - 1, 0)]
        p3 = kp[np.minimum(i + 2, len(kp) - 1)]
        u2, u3 = u * u, u * u * u
        return 0.5 * (
            2 * p1 + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u2 + (-p0 + 3 * p1 - 3 * p2 + p3) * u3
        )


def random_walk_path(
    rng: np.random.Generator,
    duration_s: float,
    interval_s: float,
    speed_px_s: float,
    bounds: tuple[float, float, float, float],
    smooth: bool,
    speed_jitter: tuple[float, float] = (0.6, 1.4),
    start: np.ndarray | None = None,
) -> Path2D:
    """Keyframes every ``interval_s`` of a random walk at about ``speed_px_s`` reflected inside ``bounds``.

    ``bounds`` = (x_min, y_min, x_max, y_max). The walk keeps a heading with random turns (sharper when
    not ``smooth``) and per-segment speed factors drawn from ``speed_jitter``.
    """
    n = int(np.ceil(duration_s / interval_s)) + 3
    key_t = (np.arange(n) - 1) * interval_s
    x0, y0, x1, y1 = bounds
    pos = np.array(start, np.float64) if start is not None else rng.uniform([x0, y0], [x1, y1])
    heading = rng.uniform(0, 2 * np.pi)
    turn = 0.8 if smooth else 2.2
    pts = [pos.copy()]
    for _ in range(n - 1):
        heading += rng.normal(0, turn)
        step = speed_px_s * interval_s * rng.uniform(*speed_jitter)
        nxt = pos + step * np.array([np.cos(heading), np.sin(heading)])
        for axis, (lo, hi) in enumerate(((x0, x1), (y0, y1))):
            if nxt[axis] < lo or nxt[axis] > hi:
                nxt[axis] = np.clip(2 * (lo if nxt[axis] < lo else hi) - nxt[axis], lo, hi)
                heading = np.arctan2(nxt[1] - pos[1], nxt[0] - pos[0])
        pos = nxt
        pts.append(pos.copy())
    return Path2D(key_t=key_t, key_xy=np.asarray(pts), smooth=smooth)


def excursion_out_of_view(
    rng: np.random.Generator, path: Path2D, width: float, height: float, size_px: float, duration_s: float
) -> tuple[float, float]:
    """Move one keyframe (near the middle of the sequence) outside the view so the target leaves and returns.

    Returns the (start, end) keyframe times bracketing the excursion.
    """
    inside = np.where((path.key_t > 0.3 * duration_s) & (path.key_t < 0.7 * duration_s))[0]
    k = int(inside[len(inside) // 2]) if len(inside) else len(path.key_t) // 2
    x, y = path.key_xy[k]
    dists = np.array([x, width - x, y, height - y])
    side = int(np.argmin(dists))
    beyond = 1.2 * size_px
    if side == 0:
        path.key_xy[k, 0] = -beyond
    elif side == 1:
        path.key_xy[k, 0] = width + beyond
    elif side == 2:
        path.key_xy[k, 1] = -beyond
    else:
        path.key_xy[k, 1] = height + beyond
    return float(path.key_t[max(k - 1, 0)]), float(path.key_t[min(k + 1, len(path.key_t) - 1)])


@dataclass
class Pose:
    """Rotation (rad) and scale as functions of time; position comes from a Path2D."""

    angle0: float
    angular_speed: float  # rad/s
    wobble: float  # rad amplitude of a slow oscillation
    scale_amplitude: float
    scale_freq_hz: float
    phase: float

    def angle(self, t: np.ndarray) -> np.ndarray:
        """Rotation angle [rad] at times ``t``."""
        t = np.asarray(t, np.float64)
        return self.angle0 + self.angular_speed * t + self.wobble * np.sin(2 * np.pi * 0.4 * t + self.phase)

    def scale(self, t: np.ndarray) -> np.ndarray:
        """Scale factor at times ``t``."""
        t = np.asarray(t, np.float64)
        return 1.0 + self.scale_amplitude * np.sin(2 * np.pi * self.scale_freq_hz * t + self.phase)


def random_pose(rng: np.random.Generator, rotation_speed_deg_s: float, scale_amplitude: float) -> Pose:
    """A random rotation/scale schedule of the given strength."""
    return Pose(
        angle0=float(rng.uniform(-0.3, 0.3)),
        angular_speed=float(np.deg2rad(rotation_speed_deg_s) * rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0)),
        wobble=float(rng.uniform(0.0, 0.2)),
        scale_amplitude=float(scale_amplitude * rng.uniform(0.5, 1.0)),
        scale_freq_hz=float(rng.uniform(0.2, 0.8)),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )
