"""``generate_photoreal``: photoreal scene -> events (sensor model) + RGB frames + visible-alpha ground truth.

The RGB camera differs from the event sensor as configured: its own size and field of view (the recorded
``homography``), a true view that is off the recorded one by ``rgb_misregistration_px``, a rolling shutter
(``rolling_shutter_s`` from the top to the bottom row), exposure blur, and frames stamped
``rgb_clock_error_ns`` later than their true exposure. Ground truth follows the RGB *content* (true view,
true exposure); the high-rate ground truth is on the true RGB clock (what aligned events are on).
"""

from __future__ import annotations

import time

import numpy as np

from had_tracker.data.synthetic.config import SyntheticConfig
from had_tracker.data.synthetic.esim import simulate_events
from had_tracker.data.synthetic.photoreal.build import build_photo_scene
from had_tracker.data.synthetic.photoreal.scene import PhotoScene, View
from had_tracker.data.synthetic.recording import CameraIntrinsics, SyntheticRecording
from had_tracker.data.synthetic.rgb import blur_samples, expose_frame
from had_tracker.data.synthetic.sensor import internal_times, simulate_sensor
from had_tracker.events.container import Events

NS = 1_000_000_000
SHUTTER_BANDS = 8  # the rolling shutter renders the frame in this many row bands, each at its own time


def _render_rgb(scene: PhotoScene, config: SyntheticConfig, t: float) -> np.ndarray:
    """Linear RGB radiance of the RGB view, row band ``b`` at ``t + b/B * rolling_shutter_s``."""
    view: View = scene.rgb_view
    if config.rolling_shutter_s <= 0:
        img = scene.render(t, view, gray=config.rgb_grayscale)
    else:
        edges = np.linspace(0, view.height, SHUTTER_BANDS + 1).round().astype(int)
        parts = [
            scene.render(
                t + config.rolling_shutter_s * (0.5 * (y0 + y1) / view.height),
                view,
                gray=config.rgb_grayscale,
                rect=(0, int(y0), view.width, int(y1)),
            )
            for y0, y1 in zip(edges[:-1], edges[1:], strict=True)
            if y1 > y0
        ]
        img = np.concatenate(parts, axis=0)
    if config.rgb_grayscale:
        img = np.repeat(img[..., None], 3, axis=2)
    return img


