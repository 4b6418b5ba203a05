"""Event simulation in the manner of ESIM / v2e, vectorised over internal frames.

Per pixel: a reference log intensity; whenever the log intensity (linearly interpolated between the
pixel's last evaluation and the current internal frame) crosses the reference +/- the pixel's contrast
threshold, an event is emitted at the interpolated crossing time and the reference moves by one
threshold. Thresholds vary per pixel (mismatch), a refractory period blocks events that follow the
previous one too closely (counted), leak adds periodic ON events per pixel (rate with mismatch, random
phase; v2e's leak drifts the reference, which gives the same periodic ON events on a static pixel) and
shot noise adds random events.

Cost control: at every internal frame only the rects where sprites move are re-rendered and
thresholded; the rest of the image (the background, which changes slowly or not at all) is evaluated
every ``background_every`` frames. Because each pixel interpolates from its own last evaluation, this
equals running those pixels at a lower internal rate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from had_tracker.data.synthetic.config import SyntheticConfig

log = logging.getLogger(__name__)

Rect = tuple[int, int, int, int]


@njit(cache=True, nogil=True)
def crossings(d: float, c_pos: float, c_neg: float) -> int:
    """How many thresholds a log-intensity change ``d`` from the reference crosses (ON or OFF)."""
    if d >= c_pos:
        return int(d / c_pos)
    if d <= -c_neg:
        return int(-d / c_neg)
    return 0


@njit(cache=True, nogil=True)
def emit_crossings(i, l0, l1, t0, span, ref, last_t, c_pos, c_neg, refractory, out_t, out_i, out_p, k):
    """Pixel ``i``'s events as its log intensity goes linearly ``l0 -> l1`` over ``[t0, t0 + span]``.

    One event per threshold crossed from ``ref[i]``, at the interpolated crossing time, written from ``out_*[k]``;
    events within ``refractory`` of the pixel's previous one are dropped. ``ref[i]`` moves by the thresholds
    crossed and ``last_t[i]`` follows. Shared by the ESIM and v2e-style models. Returns ``(k, dropped)``.
    """
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
        return k, 0
    dl = l1 - l0
    dropped = 0
    for j in range(1, n + 1):
        level = ref[i] + j * step
        frac = (level - l0) / dl if dl != 0.0 else 1.0
        if frac < 0.0:
            frac = 0.0
        elif frac > 1.0:
            frac = 1.0
        t = t0 + frac * span
        if t - last_t[i] < refractory:
            dropped += 1
            continue
        last_t[i] = t
        out_t[k] = t
        out_i[k] = i
        out_p[k] = pol
        k += 1
    ref[i] += n * step
    return k, dropped


def pixel_thresholds(config: SyntheticConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ON and OFF contrast thresholds with mismatch ``threshold_sigma`` (at least 20 % of nominal)."""
    n_pix = config.width * config.height
    c_pos = np.maximum(
        config.contrast_threshold_pos * (1.0 + config.threshold_sigma * rng.standard_normal(n_pix)),
        0.2 * config.contrast_threshold_pos,
    )
    c_neg = np.maximum(
        config.contrast_threshold_neg * (1.0 + config.threshold_sigma * rng.standard_normal(n_pix)),
        0.2 * config.contrast_threshold_neg,
    )
    return c_pos, c_neg


@njit(cache=True, nogil=True)
def _esim_rect(
    log_next: np.ndarray,
    x0: int,
    y0: int,
    width: int,
    current: np.ndarray,
    t_prev: np.ndarray,
    ref: np.ndarray,
    last_t: np.ndarray,
    c_pos: np.ndarray,
    c_neg: np.ndarray,
    t1: float,
    refractory: float,
    out_t: np.ndarray,
    out_i: np.ndarray,
    out_p: np.ndarray,
    start: int,
) -> tuple[int, int, int]:
    """Threshold one rect from each pixel's last evaluation ``(t_prev, current)`` to ``(t1, log_next)``.

    ``log_next`` is the (h, w) log image of the rect whose top-left sensor pixel is (x0, y0); the
    per-pixel arrays are flat over the sensor (row length ``width``) and are updated in place.
    Returns ``(end, refractory_drops, needed)``; when the crossings do not fit in ``out_*``, nothing
    is written or changed and ``end == -1`` with ``needed`` = the number of crossings.
    """
    h, w = log_next.shape
    capacity = out_t.shape[0]
    needed = 0
    for r in range(h):
        for c in range(w):
            i = (y0 + r) * width + x0 + c
            needed += crossings(log_next[r, c] - ref[i], c_pos[i], c_neg[i])
    if start + needed > capacity:
        return -1, 0, needed
    k = start
    dropped = 0
    for r in range(h):
        for c in range(w):
            i = (y0 + r) * width + x0 + c
            l0 = current[i]
            l1 = log_next[r, c]
            t0 = t_prev[i]
            current[i] = l1
            t_prev[i] = t1
            k, drop = emit_crossings(
                i, l0, l1, t0, t1 - t0, ref, last_t, c_pos, c_neg, refractory, out_t, out_i, out_p, k
            )
            dropped += drop
    return k, dropped, needed


