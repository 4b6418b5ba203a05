"""Spatial registration of event pixels into the output (RGB) image frame.

Three models, one class:

- identity — co-located pixels (DAVIS APS + DVS, FE108/VisEvent/COESOT); events outside the output size
  are still dropped and counted;
- homography — a 3x3 matrix mapping event pixel centres ``(x, y, 1)`` to output pixel centres (beam
  splitter rigs, or distant scenes);
- calibration — two CameraInfo (K, optionally D) plus the extrinsic ``p_rgb = R p_ev + t`` (event camera
  frame -> RGB camera frame, metres) under a planar-scene approximation: every point lies on the plane
  ``z_ev = plane_depth_m`` in front of the event camera, giving ``H = K_rgb (R + t n^T / d) K_ev^-1`` with
  ``n = (0, 0, 1)`` (``plane_depth_m = inf`` gives the infinite homography ``K_rgb R K_ev^-1``). With
  ``use_distortion`` the event pixels are undistorted (event D) before, and re-distorted (RGB D) after.

A mapping is precomputed once as a per-pixel lookup table (event pixel -> output pixel index, -1 when it
falls outside the output image), so applying it costs one gather per event, whatever the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from had_tracker.errors import ConfigError
from had_tracker.events.container import Events


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics of one camera: 3x3 ``K``, distortion ``D`` (plumb_bob / rational, OpenCV order), size."""

    K: np.ndarray
    D: np.ndarray
    width: int
    height: int

    @classmethod
    def from_camera_info(cls, info: Any) -> CameraModel:
        """From a sensor_msgs/CameraInfo (rclpy or rosbags; fields ``k``/``d`` or ``K``/``D``) or a dict."""
        get = info.get if isinstance(info, dict) else lambda name, default=None: getattr(info, name, default)
        k = get("k", None)
        if k is None:
            k = get("K", None)
        d = get("d", None)
        if d is None:
            d = get("D", None)
        if k is None:
            raise ConfigError("camera info has no intrinsic matrix k/K")
        try:
            k_mat = np.asarray(k, dtype=np.float64).reshape(3, 3)
            d_vec = np.asarray(d if d is not None else [], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"camera info k/d are not numbers of the right shape: {exc}") from None
        if not (np.all(np.isfinite(k_mat)) and np.all(np.isfinite(d_vec))):
            raise ConfigError("camera info has non-finite (NaN/inf) entries in k or d")
        if not (k_mat[0, 0] > 0 and k_mat[1, 1] > 0):
            raise ConfigError(f"camera info has invalid focal lengths fx={k_mat[0, 0]}, fy={k_mat[1, 1]}")
        if np.linalg.cond(k_mat) > 1e12:
            raise ConfigError(f"camera info intrinsic matrix k is singular: {k_mat.ravel().tolist()}")
        return cls(k_mat, d_vec, int(get("width") or 0), int(get("height") or 0))


def planar_homography(
    event_camera: CameraModel,
    rgb_camera: CameraModel,
    rotation: np.ndarray,
    translation_m: Sequence[float],
    plane_depth_m: float = float("inf"),
) -> np.ndarray:
    """``H = K_rgb (R + t n^T / d) K_ev^-1`` for the plane ``z_ev = d`` (``p_rgb = R p_ev + t``)."""
    rot = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
    t = np.asarray(translation_m, dtype=np.float64).reshape(3, 1)
    if not plane_depth_m > 0:
        raise ConfigError(f"plane_depth_m must be > 0 (or inf), got {plane_depth_m}")
    n = np.array([[0.0, 0.0, 1.0]])
    plane_map = rot if np.isinf(plane_depth_m) else rot + (t @ n) / float(plane_depth_m)
    return rgb_camera.K @ plane_map @ np.linalg.inv(event_camera.K)


