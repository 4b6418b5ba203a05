"""Event simulation in the manner of ESIM / v2e, vectorised over internal frames.

Per pixel: a reference log intensity; whenever the log intensity (linearly interpolated between two
internal frames) crosses the reference +/- the pixel's contrast threshold, an event is emitted at the
interpolated crossing time and the reference moves by one threshold. Thresholds vary per pixel
(mismatch), a refractory period blocks events that follow the previous one too closely (counted),
leak adds periodic ON events per pixel (rate with mismatch, random phase; v2e's leak drifts the
reference, which gives the same periodic ON events on a static pixel) and shot noise adds random events.
Only the rect where the image can change is re-rendered each step (the static background stays put).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from had_tracker.data.synthetic.config import SyntheticConfig

log = logging.getLogger(__name__)


@njit(cache=True, nogil=True)
def _esim_step(
    log_prev: np.ndarray,
    log_next: np.ndarray,
    x0: int,
    y0: int,
    width: int,
    ref: np.ndarray,
    last_t: np.ndarray,
    c_pos: np.ndarray,
    c_neg: np.ndarray,
    t0: float,
    dt: float,
    refractory: float,
    out_t: np.ndarray,
    out_i: np.ndarray,
    out_p: np.ndarray,
    start: int,
) -> tuple[int, int, int]:
    """Emit the threshold crossings of one internal interval inside a rect into ``out_*[start:]``.

    ``log_prev``/``log_next`` are the (h, w) log images of the rect whose top-left sensor pixel is
    (x0, y0); the per-pixel state arrays are flat over the whole sensor (row length ``width``).
    Returns ``(end, refractory_drops, needed)``; when the crossings do not fit, nothing is written or
    changed and ``end == -1`` with ``needed`` = the number of crossings (the caller grows the buffers).
    """
    h, w = log_prev.shape
    capacity = out_t.shape[0]
    needed = 0
    for r in range(h):
        for c in range(w):
            i = (y0 + r) * width + x0 + c
            d = log_next[r, c] - ref[i]
            if d >= c_pos[i]:
                needed += int(d / c_pos[i])
            elif d <= -c_neg[i]:
                needed += int(-d / c_neg[i])
    if start + needed > capacity:
        return -1, 0, needed
    k = start
    dropped = 0
    for r in range(h):
        for c in range(w):
            i = (y0 + r) * width + x0 + c
            l0 = log_prev[r, c]
            l1 = log_next[r, c]
            d = l1 - ref[i]
            if d >= c_pos[i]:
                n = int(d / c_pos[i])
                step = c_pos[i]
                pol = 1
            elif d <= -c_neg[i]:
                n = int(-d / c_neg[i])
                step = -c_neg[i]
                pol = 0
            else:
                continue
            dl = l1 - l0
            for j in range(1, n + 1):
                level = ref[i] + j * step
                frac = (level - l0) / dl if dl != 0.0 else 1.0
                if frac < 0.0:
                    frac = 0.0
                elif frac > 1.0:
                    frac = 1.0
                t = t0 + frac * dt
                if t - last_t[i] < refractory:
                    dropped += 1
                    continue
                last_t[i] = t
                out_t[k] = t
                out_i[k] = i
                out_p[k] = pol
                k += 1
            ref[i] += n * step
    return k, dropped, needed


@dataclass
class EventSimulationResult:
    """Simulated events in world time (seconds), pixel coordinates, polarity, plus counters."""

    t_s: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    stats: dict = field(default_factory=dict)


Rect = tuple[int, int, int, int]


def _leak_events(config: SyntheticConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Leak ON events: per pixel periodic at ``leak_rate_hz`` x mismatch with a random phase -> (t_s, flat index)."""
    n_pix = config.width * config.height
    if config.leak_rate_hz <= 0:
        return np.empty(0), np.empty(0, np.int32)
    rate = config.leak_rate_hz * rng.uniform(0.5, 1.5, n_pix)
    phase = rng.random(n_pix)
    counts = np.floor(config.duration_s * rate + phase).astype(np.int64)
    idx = np.repeat(np.arange(n_pix, dtype=np.int32), counts)
    first = np.cumsum(counts) - counts
    k = np.arange(len(idx)) - np.repeat(first, counts)
    t = (k + 1 - np.repeat(phase, counts)) / np.repeat(rate, counts)
    keep = (t >= 0) & (t < config.duration_s)
    return t[keep], idx[keep]


