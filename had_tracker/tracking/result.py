"""What the tracker reports per window: state and result (no torch, importable everywhere)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class TrackState(IntEnum):
    """Tracker state; the values are the ``STATE_*`` constants of had_msgs/msg/Track.msg."""

    INITIALIZING = 0  # no target yet, or the template is being built
    TRACKING = 1  # confident estimate
    LOST = 2  # confidence stayed low; the box is the last estimate, re-acquisition is running


@dataclass
class TrackResult:
    """The estimate from one aligned event window (boxes in pixels of the output image frame)."""

    box_xywh: np.ndarray  # float64 [x, y, w, h]
    score: float  # confidence in [0, 1]
    state: TrackState
    window_start_ns: int  # output clock
    window_end_ns: int  # output clock
    num_events: int  # events in the window
    latency_ms: float  # wall time spent in ``update``
    target_id: int = 0
    search_mode: str = "local"  # local | widened | global: the search region this estimate came from
    unobserved: bool = False  # no evidence in this window (e.g. the target stopped moving): the box is held

    @property
    def center_xy(self) -> tuple[float, float]:
        x, y, w, h = (float(v) for v in self.box_xywh)
        return x + 0.5 * w, y + 0.5 * h