class Registration:
    """Maps event pixels to output pixels; drops (and counts) events that land outside the output image."""

    def __init__(
        self,
        in_width: int,
        in_height: int,
        out_width: int | None = None,
        out_height: int | None = None,
        homography: np.ndarray | None = None,
        event_camera: CameraModel | None = None,
        rgb_camera: CameraModel | None = None,
    ) -> None:
        self.in_width, self.in_height = int(in_width), int(in_height)
        self.out_width = int(out_width if out_width is not None else in_width)
        self.out_height = int(out_height if out_height is not None else in_height)
        if min(self.in_width, self.in_height, self.out_width, self.out_height) <= 0:
            raise ConfigError(
                f"registration needs positive sizes, got in {self.in_width}x{self.in_height}, "
                f"out {self.out_width}x{self.out_height}"
            )
        self.homography = None if homography is None else np.asarray(homography, dtype=np.float64).reshape(3, 3)
        if self.homography is not None and not np.all(np.isfinite(self.homography)):
            raise ConfigError("homography has non-finite entries")
        self.event_camera, self.rgb_camera = event_camera, rgb_camera
        self.is_identity = self.homography is None and event_camera is None
        self._lut = None if self.is_identity else self._build_lut()
        self.dropped = 0

    @classmethod
    def identity(
        cls, width: int, height: int, out_width: int | None = None, out_height: int | None = None
    ) -> Registration:
        """Co-located pixels (an output smaller than the sensor still drops what falls outside)."""
        return cls(width, height, out_width, out_height)

    @classmethod
    def from_homography(
        cls, homography: np.ndarray, in_width: int, in_height: int, out_width: int, out_height: int
    ) -> Registration:
        """A 3x3 homography from event pixel centres to output pixel centres."""
        return cls(in_width, in_height, out_width, out_height, homography=homography)

    @classmethod
    def from_calibration(
        cls,
        event_info: Any,
        rgb_info: Any,
        rotation: np.ndarray,
        translation_m: Sequence[float],
        plane_depth_m: float = float("inf"),
        use_distortion: bool = False,
    ) -> Registration:
        """From two CameraInfo (or :class:`CameraModel`) + extrinsic, planar-scene approximation."""
        ev = event_info if isinstance(event_info, CameraModel) else CameraModel.from_camera_info(event_info)
        rgb = rgb_info if isinstance(rgb_info, CameraModel) else CameraModel.from_camera_info(rgb_info)
        hom = planar_homography(ev, rgb, rotation, translation_m, plane_depth_m)
        if use_distortion and (np.any(ev.D) or np.any(rgb.D)):
            return cls(ev.width, ev.height, rgb.width, rgb.height, homography=hom, event_camera=ev, rgb_camera=rgb)
        return cls(ev.width, ev.height, rgb.width, rgb.height, homography=hom)

    def map_points(self, xy: np.ndarray) -> np.ndarray:
        """Continuous output coordinates ``(N, 2)`` of event pixel centres ``(N, 2)`` (no rounding, no bounds)."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if self.is_identity:
            return pts.copy()
        if self.event_camera is not None and np.any(self.event_camera.D):
            import cv2

            ev = self.event_camera
            # Undistort to normalised coordinates, then back to ideal event pixels.
            norm = cv2.undistortPoints(pts.reshape(-1, 1, 2), ev.K, ev.D).reshape(-1, 2)
            pts = norm @ ev.K[:2, :2].T + ev.K[:2, 2]
        hom = self.homography if self.homography is not None else np.eye(3)
        homog = np.c_[pts, np.ones(len(pts))] @ hom.T
        with np.errstate(divide="ignore", invalid="ignore"):
            out = homog[:, :2] / homog[:, 2:3]
        out[~(homog[:, 2] > 0)] = np.nan  # behind the camera
        if self.rgb_camera is not None and np.any(self.rgb_camera.D):
            import cv2

            rgb = self.rgb_camera
            ok = np.all(np.isfinite(out), axis=1)
            norm = np.c_[(out[ok] - rgb.K[:2, 2]) / np.diag(rgb.K)[:2], np.ones(ok.sum())]
            proj, _ = cv2.projectPoints(norm.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), rgb.K, rgb.D)
            out[ok] = proj.reshape(-1, 2)
        return out

    def _build_lut(self) -> np.ndarray:
        ys, xs = np.mgrid[0 : self.in_height, 0 : self.in_width]
        out = self.map_points(np.c_[xs.ravel(), ys.ravel()])
        ok = np.all(np.isfinite(out), axis=1)
        u = np.full(len(out), -1, np.int64)
        v = np.full(len(out), -1, np.int64)
        u[ok] = np.floor(out[ok, 0] + 0.5).astype(np.int64)
        v[ok] = np.floor(out[ok, 1] + 0.5).astype(np.int64)
        inside = ok & (u >= 0) & (u < self.out_width) & (v >= 0) & (v < self.out_height)
        return np.where(inside, v * self.out_width + u, -1).astype(np.int64)

    def apply(self, events: Events) -> tuple[Events, int]:
        """Events in output pixels (time order kept) and the number dropped (outside either image)."""
        n = len(events)
        if n == 0:
            return Events.empty(self.out_width, self.out_height), 0
        if self.is_identity:
            width, height = min(self.in_width, self.out_width), min(self.in_height, self.out_height)
            if int(events.x.max()) < width and int(events.y.max()) < height:  # the common case: no mask, no copy
                dropped, out = 0, events
            else:
                keep = (events.x < width) & (events.y < height)
                dropped = int(n - np.count_nonzero(keep))
                out = events[np.flatnonzero(keep)]
            out = Events(out.t, out.x, out.y, out.p, self.out_width, self.out_height)
        else:
            x = events.x.astype(np.int64)
            y = events.y.astype(np.int64)
            in_sensor = (x < self.in_width) & (y < self.in_height)
            flat = np.full(n, -1, np.int64)
            flat[in_sensor] = self._lut[y[in_sensor] * self.in_width + x[in_sensor]]
            keep = np.flatnonzero(flat >= 0)
            dropped = int(n - len(keep))
            flat = flat[keep]
            out = Events(
                events.t[keep],
                (flat % self.out_width).astype(np.uint16),
                (flat // self.out_width).astype(np.uint16),
                events.p[keep],
                self.out_width,
                self.out_height,
            )
        self.dropped += dropped
        return out, dropped
