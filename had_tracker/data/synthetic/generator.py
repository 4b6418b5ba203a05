"""``generate_sequence``: scene -> events (ESIM-style) + RGB frames (exposure model) + ground truth."""

from __future__ import annotations

import time

import numpy as np

from had_tracker.data.synthetic.config import SyntheticConfig, as_config
from had_tracker.data.synthetic.esim import simulate_events
from had_tracker.data.synthetic.recording import CameraIntrinsics, SyntheticRecording
from had_tracker.data.synthetic.rgb import blur_samples, expose_frame
from had_tracker.data.synthetic.scene import Scene, build_scene
from had_tracker.data.synthetic.sensor import internal_times, simulate_sensor
from had_tracker.events.container import Events

NS = 1_000_000_000


def _max_speed_px_s(scene: Scene, duration_s: float) -> float:
    """Largest image speed of any layer (translation + rotation at its rim) over the sequence."""
    t = np.linspace(0.0, duration_s, max(int(duration_s * 500), 2))
    dt = t[1] - t[0]
    best = 0.0
    for layer in scene.layers():
        v = np.linalg.norm(np.diff(layer.path(t), axis=0), axis=1).max() / dt
        if layer.pose is not None:
            radius = 0.5 * max(layer.sprite.size) * (1 + layer.pose.scale_amplitude)
            v += np.abs(np.diff(layer.pose.angle(t))).max() / dt * radius
        best = max(best, float(v))
    return best


def _background_speed_px_s(scene: Scene, duration_s: float) -> float:
    """Largest image speed of the panning background (0 when static)."""
    if scene.background_path is None:
        return 0.0
    t = np.linspace(0.0, duration_s, max(int(duration_s * 500), 2))
    return float(np.linalg.norm(np.diff(scene.background_path(t), axis=0), axis=1).max() / (t[1] - t[0]))


def _ground_truth(scene: Scene, t_s: np.ndarray, min_visible: float) -> tuple[np.ndarray, ...]:
    camera = scene.rgb_camera
    boxes, _, _ = scene.target_boxes(t_s, camera)
    visible, in_view = scene.visible_fraction(t_s, camera)
    absent = visible < min_visible
    boxes[in_view <= 0] = 0.0
    return boxes, absent, visible, in_view


