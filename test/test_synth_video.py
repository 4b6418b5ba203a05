"""Video backgrounds: frames interpolated by optical flow, packs with clips, events from a moving background."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from had_tracker.data.synthetic import SyntheticConfig, generate_sequence
from had_tracker.data.synthetic.photoreal.assets import AssetPack, build_pack, default_pack_path, srgb_to_linear
from had_tracker.data.synthetic.photoreal.video import FlowVideo

FPS = 10.0


def _texture() -> np.ndarray:
    img = cv2.imread(str(default_pack_path() / "backgrounds" / "gravel.jpg"), cv2.IMREAD_COLOR)
    return cv2.resize(img[:240, :320], (160, 120), interpolation=cv2.INTER_AREA)


def _deformed(base: np.ndarray, t: float) -> np.ndarray:
    """``base`` under a smooth non-rigid flow that changes with time (a swaying scene)."""
    h, w = base.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = 6.0 * np.sin(2 * np.pi * yy / 90.0 + 4.0 * t) + 50.0 * t  # 5 px per frame and a sway
    dy = 4.0 * np.cos(2 * np.pi * xx / 110.0 + 1.5 * t)
    return cv2.remap(base, xx - dx, yy - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _clip(n: int = 8) -> np.ndarray:
    base = _texture()
    return np.stack([_deformed(base, k / FPS) for k in range(n)])


def test_flow_interpolation_beats_cross_fading_between_frames():
    frames_u8 = _clip()
    video = FlowVideo(np.stack([srgb_to_linear(f[..., ::-1]) for f in frames_u8]), FPS)
    base = _texture()
    flow_err, fade_err = [], []
    for k in range(2, 6):
        truth = srgb_to_linear(_deformed(base, (k + 0.5) / FPS)[..., ::-1])
        mid = video.frame((k + 0.5) / FPS)
        fade = 0.5 * (video.frames[k] + video.frames[k + 1])
        inner = (slice(12, -12), slice(20, -20))
        flow_err.append(np.abs(mid - truth)[inner].mean())
        fade_err.append(np.abs(fade - truth)[inner].mean())
    assert np.mean(flow_err) < 0.6 * np.mean(fade_err)
    np.testing.assert_array_equal(video.frame(3 / FPS), video.frames[3])  # at a frame time: the frame itself


def test_clip_plays_back_and_forth():
    video = FlowVideo(np.stack([srgb_to_linear(f[..., ::-1]) for f in _clip(4)]), FPS)
    assert video.position(0.0) == (0, 0.0)
    k, a = video.position(4.5 / FPS)  # 3 frames forward, then 1.5 back
    assert k + a == pytest.approx(1.5)


@pytest.fixture(scope="module")
def video_pack(tmp_path_factory):
    root = tmp_path_factory.mktemp("video_src")
    frames = _clip(10)
    writer = cv2.VideoWriter(str(root / "sway.avi"), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (160, 120))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG .avi")
    for f in frames:
        writer.write(f)
    writer.release()
    cv2.imwrite(str(root / "gravel.png"), _texture())
    obj = cv2.imread(str(default_pack_path() / "objects" / "fig.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(root / "fig.png"), obj)
    return build_pack(root, root.parent / "video_pack", "CC0-1.0")


def test_pack_built_from_a_folder_holds_the_video(video_pack):
    pack = AssetPack(video_pack)
    assert len(pack.videos) == 1 and len(pack.objects) == 1
    video = pack.video(0)
    assert video.fps == pytest.approx(FPS) and len(video.frames) == 10 and video.shape == (120, 160)


def test_video_background_fires_with_a_still_camera(video_pack):
    common = dict(
        duration_s=0.3, width=96, height=72, target_size_px=(18.0, 22.0), rgb_fps=20.0, gt_hr_rate_hz=50.0,
        camera_speed_px_s=0.0, camera_shake_px=0.0, num_distractors=0, same_appearance_distractors=0,
        num_occluders=0, target_speed_px_s=0.0, rotation_speed_deg_s=0.0, scale_amplitude=0.0,
        target_tilt_deg=0.0, shot_noise_rate_hz=0.0, leak_rate_hz=0.0, hot_pixel_fraction=0.0,
        asset_pack=str(video_pack),
    )  # fmt: skip
    still = generate_sequence(SyntheticConfig.from_preset("photoreal", **common), seed=1)
    moving = generate_sequence(SyntheticConfig.from_preset("photoreal", video_probability=1.0, **common), seed=1)
    assert moving.scene.video is not None and still.scene.video is None
    assert moving.attributes["dynamic_background"]
    assert len(moving.events) > 10 * max(len(still.events), 1)
