"""The scene: textured layers with time-dependent poses, rendered into either camera, and ground truth.

Coordinates: every layer has an affine map texture -> event-sensor pixel centres at time t; a camera
adds its own 3x3 map event pixel -> camera pixel (identity for the event sensor, the configured
homography for the RGB camera). Illumination is a fixed screen-space map defined on event pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from had_tracker.data.synthetic.config import SyntheticConfig
from had_tracker.data.synthetic.motion import Path2D, Pose, excursion_out_of_view, random_pose, random_walk_path
from had_tracker.data.synthetic.textures import (
    SHAPES,
    Sprite,
    background_texture,
    luminance,
    make_sprite,
    occluder_sprite,
)


@dataclass
class Layer:
    """A sprite moving along ``path`` with a rotation/scale ``pose`` (None = upright, unit scale)."""

    sprite: Sprite
    path: Path2D
    pose: Pose | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def precompute(self, t: np.ndarray) -> np.ndarray:
        """Compute and remember the maps at times ``t`` (exact float keys) so scalar look-ups are cheap."""
        m = self.matrices(t)
        self._cache.update(zip(np.asarray(t, np.float64).tolist(), m, strict=True))
        return m

    def matrix(self, t: float) -> np.ndarray:
        """The 3x3 map at one time (from the precomputed table when present)."""
        m = self._cache.get(float(t))
        return m if m is not None else self.matrices(t)[0]

    def matrices(self, t: np.ndarray) -> np.ndarray:
        """(N, 3, 3) texture -> event-pixel affine maps at times ``t``."""
        t = np.atleast_1d(np.asarray(t, np.float64))
        xy = self.path(t)
        angle = self.pose.angle(t) if self.pose else np.zeros(len(t))
        scale = self.pose.scale(t) if self.pose else np.ones(len(t))
        c, s = np.cos(angle) * scale, np.sin(angle) * scale
        m = np.zeros((len(t), 3, 3))
        m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
        u0 = self.sprite.center
        m[:, 0, 2] = xy[:, 0] - (c * u0[0] - s * u0[1])
        m[:, 1, 2] = xy[:, 1] - (s * u0[0] + c * u0[1])
        m[:, 2, 2] = 1.0
        return m


@dataclass
class Camera:
    """One camera's view of the scene: size, event->camera map, illumination on its pixels."""

    name: str
    width: int
    height: int
    from_event: np.ndarray  # 3x3
    illumination: np.ndarray  # (H, W) float32
    static_background: dict = field(default_factory=dict)  # channels -> cached render
    is_affine: bool = field(init=False)

    def __post_init__(self) -> None:
        # No perspective part -> the fast warpAffine path.
        self.is_affine = bool(np.allclose(self.from_event[2], [0.0, 0.0, 1.0]))

    @property
    def full_rect(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the whole image."""
        return (0, 0, self.width, self.height)


def _project(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply (N, 3, 3) maps to (K, 2) points -> (N, K, 2)."""
    h = np.einsum("nij,kj->nki", m[:, :, :2], pts) + m[:, None, :, 2]
    return h[..., :2] / h[..., 2:3]


def _area(rect: tuple[int, int, int, int]) -> int:
    return (rect[2] - rect[0]) * (rect[3] - rect[1])


def _polygon_area(poly: np.ndarray) -> np.ndarray:
    """Shoelace areas of (N, K, 2) polygons."""
    x, y = poly[..., 0], poly[..., 1]
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1))