def _threshold_rect(
    config: SyntheticConfig,
    prev: np.ndarray,
    nxt: np.ndarray,
    origin: tuple[int, int],
    ref: np.ndarray,
    last_t: np.ndarray,
    c_pos: np.ndarray,
    c_neg: np.ndarray,
    t0: float,
    dt: float,
    out: tuple[np.ndarray, np.ndarray, np.ndarray],
    count: int,
    refractory_drops: int,
    buffer_drops: int,
) -> tuple[int, int, int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Threshold one rect, growing the output buffers up to ``max_events`` (beyond: counted drops)."""
    x0, y0 = origin
    w = config.width
    out_t, out_i, out_p = out
    while True:
        end, dropped, needed = _esim_step(
            prev, nxt, x0, y0, w, ref, last_t, c_pos, c_neg, t0, dt, config.refractory_s, out_t, out_i, out_p, count
        )
        if end >= 0:
            return end, refractory_drops + dropped, buffer_drops, (out_t, out_i, out_p)
        if count + needed > config.max_events:
            # Bounded: skip this interval's crossings in the rect, keep the model state moving.
            h_r, w_r = nxt.shape
            sub = np.add.outer(np.arange(y0, y0 + h_r) * w, np.arange(x0, x0 + w_r)).ravel()
            d = nxt.ravel() - ref[sub]
            ref[sub] += np.where(d >= c_pos[sub], np.floor(d / c_pos[sub]) * c_pos[sub], 0.0)
            ref[sub] -= np.where(d <= -c_neg[sub], np.floor(-d / c_neg[sub]) * c_neg[sub], 0.0)
            return count, refractory_drops, buffer_drops + needed, out
        new_cap = min(config.max_events, max(2 * len(out_t), count + needed))
        out_t, out_i, out_p = np.resize(out_t, new_cap), np.resize(out_i, new_cap), np.resize(out_p, new_cap)


def simulate_events(
    config: SyntheticConfig,
    log_intensity: Callable[[float, Rect | None], np.ndarray],
    rng: np.random.Generator,
    changed_rects: Callable[[float, float], list[Rect]] | None = None,
    prepare: Callable[[np.ndarray], None] | None = None,
) -> EventSimulationResult:
    """Run the event model over ``[0, duration_s]`` given ``log_intensity(t_s, rect) -> (h, w)``.

    ``changed_rects(t0, t1)`` gives disjoint rects outside which the image cannot change in an interval
    (None = anywhere); only those are re-rendered and thresholded. ``prepare(times)`` is called once
    with the internal frame times (to tabulate poses). Events beyond ``config.max_events`` are dropped and
    counted (``stats["dropped_buffer"]``).
    """
    w, h = config.width, config.height
    n_pix = w * h
    c_pos = np.maximum(
        config.contrast_threshold_pos * (1.0 + config.threshold_sigma * rng.standard_normal(n_pix)),
        0.2 * config.contrast_threshold_pos,
    )
    c_neg = np.maximum(
        config.contrast_threshold_neg * (1.0 + config.threshold_sigma * rng.standard_normal(n_pix)),
        0.2 * config.contrast_threshold_neg,
    )
    n_steps = max(1, int(np.ceil(config.duration_s * config.internal_rate_hz)))
    dt = config.duration_s / n_steps
    times = np.arange(n_steps + 1) * dt
    if prepare is not None:
        prepare(times)

    current = log_intensity(0.0, None).astype(np.float32)
    c_min = np.minimum(c_pos, c_neg)
    ref = current.ravel().astype(np.float64) + rng.uniform(-0.5, 0.5, n_pix) * c_min  # unknown reset state
    last_t = np.full(n_pix, -np.inf)

    capacity = min(config.max_events, max(1 << 16, int(n_pix * config.duration_s)))
    out_t = np.empty(capacity, np.float64)
    out_i = np.empty(capacity, np.int32)
    out_p = np.empty(capacity, np.uint8)
    count = 0
    refractory_drops = 0
    buffer_drops = 0
    pixels_processed = 0
    for k in range(n_steps):
        t0, t1 = float(times[k]), float(times[k + 1])
        for x0, y0, x1, y1 in changed_rects(t0, t1) if changed_rects else [(0, 0, w, h)]:
            nxt = log_intensity(t1, (x0, y0, x1, y1)).astype(np.float32)
            prev = current[y0:y1, x0:x1]
            pixels_processed += nxt.size
            count, refractory_drops, buffer_drops, out = _threshold_rect(
                config,
                prev,
                nxt,
                (x0, y0),
                ref,
                last_t,
                c_pos,
                c_neg,
                t0,
                dt,
                (out_t, out_i, out_p),
                count,
                refractory_drops,
                buffer_drops,
            )
            out_t, out_i, out_p = out
            current[y0:y1, x0:x1] = nxt
    if buffer_drops:
        log.warning("event simulation: %d events over max_events=%d dropped", buffer_drops, config.max_events)

    t_s, idx, pol = out_t[:count], out_i[:count], out_p[:count]
    n_signal = count
    room = max(config.max_events - count, 0)
    # Leak (ON) and shot noise (Poisson arrivals, uniform over pixels and time, random polarity).
    leak_t, leak_i = _leak_events(config, rng)
    leak_t, leak_i = leak_t[:room], leak_i[:room]
    room -= len(leak_t)
    n_noise = min(int(rng.poisson(config.shot_noise_rate_hz * n_pix * config.duration_s)), room)
    t_s = np.concatenate([t_s, leak_t, rng.uniform(0.0, config.duration_s, n_noise)])
    idx = np.concatenate([idx, leak_i, rng.integers(0, n_pix, n_noise).astype(np.int32)])
    pol = np.concatenate([pol, np.ones(len(leak_t), np.uint8), rng.integers(0, 2, n_noise).astype(np.uint8)])
    order = np.argsort(t_s, kind="stable")
    t_s, idx, pol = t_s[order], idx[order], pol[order]
    stats = {
        "internal_steps": n_steps,
        "pixels_thresholded": int(pixels_processed),
        "signal_events": int(n_signal),
        "leak_events": int(len(leak_t)),
        "shot_noise_events": int(n_noise),
        "refractory_drops": int(refractory_drops),
        "dropped_buffer": int(buffer_drops),
    }
    return EventSimulationResult(t_s, (idx % w).astype(np.uint16), (idx // w).astype(np.uint16), pol, stats)
