"""A generated recording: the raw sensor view (own clocks and geometry) and its aligned TrackingSequence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from had_tracker.data.sequence import TrackingSequence
from had_tracker.data.synthetic.config import SyntheticConfig
from had_tracker.events.container import Events


@dataclass(frozen=True)
class CameraIntrinsics:
    """CameraInfo-like pinhole intrinsics (no distortion in the synthetic cameras)."""

    width: int
    height: int
    k: np.ndarray  # 3x3
    d: np.ndarray = field(default_factory=lambda: np.zeros(5))
    distortion_model: str = "plumb_bob"
    frame_id: str = "camera"

    @classmethod
    def pinhole(cls, width: int, height: int, focal_px: float, frame_id: str) -> CameraIntrinsics:
        """Square pixels, principal point at the image centre."""
        k = np.array([[focal_px, 0.0, (width - 1) / 2.0], [0.0, focal_px, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
        return cls(width, height, k, frame_id=frame_id)


def register_events(events: Events, homography: np.ndarray, width: int, height: int) -> tuple[Events, int]:
    """Map event pixels through ``homography`` (pixel centres, rounded) into a ``width`` x ``height`` frame.

    Returns the registered events and the number dropped for landing outside the frame.
    """
    if np.allclose(homography, np.eye(3)) and (events.width, events.height) == (width, height):
        return events, 0
    x = events.x.astype(np.float64)
    y = events.y.astype(np.float64)
    hx = homography[0, 0] * x + homography[0, 1] * y + homography[0, 2]
    hy = homography[1, 0] * x + homography[1, 1] * y + homography[1, 2]
    hw = homography[2, 0] * x + homography[2, 1] * y + homography[2, 2]
    u, v = np.rint(hx / hw), np.rint(hy / hw)
    keep = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    out = Events.from_arrays(events.t[keep], u[keep], v[keep], events.p[keep], width, height)
    return out, int(len(events) - keep.sum())


@dataclass
class SyntheticRecording:
    """One synthetic sequence as the sensors saw it, plus ground truth.

    Raw view: ``events`` on the event sensor (its geometry, its clock, whole microseconds);
    ``rgb_frames`` on the RGB clock with exposure windows; intrinsics of both cameras; the event->RGB
    ``homography`` (pixel centres) and ``event_to_rgb_offset_ns`` (``t_rgb = t_event + offset``).
    Ground truth is in RGB pixels on the RGB clock (``x, y, w, h`` edge coordinates, clipped to the
    image; zeros when the target is wholly out of view).
    """

    name: str
    seed: int
    config: SyntheticConfig
    events: Events
    rgb_frames: np.ndarray  # (N, H, W, 3) uint8
    frame_t_ns: np.ndarray  # exposure midpoints, RGB clock
    exposure_start_ns: np.ndarray
    exposure_end_ns: np.ndarray
    event_camera: CameraIntrinsics
    rgb_camera: CameraIntrinsics
    homography: np.ndarray
    event_to_rgb_offset_ns: int
    gt_boxes: np.ndarray
    absent: np.ndarray
    visible_fraction: np.ndarray
    gt_hr_t_ns: np.ndarray
    gt_hr_boxes: np.ndarray
    gt_hr_absent: np.ndarray
    attributes: dict[str, bool]
    stats: dict[str, Any] = field(default_factory=dict)
    scene: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.frame_t_ns)

    def aligned(self) -> TrackingSequence:
        """Events registered into the RGB frame and shifted onto the RGB clock, with frames and ground truth."""
        events, dropped = register_events(self.events, self.homography, self.rgb_camera.width, self.rgb_camera.height)
        events = events.shift_time(self.event_to_rgb_offset_ns)
        return TrackingSequence(
            name=self.name,
            frames=self.rgb_frames,
            frame_t_ns=self.frame_t_ns.copy(),
            exposure_start_ns=self.exposure_start_ns.copy(),
            exposure_end_ns=self.exposure_end_ns.copy(),
            gt_boxes=self.gt_boxes.copy(),
            absent=self.absent.copy(),
            width=self.rgb_camera.width,
            height=self.rgb_camera.height,
            events=events,
            attributes=dict(self.attributes),
            gt_hr_t_ns=self.gt_hr_t_ns.copy(),
            gt_hr_boxes=self.gt_hr_boxes.copy(),
            gt_hr_absent=self.gt_hr_absent.copy(),
            meta={
                "source": "synthetic",
                "seed": self.seed,
                "preset": self.config.preset,
                "scene_kind": self.config.scene_kind,
                "sensor_model": self.config.sensor_model,
                "rgb_misregistration_px": list(self.config.rgb_misregistration_px),
                "rgb_clock_error_ns": int(self.config.rgb_clock_error_ns),
                "events_dropped_registration": dropped,
                "event_to_rgb_offset_ns": self.event_to_rgb_offset_ns,
            },
        )
