"""A DVS pixel model in the manner of v2e (Hu et al. 2021), whole frame per internal step, compiled.

Per pixel and internal step ``t0 -> t1`` (``dt``):

1. **Bandwidth.** The log intensity passes a first-order low-pass filter whose cutoff is proportional to
   the intensity: ``f_c = cutoff_hz * max(I, cutoff_floor)`` (``I`` = linear radiance, 1 = a white surface
   under the nominal light). The filter is applied exactly for the step, ``lp += (1 - exp(-2 pi f_c dt))
   (log I - lp)``. In the dark the cutoff falls to a few Hz: events lag and smear.
2. **Leak.** The pixel's reference drifts down by ``leak_rate * dark(I) * C_on * dt`` (v2e's leak), so a
   static pixel emits ON events at about ``leak_rate * dark(I)`` Hz; the leak rate has a per-pixel mismatch.
3. **Threshold.** Whenever the filtered log intensity, linear in time between ``t0`` and ``t1``, crosses the
   reference +/- the pixel's ON/OFF threshold (per-pixel mismatch), an event is emitted at the crossing
   time and the reference moves by one threshold; events within ``refractory_s`` of the pixel's previous
   event are dropped (counted).
4. **Shot noise** (after the loop, vectorised): Poisson events at ``shot_noise_rate_hz * dark(I)`` per
   pixel, random polarity, by thinning a uniform process with the intensity of the step they fall in.
5. **Hot pixels**: a fixed ``hot_pixel_fraction`` of pixels firing at ~``hot_pixel_rate_hz`` (mostly ON).

``dark(I) = (1 + g) / (1 + g * min(I, 1))`` with ``g = noise_dark_gain``: 1 at full light, ``1 + g`` in
darkness. Flicker of artificial light is part of the radiance the scene renders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from numba import njit

from had_tracker.data.synthetic.config import SyntheticConfig
from had_tracker.data.synthetic.esim import EventSimulationResult, crossings, emit_crossings, pixel_thresholds

log = logging.getLogger(__name__)

NOISE_BIN_S = 0.02  # shot noise uses the intensity of the internal step at most this far back


@njit(cache=True, nogil=True)
def _dark(intensity: float, gain: float) -> float:
    return (1.0 + gain) / (1.0 + gain * min(intensity, 1.0))


@njit(cache=True, nogil=True, fastmath=True)
def _sensor_step(
    radiance: np.ndarray,
    log_radiance: np.ndarray,
    t0: float,
    t1: float,
    lp: np.ndarray,
    lp_next: np.ndarray,
    ref: np.ndarray,
    last_t: np.ndarray,
    c_pos: np.ndarray,
    c_neg: np.ndarray,
    leak_hz: np.ndarray,
    cutoff_hz: float,
    cutoff_floor: float,
    dark_gain: float,
    refractory: float,
    out_t: np.ndarray,
    out_i: np.ndarray,
    out_p: np.ndarray,
    start: int,
) -> tuple[int, int, int]:
    """One internal step over the whole (flat) frame; returns ``(end, refractory_drops, needed)``.

    When the crossings do not fit in ``out_*`` nothing changes and ``end == -1`` (``needed`` = crossings).
    """
    n = radiance.shape[0]
    dt = t1 - t0
    two_pi_dt = 2.0 * np.pi * dt
    needed = 0
    for i in range(n):
        inten = max(radiance[i], 0.0)
        # v2e's discrete low-pass: the step's filter gain 2 pi f_c dt, at most 1 (the rate keeps it small).
        a = min(two_pi_dt * cutoff_hz * max(inten, cutoff_floor), 1.0)
        new = lp[i] + a * (log_radiance[i] - lp[i])
        lp_next[i] = new
        r = ref[i] - leak_hz[i] * _dark(inten, dark_gain) * c_pos[i] * dt
        needed += crossings(new - r, c_pos[i], c_neg[i])
    if start + needed > out_t.shape[0]:
        return -1, 0, needed
    k = start
    dropped = 0
    for i in range(n):
        inten = max(radiance[i], 0.0)
        ref[i] -= leak_hz[i] * _dark(inten, dark_gain) * c_pos[i] * dt
        l0 = lp[i]
        l1 = lp_next[i]
        lp[i] = l1
        k, drop = emit_crossings(i, l0, l1, t0, dt, ref, last_t, c_pos, c_neg, refractory, out_t, out_i, out_p, k)
        dropped += drop
    return k, dropped, needed


def dark_factor(intensity: np.ndarray, gain: float) -> np.ndarray:
    """Noise-rate multiplier ``(1 + g) / (1 + g min(I, 1))`` (1 in full light, 1 + g in darkness)."""
    return (1.0 + gain) / (1.0 + gain * np.minimum(np.maximum(intensity, 0.0), 1.0))


def internal_times(config: SyntheticConfig, max_speed_px_s: float) -> np.ndarray:
    """Internal step times over ``[0, duration]``.

    The rate is at least ``internal_rate_hz``, faster for fast image motion (at most about 1 px per step, as
    ESIM's adaptive sampling) and flicker (12 steps per period), at most ``max_internal_rate_hz``.
    """
    rate = max(config.internal_rate_hz, max_speed_px_s, 12.0 * config.flicker_hz)
    rate = min(rate, config.max_internal_rate_hz)
    n = max(1, int(np.ceil(config.duration_s * rate)))
    return np.arange(n + 1) * (config.duration_s / n)


def simulate_sensor(
    config: SyntheticConfig,
    radiance: Callable[[float], np.ndarray],
    rng: np.random.Generator,
    times: np.ndarray,
) -> EventSimulationResult:
    """Run the pixel model at ``times`` (seconds, from 0) on ``radiance(t) -> (H, W)`` linear radiance."""
    w, h = config.width, config.height
    n_pix = w * h
    c_pos, c_neg = pixel_thresholds(config, rng)
    leak_hz = config.leak_rate_hz * rng.uniform(0.5, 1.5, n_pix)
    first = np.ascontiguousarray(radiance(float(times[0])), dtype=np.float32).ravel()
    lp = np.log(np.maximum(first, 0.0) + config.log_eps).astype(np.float64)
    lp_next = np.empty_like(lp)
    ref = lp + rng.uniform(-0.5, 0.5, n_pix) * np.minimum(c_pos, c_neg)  # unknown reset state
    last_t = np.full(n_pix, -np.inf)
    capacity = min(config.max_events, max(1 << 16, int(n_pix * config.duration_s)))
    out_t = np.empty(capacity, np.float64)
    out_i = np.empty(capacity, np.int32)
    out_p = np.empty(capacity, np.uint8)
    count = refractory_drops = buffer_drops = 0

    # Shot noise by thinning: candidates at the darkest rate, accepted with dark(I)/(1 + g) at their pixel.
    max_noise_hz = config.shot_noise_rate_hz * (1.0 + config.noise_dark_gain)
    noise_t: list[np.ndarray] = []
    noise_i: list[np.ndarray] = []
    bin_start = float(times[0])

    def add_noise(t_a: float, t_b: float, frame: np.ndarray) -> None:
        if max_noise_hz <= 0 or t_b <= t_a:
            return
        k = int(rng.poisson(max_noise_hz * n_pix * (t_b - t_a)))
        idx = rng.integers(0, n_pix, k)
        accept = rng.random(k) * (1.0 + config.noise_dark_gain) < dark_factor(frame[idx], config.noise_dark_gain)
        noise_i.append(idx[accept].astype(np.int32))
        noise_t.append(rng.uniform(t_a, t_b, int(accept.sum())))

    frame = first
    for k in range(len(times) - 1):
        t0, t1 = float(times[k]), float(times[k + 1])
        frame = np.ascontiguousarray(radiance(t1), dtype=np.float32).ravel()
        log_frame = np.log(np.maximum(frame, 0.0) + np.float32(config.log_eps))
        while True:
            end, dropped, needed = _sensor_step(
                frame, log_frame, t0, t1, lp, lp_next, ref, last_t, c_pos, c_neg, leak_hz,
                config.cutoff_hz, config.cutoff_floor, config.noise_dark_gain, config.refractory_s,
                out_t, out_i, out_p, count,
            )  # fmt: skip
            if end >= 0:
                count, refractory_drops = end, refractory_drops + dropped
                break
            if count + needed > config.max_events:
                # Bounded: give this step no room (its events are counted as dropped), keep the state moving.
                buffer_drops += needed
                _sensor_step(
                    frame, log_frame, t0, t1, lp, lp_next, ref, last_t, c_pos, c_neg, leak_hz,
                    config.cutoff_hz, config.cutoff_floor, config.noise_dark_gain, config.refractory_s,
                    np.empty(needed), np.empty(needed, np.int32), np.empty(needed, np.uint8), 0,
                )  # fmt: skip
                break
            new_cap = min(config.max_events, max(2 * len(out_t), count + needed))
            out_t, out_i, out_p = np.resize(out_t, new_cap), np.resize(out_i, new_cap), np.resize(out_p, new_cap)
        if t1 - bin_start >= NOISE_BIN_S or k == len(times) - 2:
            add_noise(bin_start, t1, frame)
            bin_start = t1
    if buffer_drops:
        log.warning("sensor model: %d events over max_events=%d dropped", buffer_drops, config.max_events)

    sig_t, sig_i, sig_p = out_t[:count], out_i[:count], out_p[:count]
    n_t = np.concatenate(noise_t) if noise_t else np.empty(0)
    n_i = np.concatenate(noise_i) if noise_i else np.empty(0, np.int32)
    n_p = rng.integers(0, 2, len(n_t)).astype(np.uint8)

    # Hot pixels: Poisson at a per-pixel rate around hot_pixel_rate_hz, 80 % ON.
    n_hot = int(round(config.hot_pixel_fraction * n_pix))
    hot_pix = rng.choice(n_pix, n_hot, replace=False).astype(np.int32) if n_hot else np.empty(0, np.int32)
    hot_rate = config.hot_pixel_rate_hz * rng.lognormal(0.0, 0.5, n_hot)
    counts = rng.poisson(hot_rate * config.duration_s)
    h_i = np.repeat(hot_pix, counts)
    h_t = rng.uniform(times[0], times[-1], len(h_i))
    h_p = (rng.random(len(h_i)) < 0.8).astype(np.uint8)

    room = max(config.max_events - count, 0)
    n_t, n_i, n_p = n_t[:room], n_i[:room], n_p[:room]
    room -= len(n_t)
    h_t, h_i, h_p = h_t[:room], h_i[:room], h_p[:room]
    t_s = np.concatenate([sig_t, n_t, h_t])
    idx = np.concatenate([sig_i, n_i, h_i])
    pol = np.concatenate([sig_p, n_p, h_p])
    order = np.argsort(t_s, kind="stable")
    t_s, idx, pol = t_s[order], idx[order], pol[order]
    stats = {
        "internal_steps": len(times) - 1,
        "internal_rate_hz": round((len(times) - 1) / max(times[-1] - times[0], 1e-12), 1),
        "signal_events": int(count),  # includes leak events (the leak drifts the reference)
        "shot_noise_events": int(len(n_t)),
        "hot_pixel_events": int(len(h_t)),
        "hot_pixels": n_hot,
        "refractory_drops": int(refractory_drops),
        "dropped_buffer": int(buffer_drops),
    }
    return EventSimulationResult(t_s, (idx % w).astype(np.uint16), (idx // w).astype(np.uint16), pol, stats)
