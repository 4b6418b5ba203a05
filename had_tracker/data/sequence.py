"""The common in-memory form of one tracking sequence.

Shared by the synthetic engine, the dataset readers, the training sampler and the evaluation harness.
Everything here is already *aligned*: event coordinates are in the output (RGB) image frame and event
times are on the RGB clock (ns). Raw sensor streams with their own clock and geometry travel as bags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from had_tracker.events.container import Events


class FrameSource(Protocol):
    """Indexable RGB frames: ``frames[i]`` is an ``(H, W, 3)`` uint8 RGB array (a numpy array qualifies)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...


@dataclass
class TrackingSequence:
    """One single-object tracking sequence with RGB frames, events and per-frame ground truth.

    Attributes:
        name: sequence name (unique within its dataset).
        frames: RGB frames, ``(H, W, 3)`` uint8 each; may be lazy (loads on index).
        frame_t_ns: frame time stamps [ns] (RGB clock), shape ``(N,)``; the time the ground truth refers to.
        exposure_start_ns, exposure_end_ns: exposure window of each frame [ns], shape ``(N,)``.
        gt_boxes: ground-truth ``x, y, w, h`` in pixels per frame, shape ``(N, 4)`` float64.
        absent: True where the target is absent (out of view / fully occluded), shape ``(N,)``.
        width, height: output image size [px] (RGB frame size).
        events: aligned events (output frame, RGB clock), or None when the dataset ships only event images.
        event_frames: per-frame event images ``(H, W, 3)`` uint8 when raw events are unavailable, else None.
        attributes: per-sequence challenge flags, e.g. ``{"fast_motion": True, "low_light": False}``.
        gt_hr_t_ns, gt_hr_boxes: optional high-rate ground truth (for event-rate evaluation).
        gt_hr_absent: optional absent flags of the high-rate ground truth (True = absent).
        meta: free-form metadata (source dataset, seed, preset, ...).
    """

    name: str
    frames: FrameSource
    frame_t_ns: np.ndarray
    exposure_start_ns: np.ndarray
    exposure_end_ns: np.ndarray
    gt_boxes: np.ndarray
    absent: np.ndarray
    width: int
    height: int
    events: Events | None = None
    event_frames: Sequence[np.ndarray] | None = None
    attributes: dict[str, bool] = field(default_factory=dict)
    gt_hr_t_ns: np.ndarray | None = None
    gt_hr_boxes: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    gt_hr_absent: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.frame_t_ns)
        for name in ("exposure_start_ns", "exposure_end_ns", "absent"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"sequence {self.name!r}: {name} has {len(getattr(self, name))} entries, expected {n}")
        if self.gt_boxes.shape != (n, 4):
            raise ValueError(f"sequence {self.name!r}: gt_boxes shape {self.gt_boxes.shape}, expected ({n}, 4)")

    def __len__(self) -> int:
        return len(self.frame_t_ns)
