"""Dense event representations for the models: count frame, voxel grid, time surface.

Each one works over the full sensor, or over a crop given in sensor pixels ``crop=(x0, y0, crop_w,
crop_h)`` (floats; may extend past the sensor) resampled to ``out_hw=(H, W)``. Crop-and-resize is
done on the event coordinates, not on a rendered image: an event at pixel (x, y) lands at

    u = (x + 0.5 - x0) * W / crop_w - 0.5,    v = (y + 0.5 - y0) * H / crop_h - 0.5

in output pixels (pixel centres at integers), then goes to the nearest output pixel, or, with
``bilinear=True``, is splatted onto the four neighbours with bilinear weights. Events falling
outside the output are ignored. Outputs are C-contiguous float32 arrays of shape (C, H, W).

Channel order: polarity channels are [OFF (p=0), ON (p=1)]; a voxel grid with polarity channels has
``2 * num_bins`` channels ``[OFF bin 0..B-1, ON bin 0..B-1]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from had_tracker.events.container import Events

Crop = tuple[float, float, float, float]


@njit(cache=True, nogil=True)
def _splat(t, x, y, p, t0, scale_t, num_bins, polarity_channels, x0, y0, sx, sy, bilinear, identity, out):
    """Accumulate events into ``out`` (C, H, W): bilinear in time over ``num_bins``, nearest/bilinear in space."""
    height = out.shape[1]
    width = out.shape[2]
    last_bin = num_bins - 1
    for i in range(t.shape[0]):
        tn = (t[i] - t0) * scale_t
        if tn < 0.0 or tn > last_bin:
            continue
        b0 = int(tn)
        fb = tn - b0
        if polarity_channels:
            c0 = p[i] * num_bins + b0
            val = 1.0
        else:
            c0 = b0
            val = 1.0 if p[i] else -1.0
        if identity:  # full sensor at native resolution: the event's own pixel
            iu = np.int64(x[i])
            iv = np.int64(y[i])
            if iu < width and iv < height:
                out[c0, iv, iu] += val * (1.0 - fb)
                if fb > 0.0 and b0 < last_bin:
                    out[c0 + 1, iv, iu] += val * fb
            continue
        u = (x[i] + 0.5 - x0) * sx - 0.5
        v = (y[i] + 0.5 - y0) * sy - 0.5
        if bilinear:
            uf = math.floor(u)
            vf = math.floor(v)
            iu = int(uf)
            iv = int(vf)
            fu = u - uf
            fv = v - vf
            for dv in range(2):
                vv = iv + dv
                if vv < 0 or vv >= height:
                    continue
                wv = fv if dv else 1.0 - fv
                for du in range(2):
                    uu = iu + du
                    if uu < 0 or uu >= width:
                        continue
                    w = wv * (fu if du else 1.0 - fu) * val
                    out[c0, vv, uu] += w * (1.0 - fb)
                    if fb > 0.0 and b0 < last_bin:
                        out[c0 + 1, vv, uu] += w * fb
        else:
            iu = int(math.floor(u + 0.5))
            iv = int(math.floor(v + 0.5))
            if iu < 0 or iu >= width or iv < 0 or iv >= height:
                continue
            out[c0, iv, iu] += val * (1.0 - fb)
            if fb > 0.0 and b0 < last_bin:
                out[c0 + 1, iv, iu] += val * fb


@njit(cache=True, nogil=True)
def _splat_rows_bucketed(t, x, y, p, t0, scale_t, num_bins, polarity_channels, row_shift, chunk, out):
    """Identity-mapping ``_splat`` with better memory locality for large outputs.

    Events are taken ``chunk`` at a time, stably regrouped by blocks of ``2**row_shift`` rows
    (a counting sort), then accumulated block by block, so the output rows being written stay in
    cache. The per-pixel order of additions is unchanged: results are bit-identical to ``_splat``.
    """
    n = t.shape[0]
    n_blocks = (out.shape[1] >> row_shift) + 2
    ts = np.empty(min(n, chunk), np.int64)
    xs = np.empty(min(n, chunk), np.uint16)
    ys = np.empty(min(n, chunk), np.uint16)
    ps = np.empty(min(n, chunk), np.uint8)
    for start in range(0, n, chunk):
        end = min(n, start + chunk)
        first = np.zeros(n_blocks + 1, np.int64)
        for i in range(start, end):
            first[min(np.int64(y[i]) >> row_shift, n_blocks - 1) + 1] += 1
        for b in range(n_blocks):
            first[b + 1] += first[b]
        for i in range(start, end):
            b = min(np.int64(y[i]) >> row_shift, n_blocks - 1)
            j = first[b]
            first[b] = j + 1
            ts[j] = t[i]
            xs[j] = x[i]
            ys[j] = y[i]
            ps[j] = p[i]
        m = end - start
        _splat(ts[:m], xs[:m], ys[:m], ps[:m], t0, scale_t, num_bins, polarity_channels, 0.0, 0.0, 1.0, 1.0,
               False, True, out)  # fmt: skip


# Outputs larger than this (bytes) with at least _BUCKET_MIN_EVENTS events use the bucketed kernel.
_BUCKET_MIN_BYTES = 4 << 20
_BUCKET_MIN_EVENTS = 100_000
_BUCKET_ROW_SHIFT = 5  # 32-row blocks: 32 x 1280 px x 5 bins x 4 B = 0.8 MB
_BUCKET_CHUNK = 1 << 22  # events regrouped per pass (60 MB of scratch at most)


def _accumulate(t, x, y, p, t0, scale_t, num_bins, polarity_channels, x0, y0, sx, sy, bilinear, out) -> None:
    """Pick the kernel: bucketed for big full-sensor outputs, direct otherwise."""
    identity = _is_identity(x0, y0, sx, sy)
    if identity and out.nbytes >= _BUCKET_MIN_BYTES and len(t) >= _BUCKET_MIN_EVENTS:
        _splat_rows_bucketed(t, x, y, p, t0, scale_t, num_bins, polarity_channels, _BUCKET_ROW_SHIFT,
                             _BUCKET_CHUNK, out)  # fmt: skip
    else:
        _splat(t, x, y, p, t0, scale_t, num_bins, polarity_channels, x0, y0, sx, sy, bilinear, identity, out)


@njit(cache=True, nogil=True)
def _latest(t, x, y, p, t_ref, polarity_channels, x0, y0, sx, sy, last):
    """Latest event time (<= t_ref) per output pixel and channel; -1 where none."""
    height = last.shape[1]
    width = last.shape[2]
    for i in range(t.shape[0]):
        if t[i] > t_ref:
            continue
        iu = int(math.floor((x[i] + 0.5 - x0) * sx))
        iv = int(math.floor((y[i] + 0.5 - y0) * sy))
        if iu < 0 or iu >= width or iv < 0 or iv >= height:
            continue
        c = p[i] if polarity_channels else 0
        if t[i] > last[c, iv, iu]:
            last[c, iv, iu] = t[i]


def _geometry(events: Events, crop: Crop | None, out_hw: tuple[int, int] | None) -> tuple[float, ...]:
    """(x0, y0, sx, sy, H, W) of the event-coordinate mapping."""
    if crop is None:
        crop = (0.0, 0.0, float(events.width), float(events.height))
    x0, y0, cw, ch = (float(v) for v in crop)
    if cw <= 0 or ch <= 0:
        raise ValueError(f"crop size must be positive, got {cw}x{ch}")
    if out_hw is None:
        out_hw = (int(round(ch)), int(round(cw)))
    h, w = int(out_hw[0]), int(out_hw[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"output size must be positive, got {h}x{w}")
    return x0, y0, w / cw, h / ch, h, w


def _is_identity(x0: float, y0: float, sx: float, sy: float) -> bool:
    """True when the mapping is the identity (output pixel = event pixel, no splatting needed)."""
    return x0 == 0.0 and y0 == 0.0 and sx == 1.0 and sy == 1.0


def _arrays(events: Events) -> tuple[np.ndarray, ...]:
    """Contiguous, writable arrays of the events (numba's code for read-only arrays is slower)."""
    out = []
    for arr, dtype in ((events.t, np.int64), (events.x, np.uint16), (events.y, np.uint16), (events.p, np.uint8)):
        a = np.ascontiguousarray(arr, dtype)
        out.append(a if a.flags.writeable else a.copy())
    return tuple(out)


def count_frame(
    events: Events,
    crop: Crop | None = None,
    out_hw: tuple[int, int] | None = None,
    bilinear: bool = False,
) -> np.ndarray:
    """Per-polarity event counts, float32 (2, H, W): channel 0 OFF, channel 1 ON."""
    x0, y0, sx, sy, h, w = _geometry(events, crop, out_hw)
    out = np.zeros((2, h, w), np.float32)
    if len(events):
        t, x, y, p = _arrays(events)
        _accumulate(t, x, y, p, 0, 0.0, 1, True, x0, y0, sx, sy, bilinear, out)
    return out


def voxel_grid(
    events: Events,
    num_bins: int,
    t_start_ns: int | None = None,
    t_end_ns: int | None = None,
    crop: Crop | None = None,
    out_hw: tuple[int, int] | None = None,
    polarity_channels: bool = False,
    bilinear: bool = False,
) -> np.ndarray:
    """Voxel grid with bilinear weights in time (Zhu et al. 2019), float32 (C, H, W).

    An event at time t sits at bin position ``(num_bins - 1) * (t - t_start) / (t_end - t_start)``
    and splits its weight between the two nearest bins; events outside ``[t_start, t_end]`` are
    ignored. ``t_start_ns``/``t_end_ns`` default to the first/last event time. Signed (+1 ON, -1 OFF;
    C = num_bins) or, with ``polarity_channels``, counts in separate OFF/ON bins (C = 2 * num_bins).
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    x0, y0, sx, sy, h, w = _geometry(events, crop, out_hw)
    out = np.zeros(((2 if polarity_channels else 1) * num_bins, h, w), np.float32)
    if not len(events):
        return out
    t, x, y, p = _arrays(events)
    t0 = int(t[0]) if t_start_ns is None else int(t_start_ns)
    t1 = int(t[-1]) if t_end_ns is None else int(t_end_ns)
    if t1 < t0:
        raise ValueError(f"t_end_ns {t1} is before t_start_ns {t0}")
    scale_t = (num_bins - 1) / (t1 - t0) if t1 > t0 else 0.0
    if t1 == t0:  # a zero-length window: keep only events exactly at t0, all in bin 0
        keep = t == t0
        t, x, y, p = t[keep], x[keep], y[keep], p[keep]
    _accumulate(t, x, y, p, t0, scale_t, num_bins, polarity_channels, x0, y0, sx, sy, bilinear, out)
    return out


def time_surface(
    events: Events,
    t_ref_ns: int,
    tau_ns: float,
    crop: Crop | None = None,
    out_hw: tuple[int, int] | None = None,
    polarity_channels: bool = True,
) -> np.ndarray:
    """Exponentially decaying time surface at ``t_ref_ns``: exp(-(t_ref - t_last) / tau), float32 (C, H, W).

    ``t_last`` is the latest event at or before ``t_ref_ns`` in each output pixel (nearest mapping);
    pixels without one are 0. C = 2 (OFF, ON) with ``polarity_channels``, else 1.
    """
    if tau_ns <= 0:
        raise ValueError(f"tau_ns must be positive, got {tau_ns}")
    x0, y0, sx, sy, h, w = _geometry(events, crop, out_hw)
    last = np.full((2 if polarity_channels else 1, h, w), -1, np.int64)
    if len(events):
        t, x, y, p = _arrays(events)
        _latest(t, x, y, p, int(t_ref_ns), polarity_channels, x0, y0, sx, sy, last)
    seen = last >= 0
    out = np.zeros(last.shape, np.float32)
    out[seen] = np.exp(-(int(t_ref_ns) - last[seen]) / float(tau_ns))
    return out