def generate_sequence(
    config_or_preset: SyntheticConfig | str, seed: int, name: str | None = None
) -> SyntheticRecording:
    """Generate one synthetic RGB+event sequence, deterministic for ``(config, seed)``.

    ``config_or_preset`` is a SyntheticConfig or a preset name (``PRESET_NAMES``: the shape presets and the
    photoreal family); ``scene_kind="photoreal"`` configs go to :func:`generate_photoreal`.
    """
    t_begin = time.perf_counter()
    base = as_config(config_or_preset)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(4)]
    rng_config, rng_scene, rng_events, rng_rgb = streams
    config = base.resolve(rng_config)
    if config.scene_kind == "photoreal":
        from had_tracker.data.synthetic.photoreal.generator import generate_photoreal

        return generate_photoreal(config, seed, streams, name)
    scene = build_scene(config, rng_scene)
    timings = {"scene_s": time.perf_counter() - t_begin}

    # Events on the sensor clock, whole microseconds.
    t0 = time.perf_counter()
    background_every = None
    v_background = _background_speed_px_s(scene, config.duration_s)
    if scene.background_path is not None:
        # Background pixels are evaluated at a lower rate: about half a pixel of background motion per step.
        background_every = max(1, int(0.5 * config.internal_rate_hz / max(v_background, 1e-9)))
    if config.sensor_model == "v2e":
        # The v2e pixel model filters every pixel at every step: whole frames at the adaptive rate.
        times = internal_times(config, max(_max_speed_px_s(scene, config.duration_s), v_background))
        scene.precompute(times)
        cam = scene.event_camera
        sim = simulate_sensor(config, lambda t: scene.render(t, cam, gray=True), rng_events, times)
    else:
        sim = simulate_events(
            config, scene.log_intensity, rng_events, scene.changed_rects, scene.precompute, background_every
        )
    t_ns = np.rint(sim.t_s * 1e6).astype(np.int64) * 1000 + config.event_clock_start_ns
    events = Events.from_arrays(t_ns, sim.x, sim.y, sim.p, config.width, config.height)
    timings["events_s"] = time.perf_counter() - t0

    # RGB frames on the RGB clock.
    t0 = time.perf_counter()
    period = 1.0 / config.rgb_fps
    n_frames = int(np.floor((config.duration_s - config.first_exposure_s - config.exposure_s) / period + 1e-9)) + 1
    starts_s = config.first_exposure_s + np.arange(n_frames) * period
    n_blur = blur_samples(config, _max_speed_px_s(scene, config.duration_s))
    n_background = blur_samples(config, v_background) if scene.background_path is not None else 1
    cam = scene.rgb_camera
    frames = np.stack(
        [
            expose_frame(
                config,
                lambda t, rect: scene.render(t, cam, rect=rect),
                float(s),
                n_blur,
                rng_rgb,
                lambda times: scene.moving_rect(times, cam),
                n_background,
            )
            for s in starts_s
        ]
    )
    timings["rgb_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    mids_s = starts_s + 0.5 * config.exposure_s
    gt_boxes, absent, visible, _ = _ground_truth(scene, mids_s, config.min_visible_fraction)
    hr_t_s = np.arange(0.0, config.duration_s, 1.0 / config.gt_hr_rate_hz)
    gt_hr_boxes, gt_hr_absent, _, hr_in_view = _ground_truth(scene, hr_t_s, config.min_visible_fraction)
    hr_visible, _ = scene.visible_fraction(hr_t_s, scene.rgb_camera) if config.occlusion else (None, None)
    timings["ground_truth_s"] = time.perf_counter() - t0

    def rgb_ns(t_s: np.ndarray) -> np.ndarray:
        return config.rgb_clock_start_ns + np.rint(np.asarray(t_s) * NS).astype(np.int64)

    attributes = config.attribute_flags()
    attributes["out_of_view"] = bool(np.any(hr_in_view < 0.5))
    if hr_visible is not None:
        occluded = 1.0 - hr_visible / np.maximum(hr_in_view, 1e-6)
        attributes["occlusion"] = bool(np.any((occluded > 0.5) & (hr_in_view > 0.5)))

    rgb_w, rgb_h = config.rgb_size
    timings["total_s"] = time.perf_counter() - t_begin
    stats = {
        **sim.stats,
        "events": len(events),
        "rgb_frames": n_frames,
        "blur_samples": n_blur,
        "background_every": background_every or 0,
        **{k: round(v, 4) for k, v in timings.items()},
    }
    return SyntheticRecording(
        name=name or f"{config.preset}_{int(seed):06d}",
        seed=int(seed),
        config=config,
        events=events,
        rgb_frames=frames,
        frame_t_ns=rgb_ns(mids_s),
        exposure_start_ns=rgb_ns(starts_s),
        exposure_end_ns=rgb_ns(starts_s + config.exposure_s),
        event_camera=CameraIntrinsics.pinhole(config.width, config.height, config.focal_px, "event_camera"),
        rgb_camera=CameraIntrinsics.pinhole(rgb_w, rgb_h, config.focal_px * rgb_w / config.width, "camera"),
        homography=config.homography_matrix,
        event_to_rgb_offset_ns=config.event_to_rgb_offset_ns,
        gt_boxes=gt_boxes,
        absent=absent,
        visible_fraction=visible,
        gt_hr_t_ns=rgb_ns(hr_t_s),
        gt_hr_boxes=gt_hr_boxes,
        gt_hr_absent=gt_hr_absent,
        attributes=attributes,
        stats=stats,
        scene=scene,
    )
