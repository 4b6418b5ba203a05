"""Compiled kernels for the fixed-size 8-byte encodings (``mono``, ``libcaer``): one pass, no temporaries."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def decode_mono(words, time_base, width, height, use_limit, limit_ns, t_out, x_out, y_out, p_out, info):
    """mono: t = time_base + low 32 bits; x = bits 32-47, y = bits 48-62, p = bit 63.

    ``info = [n_out, stop_index, next_t, dropped]``; stops at the first event with t >= limit_ns.
    """
    n = words.shape[0]
    k = 0
    dropped = 0
    info[1] = n
    info[2] = -1
    for i in range(n):
        w = words[i]
        t = time_base + np.int64(w & 0xFFFFFFFF)
        if use_limit and t >= limit_ns:
            info[1] = i
            info[2] = t
            break
        x = (w >> 32) & 0xFFFF
        y = (w >> 48) & 0x7FFF
        if x < width and y < height:
            t_out[k] = t
            x_out[k] = x
            y_out[k] = y
            p_out[k] = w >> 63
            k += 1
        else:
            dropped += 1
    info[0] = k
    info[3] = dropped


@njit(cache=True, nogil=True)
def decode_libcaer(words, time_base, width, height, use_limit, limit_ns, t_out, x_out, y_out, p_out, info):
    """libcaer: data = low 32 bits (x 17-31, y 2-16, p bit 1), int32 us stamp = high 32 bits.

    t = time_base + (stamp + rollovers * 2^31) * 1000, a rollover being a decrease of the stamp
    within this call (as upstream, which restarts the comparison at every call).
    """
    n = words.shape[0]
    k = 0
    dropped = 0
    info[1] = n
    info[2] = -1
    high = np.int64(0)
    last = np.int64(0)
    for i in range(n):
        w = words[i]
        ts = np.int64(np.int32(np.uint32(w >> 32)))
        if ts < last:
            high += np.int64(1) << 31
        t = time_base + (high + ts) * 1000
        if use_limit and t >= limit_ns:
            info[1] = i
            info[2] = t
            break
        last = ts
        data = w & 0xFFFFFFFF
        x = (data >> 17) & 0x7FFF
        y = (data >> 2) & 0x7FFF
        if x < width and y < height:
            t_out[k] = t
            x_out[k] = x
            y_out[k] = y
            p_out[k] = (data >> 1) & 1
            k += 1
        else:
            dropped += 1
    info[0] = k
    info[3] = dropped
