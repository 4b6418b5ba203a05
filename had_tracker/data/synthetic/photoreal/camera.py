"""Camera ego-motion: a sampled hand-held / robot camera path as world -> sensor homographies per time.

World coordinates are the event sensor's pixels of the reference view (the camera at rest). At time ``t``
a layer at relative depth ``d`` (1 = the background plane) maps to the sensor through::

    H(t, d) = K R(t) K^-1 . Z(t) . T(-(pan(t) + shake(t)) / d)

``T`` translates (camera translation parallel to the plane; nearer layers move more: parallax), ``Z`` zooms
about the image centre, ``K R K^-1`` rotates the camera (pitch/yaw give the perspective change, plus roll).
Every factor is a closed-form function of time, so any internal rate renders exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from had_tracker.data.synthetic.motion import Path2D, random_walk_path


@dataclass
class CameraPath:
    """Sampled camera motion; ``homographies(t, depth)`` -> (N, 3, 3) world -> sensor maps."""

    width: int
    height: int
    focal_px: float
    pan: Path2D | None
    zoom_amp: float
    zoom_hz: float
    roll_amp: float  # rad
    tilt_amp: np.ndarray  # (2,) rad: pitch, yaw
    tilt_hz: np.ndarray  # (2,)
    shake_amp: np.ndarray  # (3,) px, per sinusoid
    shake_hz: np.ndarray  # (3,)
    phases: np.ndarray  # (8,)

    @property
    def is_still(self) -> bool:
        """True when the camera never moves (every map is the same at all times)."""
        return (
            self.pan is None
            and self.zoom_amp == 0
            and self.roll_amp == 0
            and not np.any(self.tilt_amp)
            and not np.any(self.shake_amp)
        )

    def offset(self, t: np.ndarray) -> np.ndarray:
        """Camera translation (pan + shake) in world px at times ``t``: (N, 2)."""
        t = np.atleast_1d(np.asarray(t, np.float64))
        xy = self.pan(t) if self.pan is not None else np.zeros((len(t), 2))
        for k in range(3):
            arg = 2 * np.pi * self.shake_hz[k] * t
            xy = xy + self.shake_amp[k] * np.stack(
                [np.sin(arg + self.phases[k]), np.sin(1.37 * arg + self.phases[k + 3])], axis=1
            )
        return xy

    def homographies(self, t: np.ndarray, depth: float = 1.0) -> np.ndarray:
        """(N, 3, 3) world -> event-sensor maps at times ``t`` for a layer at relative ``depth``."""
        t = np.atleast_1d(np.asarray(t, np.float64))
        n = len(t)
        off = self.offset(t) / depth
        cx, cy = (self.width - 1) / 2.0, (self.height - 1) / 2.0
        zoom = 1.0 + self.zoom_amp * np.sin(2 * np.pi * self.zoom_hz * t + self.phases[6])
        roll = self.roll_amp * np.sin(2 * np.pi * 0.5 * self.zoom_hz * t + self.phases[7])
        pitch = self.tilt_amp[0] * np.sin(2 * np.pi * self.tilt_hz[0] * t + self.phases[1])
        yaw = self.tilt_amp[1] * np.sin(2 * np.pi * self.tilt_hz[1] * t + self.phases[2])
        # T then Z about the centre: x' = c + z (x - off - c)
        a = np.zeros((n, 3, 3))
        a[:, 0, 0] = a[:, 1, 1] = zoom
        a[:, 0, 2] = cx - zoom * (off[:, 0] + cx)
        a[:, 1, 2] = cy - zoom * (off[:, 1] + cy)
        a[:, 2, 2] = 1.0
        k = np.array([[self.focal_px, 0.0, cx], [0.0, self.focal_px, cy], [0.0, 0.0, 1.0]])
        k_inv = np.linalg.inv(k)
        rot = _rotations(pitch, yaw, roll)
        return k[None] @ rot @ k_inv[None] @ a


def _rotations(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotation matrices Rz(roll) Ry(yaw) Rx(pitch)."""
    n = len(pitch)
    cp, sp, cy, sy, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw), np.cos(roll), np.sin(roll)
    rx = np.zeros((n, 3, 3))
    rx[:, 0, 0] = 1
    rx[:, 1, 1], rx[:, 1, 2], rx[:, 2, 1], rx[:, 2, 2] = cp, -sp, sp, cp
    ry = np.zeros((n, 3, 3))
    ry[:, 1, 1] = 1
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 2, 0], ry[:, 2, 2] = cy, sy, -sy, cy
    rz = np.zeros((n, 3, 3))
    rz[:, 2, 2] = 1
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1] = cr, -sr, sr, cr
    return rz @ ry @ rx


def random_camera_path(
    rng: np.random.Generator,
    width: int,
    height: int,
    focal_px: float,
    duration_s: float,
    speed_px_s: float,
    zoom_amplitude: float,
    roll_deg: float,
    tilt_deg: float,
    shake_px: float,
    shake_hz: float,
) -> CameraPath:
    """A random camera path of the given strengths (all zero = a still camera)."""
    pan = None
    if speed_px_s > 0:
        reach = speed_px_s * duration_s
        bound = (-reach, -reach, reach, reach)
        # Abrupt re-aiming now and then: piecewise-linear segments of 0.3-0.7 s.
        pan = random_walk_path(rng, duration_s, float(rng.uniform(0.3, 0.7)), speed_px_s, bound, False,
                               start=np.zeros(2))  # fmt: skip
    shake_amp = shake_px * np.array([0.6, 0.3, 0.15]) * rng.uniform(0.7, 1.3, 3)
    return CameraPath(
        width=width,
        height=height,
        focal_px=focal_px,
        pan=pan,
        zoom_amp=float(zoom_amplitude * rng.uniform(0.6, 1.0)),
        zoom_hz=float(rng.uniform(0.2, 0.6)),
        roll_amp=float(np.deg2rad(roll_deg) * rng.uniform(0.6, 1.0)),
        tilt_amp=np.deg2rad(tilt_deg) * rng.uniform(0.4, 1.0, 2),
        tilt_hz=rng.uniform(0.15, 0.5, 2),
        shake_amp=shake_amp,
        shake_hz=shake_hz * np.array([1.0, 2.3, 4.1]) * rng.uniform(0.8, 1.2, 3),
        phases=rng.uniform(0, 2 * np.pi, 8),
    )


def view_bounds(
    path: CameraPath, duration_s: float, depth: float = 1.0, samples: int = 64, points: np.ndarray | None = None
) -> np.ndarray:
    """(x0, y0, x1, y1) in world px of everything the sensor sees over the sequence.

    ``points`` = (K, 2) event-pixel points to follow instead of the sensor's corners (e.g. another camera's
    corners pulled into event pixels).
    """
    t = np.linspace(0.0, duration_s, samples)
    inv = np.linalg.inv(path.homographies(t, depth))
    w, h = path.width, path.height
    if points is None:
        points = np.array([[0, 0], [w, 0], [w, h], [0, h], [w / 2, 0], [0, h / 2]], np.float64)
    corners = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    p = np.einsum("nij,kj->nki", inv, corners)
    xy = p[..., :2] / p[..., 2:3]
    return np.array([xy[..., 0].min(), xy[..., 1].min(), xy[..., 0].max(), xy[..., 1].max()])
