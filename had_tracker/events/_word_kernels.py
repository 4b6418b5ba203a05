"""Compiled kernels for the 8-byte (``mono``, ``libcaer``) and token (``libcaer_cmp``) encodings: one pass.

Output slots are indexed with unsigned integers: numba then emits no negative-index wrap-around code.
"""

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
            u = np.uint64(k)
            t_out[u] = t
            x_out[u] = x
            y_out[u] = y
            p_out[u] = w >> 63
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
            u = np.uint64(k)
            t_out[u] = t
            x_out[u] = x
            y_out[u] = y
            p_out[u] = (data >> 1) & 1
            k += 1
        else:
            dropped += 1
    info[0] = k
    info[3] = dropped


@njit(cache=True, nogil=True)
def decode_libcaer_cmp(words, start, time_base, state, width, height, use_limit, limit_ns, t_out, x_out, y_out,
                       p_out, info):  # fmt: skip
    """libcaer_cmp: 16-bit tokens, code = bits 12-15, one pass.

    Codes: 0 TIME_HIGH, 1 TIME_LOW, 2 ADDR_X, 3 ADDR_Y (emits), 4 VECT_BASE_Y, 5 VECT_8 (8 rows from
    the base, then base += 8); other codes are counted and skipped.

    t = time_base + ((TIME_HIGH << 12) | TIME_LOW) us * 1000; the time restarts at 0 with each packet,
    x / vector base / polarity carry over. ``state = [x, base_y, polarity, time_high, time_low]``;
    ``info = [n_out, stop_index, next_t, dropped, unknown]``. ``t_out`` must hold every possible event.
    """
    n = words.shape[0]
    ex = state[0]
    base_y = state[1]
    pol = state[2]
    time_high = state[3]
    time_low = state[4]
    k = 0
    dropped = 0
    unknown = 0
    info[1] = n
    info[2] = -1
    t_ns = time_base + ((time_high << 12) | time_low) * 1000
    for i in range(start, n):
        w = np.int64(words[i])
        code = w >> 12
        if code == 3:
            y = w & 0x7FF
            if ex < width and y < height:
                u = np.uint64(k)
                t_out[u] = t_ns
                x_out[u] = ex
                y_out[u] = y
                p_out[u] = (w >> 11) & 1
                k += 1
            else:
                dropped += 1
        elif code == 2:
            ex = w & 0x7FF
        elif code == 1:
            time_low = w & 0xFFF
            t_ns = time_base + ((time_high << 12) | time_low) * 1000
            if use_limit and t_ns >= limit_ns:
                info[1] = i
                info[2] = t_ns
                break
        elif code == 0:
            time_high = w & 0xFFF
            t_ns = time_base + ((time_high << 12) | time_low) * 1000
        elif code == 5:
            m = w & 0xFF
            for b in range(8):
                if (m >> b) & 1:
                    y = (base_y + b) & 0xFFFF
                    if ex < width and y < height:
                        u = np.uint64(k)
                        t_out[u] = t_ns
                        x_out[u] = ex
                        y_out[u] = y
                        p_out[u] = pol
                        k += 1
                    else:
                        dropped += 1
            base_y = (base_y + 8) & 0xFFFF
        elif code == 4:
            base_y = w & 0x7FF
            pol = (w >> 11) & 1
        else:
            unknown += 1
    state[0] = ex
    state[1] = base_y
    state[2] = pol
    state[3] = time_high
    state[4] = time_low
    info[0] = k
    info[3] = dropped
    info[4] = unknown


@njit(cache=True, nogil=True)
def count_libcaer_cmp(words, start):
    """Upper bound of the events in libcaer_cmp tokens ``words[start:]`` (ADDR_Y + VECT_8 bits)."""
    n = 0
    for i in range(start, words.shape[0]):
        w = np.int64(words[i])
        code = w >> 12
        if code == 3:
            n += 1
        elif code == 5:
            m = w & 0xFF
            while m:
                m &= m - 1
                n += 1
    return n
