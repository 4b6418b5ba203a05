"""A photoreal scene: a background photograph and photographic cut-outs on planes, seen by two cameras.

Each layer has a map source pixels -> world (the reference view's event pixels) per time; the camera path
maps world -> event sensor (``CameraPath``) and the RGB camera adds its true event -> RGB map (the
configured homography with the misregistration error). Rendering warps the source images directly with
``cv2.warpPerspective`` at the requested time, so any rate is exact. Ground truth is the extent of the
target's *visible* alpha (its alpha times the transparency of every layer in front of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from had_tracker.data.synthetic.motion import Path2D
from had_tracker.data.synthetic.photoreal.camera import CameraPath
from had_tracker.data.synthetic.photoreal.video import FlowVideo
from had_tracker.data.synthetic.textures import luminance

Rect = tuple[int, int, int, int]
VISIBLE_ALPHA = 0.5  # a pixel belongs to the visible target where its visible alpha exceeds this


def translation(dx: float, dy: float) -> np.ndarray:
    """3x3 translation."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


@dataclass
class Sprite2:
    """A cut-out: premultiplied linear RGB + alpha (h, w, 4) and premultiplied luminance + alpha (h, w, 2)."""

    rgba: np.ndarray
    gray_alpha: np.ndarray
    name: str = ""

    @classmethod
    def from_rgb_alpha(cls, rgb: np.ndarray, alpha: np.ndarray, name: str = "") -> Sprite2:
        """Build from straight (non-premultiplied) linear RGB and alpha; pads 2 px of transparency."""
        rgb = np.pad(rgb, ((2, 2), (2, 2), (0, 0)), mode="edge")
        alpha = np.pad(alpha, 2)
        a = alpha[..., None].astype(np.float32)
        rgba = np.concatenate([rgb * a, a], axis=2).astype(np.float32)
        gray_alpha = np.stack([luminance(rgb) * alpha, alpha], axis=2).astype(np.float32)
        return cls(rgba, gray_alpha, name)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgba.shape[1], self.rgba.shape[0]

    @property
    def center(self) -> np.ndarray:
        """Texture coordinates of the centre."""
        w, h = self.size
        return np.array([(w - 1) / 2.0, (h - 1) / 2.0])

    @property
    def alpha_sum(self) -> float:
        """Area of the alpha in texture px."""
        return float(self.rgba[..., 3].sum())


@dataclass
class ObjectMotion:
    """2.5-D object motion in world px: position path, in-plane rotation, scale (approach/recede), tilt."""

    path: Path2D
    angle0: float
    angular_speed: float  # rad/s
    log_scale: Path2D  # column 0 = log scale factor (Catmull-Rom)
    base_scale: float
    tilt_amp: np.ndarray  # (2,) rad
    tilt_hz: np.ndarray  # (2,)
    phase: np.ndarray  # (3,)
    wobble: float = 0.15  # rad, slow in-plane rocking

    def matrices(self, t: np.ndarray, sprite: Sprite2) -> np.ndarray:
        """(N, 3, 3) sprite texture -> world maps at times ``t``."""
        t = np.atleast_1d(np.asarray(t, np.float64))
        n = len(t)
        xy = self.path(t)
        scale = self.base_scale * np.exp(self.log_scale(t)[:, 0])
        angle = self.angle0 + self.angular_speed * t + self.wobble * np.sin(2 * np.pi * 0.4 * t + self.phase[0])
        tx = self.tilt_amp[0] * np.sin(2 * np.pi * self.tilt_hz[0] * t + self.phase[1])
        ty = self.tilt_amp[1] * np.sin(2 * np.pi * self.tilt_hz[1] * t + self.phase[2])
        w, h = sprite.size
        f = 2.5 * max(w, h)
        # Out-of-plane tilt: the sprite's plane rotated about its centre, seen from distance f (centre scale 1):
        # (x, y) -> f R[:2, :2] (x, y) / (f + R[2, :2] (x, y)).
        cx_, sx_, cy_, sy_ = np.cos(tx), np.sin(tx), np.cos(ty), np.sin(ty)
        tilt = np.zeros((n, 3, 3))
        tilt[:, 0, 0], tilt[:, 0, 1] = cy_, sy_ * sx_
        tilt[:, 1, 1] = cx_
        tilt[:, 2, 0], tilt[:, 2, 1], tilt[:, 2, 2] = -sy_ / f, cy_ * sx_ / f, 1.0
        c, s = np.cos(angle) * scale, np.sin(angle) * scale
        rs = np.zeros((n, 3, 3))
        rs[:, 0, 0], rs[:, 0, 1], rs[:, 1, 0], rs[:, 1, 1] = c, -s, s, c
        rs[:, 0, 2], rs[:, 1, 2], rs[:, 2, 2] = xy[:, 0], xy[:, 1], 1.0
        return rs @ tilt @ translation(*(-sprite.center))[None]