def generate_photoreal(
    config: SyntheticConfig, seed: int, streams: list[np.random.Generator], name: str | None = None
) -> SyntheticRecording:
    """One photoreal sequence; ``streams`` = (config, scene, events, rgb) generators of ``generate_sequence``."""
    t_begin = time.perf_counter()
    _, rng_scene, rng_events, rng_rgb = streams
    scene = build_photo_scene(config, rng_scene)
    timings = {"scene_s": time.perf_counter() - t_begin}

    t0 = time.perf_counter()
    speed_event = scene.image_speed_px_s(config.duration_s, scene.event_view)
    times = internal_times(config, speed_event)
    ev_view = scene.event_view
    scene.precompute(times, ev_view)

    def radiance(t: float) -> np.ndarray:
        return scene.render(t, ev_view, gray=True)

    if config.sensor_model == "v2e":
        sim = simulate_sensor(config, radiance, rng_events, times)
    else:
        fixed = SyntheticConfig(**{**config.to_dict(), "internal_rate_hz": (len(times) - 1) / config.duration_s})
        sim = simulate_events(
            fixed,
            lambda t, rect: np.log(radiance(t) + np.float32(config.log_eps)),
            rng_events,
        )
    t_ns = np.rint(sim.t_s * 1e6).astype(np.int64) * 1000 + config.event_clock_start_ns
    events = Events.from_arrays(t_ns, sim.x, sim.y, sim.p, config.width, config.height)
    timings["events_s"] = time.perf_counter() - t0

    # RGB frames: true exposure windows in world time; stamps carry the clock error.
    t0 = time.perf_counter()
    period = 1.0 / config.rgb_fps
    span = config.exposure_s + config.rolling_shutter_s
    n_frames = int(np.floor((config.duration_s - config.first_exposure_s - span) / period + 1e-9)) + 1
    starts_s = config.first_exposure_s + np.arange(n_frames) * period
    speed_rgb = scene.image_speed_px_s(config.duration_s, scene.rgb_view)
    # Sub-exposure samples ~3 px apart (photos blur smoothly; the shapes engine uses 1.5 px for hard edges).
    n_blur = blur_samples(config, speed_rgb / 2.0)
    frames = np.stack(
        [
            expose_frame(config, lambda t, rect: _render_rgb(scene, config, t), float(s), n_blur, rng_rgb)
            for s in starts_s
        ]
    )
    if config.rgb_grayscale:  # one sensor value per pixel (the noise was drawn per channel)
        frames = np.repeat(frames[..., :1], 3, axis=3)
    timings["rgb_s"] = time.perf_counter() - t0

    # Ground truth: per frame at the true exposure midpoint of the middle row, in the true RGB view.
    t0 = time.perf_counter()
    mids_s = starts_s + 0.5 * config.exposure_s + 0.5 * config.rolling_shutter_s
    gt_boxes, visible, in_view = scene.target_visibility(mids_s, scene.rgb_view)
    absent = (visible < config.min_visible_fraction) | (gt_boxes[:, 2] <= 0)
    hr_t_s = np.arange(0.0, config.duration_s, 1.0 / config.gt_hr_rate_hz)
    hr_boxes, hr_visible, hr_in_view = scene.target_visibility(hr_t_s, scene.rgb_view)
    hr_absent = (hr_visible < config.min_visible_fraction) | (hr_boxes[:, 2] <= 0)
    # An absent target has no box (what the bag's GroundTruth and the dataset readers carry too).
    gt_boxes[absent] = 0.0
    hr_boxes[hr_absent] = 0.0
    timings["ground_truth_s"] = time.perf_counter() - t0

    def rgb_ns(t_s: np.ndarray) -> np.ndarray:
        return config.rgb_clock_start_ns + np.rint(np.asarray(t_s) * NS).astype(np.int64)

    attributes = config.attribute_flags()
    attributes["out_of_view"] = bool(np.any(hr_in_view < 0.5))
    occluded = 1.0 - hr_visible / np.maximum(hr_in_view, 1e-6)
    attributes["occlusion"] = bool(np.any((occluded > 0.5) & (hr_in_view > 0.5)))
    attributes["fast_motion"] = attributes["fast_motion"] or speed_rgb >= 250
    attributes["camera_motion"] = scene.image_speed_px_s(config.duration_s, scene.event_view, layers=False) >= 100
    attributes["dynamic_background"] = (
        config.camera_speed_px_s > 0 or config.camera_shake_px > 0 or scene.video is not None
    )

    err = int(config.rgb_clock_error_ns)
    rgb_w, rgb_h = config.rgb_size
    timings["total_s"] = time.perf_counter() - t_begin
    stats = {
        **sim.stats,
        "events": len(events),
        "rgb_frames": n_frames,
        "blur_samples": n_blur,
        "image_speed_event_px_s": round(speed_event, 1),
        "target": scene.target.sprite.name,
        **{k: round(v, 4) for k, v in timings.items()},
    }
    return SyntheticRecording(
        name=name or f"{config.preset}_{int(seed):06d}",
        seed=int(seed),
        config=config,
        events=events,
        rgb_frames=frames,
        frame_t_ns=rgb_ns(mids_s) + err,
        exposure_start_ns=rgb_ns(starts_s) + err,
        exposure_end_ns=rgb_ns(starts_s + span) + err,
        event_camera=CameraIntrinsics.pinhole(config.width, config.height, config.focal_px, "event_camera"),
        rgb_camera=CameraIntrinsics.pinhole(rgb_w, rgb_h, config.focal_px * rgb_w / config.width, "camera"),
        homography=config.homography_matrix,
        event_to_rgb_offset_ns=config.event_to_rgb_offset_ns,
        gt_boxes=gt_boxes,
        absent=absent,
        visible_fraction=visible,
        gt_hr_t_ns=rgb_ns(hr_t_s),
        gt_hr_boxes=hr_boxes,
        gt_hr_absent=hr_absent,
        attributes=attributes,
        stats=stats,
        scene=scene,
    )
