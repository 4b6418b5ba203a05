"""Draw a random photoreal scene for a config: background, target, distractors, occluders, camera path."""

from __future__ import annotations

import cv2
import numpy as np

from had_tracker.data.synthetic.config import SyntheticConfig
from had_tracker.data.synthetic.motion import Path2D, excursion_out_of_view, random_walk_path
from had_tracker.data.synthetic.photoreal.assets import AssetPack, load_pack
from had_tracker.data.synthetic.photoreal.camera import random_camera_path, view_bounds
from had_tracker.data.synthetic.photoreal.scene import ObjectMotion, PhotoLayer, PhotoScene, Sprite2, View, vignetting

PATCH_PROBABILITY = 0.25  # share of targets that are a photo patch with a random outline instead of a cut-out


def _to_world(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Sensor points (N, 2) -> world through the inverses of the (N, 3, 3) world -> sensor maps ``h``."""
    p = np.einsum("nij,nj->ni", np.linalg.inv(h), np.concatenate([xy, np.ones((len(xy), 1))], axis=1))
    return p[:, :2] / p[:, 2:3]


def _to_sensor(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """World points (N, 2) -> sensor through the (N, 3, 3) maps ``h``."""
    p = np.einsum("nij,nj->ni", h, np.concatenate([xy, np.ones((len(xy), 1))], axis=1))
    return p[:, :2] / p[:, 2:3]


def _resize_long_side(rgb: np.ndarray, alpha: np.ndarray, long_side: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = alpha.shape
    s = long_side / max(h, w)
    size = (max(int(round(w * s)), 3), max(int(round(h * s)), 3))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, size, interpolation=interp), cv2.resize(alpha, size, interpolation=interp)


def _photo_patch(rng: np.random.Generator, pack: AssetPack, long_side: float) -> Sprite2:
    """A patch of a background photo: a generic textured object.

    Its outline is a random convex polygon or the silhouette of one of the pack's cut-outs (new
    appearance-shape pairs from the same pack).
    """
    bg = pack.background(int(rng.integers(len(pack.backgrounds))))
    h, w = bg.shape[:2]
    side = int(min(h, w) * rng.uniform(0.2, 0.5))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    rgb = bg[y : y + side, x : x + side]
    if rng.random() < 0.5:
        silhouette = pack.object(int(rng.integers(len(pack.objects)))).alpha
        sh, sw = silhouette.shape
        scale = side / max(sh, sw)
        size = (max(int(round(sw * scale)), 3), max(int(round(sh * scale)), 3))
        alpha = cv2.resize(silhouette, size, interpolation=cv2.INTER_AREA)
        rgb = rgb[: size[1], : size[0]]
    else:
        n = int(rng.integers(5, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.3, 0.5, n) * side
        pts = np.stack([side / 2 + rad * np.cos(ang), side / 2 + rad * np.sin(ang)], axis=1).astype(np.int32)
        mask = np.zeros((side, side), np.uint8)
        cv2.fillPoly(mask, [cv2.convexHull(pts)], 255, cv2.LINE_AA)
        alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.8)
    rgb, alpha = _resize_long_side(np.ascontiguousarray(rgb), alpha, long_side)
    return Sprite2.from_rgb_alpha(rgb, alpha, "patch")


def _cutout(rng: np.random.Generator, pack: AssetPack, index: int, long_side: float) -> Sprite2:
    obj = pack.object(index)
    rgb, alpha = _resize_long_side(obj.rgb, obj.alpha, long_side)
    if rng.random() < 0.5:
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
    return Sprite2.from_rgb_alpha(np.ascontiguousarray(rgb), np.ascontiguousarray(alpha), obj.name)


def _stretch(sprite: Sprite2, factor: float) -> Sprite2:
    """The sprite ``sqrt(factor)`` times wider and ``sqrt(factor)`` times lower (area kept); 1 returns it as is."""
    if factor == 1.0:
        return sprite
    w, h = sprite.size
    size = (max(int(round(w * np.sqrt(factor))), 3), max(int(round(h / np.sqrt(factor))), 3))
    rgba = cv2.resize(sprite.rgba, size, interpolation=cv2.INTER_AREA)
    gray_alpha = cv2.resize(sprite.gray_alpha, size, interpolation=cv2.INTER_AREA)
    return Sprite2(np.ascontiguousarray(rgba), np.ascontiguousarray(gray_alpha), sprite.name)


def _jitter(rng: np.random.Generator, sprite: Sprite2, strength: float) -> Sprite2:
    """The same cut-out with a slightly different colour balance and brightness (a look-alike)."""
    gain = (1.0 + strength * rng.uniform(-1, 1, 3)).astype(np.float32)
    a = sprite.rgba[..., 3:4]
    rgb = np.clip(sprite.rgba[..., :3] / np.maximum(a, 1e-6) * gain, 0.02, 0.95)[2:-2, 2:-2]
    return Sprite2.from_rgb_alpha(rgb, a[2:-2, 2:-2, 0], sprite.name + "~")


def _pole(rng: np.random.Generator, pack: AssetPack, width: float, height: float) -> Sprite2:
    """A vertical strip of a photo with soft edges (pole, trunk, door frame): an occluder."""
    bg = pack.background(int(rng.integers(len(pack.backgrounds))))
    h, w = bg.shape[:2]
    strip_w = max(int(w * rng.uniform(0.05, 0.12)), 4)
    x = int(rng.integers(0, w - strip_w + 1))
    rgb = cv2.resize(bg[:, x : x + strip_w], (max(int(width), 3), max(int(height), 3)), interpolation=cv2.INTER_AREA)
    alpha = np.ones(rgb.shape[:2], np.float32)
    alpha[:, 0] = alpha[:, -1] = 0.5
    return Sprite2.from_rgb_alpha(rgb, alpha, "pole")


def _motion(
    rng: np.random.Generator,
    path: Path2D,
    sprite: Sprite2,
    size_px: float,
    config: SyntheticConfig,
    rotation_deg_s: float,
    scale_amplitude: float,
) -> ObjectMotion:
    n = int(np.ceil(config.duration_s / 0.8)) + 3
    key_t = (np.arange(n) - 1) * 0.8
    log_s = np.zeros((n, 2))
    log_s[:, 0] = np.clip(
        np.cumsum(rng.normal(0, 0.6 * scale_amplitude, n)), -1.5 * scale_amplitude, 1.5 * scale_amplitude
    )
    return ObjectMotion(
        path=path,
        angle0=float(rng.uniform(-0.3, 0.3)),
        angular_speed=float(np.deg2rad(rotation_deg_s) * rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0)),
        log_scale=Path2D(key_t, log_s, smooth=True),
        base_scale=1.0,
        tilt_amp=np.deg2rad(config.target_tilt_deg) * rng.uniform(0.3, 1.0, 2),
        tilt_hz=rng.uniform(0.2, 0.7, 2),
        phase=rng.uniform(0, 2 * np.pi, 3),
    )


def build_photo_scene(config: SyntheticConfig, rng: np.random.Generator) -> PhotoScene:
    """A random photoreal scene for ``config`` (every random choice from ``rng``)."""
    pack = load_pack(config.asset_pack)
    w, h = config.width, config.height
    # Camera strength per seed: still with camera_still_probability, else a factor in camera_strength_range.
    lo_s, hi_s = config.camera_strength_range
    strength = 0.0 if rng.random() < config.camera_still_probability else float(rng.uniform(lo_s, hi_s))
    camera = random_camera_path(
        rng, w, h, config.focal_px, config.duration_s, strength * config.camera_speed_px_s,
        strength * config.camera_zoom_amplitude, strength * config.camera_roll_deg,
        strength * config.camera_tilt_deg, strength * config.camera_shake_px, config.camera_shake_hz,
    )  # fmt: skip

    # True event -> RGB map: the recorded homography, then the misregistration (RGB pixels).
    dx, dy = config.rgb_misregistration_px
    rgb_from_event = np.array([[1.0, 0, dx], [0, 1.0, dy], [0, 0, 1.0]]) @ config.homography_matrix
    rgb_w, rgb_h = config.rgb_size
    rgb_scale = float(np.sqrt(abs(np.linalg.det(config.homography_matrix[:2, :2]))))

    # Background: covers everything either camera sees over the sequence (plus a margin), at the finer camera's
    # resolution where the photo allows.
    x0, y0, x1, y1 = view_bounds(camera, config.duration_s)
    inv = np.linalg.inv(rgb_from_event)
    rc = np.array([[0, 0, 1], [rgb_w, 0, 1], [rgb_w, rgb_h, 1], [0, rgb_h, 1]], np.float64) @ inv.T
    rx0, ry0, rx1, ry1 = view_bounds(camera, config.duration_s, points=rc[:, :2] / rc[:, 2:3])
    x0, y0 = min(x0, rx0) - 16, min(y0, ry0) - 16
    x1, y1 = max(x1, rx1) + 16, max(y1, ry1) + 16
    video = None
    if config.video_probability > 0 and pack.videos and rng.random() < config.video_probability:
        video = pack.video(int(rng.integers(len(pack.videos))))
        photo = video.frames[0]
    else:
        photo = pack.background(int(rng.integers(len(pack.backgrounds))))
        if rng.random() < 0.5:
            photo = photo[:, ::-1]
    ph, pw = photo.shape[:2]
    need_w, need_h = x1 - x0, y1 - y0
    density = max(rgb_scale, 1.0)  # photo px per world px
    cover = max(need_w / pw, need_h / ph)  # world px per photo px so that the photo covers the area
    # Prefer rendering at ~density photo px per world px; the photo is scaled up only when it must be.
    s_world = max(cover, 1.0 / density * float(rng.uniform(1.0, 1.6)))
    s_world = max(s_world, cover)
    off_x = x0 - rng.uniform(0, max(pw * s_world - need_w, 0))
    off_y = y0 - rng.uniform(0, max(ph * s_world - need_h, 0))
    background_to_world = np.array([[s_world, 0, off_x], [0, s_world, off_y], [0, 0, 1.0]])
    # Lens blur (~0.5 world px): the sharpest photo detail would make every pixel fire on any motion.
    sigma = 0.5 / s_world
    blur = sigma > 0.25 and video is None  # video frames are already soft (compression, motion)
    background = cv2.GaussianBlur(np.ascontiguousarray(photo), (0, 0), sigma) if blur else photo
    background = np.ascontiguousarray(background)

    # Target: a cut-out (or a photo patch) moving in 2.5-D, followed by the camera (the operator keeps it roughly
    # in view): its keyframes are a random walk in sensor pixels, mapped into the world through the camera at
    # each keyframe time; between keyframes the camera's own motion shows.
    lo, hi = config.target_size_px
    size = float(rng.uniform(lo, hi))
    if rng.random() < PATCH_PROBABILITY:
        target_sprite = _photo_patch(rng, pack, size)
    else:
        target_sprite = _cutout(rng, pack, int(rng.integers(len(pack.objects))), size)
    target_sprite = _stretch(target_sprite, config.draw_stretch(rng))
    margin = min(0.9 * size, 0.45 * min(w, h))
    local = random_walk_path(
        rng, config.duration_s, config.keyframe_interval_s, config.target_speed_px_s,
        (margin, margin, w - margin, h - margin), not config.abrupt_motion,
    )  # fmt: skip
    if config.out_of_view:
        excursion_out_of_view(rng, local, w, h, size, config.duration_s)
    target_path = Path2D(local.key_t, _to_world(camera.homographies(local.key_t, 1.0), local.key_xy), local.smooth)
    target = PhotoLayer(
        target_sprite,
        _motion(rng, target_path, target_sprite, size, config, config.rotation_speed_deg_s, config.scale_amplitude),
        1.0,
        "target",
    )

    # Distractors (behind the target): look-alikes of the target first, then other cut-outs, near the target.
    distractors = []
    for k in range(config.num_distractors):
        if k < config.same_appearance_distractors:
            sprite = _jitter(rng, target_sprite, 0.08)
        else:
            sprite = _cutout(rng, pack, int(rng.integers(len(pack.objects))), size * rng.uniform(0.8, 1.2))
        offset = random_walk_path(
            rng, config.duration_s, 0.5, 1.5 * size, (-3 * size, -3 * size, 3 * size, 3 * size), True
        )
        key_xy = target_path(offset.key_t) + offset.key_xy
        path = Path2D(offset.key_t, key_xy, True)
        distractors.append(
            PhotoLayer(
                sprite, _motion(rng, path, sprite, size, config, config.rotation_speed_deg_s, 0.1), 1.0, "distractor"
            )  # fmt: skip
        )

    # Occluders (in front, nearer: parallax): poles or cut-outs crossing the target at a random time.
    occluders = []
    for _ in range(config.num_occluders):
        depth = float(rng.uniform(0.6, 0.9))
        t_cross = float(rng.uniform(0.25, 0.75) * config.duration_s)
        if rng.random() < 0.5:
            sprite = _pole(rng, pack, size * rng.uniform(0.5, 1.1), 2.5 * h)
            direction = np.array([rng.choice([-1.0, 1.0]), 0.0])
        else:
            sprite = _cutout(rng, pack, int(rng.integers(len(pack.objects))), size * rng.uniform(1.2, 2.0))
            a = rng.uniform(0, 2 * np.pi)
            direction = np.array([np.cos(a), np.sin(a)])
        speed = float(rng.uniform(0.8, 1.5) * max(3 * size, 60.0))
        key_t = np.array([-1.0, config.duration_s + 1.0])
        # Where the target is (world, as seen at this depth) at t_cross: camera offset scaled by the depth.
        # The world point at this depth that the sensor sees where the target is at t_cross.
        seen = _to_sensor(camera.homographies(t_cross, 1.0), target_path(t_cross))
        cross = _to_world(camera.homographies(t_cross, depth), seen)[0]
        key_xy = cross[None] + direction[None] * speed * (key_t - t_cross)[:, None]
        motion = _motion(rng, Path2D(key_t, key_xy, False), sprite, size, config, 0.0, 0.0)
        motion.tilt_amp = np.zeros(2)
        motion.wobble = 0.0
        motion.angle0 = 0.0 if sprite.name == "pole" else motion.angle0
        occluders.append(PhotoLayer(sprite, motion, depth, "occluder"))

    grad = rng.uniform(-0.12, 0.12, 2)
    strength = float(rng.uniform(0.1, 0.3))
    event_view = View("event", w, h, np.eye(3), vignetting(w, h, config.illumination, strength, grad))
    rgb_view = View("rgb", rgb_w, rgb_h, rgb_from_event, vignetting(rgb_w, rgb_h, config.illumination, strength, grad))
    layers = [*distractors, target, *occluders]
    return PhotoScene(
        background=background,
        background_to_world=background_to_world,
        layers=layers,
        target_index=len(distractors),
        camera=camera,
        event_view=event_view,
        rgb_view=rgb_view,
        flicker_hz=config.flicker_hz,
        flicker_depth=config.flicker_depth,
        flicker_phase=float(rng.uniform(0, 2 * np.pi)),
        video=video,
    )