@dataclass
class PhotoLayer:
    """A sprite with its motion and relative depth (1 = on the background plane; < 1 nearer: parallax)."""

    sprite: Sprite2
    motion: ObjectMotion
    depth: float = 1.0
    role: str = "object"  # target, distractor, occluder


@dataclass
class View:
    """One camera: size, true event -> camera map, illumination (vignetting x level) on its pixels."""

    name: str
    width: int
    height: int
    from_event: np.ndarray
    illumination: np.ndarray  # (H, W) float32

    @property
    def full_rect(self) -> Rect:
        """The whole image."""
        return (0, 0, self.width, self.height)


def vignetting(width: int, height: int, level: float, strength: float, gradient: np.ndarray) -> np.ndarray:
    """Illumination on a camera's pixels: ``level`` x (1 - strength r^2) x a gentle linear gradient."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = (xx - (width - 1) / 2) / (width / 2), (yy - (height - 1) / 2) / (height / 2)
    r2 = (u * u + v * v) / 2
    g = 1.0 + gradient[0] * u + gradient[1] * v
    return (level * (1.0 - strength * r2) * g).astype(np.float32)


def _project(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(N, 3, 3) maps applied to (K, 2) points -> (N, K, 2)."""
    h = np.einsum("nij,kj->nki", m[:, :, :2], pts) + m[:, None, :, 2]
    return h[..., :2] / h[..., 2:3]


def _footprint(shape: tuple[int, ...], m: np.ndarray, bounds: Rect) -> Rect:
    h, w = shape[:2]
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    hom = corners @ m[:2, :2].T + m[:2, 2]
    den = corners @ m[2, :2] + m[2, 2]
    if np.any(den <= 1e-6):
        return (bounds[0], bounds[1], bounds[0], bounds[1])  # behind the camera: not drawn
    p = hom / den[:, None]
    bx0, by0, bx1, by1 = bounds
    x0 = max(int(np.floor(p[:, 0].min())) - 1, bx0)
    y0 = max(int(np.floor(p[:, 1].min())) - 1, by0)
    x1 = min(int(np.ceil(p[:, 0].max())) + 2, bx1)
    y1 = min(int(np.ceil(p[:, 1].max())) + 2, by1)
    return x0, y0, max(x1, x0), max(y1, y0)


def _warp(src: np.ndarray, m: np.ndarray, rect: Rect, reflect: bool) -> np.ndarray:
    x0, y0, x1, y1 = rect
    shifted = translation(-x0, -y0) @ m
    border = cv2.BORDER_REFLECT_101 if reflect else cv2.BORDER_CONSTANT
    return cv2.warpPerspective(src, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=border)


