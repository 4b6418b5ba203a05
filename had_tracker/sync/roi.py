"""Region of interest: the synchronizer keeps only the events the tracker can look at next.

At tens of Mev/s most of a sensor's events fall outside the search crop; buffering, cutting, registering
and carrying them costs more than decoding them. The tracker states where it will look next
(``Tracker.search_roi``: its search crop widened by a margin, or ``None`` = the whole sensor while it
initialises or re-acquires) and the synchronizer drops the rest right after decoding (counted in
``SyncStats.roi_filtered``, not as lost data: nobody asked for those events).

The margin decides whether the ROI changes results: the tracker's next inputs (its event history spans a
few windows) are identical to a run without ROI as long as the search crops stay inside the ROIs that were
in force when their events arrived, i.e. the box moves less than the margin over the history's span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from had_tracker.events.container import Events

DEFAULT_MARGIN_FRACTION = 0.25  # of the crop side, on each side
DEFAULT_MIN_MARGIN_PX = 8.0


@dataclass(frozen=True)
class Roi:
    """Pixels ``x_lo <= x < x_hi``, ``y_lo <= y < y_hi`` (integer bounds, image/output frame)."""

    x_lo: int
    x_hi: int
    y_lo: int
    y_hi: int

    def __post_init__(self) -> None:
        if self.x_hi < self.x_lo or self.y_hi < self.y_lo:
            raise ValueError(f"invalid ROI x [{self.x_lo}, {self.x_hi}) y [{self.y_lo}, {self.y_hi})")

    def covers(self, width: int, height: int) -> bool:
        """True when the ROI holds the whole ``width`` x ``height`` sensor (filtering would keep everything)."""
        return self.x_lo <= 0 and self.y_lo <= 0 and self.x_hi >= width and self.y_hi >= height

    def contains(self, other: Roi) -> bool:
        """True when ``other`` lies inside this ROI."""
        return (
            self.x_lo <= other.x_lo and self.y_lo <= other.y_lo and self.x_hi >= other.x_hi and self.y_hi >= other.y_hi
        )


def roi_around(
    x0: float,
    y0: float,
    side: float,
    margin_fraction: float = DEFAULT_MARGIN_FRACTION,
    min_margin_px: float = DEFAULT_MIN_MARGIN_PX,
) -> Roi:
    """The square crop ``[x0, x0 + side)^2`` widened by ``max(margin_fraction * side, min_margin_px)`` + 2 px.

    The 2 px keep every pixel whose events a representation of the crop can use (nearest or bilinear
    splatting near the border; see ``had_tracker.tracking.tracker.crop_region``).
    """
    if side <= 0 or margin_fraction < 0 or min_margin_px < 0:
        raise ValueError(f"roi_around: side {side} must be > 0 and margins >= 0")
    pad = max(margin_fraction * side, min_margin_px) + 2.0
    clamp = lambda v: int(min(max(v, 0), 65536))  # noqa: E731 - uint16 pixel coordinates
    return Roi(
        clamp(math.floor(x0 - pad)),
        clamp(math.ceil(x0 + side + pad)),
        clamp(math.floor(y0 - pad)),
        clamp(math.ceil(y0 + side + pad)),
    )


@njit(cache=True, nogil=True)
def _keep_inside(t, x, y, p, x_lo, x_w, y_lo, y_h, out_t, out_x, out_y, out_p):
    """Copy the events with ``x_lo <= x < x_lo + x_w`` and ``y_lo <= y < y_lo + y_h``; returns their count.

    Branch-free: every event is written at the next slot, which advances only for the kept ones.
    """
    n = 0
    for i in range(t.shape[0]):
        xi = np.int64(x[i]) - x_lo
        yi = np.int64(y[i]) - y_lo
        out_t[n] = t[i]
        out_x[n] = x[i]
        out_y[n] = y[i]
        out_p[n] = p[i]
        n += (np.uint64(xi) < np.uint64(x_w)) & (np.uint64(yi) < np.uint64(y_h))
    return n


def filter_events(events: Events, roi: Roi) -> Events:
    """The events inside ``roi`` (time order kept): the batch itself when all are inside, else a copy."""
    n = len(events)
    if not n or roi.covers(events.width, events.height):
        return events
    out_t, out_x = np.empty(n, events.t.dtype), np.empty(n, events.x.dtype)
    out_y, out_p = np.empty(n, events.y.dtype), np.empty(n, events.p.dtype)
    kept = int(
        _keep_inside(
            events.t, events.x, events.y, events.p, roi.x_lo, roi.x_hi - roi.x_lo, roi.y_lo, roi.y_hi - roi.y_lo,
            out_t, out_x, out_y, out_p,
        )
    )  # fmt: skip
    if kept == n:
        return events
    return Events(out_t[:kept], out_x[:kept], out_y[:kept], out_p[:kept], events.width, events.height)


__all__ = ["DEFAULT_MARGIN_FRACTION", "DEFAULT_MIN_MARGIN_PX", "Roi", "filter_events", "roi_around"]
