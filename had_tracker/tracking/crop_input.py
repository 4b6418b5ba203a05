"""The tracker's per-window search input, built from the event history with each event read about once.

The model's input window (e.g. 20 ms) spans several synchronizer windows (e.g. 5 ms at 200 Hz), so building
it from the events anew each time reads every event several times. Instead, each history chunk is reduced
once to per-pixel moments (event count and summed time, per polarity; ``pixel_moments``) over a region
around the crop (the crop plus a margin, see ``had_tracker.sync.roi.roi_around``), and each window's voxel
grid is assembled from the moments of its chunks (``moments_to_grid``): its cost depends on the crop's
pixels, not on the event rate. This is exact in arithmetic because the voxel grid's bin position is affine
in time between two bin centres; a chunk that a bin centre cuts, that lies partly outside the input window,
or whose moments do not cover the crop is splatted event by event instead (the same arithmetic as
``voxel_grid``). The result equals :func:`had_tracker.models.inputs.event_tensor` up to float rounding
(the sums are formed in another order), and depends only on the events inside the crop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from had_tracker.events.container import Events
from had_tracker.events.representations import (
    _arrays,
    _splat_nearest_counted,
    cells_to_grid,
    count_in_rect,
    moments_to_cells,
    moments_to_grid,
    pixel_moments,
)
from had_tracker.geometry import CropWindow
from had_tracker.models.inputs import finish_event_grid
from had_tracker.sync.roi import Roi, roi_around


@dataclass
class _Moments:
    events: Events  # the chunk they were computed from (identity tells whether the history still holds it)
    region: Roi
    ref_t: int
    s0: np.ndarray  # (2, h, w) int32 counts
    s1: np.ndarray  # (2, h, w) int64 sum of (t - ref_t) [ns]
    cells: tuple | None = None  # (crop, n, s1, count, extent): summed per output cell of a crop that stays put


class CropInputBuilder:
    """Search inputs from an :class:`~had_tracker.tracking.history.EventHistory`, caching per-chunk moments."""

    def __init__(self, margin_fraction: float = 0.25, min_margin_px: float = 8.0) -> None:
        self.margin_fraction, self.min_margin_px = float(margin_fraction), float(min_margin_px)
        self._cache: dict[tuple[int, int], _Moments] = {}
        self._spare: list[_Moments] = []  # moments of chunks gone from the history: storage to reuse
        self._last_crop: CropWindow | None = None
        self.stats = {"moment_chunks": 0, "event_chunks": 0, "moments_built": 0, "cells_built": 0}

    def clear(self) -> None:
        self._cache.clear()

    def build(
        self, chunks: list[tuple[int, int, Events]], crop: CropWindow, t0: int, t1: int, cfg: object
    ) -> tuple[np.ndarray, int, tuple[int, int, int, int] | None]:
        """``(input (C, S, S) float32, events in the crop, their pixel extent)`` for the window ``[t0, t1)``.

        ``chunks`` are ``(start_ns, end_ns, events)``, time ordered, every event in ``[start_ns, end_ns)``. The
        events in the crop are those of ``_count_in_crop`` (pixel centre inside the crop square); their extent is
        ``(x_min, x_max, y_min, y_max)``, None when there are none.
        """
        if t1 <= t0:
            raise ValueError(f"empty event window [{t0}, {t1}) ns")
        ecfg = cfg.events
        num_bins, polar = int(ecfg.num_bins), bool(ecfg.polarity_channels)
        size = crop.out_size
        grid = np.zeros(((2 if polar else 1) * num_bins, size, size), np.float32)
        scale_t = (num_bins - 1) / (t1 - t0)
        x0, y0, sx = float(crop.x0), float(crop.y0), size / float(crop.side)
        cx_lo, cy_lo = max(math.ceil(x0 - 0.5), 0), max(math.ceil(y0 - 0.5), 0)
        cx_hi, cy_hi = math.ceil(x0 + crop.side - 0.5), math.ceil(y0 + crop.side - 0.5)
        need = _pixels_needed(crop)
        steady = crop == self._last_crop  # a wide or global search: chunks' per-cell sums serve every window
        self._last_crop = crop
        count = 0
        extent = np.array([65536, -1, 65536, -1], np.int64)
        live = set()
        for s, e, ev in chunks:
            if e <= t0 or s >= t1 or not len(ev):
                continue
            # The chunk's events lie in [s, e - 1] ns: one affine piece of the bin position when no bin centre
            # lies strictly inside (the tolerance is float rounding; the weights are continuous at a centre).
            bin_lo = min(max(math.floor(((s + e - 1) / 2 - t0) * scale_t), 0), max(num_bins - 2, 0))
            lo, hi = (s - t0) * scale_t, (e - 1 - t0) * scale_t
            whole = s >= t0 and e <= t1 and (num_bins == 1 or (lo >= bin_lo - 1e-9 and hi <= bin_lo + 1 + 1e-9))
            if whole:
                nc = _clip(need, ev.width, ev.height)
                m = self._moments((s, e), ev, crop, nc)
                live.add((s, e))
                if m is not None and steady:
                    count += self._add_cells(m, crop, nc, cx_lo, cx_hi, cy_lo, cy_hi, extent)
                    cells_to_grid(m.cells[1], m.cells[2], float(m.ref_t - t0), scale_t, bin_lo, num_bins, polar, grid)
                    self.stats["moment_chunks"] += 1
                    continue
                if m is not None:
                    r = m.region
                    count += moments_to_grid(
                        m.s0, m.s1, r.x_lo, r.y_lo, nc.x_lo - r.x_lo, nc.x_hi - r.x_lo, nc.y_lo - r.y_lo,
                        nc.y_hi - r.y_lo, float(m.ref_t - t0), scale_t, bin_lo, num_bins, polar, x0, y0, sx, sx,
                        cx_lo, cx_hi, cy_lo, cy_hi, grid, extent,
                    )  # fmt: skip
                    self.stats["moment_chunks"] += 1
                    continue
            part = ev.slice_time(t0, t1) if (s < t0 or e > t1) else ev
            if len(part):
                t, x, y, p = _arrays(part)
                count += _splat_nearest_counted(
                    t, x, y, p, t0, scale_t, num_bins, polar, x0, y0, sx, sx, cx_lo, cx_hi, cy_lo, cy_hi, grid, extent
                )
                self.stats["event_chunks"] += 1
        live.update((s, e) for s, e, _ in chunks)  # moments of chunks still in the history stay (window_start)
        for key in [k for k in self._cache if k not in live]:
            self._spare.append(self._cache.pop(key))
        del self._spare[4:]
        box = (int(extent[0]), int(extent[1]), int(extent[2]), int(extent[3])) if count else None
        return finish_event_grid(grid, cfg), int(count), box

    def window_start(
        self,
        chunks: list[tuple[int, int, Events]],
        crop: CropWindow,
        t0: int,
        t1: int,
        max_events: int,
        min_window_ns: int,
    ) -> int:
        """Start of the input window ``[start, t1)``: ``t0``, or later so that the crop holds about ``max_events``.

        From the newest chunk back, each chunk's events in the crop (from its cached pixel moments where
        :meth:`build` made them, else counted) are summed; where the sum passes ``max_events`` the start lies
        inside that chunk, placed as if its events were spread evenly over its time span (a chunk cut by ``t0``
        counts in proportion to its overlap). The start never comes later than ``t1 - min_window_ns``. ``t0``
        whenever the window holds at most ``max_events`` in the crop or ``max_events`` is 0.
        """
        if max_events <= 0 or t1 - t0 <= min_window_ns:
            return int(t0)
        x_lo, y_lo = max(math.ceil(crop.x0 - 0.5), 0), max(math.ceil(crop.y0 - 0.5), 0)
        x_hi, y_hi = math.ceil(crop.x0 + crop.side - 0.5), math.ceil(crop.y0 + crop.side - 0.5)
        need = _pixels_needed(crop)
        total = 0.0
        for s, e, ev in reversed(chunks):
            lo, hi = max(s, t0), min(e, t1)
            if hi <= lo or not len(ev):
                if e <= t0:
                    break
                continue
            n = self._count_in(
                (s, e), ev, crop, need, x_lo, min(x_hi, ev.width or x_hi), y_lo, min(y_hi, ev.height or y_hi)
            )
            part = n * (hi - lo) / (e - s)
            if part > 0 and total + part > max_events:
                start = hi - (hi - lo) * (max_events - total) / part
                return int(min(max(math.floor(start), t0), t1 - min_window_ns))
            total += part
        return int(t0)

    def _count_in(
        self, key: tuple[int, int], ev: Events, crop: CropWindow, need: Roi, x_lo: int, x_hi: int, y_lo: int, y_hi: int
    ) -> int:
        """Events of one chunk whose pixel centre lies in the crop (``[x_lo, x_hi) x [y_lo, y_hi)``).

        From the chunk's cached moments where they cover the crop, else counted from the events: building
        moments only to count would be wasted where the shortened window then cuts the chunk (high rates),
        and where it does not, :meth:`build` builds them anyway.
        """
        if x_hi <= x_lo or y_hi <= y_lo:
            return 0
        m = self._cache.get(key)
        if m is not None and m.events is ev and m.region.contains(_clip(need, ev.width, ev.height)):
            r = m.region
            return int(m.s0[:, y_lo - r.y_lo : y_hi - r.y_lo, x_lo - r.x_lo : x_hi - r.x_lo].sum())
        return int(count_in_rect(ev.x, ev.y, x_lo, x_hi, y_lo, y_hi))

    def _moments(self, key: tuple[int, int], events: Events, crop: CropWindow, need: Roi) -> _Moments | None:
        m = self._cache.get(key)
        if m is not None and m.events is events and m.region.contains(need):
            return m
        region = _clip(
            roi_around(crop.x0, crop.y0, crop.side, self.margin_fraction, self.min_margin_px),
            events.width,
            events.height,
        )
        w, h = region.x_hi - region.x_lo, region.y_hi - region.y_lo
        if w <= 0 or h <= 0 or not region.contains(need):
            return None
        s0, s1 = self._storage(h, w)
        t, x, y, p = _arrays(events)
        ref_t = int(t[0])
        pixel_moments(t, x, y, p, ref_t, region.x_lo, region.y_lo, s0, s1)
        self.stats["moments_built"] += 1
        m = _Moments(events, region, ref_t, s0, s1)
        self._cache[key] = m
        return m

    def _add_cells(
        self, m: _Moments, crop: CropWindow, nc: Roi, cx_lo: int, cx_hi: int, cy_lo: int, cy_hi: int, extent: np.ndarray
    ) -> int:
        """The chunk's per-cell sums for ``crop`` (computed once per chunk and crop); returns its count, merges extent."""
        if m.cells is None or m.cells[0] != crop:
            r, size = m.region, crop.out_size
            n, s1 = np.zeros((2, size, size)), np.zeros((2, size, size))
            ext = np.array([65536, -1, 65536, -1], np.int64)
            sx = size / float(crop.side)
            count = moments_to_cells(
                m.s0, m.s1, r.x_lo, r.y_lo, nc.x_lo - r.x_lo, nc.x_hi - r.x_lo, nc.y_lo - r.y_lo, nc.y_hi - r.y_lo,
                float(crop.x0), float(crop.y0), sx, sx, cx_lo, cx_hi, cy_lo, cy_hi, n, s1, ext,
            )  # fmt: skip
            m.cells = (crop, n, s1, int(count), ext)
            self.stats["cells_built"] += 1
        _, _, _, count, ext = m.cells
        extent[0], extent[2] = min(extent[0], ext[0]), min(extent[2], ext[2])
        extent[1], extent[3] = max(extent[1], ext[1]), max(extent[3], ext[3])
        return count

    def _storage(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Zeroed (2, h, w) moment arrays, reusing a spare chunk's storage when it is large enough."""
        for i, spare in enumerate(self._spare):
            if spare.s0.size >= 2 * h * w:
                del self._spare[i]
                s0, s1 = spare.s0.reshape(-1)[: 2 * h * w], spare.s1.reshape(-1)[: 2 * h * w]
                s0.fill(0)
                s1.fill(0)
                return s0.reshape(2, h, w), s1.reshape(2, h, w)
        return np.zeros((2, h, w), np.int32), np.zeros((2, h, w), np.int64)


def _clip(roi: Roi, width: int, height: int) -> Roi:
    """``roi`` cut to the sensor (no event lies beyond it), so a crop past the border still finds its moments."""
    if width <= 0 or height <= 0:
        return roi
    return Roi(min(roi.x_lo, width), min(roi.x_hi, width), min(roi.y_lo, height), min(roi.y_hi, height))


def _pixels_needed(crop: CropWindow) -> Roi:
    """Pixels whose events can land in the crop (nearest mapping), as in ``tracker.crop_region`` (margin 1)."""
    pad = 1.0 + 1.0 / crop.scale
    clamp = lambda v: int(min(max(v, 0), 65536))  # noqa: E731 - uint16 pixel coordinates
    return Roi(
        clamp(math.floor(crop.x0 - pad)),
        clamp(math.ceil(crop.x0 + crop.side + pad)),
        clamp(math.floor(crop.y0 - pad)),
        clamp(math.ceil(crop.y0 + crop.side + pad)),
    )


__all__ = ["CropInputBuilder"]