@dataclass
class EventSimulationResult:
    """Simulated events in world time (seconds), pixel coordinates, polarity, plus counters."""

    t_s: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    stats: dict = field(default_factory=dict)


class _PixelState:
    """Per-pixel model state and the bounded output buffers of one simulation."""

    def __init__(self, config: SyntheticConfig, log0: np.ndarray, rng: np.random.Generator) -> None:
        n_pix = config.width * config.height
        self.config = config
        self.c_pos, self.c_neg = pixel_thresholds(config, rng)
        self.current = log0.astype(np.float64).ravel().copy()
        c_min = np.minimum(self.c_pos, self.c_neg)
        self.ref = self.current + rng.uniform(-0.5, 0.5, n_pix) * c_min  # unknown reset state
        self.t_prev = np.zeros(n_pix)
        self.last_t = np.full(n_pix, -np.inf)
        capacity = min(config.max_events, max(1 << 16, int(n_pix * config.duration_s)))
        self.out_t = np.empty(capacity, np.float64)
        self.out_i = np.empty(capacity, np.int32)
        self.out_p = np.empty(capacity, np.uint8)
        self.count = 0
        self.refractory_drops = 0
        self.buffer_drops = 0
        self.pixels = 0

    def threshold(self, log_next: np.ndarray, x0: int, y0: int, t1: float) -> None:
        """Threshold one rect up to ``t1``, growing the buffers up to ``max_events`` (beyond: counted drops)."""
        cfg = self.config
        self.pixels += log_next.size
        while True:
            end, dropped, needed = _esim_rect(
                log_next, x0, y0, cfg.width, self.current, self.t_prev, self.ref, self.last_t, self.c_pos,
                self.c_neg, t1, cfg.refractory_s, self.out_t, self.out_i, self.out_p, self.count,
            )  # fmt: skip
            if end >= 0:
                self.count, self.refractory_drops = end, self.refractory_drops + dropped
                return
            if self.count + needed > cfg.max_events:
                # Bounded: skip this rect's crossings, keep the model state moving.
                self.buffer_drops += needed
                h_r, w_r = log_next.shape
                sub = np.add.outer(np.arange(y0, y0 + h_r) * cfg.width, np.arange(x0, x0 + w_r)).ravel()
                lv = log_next.ravel().astype(np.float64)
                d = lv - self.ref[sub]
                cp, cn = self.c_pos[sub], self.c_neg[sub]
                self.ref[sub] += np.where(d >= cp, np.floor(d / cp) * cp, 0.0)
                self.ref[sub] -= np.where(d <= -cn, np.floor(-d / cn) * cn, 0.0)
                self.current[sub], self.t_prev[sub] = lv, t1
                return
            new_cap = min(cfg.max_events, max(2 * len(self.out_t), self.count + needed))
            self.out_t = np.resize(self.out_t, new_cap)
            self.out_i = np.resize(self.out_i, new_cap)
            self.out_p = np.resize(self.out_p, new_cap)


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


def simulate_events(
    config: SyntheticConfig,
    log_intensity: Callable[[float, Rect | None], np.ndarray],
    rng: np.random.Generator,
    changed_rects: Callable[[float, float], list[Rect]] | None = None,
    prepare: Callable[[np.ndarray], None] | None = None,
    background_every: int | None = None,
) -> EventSimulationResult:
    """Run the event model over ``[0, duration_s]`` given ``log_intensity(t_s, rect) -> (h, w)``.

    ``changed_rects(t0, t1)`` gives rects where sprites move in an interval (None: the whole image every
    frame). ``background_every`` = evaluate the whole image every that many internal frames too (None:
    never, for a static background). ``prepare(times)`` is called once with the internal frame times.
    Events beyond ``config.max_events`` are dropped and counted (``stats["dropped_buffer"]``).
    """
    w, h = config.width, config.height
    n_pix = w * h
    n_steps = max(1, int(np.ceil(config.duration_s * config.internal_rate_hz)))
    times = np.arange(n_steps + 1) * (config.duration_s / n_steps)
    if prepare is not None:
        prepare(times)
    state = _PixelState(config, log_intensity(0.0, None), rng)
    full = (0, 0, w, h)
    for k in range(n_steps):
        t0, t1 = float(times[k]), float(times[k + 1])
        rects = changed_rects(t0, t1) if changed_rects else [full]
        if background_every and ((k + 1) % background_every == 0 or k == n_steps - 1):
            rects = [full]
        for x0, y0, x1, y1 in rects:
            state.threshold(log_intensity(t1, (x0, y0, x1, y1)), x0, y0, t1)
    if state.buffer_drops:
        log.warning("event simulation: %d events over max_events=%d dropped", state.buffer_drops, config.max_events)

    count = state.count
    t_s, idx, pol = state.out_t[:count], state.out_i[:count], state.out_p[:count]
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
        "pixels_thresholded": int(state.pixels),
        "signal_events": int(count),
        "leak_events": int(len(leak_t)),
        "shot_noise_events": int(n_noise),
        "refractory_drops": int(state.refractory_drops),
        "dropped_buffer": int(state.buffer_drops),
    }
    return EventSimulationResult(t_s, (idx % w).astype(np.uint16), (idx // w).astype(np.uint16), pol, stats)
