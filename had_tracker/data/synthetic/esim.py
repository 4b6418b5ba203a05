"""Event simulation in the manner of ESIM / v2e, vectorised over internal frames.

Per pixel: a reference log intensity; whenever the log intensity (linearly interpolated between two
internal frames) crosses the reference +/- the pixel's contrast threshold, an event is emitted at the
interpolated crossing time and the reference moves by one threshold. Thresholds vary per pixel
(mismatch), a refractory period blocks events that follow the previous one too closely (counted),
leak drifts the reference down (spurious ON events) and shot noise adds random events.
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
    """Emit the threshold crossings of one internal interval into ``out_*[start:]``.

    Returns ``(end, refractory_drops, needed)``; when the crossings do not fit, nothing is written or
    changed and ``end == -1`` with ``needed`` = the number of crossings (the caller grows the buffers).
    """
    n_pix = log_prev.shape[0]
    capacity = out_t.shape[0]
    needed = 0
    for i in range(n_pix):
        d = log_next[i] - ref[i]
        if d >= c_pos[i]:
            needed += int(d / c_pos[i])
        elif d <= -c_neg[i]:
            needed += int(-d / c_neg[i])
    if start + needed > capacity:
        return -1, 0, needed
    k = start
    dropped = 0
    for i in range(n_pix):
        l0 = log_prev[i]
        l1 = log_next[i]
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
    """Simulated events in world time (seconds), flat pixel index, polarity, plus counters."""

    t_s: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    stats: dict = field(default_factory=dict)


def simulate_events(
    config: SyntheticConfig,
    log_intensity: Callable[[float], np.ndarray],
    rng: np.random.Generator,
) -> EventSimulationResult:
    """Run the event model over ``[0, duration_s]`` given ``log_intensity(t_s) -> (H, W)``.

    Events beyond ``config.max_events`` are dropped and counted (``stats["dropped_buffer"]``).
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
    leak_rate = config.leak_rate_hz * rng.uniform(0.5, 1.5, n_pix)
    n_steps = max(1, int(np.ceil(config.duration_s * config.internal_rate_hz)))
    dt = config.duration_s / n_steps

    log_prev = log_intensity(0.0).astype(np.float64).ravel()
    c_min = np.minimum(c_pos, c_neg)
    ref = log_prev + rng.uniform(-0.5, 0.5, n_pix) * c_min  # unknown reset state of each pixel
    last_t = np.full(n_pix, -np.inf)

    capacity = min(config.max_events, max(1 << 16, int(n_pix * config.duration_s * 2)))
    out_t = np.empty(capacity, np.float64)
    out_i = np.empty(capacity, np.int32)
    out_p = np.empty(capacity, np.uint8)
    count = 0
    refractory_drops = 0
    buffer_drops = 0
    for k in range(n_steps):
        t0 = k * dt
        log_next = log_intensity(t0 + dt).astype(np.float64).ravel()
        if leak_rate.any():
            ref -= leak_rate * c_pos * dt
        while True:
            end, dropped, needed = _esim_step(
                log_prev, log_next, ref, last_t, c_pos, c_neg, t0, dt, config.refractory_s, out_t, out_i, out_p, count
            )
            if end >= 0:
                count, refractory_drops = end, refractory_drops + dropped
                break
            if count + needed > config.max_events:
                # Bounded: skip this interval's crossings, keep the model state moving.
                buffer_drops += needed
                d = log_next - ref
                ref += np.where(d >= c_pos, np.floor(d / c_pos) * c_pos, 0.0)
                ref -= np.where(d <= -c_neg, np.floor(-d / c_neg) * c_neg, 0.0)
                break
            new_cap = min(config.max_events, max(2 * capacity, count + needed))
            out_t = np.resize(out_t, new_cap)
            out_i = np.resize(out_i, new_cap)
            out_p = np.resize(out_p, new_cap)
            capacity = new_cap
        log_prev = log_next
    if buffer_drops:
        log.warning("event simulation: %d events over max_events=%d dropped", buffer_drops, config.max_events)

    t_s, idx, pol = out_t[:count], out_i[:count], out_p[:count]
    n_signal = count
    # Shot noise: Poisson arrivals, uniform over pixels and time, random polarity.
    n_noise = int(rng.poisson(config.shot_noise_rate_hz * n_pix * config.duration_s))
    n_noise = min(n_noise, max(config.max_events - count, 0))
    if n_noise:
        t_s = np.concatenate([t_s, rng.uniform(0.0, config.duration_s, n_noise)])
        idx = np.concatenate([idx, rng.integers(0, n_pix, n_noise).astype(np.int32)])
        pol = np.concatenate([pol, rng.integers(0, 2, n_noise).astype(np.uint8)])
    order = np.argsort(t_s, kind="stable")
    t_s, idx, pol = t_s[order], idx[order], pol[order]
    stats = {
        "internal_steps": n_steps,
        "signal_events": int(n_signal),
        "shot_noise_events": int(n_noise),
        "refractory_drops": int(refractory_drops),
        "dropped_buffer": int(buffer_drops),
    }
    return EventSimulationResult(t_s, (idx % w).astype(np.uint16), (idx // w).astype(np.uint16), pol, stats)
