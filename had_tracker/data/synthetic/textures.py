"""Procedural textures and shapes: textured backgrounds and sprites (colour, alpha, outline)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SUPERSAMPLE = 4
SHAPES = ("ellipse", "rectangle", "triangle", "diamond", "hexagon")


@dataclass
class Sprite:
    """A textured shape: premultiplied RGBA and luminance+alpha planes, and its outline (texture pixel centres)."""

    rgba: np.ndarray  # (h, w, 4) float32: premultiplied RGB + alpha
    gray_alpha: np.ndarray  # (h, w, 2) float32: premultiplied luminance + alpha
    outline: np.ndarray  # (K, 2) float64 polygon of the shape boundary, texture pixel-centre coordinates
    center: np.ndarray  # (2,) texture coordinates of the shape centre

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the texture."""
        return self.rgba.shape[1], self.rgba.shape[0]


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of a linear RGB float array (last axis = channels)."""
    return (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.float32)


def smooth_noise(rng: np.random.Generator, height: int, width: int, scale_px: float, channels: int) -> np.ndarray:
    """Band-limited noise in [0, 1]: a coarse random grid upsampled with cubic interpolation."""
    gh, gw = max(2, int(height / scale_px) + 2), max(2, int(width / scale_px) + 2)
    coarse = rng.random((gh, gw, channels)).astype(np.float32)
    out = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    out = out.reshape(height, width, channels)
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def random_color(rng: np.random.Generator, saturation: tuple[float, float] = (0.5, 1.0)) -> np.ndarray:
    """A random RGB colour (float32, [0, 1]) of random hue."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255, rng.uniform(0.6, 1.0) * 255]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def background_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A textured scene background (H, W, 3) float32 reflectance in [0.04, 0.9]: soft noise plus shapes."""
    base = 0.25 + 0.35 * smooth_noise(rng, height, width, 60.0, 3)
    img = base.copy()
    n_shapes = max(6, int(height * width / 6000))
    for _ in range(n_shapes):
        color = tuple(float(c) for c in (0.15 + 0.7 * rng.random(3)))
        cx, cy = int(rng.uniform(0, width)), int(rng.uniform(0, height))
        a, b = int(rng.uniform(8, 50)), int(rng.uniform(8, 50))
        if rng.random() < 0.5:
            cv2.rectangle(img, (cx - a, cy - b), (cx + a, cy + b), color, -1, cv2.LINE_AA)
        else:
            cv2.ellipse(img, (cx, cy), (a, b), float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    fine = smooth_noise(rng, height, width, 3.0, 1)
    img = img * (0.85 + 0.15 * fine)
    return np.clip(img, 0.04, 0.9).astype(np.float32)


def _shape_outline(kind: str, w: float, h: float, n: int = 48) -> np.ndarray:
    """Closed outline of a shape of size w x h centred at 0 (float64 (K, 2))."""
    if kind == "ellipse":
        a = np.linspace(0, 2 * np.pi, n, endpoint=False)
        return np.stack([0.5 * w * np.cos(a), 0.5 * h * np.sin(a)], axis=1)
    if kind == "rectangle":
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    elif kind == "triangle":
        pts = [(0, -1), (1, 1), (-1, 1)]
    elif kind == "diamond":
        pts = [(0, -1), (1, 0), (0, 1), (-1, 0)]
    elif kind == "hexagon":
        a = np.linspace(0, 2 * np.pi, 6, endpoint=False)
        pts = list(zip(np.cos(a), np.sin(a), strict=True))
    else:
        raise ValueError(f"unknown shape {kind!r}")
    return np.asarray(pts, np.float64) * np.array([0.5 * w, 0.5 * h])


def _pattern(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A high-contrast internal pattern in [0, 1], (H, W) float32."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    kind = rng.integers(4)
    period = rng.uniform(6.0, 14.0)
    angle = rng.uniform(0, np.pi)
    if kind == 0:  # stripes
        u = xx * np.cos(angle) + yy * np.sin(angle)
        pat = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * u / period))
    elif kind == 1:  # checker
        pat = ((np.floor(xx / period * 1.5) + np.floor(yy / period * 1.5)) % 2).astype(np.float32)
    elif kind == 2:  # rings
        r = np.hypot(xx - width / 2, yy - height / 2)
        pat = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * r / period))
    else:  # blobs
        pat = smooth_noise(rng, height, width, period / 2, 1)[..., 0]
        pat = (pat > 0.5).astype(np.float32)
    return cv2.GaussianBlur(pat.astype(np.float32), (0, 0), 0.6)


def make_sprite(
    rng: np.random.Generator,
    kind: str,
    width_px: float,
    height_px: float,
    color: np.ndarray | None = None,
    rim: float = 0.35,
) -> Sprite:
    """A textured sprite of the given shape and size: coloured pattern, darker rim, anti-aliased alpha."""
    pad = 3
    tw, th = int(np.ceil(width_px)) + 2 * pad, int(np.ceil(height_px)) + 2 * pad
    center = np.array([(tw - 1) / 2.0, (th - 1) / 2.0])
    outline = _shape_outline(kind, width_px, height_px) + center
    # Supersampled fill: low-res pixel centre u <-> high-res coordinate S*u + (S-1)/2.
    s = SUPERSAMPLE
    hi_pts = np.round((outline * s + (s - 1) / 2.0) * 16).astype(np.int32)
    mask_hi = np.zeros((th * s, tw * s), np.uint8)
    cv2.fillPoly(mask_hi, [hi_pts], 255, cv2.LINE_AA, shift=4)
    alpha = cv2.resize(mask_hi, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    # Darker rim: pixels within ~2 px of the boundary.
    inner = cv2.erode((alpha > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
    inner = cv2.GaussianBlur(inner, (0, 0), 0.7)
    base = color if color is not None else random_color(rng)
    second = random_color(rng, (0.0, 0.4)) * 0.5
    pat = _pattern(rng, th, tw)[..., None]
    rgb = base[None, None, :] * pat + second[None, None, :] * (1 - pat)
    rgb = rgb * (rim + (1 - rim) * inner[..., None])
    rgb = np.clip(rgb, 0.03, 1.0).astype(np.float32)
    premult = rgb * alpha[..., None]
    rgba = np.concatenate([premult, alpha[..., None]], axis=2).astype(np.float32)
    gray_alpha = np.stack([luminance(rgb) * alpha, alpha], axis=2).astype(np.float32)
    return Sprite(rgba=rgba, gray_alpha=gray_alpha, outline=outline, center=center)


def occluder_sprite(rng: np.random.Generator, width_px: float, height_px: float) -> Sprite:
    """A tall grey pole with horizontal bands (the occluder)."""
    sprite = make_sprite(rng, "rectangle", width_px, height_px, color=np.full(3, 0.5, np.float32), rim=0.6)
    th, tw = sprite.rgba.shape[:2]
    bands = (0.6 + 0.4 * (np.arange(th) // 12 % 2))[:, None, None].astype(np.float32)
    alpha = sprite.rgba[..., 3:4]
    gray = np.full((th, tw, 3), 0.45, np.float32) * bands * alpha
    sprite.rgba = np.concatenate([gray, alpha], axis=2)
    sprite.gray_alpha = np.stack([luminance(gray), alpha[..., 0]], axis=2).astype(np.float32)
    return sprite