class Scene:
    """Background, distractors, target and occluder, plus the two cameras."""

    def __init__(
        self,
        config: SyntheticConfig,
        background: np.ndarray,
        background_origin: np.ndarray,
        background_path: Path2D | None,
        target: Layer,
        distractors: list[Layer],
        occluder: Layer | None,
        event_camera: Camera,
        rgb_camera: Camera,
    ) -> None:
        self.config = config
        self.background = background
        self.background_gray = luminance(background)
        self.background_origin = background_origin
        self.background_path = background_path
        self.target = target
        self.distractors = distractors
        self.occluder = occluder
        self.event_camera = event_camera
        self.rgb_camera = rgb_camera

    # ------------------------------------------------------------------ rendering
    def _background_matrix(self, t: float) -> np.ndarray:
        offset = self.background_origin.copy()
        if self.background_path is not None:
            offset = offset + self.background_path(t)[0]
        m = np.eye(3)
        m[:2, 2] = -offset
        return m

    def _render_background(self, t: float, camera: Camera, gray: bool, rect: tuple[int, int, int, int]) -> np.ndarray:
        key = 1 if gray else 3
        x0, y0, x1, y1 = rect
        if self.background_path is None and key in camera.static_background:
            return camera.static_background[key][y0:y1, x0:x1].copy()
        src = self.background_gray if gray else self.background
        if self.background_path is None:
            full = self._warp(src, camera.from_event @ self._background_matrix(t), camera, camera.full_rect, True)
            camera.static_background[key] = full
            return full[y0:y1, x0:x1].copy()
        return self._warp(src, camera.from_event @ self._background_matrix(t), camera, rect, True)

    @staticmethod
    def _warp(
        src: np.ndarray, m: np.ndarray, camera: Camera, rect: tuple[int, int, int, int], reflect: bool
    ) -> np.ndarray:
        """Warp ``src`` by the 3x3 map ``m`` (source -> camera pixels) into the camera pixels of ``rect``."""
        x0, y0, x1, y1 = rect
        shift = np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1.0]]) @ m
        border = cv2.BORDER_REFLECT_101 if reflect else cv2.BORDER_CONSTANT
        if camera.is_affine:
            return cv2.warpAffine(src, shift[:2], (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=border)
        return cv2.warpPerspective(src, shift, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=border)

    @staticmethod
    def _footprint(
        shape: tuple[int, ...], m: np.ndarray, bounds: tuple[int, int, int, int]
    ) -> tuple[int, int, int, int]:
        """Pixel rect (x0, y0, x1, y1) covered by a ``shape`` texture under ``m``, clipped to ``bounds``."""
        h, w = shape[:2]
        corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
        p = _project(m[None], corners)[0]
        bx0, by0, bx1, by1 = bounds
        x0, y0 = max(int(np.floor(p[:, 0].min())) - 1, bx0), max(int(np.floor(p[:, 1].min())) - 1, by0)
        x1, y1 = min(int(np.ceil(p[:, 0].max())) + 2, bx1), min(int(np.ceil(p[:, 1].max())) + 2, by1)
        return x0, y0, max(x1, x0), max(y1, y0)

    @classmethod
    def _warp_roi(
        cls,
        src: np.ndarray,
        m: np.ndarray,
        camera: Camera,
        bounds: tuple[int, int, int, int] | None = None,
        footprint: tuple[int, int, int, int] | None = None,
    ) -> tuple[np.ndarray, int, int] | None:
        """Warp ``src`` into the smallest camera rect it touches (within ``bounds``): (patch (h, w, C), x0, y0).

        ``footprint`` = the already known unclipped-to-bounds footprint (saves recomputing it).
        """
        bounds = bounds or camera.full_rect
        if footprint is None:
            x0, y0, x1, y1 = cls._footprint(src.shape, m, bounds)
        else:
            x0, y0 = max(footprint[0], bounds[0]), max(footprint[1], bounds[1])
            x1, y1 = min(footprint[2], bounds[2]), min(footprint[3], bounds[3])
        if x1 <= x0 or y1 <= y0:
            return None
        patch = cls._warp(src, m, camera, (x0, y0, x1, y1), False)
        if patch.ndim == 2:
            patch = patch[..., None]
        return patch, x0, y0

    def layers(self) -> list[Layer]:
        """Layers in drawing order (back to front, background excluded)."""
        return [*self.distractors, self.target, *([self.occluder] if self.occluder else [])]

    def render(
        self, t: float, camera: Camera, gray: bool = False, rect: tuple[int, int, int, int] | None = None
    ) -> np.ndarray:
        """Scene radiance (reflectance x illumination) at time ``t`` [s] in ``camera``, optionally only in ``rect``.

        Returns (h, w) when ``gray`` else (h, w, 3), float32; ``rect`` = (x0, y0, x1, y1), default whole image.
        """
        rect = rect or camera.full_rect
        rx0, ry0, rx1, ry1 = rect
        out = self._render_background(t, camera, gray, rect)
        for layer in self.layers():
            src = layer.sprite.gray_alpha if gray else layer.sprite.rgba
            known = layer._cache.get(("rect", float(t))) if camera is self.event_camera else None
            if known is not None and (known[0] >= rx1 or known[2] <= rx0 or known[1] >= ry1 or known[3] <= ry0):
                continue  # this sprite does not touch the rect
            m = layer.matrix(t) if camera is self.event_camera else camera.from_event @ layer.matrix(t)
            warped = self._warp_roi(src, m, camera, rect, known)
            if warped is None:
                continue
            patch, x0, y0 = warped
            ph, pw = patch.shape[:2]
            alpha = patch[..., -1]
            region = out[y0 - ry0 : y0 - ry0 + ph, x0 - rx0 : x0 - rx0 + pw]
            if gray:
                region *= 1.0 - alpha
                region += patch[..., 0]
            else:
                region *= (1.0 - alpha)[..., None]
                region += patch[..., :3]
        illum = camera.illumination[ry0:ry1, rx0:rx1]
        return out * illum if gray else out * illum[..., None]

    def precompute(self, t: np.ndarray) -> None:
        """Tabulate every layer's pose and event-sensor footprint at times ``t`` (the internal frame times)."""
        cam = self.event_camera
        for layer in self.layers():
            m = layer.precompute(t)
            h, w = layer.sprite.rgba.shape[:2]
            corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
            p = _project(m, corners)
            lo = np.floor(p.min(axis=1)).astype(np.int64) - 1
            hi = np.ceil(p.max(axis=1)).astype(np.int64) + 2
            rects = np.stack(
                [
                    np.clip(lo[:, 0], 0, cam.width),
                    np.clip(lo[:, 1], 0, cam.height),
                    np.clip(hi[:, 0], 0, cam.width),
                    np.clip(hi[:, 1], 0, cam.height),
                ],
                axis=1,
            )
            layer._cache.update(
                {("rect", k): tuple(r) for k, r in zip(np.asarray(t).tolist(), rects.tolist(), strict=True)}
            )

    def _event_footprint(self, layer: Layer, t: float) -> tuple[int, int, int, int]:
        rect = layer._cache.get(("rect", float(t)))
        if rect is None:
            rect = self._footprint(layer.sprite.rgba.shape, layer.matrix(t), self.event_camera.full_rect)
        return rect

    def moving_rect(self, times: np.ndarray, camera: Camera) -> tuple[int, int, int, int]:
        """Bounding rect in ``camera`` of every sprite at ``times`` (outside it only the background can change)."""
        x0, y0, x1, y1 = camera.width, camera.height, 0, 0
        for layer in self.layers():
            for m in camera.from_event[None] @ layer.matrices(np.asarray(times)):
                fx0, fy0, fx1, fy1 = self._footprint(layer.sprite.rgba.shape, m, camera.full_rect)
                if fx1 > fx0 and fy1 > fy0:
                    x0, y0, x1, y1 = min(x0, fx0), min(y0, fy0), max(x1, fx1), max(y1, fy1)
        return (x0, y0, max(x1, x0), max(y1, y0))

    def changed_rects(self, t0: float, t1: float) -> list[tuple[int, int, int, int]]:
        """Event-sensor rects that hold every moving sprite between ``t0`` and ``t1``.

        Every layer's footprint at both times (a sprite moves less than a pixel per internal frame, so
        this covers it in between). Outside them only the background can change (when it moves).
        """
        rects = []
        for layer in self.layers():
            a, b = self._event_footprint(layer, t0), self._event_footprint(layer, t1)
            r = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
            if a[2] <= a[0] or a[3] <= a[1]:
                r = b
            elif b[2] <= b[0] or b[3] <= b[1]:
                r = a
            if r[2] > r[0] and r[3] > r[1]:
                rects.append(r)
        # Overlapping rects are merged only when their bounding rect is no bigger than the two together;
        # otherwise both are kept (re-thresholding a pixel at the same time is a no-op).
        merged = True
        while merged and len(rects) > 1:
            merged = False
            for i in range(len(rects)):
                for j in range(i + 1, len(rects)):
                    a, b = rects[i], rects[j]
                    if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                        u = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                        if _area(u) <= _area(a) + _area(b):
                            rects[i] = u
                            del rects[j]
                            merged = True
                            break
                if merged:
                    break
        return rects

    def log_intensity(self, t: float, rect: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Log radiance on the event sensor at time ``t`` (what the event model thresholds), optionally in ``rect``."""
        return np.log(self.render(t, self.event_camera, gray=True, rect=rect) + np.float32(self.config.log_eps))

    # ------------------------------------------------------------------ ground truth
    def target_boxes(self, t: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Target box (x, y, w, h; pixel-edge coordinates, clipped to the image), unclipped box and area.

        Returns ``(boxes (N, 4), full_boxes (N, 4), full_area_px (N,))`` in ``camera`` pixels.
        """
        m = camera.from_event[None] @ self.target.matrices(t)
        poly = _project(m, self.target.sprite.outline) + 0.5  # centre -> edge coordinates
        lo, hi = poly.min(axis=1), poly.max(axis=1)
        full = np.concatenate([lo, hi - lo], axis=1)
        size = np.array([camera.width, camera.height], np.float64)
        clo, chi = np.clip(lo, 0, size), np.clip(hi, 0, size)
        boxes = np.concatenate([clo, np.maximum(chi - clo, 0.0)], axis=1)
        return boxes, full, _polygon_area(poly)

    def visible_fraction(self, t: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
        """Per time: (fraction of the target's area that is in view and not occluded, fraction in view)."""
        t = np.atleast_1d(np.asarray(t, np.float64))
        _, _, area = self.target_boxes(t, camera)
        m_target = camera.from_event[None] @ self.target.matrices(t)
        m_occ = camera.from_event[None] @ self.occluder.matrices(t) if self.occluder else None
        alpha_t = np.ascontiguousarray(self.target.sprite.rgba[..., 3])
        alpha_o = np.ascontiguousarray(self.occluder.sprite.rgba[..., 3]) if self.occluder else None
        visible = np.zeros(len(t))
        in_view = np.zeros(len(t))
        for i in range(len(t)):
            warped = self._warp_roi(alpha_t, m_target[i], camera)
            if warped is None:
                continue
            patch, x0, y0 = warped
            a = patch[..., 0]
            in_view[i] = float(a.sum())
            if m_occ is not None:
                occ = self._warp(alpha_o, m_occ[i], camera, (x0, y0, x0 + a.shape[1], y0 + a.shape[0]), False)
                visible[i] = float((a * (1.0 - occ)).sum())
            else:
                visible[i] = in_view[i]
        area = np.maximum(area, 1e-6)
        return np.clip(visible / area, 0, 1), np.clip(in_view / area, 0, 1)


# ---------------------------------------------------------------------- construction
def _illumination_map(
    config: SyntheticConfig, rng: np.random.Generator, camera_from_event: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, dict]:
    """Illumination on a camera's pixels: global level x gentle gradient x optional bright HDR region."""
    params = {
        "gradient": rng.uniform(-0.15, 0.15, size=2),
        "spot_center": rng.uniform(
            [0.2 * config.width, 0.2 * config.height], [0.8 * config.width, 0.8 * config.height]
        ),
        "spot_radius": rng.uniform(0.18, 0.3) * min(config.width, config.height),
    }
    return _evaluate_illumination(config, params, camera_from_event, width, height), params


def _evaluate_illumination(
    config: SyntheticConfig, params: dict, camera_from_event: np.ndarray, width: int, height: int
) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    inv = np.linalg.inv(camera_from_event)
    h = inv[:, 0, None, None] * xx + inv[:, 1, None, None] * yy + inv[:, 2, None, None]
    ex, ey = h[0] / h[2], h[1] / h[2]
    gx, gy = params["gradient"]
    level = 1.0 + gx * (ex / config.width - 0.5) * 2 + gy * (ey / config.height - 0.5) * 2
    if config.hdr_spot_gain > 0:
        cx, cy = params["spot_center"]
        r = np.hypot(ex - cx, ey - cy)
        spot = 1.0 / (1.0 + np.exp((r - params["spot_radius"]) / 6.0))
        level = level * (1.0 + config.hdr_spot_gain * spot)
    return (config.illumination * level).astype(np.float32)


def build_scene(config: SyntheticConfig, rng: np.random.Generator) -> Scene:
    """Draw a random scene for ``config`` (all randomness from ``rng``)."""
    w, h = config.width, config.height
    rgb_w, rgb_h = config.rgb_size
    hmat = config.homography_matrix

    # Background texture large enough for the RGB view (through the homography) and the pan range.
    corners = np.array([[0, 0], [rgb_w, 0], [rgb_w, rgb_h], [0, rgb_h]], np.float64)
    ev = _project(np.linalg.inv(hmat)[None], corners)[0]
    lo = np.minimum(ev.min(axis=0), 0.0)
    hi = np.maximum(ev.max(axis=0), [w, h])
    pan = 0.25 * max(w, h) if config.dynamic_background else 0.0
    margin = pan + 8.0
    bg_w, bg_h = int(np.ceil(hi[0] - lo[0] + 2 * margin)), int(np.ceil(hi[1] - lo[1] + 2 * margin))
    background = background_texture(rng, bg_h, bg_w)
    origin = np.array([-lo[0] + margin, -lo[1] + margin])  # texture px = event px + origin (+ pan offset)
    background_path = None
    if config.dynamic_background:
        background_path = random_walk_path(
            rng, config.duration_s, 0.6, config.background_speed_px_s, (-pan, -pan, pan, pan), True, start=np.zeros(2)
        )

    # Target.
    size_lo, size_hi = config.target_size_px
    size = float(rng.uniform(size_lo, size_hi))
    aspect = float(rng.uniform(0.65, 1.5)) * config.draw_stretch(rng)
    tw, th = size * np.sqrt(aspect), size / np.sqrt(aspect)
    shape = str(rng.choice(SHAPES))
    target_sprite = make_sprite(rng, shape, tw, th)
    margin_t = 0.6 * size
    bounds = (margin_t, margin_t, w - margin_t, h - margin_t)
    target_path = random_walk_path(
        rng, config.duration_s, config.keyframe_interval_s, config.target_speed_px_s, bounds, not config.abrupt_motion
    )
    if config.out_of_view:
        excursion_out_of_view(rng, target_path, w, h, size, config.duration_s)
    target = Layer(target_sprite, target_path, random_pose(rng, config.rotation_speed_deg_s, config.scale_amplitude))

    # Distractors: same shape and size, other appearance, hovering around the target.
    distractors = []
    for _ in range(config.num_distractors):
        sprite = make_sprite(rng, shape, tw * rng.uniform(0.9, 1.1), th * rng.uniform(0.9, 1.1))
        offset_path = random_walk_path(
            rng, config.duration_s, 0.5, 1.5 * size, (-3 * size, -3 * size, 3 * size, 3 * size), True
        )
        key_xy = target_path(offset_path.key_t) + offset_path.key_xy
        key_xy = np.clip(key_xy, [0, 0], [w, h])
        distractors.append(
            Layer(sprite, Path2D(offset_path.key_t, key_xy, True), random_pose(rng, config.rotation_speed_deg_s, 0.1))
        )

    # Occluder: a full-height pole crossing the target at a random time.
    occluder = None
    if config.occlusion:
        t_cross = float(rng.uniform(0.35, 0.65) * config.duration_s)
        pole_w = 1.6 * size
        sprite = occluder_sprite(rng, pole_w, 1.6 * h)
        x_cross = float(target_path(t_cross)[0, 0])
        speed = float(rng.uniform(0.8, 1.4) * max(3 * size, 60.0)) * rng.choice([-1.0, 1.0])
        key_t = np.array([-1.0, config.duration_s + 1.0])
        key_xy = np.stack([x_cross + speed * (key_t - t_cross), np.full(2, h / 2.0)], axis=1)
        occluder = Layer(sprite, Path2D(key_t, key_xy, smooth=False), None)

    event_illum, params = _illumination_map(config, rng, np.eye(3), w, h)
    rgb_illum = _evaluate_illumination(config, params, hmat, rgb_w, rgb_h)
    event_camera = Camera("event", w, h, np.eye(3), event_illum)
    rgb_camera = Camera("rgb", rgb_w, rgb_h, hmat, rgb_illum)
    return Scene(config, background, origin, background_path, target, distractors, occluder, event_camera, rgb_camera)
