"""Configuration of the synthetic RGB+event engine: one flat dataclass, named presets, validation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields, replace

import numpy as np

from had_tracker.errors import ConfigError

SHAPE_PRESET_NAMES = ("easy", "fast", "hdr", "distractors", "mixed")
PHOTOREAL_PRESET_NAMES = (
    "photoreal",
    "photoreal-egomotion",
    "photoreal-lowlight",
    "photoreal-rgbcam",
    "davis346-like",
    "mixed-real",
)
PRESET_NAMES = SHAPE_PRESET_NAMES + PHOTOREAL_PRESET_NAMES
SCENE_KINDS = ("shapes", "photoreal")
SENSOR_MODELS = ("ideal", "v2e")


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that shapes one synthetic sequence (times in seconds unless the name says ``_ns``).

    Geometry: the event sensor is ``width`` x ``height``; the RGB camera is ``rgb_width`` x ``rgb_height``
    (None = same) and sees the scene through ``homography`` (3x3 row-major, event pixel centre -> RGB
    pixel centre; None = identity, i.e. co-located DAVIS-like pixels).
    Clocks: world time 0 is ``event_clock_start_ns`` on the event sensor clock and ``rgb_clock_start_ns``
    on the RGB (= host) clock, so ``t_rgb = t_event + (rgb_clock_start_ns - event_clock_start_ns)``.
    """

    preset: str = "custom"
    duration_s: float = 3.0
    # -- geometry
    width: int = 346
    height: int = 260
    rgb_width: int | None = None
    rgb_height: int | None = None
    homography: tuple[float, ...] | None = None
    focal_px: float = 300.0
    # -- clocks and transport
    event_clock_start_ns: int = 500_000_000
    rgb_clock_start_ns: int = 1_700_000_000_000_000_000
    host_latency_ns: int = 2_000_000
    host_jitter_ns: int = 200_000
    packet_duration_ns: int = 1_000_000
    image_latency_ns: int = 5_000_000
    # -- RGB camera
    rgb_fps: float = 25.0
    exposure_s: float = 0.01
    first_exposure_s: float = 0.02
    rgb_full_well_e: float = 8000.0
    rgb_read_noise_e: float = 4.0
    rgb_gain: float = 1.0
    rgb_gamma: float = 2.2
    max_blur_samples: int = 16
    # -- event camera (ESIM / v2e style)
    internal_rate_hz: float = 1000.0
    contrast_threshold_pos: float = 0.2
    contrast_threshold_neg: float = 0.2
    # Sensor randomisation: both thresholds x a factor drawn per sequence, log-uniform in [1, m], after the preset
    # and its variant are resolved (m = contrast_threshold_scale_max). Real sensors run with other biases than
    # the presets' (thresholds ~0.2-1 in log intensity), and a higher threshold silences a target's low-contrast
    # parts, not all of it evenly. 1 = off (no random draw: sequences are those of earlier versions).
    contrast_threshold_scale_max: float = 1.0
    threshold_sigma: float = 0.03
    refractory_s: float = 1e-4
    shot_noise_rate_hz: float = 0.1
    leak_rate_hz: float = 0.05
    log_eps: float = 1e-4
    max_events: int = 20_000_000
    # -- scene: target
    target_size_px: tuple[float, float] = (30.0, 60.0)
    # Elongation: the target is stretched by s (width x sqrt(s), height / sqrt(s), area kept) with log s uniform in
    # [-log m, log m], m = target_stretch_max. 1 = off (no random draw: sequences are those of earlier versions).
    # Without it the targets' aspect ratios stay near 1 (shapes 0.65-1.5), where real targets (cars, people,
    # boards) reach 0.3-3, and a network trained on them learns to predict square boxes.
    target_stretch_max: float = 1.0
    target_speed_px_s: float = 80.0
    keyframe_interval_s: float = 0.5
    abrupt_motion: bool = False
    rotation_speed_deg_s: float = 20.0
    scale_amplitude: float = 0.1
    out_of_view: bool = False
    # -- scene: clutter and light
    num_distractors: int = 0
    occlusion: bool = False
    dynamic_background: bool = False
    background_speed_px_s: float = 30.0
    illumination: float = 1.0
    hdr_spot_gain: float = 0.0
    # -- ground truth
    gt_hr_rate_hz: float = 1000.0
    min_visible_fraction: float = 0.1
    # -- "mixed": draw the challenge attributes per seed
    mix_attributes: bool = False
    attribute_probability: float = 0.35
    # -- scene kind: procedural shapes, or photographs (asset pack) seen through a moving camera
    scene_kind: str = "shapes"
    asset_pack: str | None = None  # folder of a pack (None = the shipped had_tracker/resources/assets)
    num_occluders: int = 0
    same_appearance_distractors: int = 0  # how many of num_distractors are copies of the target's cut-out
    target_tilt_deg: float = 0.0  # out-of-plane (perspective) tilt amplitude of the objects
    video_probability: float = 0.0  # chance of a video background (when the asset pack has videos)
    # -- camera ego-motion (photoreal): pan speed, zoom/roll/tilt amplitudes, hand-held shake
    camera_speed_px_s: float = 0.0
    camera_zoom_amplitude: float = 0.0
    camera_roll_deg: float = 0.0
    camera_tilt_deg: float = 0.0
    camera_shake_px: float = 0.0
    camera_shake_hz: float = 6.0
    camera_still_probability: float = 0.0  # chance per seed of a still camera
    camera_strength_range: tuple[float, float] = (1.0, 1.0)  # per-seed factor on every camera motion amplitude
    max_internal_rate_hz: float = 4000.0  # the event model's rate grows with image speed up to this
    # -- sensor realism (sensor_model "v2e"; "ideal" = the original model above)
    sensor_model: str = "ideal"
    cutoff_hz: float = 300.0  # pixel bandwidth at radiance 1; proportional to intensity (low light lags)
    cutoff_floor: float = 0.01  # intensity floor of the bandwidth (dark current)
    noise_dark_gain: float = 4.0  # shot noise and leak rates x (1 + gain) in the dark (x 1 at radiance >= 1)
    hot_pixel_fraction: float = 0.0
    hot_pixel_rate_hz: float = 50.0
    flicker_hz: float = 0.0  # intensity frequency of artificial light (100 or 120 Hz; 0 = none)
    flicker_depth: float = 0.0  # modulation depth in [0, 1)
    # -- RGB/event asymmetries
    rgb_misregistration_px: tuple[float, float] = (0.0, 0.0)  # true RGB view vs the recorded homography
    rgb_clock_error_ns: int = 0  # RGB frames are stamped this much later than their true exposure
    rolling_shutter_s: float = 0.0  # RGB readout time top -> bottom row
    rgb_grayscale: bool = False  # APS-like grey frames (stored as 3 equal channels)
    # -- "mixed-real": draw shapes vs photoreal (and their attributes) per seed
    photoreal_probability: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_preset(cls, name: str, **overrides) -> SyntheticConfig:
        """A named preset (see ``PRESET_NAMES``) with keyword overrides."""
        if name not in PRESET_NAMES:
            raise ConfigError(f"unknown synthetic preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(overrides) - known):
            raise ConfigError(f"unknown SyntheticConfig field(s) {unknown}")
        values = {**PRESETS[name], "preset": name, **overrides}
        return cls(**values)

    def with_attributes(self, **flags: bool) -> SyntheticConfig:
        """Return this config with the parameter bundles of the given challenge attributes switched on."""
        values: dict = {}
        for flag, on in flags.items():
            if flag not in ATTRIBUTE_BUNDLES:
                raise ConfigError(f"unknown attribute {flag!r}; known: {sorted(ATTRIBUTE_BUNDLES)}")
            if on:
                values.update(ATTRIBUTE_BUNDLES[flag])
        return replace(self, **values)

    def resolve(self, rng: np.random.Generator) -> SyntheticConfig:
        """Draw what the preset leaves to the seed with ``rng``.

        That is ``photoreal_probability``, ``mix_attributes`` and ``contrast_threshold_scale_max``.
        """
        config = self._resolve_scene(rng)
        if config.contrast_threshold_scale_max <= 1.0:
            return config
        scale = float(np.exp(rng.uniform(0.0, np.log(config.contrast_threshold_scale_max))))
        return replace(
            config,
            contrast_threshold_pos=config.contrast_threshold_pos * scale,
            contrast_threshold_neg=config.contrast_threshold_neg * scale,
            contrast_threshold_scale_max=1.0,
        )

    def _resolve_scene(self, rng: np.random.Generator) -> SyntheticConfig:
        """The shapes-or-photoreal draw and the attribute draws of :meth:`resolve`."""
        if self.photoreal_probability > 0:
            if rng.random() < self.photoreal_probability:
                variant = PHOTOREAL_VARIANTS[int(rng.integers(len(PHOTOREAL_VARIANTS)))]
                # The variant's settings on top of this config (its size, duration and target size stay).
                values = {k: v for k, v in PRESETS[variant].items() if k != "target_size_px"}
                return replace(self, **values, photoreal_probability=0.0)
            return replace(self, photoreal_probability=0.0, mix_attributes=True)._resolve_scene(rng)
        if not self.mix_attributes:
            return self
        flags = {name: bool(rng.random() < self.attribute_probability) for name in sorted(ATTRIBUTE_BUNDLES)}
        return replace(self.with_attributes(**flags), mix_attributes=False)

    def draw_stretch(self, rng: np.random.Generator) -> float:
        """The target's elongation factor (see ``target_stretch_max``): 1 without a draw when it is off."""
        if self.target_stretch_max <= 1.0:
            return 1.0
        return float(np.exp(rng.uniform(-1.0, 1.0) * np.log(self.target_stretch_max)))

    def to_dict(self) -> dict:
        """Plain values (JSON-able) of every field."""
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ derived values
    @property
    def rgb_size(self) -> tuple[int, int]:
        """(width, height) of the RGB camera."""
        return (self.rgb_width or self.width, self.rgb_height or self.height)

    @property
    def homography_matrix(self) -> np.ndarray:
        """3x3 event->RGB homography (pixel centres)."""
        if self.homography is None:
            return np.eye(3)
        return np.asarray(self.homography, dtype=np.float64).reshape(3, 3)

    @property
    def event_to_rgb_offset_ns(self) -> int:
        """Add to an event sensor time to get the RGB clock time."""
        return int(self.rgb_clock_start_ns) - int(self.event_clock_start_ns)

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ConfigError for values the engine cannot honour."""

        def need(cond: bool, what: str) -> None:
            if not cond:
                raise ConfigError(f"synthetic config: {what}")

        need(self.duration_s > 0, f"duration_s must be > 0, got {self.duration_s}")
        need(self.width > 0 and self.height > 0, f"sensor size must be positive, got {self.width}x{self.height}")
        need(self.width <= 2048 and self.height <= 2048, "sensor size must be <= 2048 (evt3 addresses)")
        for name in ("rgb_width", "rgb_height"):
            v = getattr(self, name)
            need(v is None or v > 0, f"{name} must be positive, got {v}")
        if self.homography is not None:
            h = np.asarray(self.homography, dtype=np.float64)
            need(h.size == 9 and np.all(np.isfinite(h)), "homography must be 9 finite numbers (3x3 row-major)")
            need(abs(np.linalg.det(h.reshape(3, 3))) > 1e-12, "homography must be invertible")
        need(self.contrast_threshold_pos > 0, f"contrast_threshold_pos must be > 0, got {self.contrast_threshold_pos}")
        need(self.contrast_threshold_neg > 0, f"contrast_threshold_neg must be > 0, got {self.contrast_threshold_neg}")
        need(self.threshold_sigma >= 0, "threshold_sigma must be >= 0")
        need(self.refractory_s >= 0, "refractory_s must be >= 0")
        need(self.shot_noise_rate_hz >= 0 and self.leak_rate_hz >= 0, "noise rates must be >= 0")
        need(self.log_eps > 0, "log_eps must be > 0")
        need(self.max_events > 0, "max_events must be > 0")
        need(self.internal_rate_hz > 0, "internal_rate_hz must be > 0")
        need(self.rgb_fps > 0, f"rgb_fps must be > 0, got {self.rgb_fps}")
        need(0 < self.exposure_s <= 1.0 / self.rgb_fps, "exposure_s must be > 0 and <= the frame period")
        need(self.first_exposure_s >= 0, "first_exposure_s must be >= 0")
        need(self.first_exposure_s + self.exposure_s <= self.duration_s, "duration_s too short for one RGB frame")
        need(self.rgb_full_well_e > 0 and self.rgb_read_noise_e >= 0, "RGB noise parameters must be positive")
        need(self.rgb_gain > 0 and self.rgb_gamma > 0, "rgb_gain and rgb_gamma must be > 0")
        need(self.max_blur_samples >= 1, "max_blur_samples must be >= 1")
        lo, hi = self.target_size_px
        need(0 < lo <= hi, f"target_size_px must be 0 < min <= max, got {self.target_size_px}")
        need(hi < min(self.width, self.height), "target_size_px must be smaller than the sensor")
        need(1.0 <= self.target_stretch_max <= 10.0, "target_stretch_max must be in [1, 10]")
        need(1.0 <= self.contrast_threshold_scale_max <= 10.0, "contrast_threshold_scale_max must be in [1, 10]")
        need(self.target_speed_px_s >= 0, "target_speed_px_s must be >= 0")
        need(self.keyframe_interval_s > 0, "keyframe_interval_s must be > 0")
        need(0 <= self.scale_amplitude < 0.9, "scale_amplitude must be in [0, 0.9)")
        need(self.num_distractors >= 0, f"num_distractors must be >= 0, got {self.num_distractors}")
        need(self.background_speed_px_s >= 0, "background_speed_px_s must be >= 0")
        need(self.illumination > 0, f"illumination must be > 0, got {self.illumination}")
        need(self.hdr_spot_gain >= 0, "hdr_spot_gain must be >= 0")
        need(self.gt_hr_rate_hz > 0, "gt_hr_rate_hz must be > 0")
        need(0 <= self.min_visible_fraction < 1, "min_visible_fraction must be in [0, 1)")
        need(self.packet_duration_ns > 0, "packet_duration_ns must be > 0")
        need(self.host_latency_ns >= 0 and self.host_jitter_ns >= 0, "host latency/jitter must be >= 0")
        need(0 <= self.event_clock_start_ns < (1 << 24) * 1000, "event_clock_start_ns must be in [0, 16.77 s)")
        need(0 <= self.attribute_probability <= 1, "attribute_probability must be in [0, 1]")
        need(self.scene_kind in SCENE_KINDS, f"scene_kind must be one of {SCENE_KINDS}, got {self.scene_kind!r}")
        need(self.sensor_model in SENSOR_MODELS, f"sensor_model must be one of {SENSOR_MODELS}")
        need(self.num_occluders >= 0, "num_occluders must be >= 0")
        need(
            0 <= self.same_appearance_distractors <= self.num_distractors,
            "same_appearance_distractors must be in [0, num_distractors]",
        )
        need(0 <= self.target_tilt_deg < 80, "target_tilt_deg must be in [0, 80)")
        need(self.camera_speed_px_s >= 0 and self.camera_shake_px >= 0, "camera speed/shake must be >= 0")
        need(0 <= self.camera_zoom_amplitude < 0.5, "camera_zoom_amplitude must be in [0, 0.5)")
        need(0 <= self.camera_roll_deg <= 45 and 0 <= self.camera_tilt_deg < 45, "camera roll/tilt out of range")
        need(self.camera_shake_hz > 0, "camera_shake_hz must be > 0")
        need(0 <= self.camera_still_probability <= 1, "camera_still_probability must be in [0, 1]")
        lo_s, hi_s = self.camera_strength_range
        need(0 <= lo_s <= hi_s <= 2, "camera_strength_range must be 0 <= lo <= hi <= 2")
        need(self.max_internal_rate_hz >= self.internal_rate_hz, "max_internal_rate_hz must be >= internal_rate_hz")
        need(self.cutoff_hz > 0 and self.cutoff_floor > 0, "cutoff_hz and cutoff_floor must be > 0")
        need(self.noise_dark_gain >= 0, "noise_dark_gain must be >= 0")
        need(0 <= self.hot_pixel_fraction <= 0.1, "hot_pixel_fraction must be in [0, 0.1]")
        need(self.hot_pixel_rate_hz >= 0, "hot_pixel_rate_hz must be >= 0")
        need(self.flicker_hz >= 0 and 0 <= self.flicker_depth < 1, "flicker_hz >= 0 and flicker_depth in [0, 1)")
        need(len(self.rgb_misregistration_px) == 2, "rgb_misregistration_px must be (dx, dy)")
        need(self.rolling_shutter_s >= 0, "rolling_shutter_s must be >= 0")
        need(
            self.exposure_s + self.rolling_shutter_s <= 1.0 / self.rgb_fps + 1e-12,
            "exposure_s + rolling_shutter_s must fit in the frame period",
        )
        need(0 <= self.photoreal_probability <= 1, "photoreal_probability must be in [0, 1]")
        need(0 <= self.video_probability <= 1, "video_probability must be in [0, 1]")

    # ------------------------------------------------------------------ attributes
    def attribute_flags(self) -> dict[str, bool]:
        """Challenge attributes implied by the configuration (occlusion/out-of-view refined after rendering)."""
        return {
            "fast_motion": self.target_speed_px_s >= 250 or self.abrupt_motion,
            "low_light": self.illumination < 0.3,
            "over_exposure": self.hdr_spot_gain >= 4,
            "dynamic_background": self.dynamic_background,
            "distractors": self.num_distractors > 0,
            "occlusion": self.occlusion,
            "out_of_view": self.out_of_view,
            "camera_motion": self.camera_speed_px_s >= 100 or self.camera_shake_px >= 2,
            "flicker": self.flicker_hz > 0 and self.flicker_depth > 0,
            "sensor_noise": self.sensor_model == "v2e" and self.illumination < 0.3,
        }


# Parameter bundles per challenge attribute; presets and "mixed" are unions of bundles.
ATTRIBUTE_BUNDLES: dict[str, dict] = {
    "fast_motion": {
        "target_speed_px_s": 450.0,
        "abrupt_motion": True,
        "keyframe_interval_s": 0.25,
        "rotation_speed_deg_s": 120.0,
        "scale_amplitude": 0.25,
        "exposure_s": 0.02,
    },
    "low_light": {"illumination": 0.04, "rgb_gain": 5.0, "exposure_s": 0.02},
    "over_exposure": {"hdr_spot_gain": 30.0},
    "dynamic_background": {"dynamic_background": True, "background_speed_px_s": 40.0},
    "distractors": {"num_distractors": 3},
    "occlusion": {"occlusion": True},
    "out_of_view": {"out_of_view": True},
}


def _bundle(*names: str) -> dict:
    out: dict = {}
    for name in names:
        out.update(ATTRIBUTE_BUNDLES[name])
    return out


PRESETS: dict[str, dict] = {
    "easy": {},
    "fast": _bundle("fast_motion", "dynamic_background", "out_of_view"),
    "hdr": _bundle("low_light", "over_exposure"),
    "distractors": _bundle("distractors", "occlusion"),
    "mixed": {"mix_attributes": True},
}

# Photoreal presets: photographs (asset pack) as backgrounds and targets, a sensor with v2e-style noise.
_PHOTOREAL_BASE: dict = {
    "scene_kind": "photoreal",
    "sensor_model": "v2e",
    "target_size_px": (24.0, 80.0),  # down to small targets (far away, the hard real cases)
    "target_speed_px_s": 120.0,
    "abrupt_motion": True,
    "keyframe_interval_s": 0.4,
    "rotation_speed_deg_s": 25.0,
    "scale_amplitude": 0.3,
    "target_tilt_deg": 35.0,
    "num_distractors": 2,
    "same_appearance_distractors": 1,
    "num_occluders": 1,
    "camera_speed_px_s": 120.0,
    "camera_shake_px": 1.5,
    "camera_still_probability": 0.3,
    "camera_strength_range": (0.1, 1.0),
    "contrast_threshold_pos": 0.3,
    "contrast_threshold_neg": 0.3,
    "threshold_sigma": 0.04,
    "cutoff_hz": 1000.0,
    "refractory_s": 5e-4,
    # Real DAVIS346 outdoors (shared/data traffic.aedat4) leaves 91 % of its pixels silent for 2.36 s: in full
    # light the noise is a few hundredths of a Hz per pixel; x10 in the dark.
    "shot_noise_rate_hz": 0.015,
    "leak_rate_hz": 0.008,
    "noise_dark_gain": 9.0,
    "hot_pixel_fraction": 2e-4,
    "rgb_misregistration_px": (1.5, -1.0),
    "rgb_clock_error_ns": 2_000_000,
}
PRESETS.update(
    {
        "photoreal": dict(_PHOTOREAL_BASE),
        "photoreal-egomotion": {
            **_PHOTOREAL_BASE,
            "camera_speed_px_s": 260.0,
            "camera_zoom_amplitude": 0.15,
            "camera_roll_deg": 8.0,
            "camera_tilt_deg": 10.0,
            "camera_shake_px": 2.5,
            "camera_shake_hz": 8.0,
            "camera_still_probability": 0.0,
            "camera_strength_range": (0.6, 1.0),
            "exposure_s": 0.02,
        },
        "photoreal-lowlight": {
            **_PHOTOREAL_BASE,
            "illumination": 0.04,
            "rgb_gain": 5.0,
            "exposure_s": 0.03,
            "flicker_hz": 100.0,
            "flicker_depth": 0.3,
            "shot_noise_rate_hz": 0.05,
        },
        "photoreal-rgbcam": {
            **_PHOTOREAL_BASE,
            "rgb_width": 640,
            "rgb_height": 480,
            "homography": (1.7, 0.02, 25.0, -0.02, 1.7, 18.0, 0.0, 0.0, 1.0),
            "rgb_misregistration_px": (3.0, -2.0),
            "rgb_clock_error_ns": 4_000_000,
            "rolling_shutter_s": 0.015,
            "exposure_s": 0.015,
            "camera_still_probability": 0.0,
            "camera_strength_range": (0.5, 1.0),
        },
        "davis346-like": {
            **_PHOTOREAL_BASE,
            "rgb_grayscale": True,
            "threshold_sigma": 0.06,
            "refractory_s": 1e-3,
            "cutoff_hz": 600.0,
            "shot_noise_rate_hz": 0.02,
            "leak_rate_hz": 0.01,
            "hot_pixel_fraction": 5e-4,
            "hot_pixel_rate_hz": 30.0,
            "rgb_misregistration_px": (0.0, 0.0),
            "rgb_clock_error_ns": 0,
            "camera_still_probability": 0.4,
            "illumination": 0.3,
            "rgb_gain": 2.5,
            "exposure_s": 0.02,
        },
        "mixed-real": {"photoreal_probability": 0.5, "attribute_probability": 0.35},
    }
)
PHOTOREAL_VARIANTS = ("photoreal", "photoreal-egomotion", "photoreal-lowlight", "davis346-like")


def as_config(config_or_preset: SyntheticConfig | str) -> SyntheticConfig:
    """Accept a config or a preset name."""
    if isinstance(config_or_preset, SyntheticConfig):
        return config_or_preset
    if isinstance(config_or_preset, str):
        return SyntheticConfig.from_preset(config_or_preset)
    raise ConfigError(f"expected a SyntheticConfig or a preset name, got {type(config_or_preset).__name__}")