def _jacobian_det(m: np.ndarray, u: np.ndarray) -> float:
    """|det| of the homography ``m``'s Jacobian at texture point ``u`` (local area scale)."""
    x, y = u
    w = m[2, 0] * x + m[2, 1] * y + m[2, 2]
    px = m[0, 0] * x + m[0, 1] * y + m[0, 2]
    py = m[1, 0] * x + m[1, 1] * y + m[1, 2]
    j = np.array(
        [
            [(m[0, 0] * w - px * m[2, 0]) / w**2, (m[0, 1] * w - px * m[2, 1]) / w**2],
            [(m[1, 0] * w - py * m[2, 0]) / w**2, (m[1, 1] * w - py * m[2, 1]) / w**2],
        ]
    )
    return float(abs(np.linalg.det(j)))


@dataclass
class PhotoScene:
    """Background photo + layers (back to front) + camera path + the two views + light flicker."""

    background: np.ndarray  # (H, W, 3) linear RGB
    background_to_world: np.ndarray  # 3x3
    layers: list[PhotoLayer]
    target_index: int
    camera: CameraPath
    event_view: View
    rgb_view: View
    flicker_hz: float = 0.0
    flicker_depth: float = 0.0
    flicker_phase: float = 0.0
    video: FlowVideo | None = None  # a moving background (replaces ``background``, same pixel grid)
    background_gray: np.ndarray = field(init=False, repr=False)
    _tables: dict = field(default_factory=dict, init=False, repr=False)
    _still_cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.background_gray = luminance(self.background)

    def precompute(self, t: np.ndarray, view: View) -> None:
        """Tabulate every map of ``view`` at times ``t`` (vectorised), so that rendering at them is cheap."""
        t = np.asarray(t, np.float64)
        bg = view.from_event[None] @ self.camera.homographies(t, 1.0) @ self.background_to_world[None]
        layers = [self.layer_maps(layer, t, view) for layer in self.layers]
        self._tables[view.name] = ({float(v): i for i, v in enumerate(t.tolist())}, bg, layers)

    def _maps(self, t: float, view: View) -> tuple[np.ndarray, list[np.ndarray]]:
        table = self._tables.get(view.name)
        if table is not None and (i := table[0].get(float(t))) is not None:
            return table[1][i], [m[i] for m in table[2]]
        tt = np.array([t])
        return self.background_map(t, view), [self.layer_maps(layer, tt, view)[0] for layer in self.layers]

    @property
    def target(self) -> PhotoLayer:
        """The target layer."""
        return self.layers[self.target_index]

    def flicker(self, t: float) -> float:
        """Light level factor of artificial light at time ``t`` (1 when there is no flicker)."""
        if self.flicker_hz <= 0 or self.flicker_depth <= 0:
            return 1.0
        return float(1.0 + self.flicker_depth * np.cos(2 * np.pi * self.flicker_hz * t + self.flicker_phase))

    def layer_maps(self, layer: PhotoLayer, t: np.ndarray, view: View) -> np.ndarray:
        """(N, 3, 3) texture -> ``view`` pixel maps of a layer at times ``t``."""
        return view.from_event[None] @ self.camera.homographies(t, layer.depth) @ layer.motion.matrices(t, layer.sprite)

    def background_map(self, t: float, view: View) -> np.ndarray:
        """3x3 background pixels -> ``view`` pixels at time ``t``."""
        return view.from_event @ self.camera.homographies(t, 1.0)[0] @ self.background_to_world

    def render(self, t: float, view: View, gray: bool = False, rect: Rect | None = None) -> np.ndarray:
        """Radiance at time ``t`` in ``view`` ((h, w) if ``gray`` else (h, w, 3) float32), optionally in ``rect``."""
        rect = rect or view.full_rect
        rx0, ry0, rx1, ry1 = rect
        bg_map, maps = self._maps(t, view)
        if self.video is not None:
            out = _warp(self.video.frame(t, gray), bg_map, rect, True)
        elif self.camera.is_still:  # the same background image at every time: warp it once per view and rect
            src = self.background_gray if gray else self.background
            key = (view.name, id(src), rect)
            if key not in self._still_cache:
                self._still_cache[key] = _warp(src, bg_map, rect, True)
            out = self._still_cache[key].copy()
        else:
            out = _warp(self.background_gray if gray else self.background, bg_map, rect, True)
        for layer, m in zip(self.layers, maps, strict=True):
            src = layer.sprite.gray_alpha if gray else layer.sprite.rgba
            x0, y0, x1, y1 = _footprint(src.shape, m, rect)
            if x1 <= x0 or y1 <= y0:
                continue
            patch = _warp(src, m, (x0, y0, x1, y1), False)
            region = out[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]
            alpha = patch[..., -1]
            if gray:
                region *= 1.0 - alpha
                region += patch[..., 0]
            else:
                region *= (1.0 - alpha)[..., None]
                region += patch[..., :3]
        light = view.illumination[ry0:ry1, rx0:rx1] * np.float32(self.flicker(t))
        return out * light if gray else out * light[..., None]

    def target_visibility(self, t: np.ndarray, view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per time: the target's visible-alpha box, visible fraction and in-view fraction.

        Box = ``x, y, w, h`` (edge coordinates) of the pixels whose visible alpha exceeds 0.5, zeros when none;
        fractions are of the target's full (unclipped, unoccluded) projected area.
        """
        t = np.atleast_1d(np.asarray(t, np.float64))
        boxes = np.zeros((len(t), 4))
        visible = np.zeros(len(t))
        in_view = np.zeros(len(t))
        target = self.target
        maps = self.layer_maps(target, t, view)
        front = [(lay, self.layer_maps(lay, t, view)) for lay in self.layers[self.target_index + 1 :]]
        alpha_src = np.ascontiguousarray(target.sprite.rgba[..., 3])
        full_area_tex = target.sprite.alpha_sum
        for i, m in enumerate(maps):
            rect = _footprint(alpha_src.shape, m, view.full_rect)
            x0, y0, x1, y1 = rect
            if x1 <= x0 or y1 <= y0:
                continue
            a = _warp(alpha_src, m, rect, False)
            full_area = full_area_tex * _jacobian_det(m, target.sprite.center)
            in_view[i] = min(a.sum() / max(full_area, 1e-9), 1.0)
            for lay, lmaps in front:
                la = np.ascontiguousarray(lay.sprite.rgba[..., 3])
                fr = _footprint(la.shape, lmaps[i], rect)
                if fr[2] <= fr[0] or fr[3] <= fr[1]:
                    continue
                occ = _warp(la, lmaps[i], fr, False)
                a[fr[1] - y0 : fr[3] - y0, fr[0] - x0 : fr[2] - x0] *= 1.0 - occ
            visible[i] = min(a.sum() / max(full_area, 1e-9), 1.0)
            mask = a > VISIBLE_ALPHA
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            if len(rows):
                boxes[i] = (x0 + cols[0], y0 + rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1)
        return boxes, visible, in_view

    def image_speed_px_s(self, duration_s: float, view: View, samples_hz: float = 500.0, layers: bool = True) -> float:
        """Largest image speed (px/s) of the background (and, with ``layers``, any layer's corners)."""
        t = np.linspace(0.0, duration_s, max(int(duration_s * samples_hz), 2))
        dt = t[1] - t[0]
        best = 0.0
        w, h = view.width, view.height
        grid = np.array([[x, y] for x in (0, w / 2, w) for y in (0, h / 2, h)], np.float64)
        bg = np.stack([view.from_event @ m for m in self.camera.homographies(t, 1.0)])
        p = _project(bg, grid)
        best = float(np.linalg.norm(np.diff(p, axis=0), axis=2).max() / dt)
        for layer in self.layers if layers else []:
            sw, sh = layer.sprite.size
            corners = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float64)
            p = _project(self.layer_maps(layer, t, view), corners)
            best = max(best, float(np.linalg.norm(np.diff(p, axis=0), axis=2).max() / dt))
        return best
