"""Compiled EVT 3.0 kernels (numba, cached on disk): decode into preallocated arrays, and encode.

The decoder state lives in a small int64 array so that it survives across packets of one stream:
``state = [valid, time_high, time_low, y, base_x, polarity]`` where ``time_high`` already holds the
rollover bits (``rollovers << 24 | TIME_HIGH payload << 12``), exactly as event_camera_codecs keeps it.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

# Word codes (bits 15..12 of each little-endian 16-bit word).
ADDR_Y = 0x0
ADDR_X = 0x2
VECT_BASE_X = 0x3
VECT_12 = 0x4
VECT_8 = 0x5
TIME_LOW = 0x6
CONTINUED_4 = 0x7
TIME_HIGH = 0x8
EXT_TRIGGER = 0xA
OTHERS = 0xE
CONTINUED_12 = 0xF

STATE_LEN = 6
S_VALID, S_TIME_HIGH, S_TIME_LOW, S_Y, S_BASE_X, S_POL = range(STATE_LEN)

# Result slots of ``decode_words``.
INFO_LEN = 8
I_N_CD, I_N_TRIG, I_STOP, I_NEXT_T, I_DROPPED_GEOMETRY, I_UNKNOWN, I_SKIPPED_UNSYNCED, I_FULL = range(INFO_LEN)

# A TIME_HIGH smaller than the last one by more than this many ticks is a 24-bit rollover;
# smaller steps back are sensor glitches (event_camera_codecs' MIN_DISTANCE).
ROLLOVER_MIN_DISTANCE = 10
NS_PER_US = 1000
# Index of the lowest set bit, and the number of set bits, of every 12-bit vector mask.
_CTZ = np.array([0] + [(i & -i).bit_length() - 1 for i in range(1, 4096)], np.int64)
_POPCOUNT = np.array([i.bit_count() for i in range(4096)], np.int64)
# Codes of the words that emit an event or a trigger.
_EMITS = (1 << ADDR_X) | (1 << VECT_12) | (1 << VECT_8) | (1 << EXT_TRIGGER)


@njit(cache=True, nogil=True)
def _update_time_high(payload: int, time_high: int) -> int:
    last_high = (time_high >> 12) & 0xFFF
    if payload < last_high and last_high - payload > ROLLOVER_MIN_DISTANCE:
        time_high += 1 << 24
    return (time_high & ~((1 << 24) - 1)) | (payload << 12)


@njit(cache=True, nogil=True)
def _sync(words: np.ndarray, start: int, state: np.ndarray, info: np.ndarray) -> int:
    """Before the first valid time: follow TIME_HIGH/TIME_LOW only, count skipped events; return next index.

    As upstream: time becomes valid at a TIME_LOW that follows a TIME_HIGH within this buffer.
    """
    n = words.shape[0]
    seen_high = False
    skipped = 0
    time_high = state[S_TIME_HIGH]
    i = start
    while i < n:
        w = np.int64(words[i])
        code = w >> 12
        i += 1
        if code == TIME_HIGH:
            time_high = _update_time_high(w & 0xFFF, time_high)
            seen_high = True
        elif code == TIME_LOW:
            state[S_TIME_LOW] = w & 0xFFF
            if seen_high:
                state[S_VALID] = 1
                break
        elif code == ADDR_X or code == EXT_TRIGGER:
            skipped += 1
        elif code == VECT_12 or code == VECT_8:
            m = w & (0xFFF if code == VECT_12 else 0xFF)
            while m:
                m &= m - 1
                skipped += 1
    state[S_TIME_HIGH] = time_high
    info[I_SKIPPED_UNSYNCED] += skipped
    return i


@njit(cache=True, nogil=True)
def decode_words(
    words: np.ndarray,
    start: int,
    state: np.ndarray,
    width: int,
    height: int,
    use_limit: bool,
    limit_ns: int,
    t_out: np.ndarray,
    x_out: np.ndarray,
    y_out: np.ndarray,
    p_out: np.ndarray,
    trig_t: np.ndarray,
    trig_edge: np.ndarray,
    trig_id: np.ndarray,
    info: np.ndarray,
) -> None:
    """Decode ``words[start:]`` into the output arrays, updating ``state`` and adding to ``info``.

    Stops early (``info[I_STOP]`` = index of the first unconsumed word) at the first TIME_LOW whose
    time is ``>= limit_ns`` when ``use_limit`` (that word is not consumed; ``info[I_NEXT_T]`` = its
    time), at an event or trigger word whose time is already ``>= limit_ns`` (after a TIME_HIGH), or when an output is full (``info[I_FULL]`` = 1: grow the outputs and call again from
    ``info[I_STOP]``; the CD outputs need 12 spare slots). Common codes come first and vector words
    are expanded by their set bits only (a lookup table gives the lowest set bit). Words and output
    slots are indexed with unsigned integers: numba then emits no negative-index wrap-around code,
    which made this loop 1.3-1.7x faster.
    """
    n = words.shape[0]
    info[I_STOP] = n
    info[I_NEXT_T] = -1
    info[I_FULL] = 0
    i = start
    if state[S_VALID] == 0:
        i = _sync(words, i, state, info)
        if state[S_VALID] == 0:
            return
        # Stricter than upstream (which checks only later TIME_LOW words): the syncing TIME_LOW
        # respects the limit too, so decode_until never returns an event at or after it.
        t_sync = (state[S_TIME_HIGH] | state[S_TIME_LOW]) * NS_PER_US
        if use_limit and t_sync >= limit_ns:
            info[I_STOP] = i - 1
            info[I_NEXT_T] = t_sync
            return
    # Room invariant: n_cd + (n - i) <= len(t_out) - 12, so the slot at n_cd always exists for an
    # ADDR_X/ADDR_Y word; vector words (up to 12 events from one word) check it and stop when the
    # outputs must grow.
    out_len = t_out.shape[0] - 12
    tcap = trig_t.shape[0]
    time_high = state[S_TIME_HIGH]
    time_low = state[S_TIME_LOW]
    ey = state[S_Y]
    base_x = state[S_BASE_X]
    pol = state[S_POL]
    n_cd = info[I_N_CD]
    n_trig = info[I_N_TRIG]
    dropped = 0
    unknown = 0
    t_ns = (time_high | time_low) * NS_PER_US
    # A TIME_HIGH not yet followed by its TIME_LOW can put the time at or past the limit: then the next
    # event word stops the decode instead of being emitted (one well-predicted test per event).
    over = use_limit and t_ns >= limit_ns
    first = i
    i = first
    while i < n:
        w = words[np.uint64(i)]
        code = w >> 12
        if over and (_EMITS >> code) & 1:
            info[I_STOP] = i
            info[I_NEXT_T] = t_ns
            break
        if (code | 2) == 2:
            # ADDR_Y or ADDR_X (nine words in ten), without a data-dependent branch: the event slot is
            # always written and the count advances only for an in-geometry ADDR_X (the word types
            # interleave unpredictably; a mispredicted branch costs more than the four stores).
            payload = w & 0x7FF
            isx = code >> 1
            ey = ey if isx else payload
            u = np.uint64(n_cd)
            t_out[u] = t_ns
            x_out[u] = payload
            y_out[u] = ey
            p_out[u] = (w >> 11) & 1
            ok = isx & (payload < width) & (ey < height)
            n_cd += ok
            dropped += isx - ok
        elif code == TIME_LOW:
            time_low = w & 0xFFF
            t_ns = (time_high | time_low) * NS_PER_US
            if use_limit and t_ns >= limit_ns:
                info[I_STOP] = i
                info[I_NEXT_T] = t_ns
                break
            over = False
        elif code == VECT_12 or code == VECT_8:
            nbits = 12 if code == VECT_12 else 8
            m = w & ((1 << nbits) - 1)
            if n_cd + (n - i) + 12 > out_len:
                info[I_FULL] = 1
                info[I_STOP] = i
                break
            if ey < height:
                while m:  # only the set bits (vector words are sparse)
                    x = (base_x + _CTZ[m]) & 0xFFFF
                    if x < width:
                        u = np.uint64(n_cd)
                        t_out[u] = t_ns
                        x_out[u] = x
                        y_out[u] = ey
                        p_out[u] = pol
                        n_cd += 1
                    else:
                        dropped += 1
                    m &= m - 1
            else:
                dropped += _POPCOUNT[m]
            base_x = (base_x + nbits) & 0xFFFF
        elif code == VECT_BASE_X:
            base_x = w & 0x7FF
            pol = (w >> 11) & 1
            # The sensor writes VECT_BASE_X, VECT_12, VECT_12, VECT_8: one 32-pixel mask, taken whole
            # (one dispatch instead of four) when the room invariant still holds after it.
            if (
                i + 3 < n
                and not over
                and (words[i + 1] >> 12) == VECT_12
                and (words[i + 2] >> 12) == VECT_12
                and (words[i + 3] >> 12) == VECT_8
            ):
                m0 = np.int64(words[i + 1] & 0xFFF)
                m1 = np.int64(words[i + 2] & 0xFFF)
                m2 = np.int64(words[i + 3] & 0xFF)
                n_set = _POPCOUNT[m0] + _POPCOUNT[m1] + _POPCOUNT[m2]
                if n_cd + n_set + (n - i - 4) <= out_len:
                    if ey < height:
                        m = m0 | (m1 << 12) | (m2 << 24)
                        while m:
                            x = (base_x + trailing_zeros(m)) & 0xFFFF
                            u = np.uint64(n_cd)
                            t_out[u] = t_ns
                            x_out[u] = x
                            y_out[u] = ey
                            p_out[u] = pol
                            ok = np.int64(x < width)
                            n_cd += ok
                            dropped += 1 - ok
                            m &= m - 1
                    else:
                        dropped += n_set
                    base_x = (base_x + 32) & 0xFFFF
                    i += 4
                    continue
        elif code == TIME_HIGH:
            time_high = _update_time_high(w & 0xFFF, time_high)
            t_ns = (time_high | time_low) * NS_PER_US
            over = use_limit and t_ns >= limit_ns
        elif code == EXT_TRIGGER:
            if n_trig >= tcap:
                info[I_FULL] = 1
                info[I_STOP] = i
                break
            trig_t[n_trig] = t_ns
            trig_edge[n_trig] = w & 1
            trig_id[n_trig] = (w >> 8) & 0xF
            n_trig += 1
        elif code == OTHERS or code == CONTINUED_4 or code == CONTINUED_12:
            pass
        else:
            unknown += 1
        i += 1
    state[S_TIME_HIGH] = time_high
    state[S_TIME_LOW] = time_low
    state[S_Y] = ey
    state[S_BASE_X] = base_x
    state[S_POL] = pol
    info[I_N_CD] = n_cd
    info[I_N_TRIG] = n_trig
    info[I_DROPPED_GEOMETRY] += dropped
    info[I_UNKNOWN] += unknown


@njit(cache=True, nogil=True)
def encode_words(
    t_us: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    trig_t_us: np.ndarray,
    trig_edge: np.ndarray,
    trig_id: np.ndarray,
    state: np.ndarray,
    resync: bool,
    vectorize: bool,
    out: np.ndarray,
) -> int:
    """Encode time-ordered CD events and triggers (merged by time, CD first on ties) into ``out``.

    With ``vectorize``, runs of events with one time, row and polarity and increasing x within 32
    pixels become VECT_BASE_X + VECT_12/VECT_12/VECT_8 words, as the sensor writes them, wherever
    that takes fewer words than ADDR_X words.

    ``state = [has_time, last_high_abs, last_low, has_y, last_y]`` where ``last_high_abs`` is
    ``t_us >> 12`` without wrap-around. Returns the number of words written. ``out`` must hold at
    least ``6 * (len(t_us) + len(trig_t_us)) + 3`` words plus the rollover filler words.
    """
    n_cd = t_us.shape[0]
    n_tr = trig_t_us.shape[0]
    has_time = state[0] != 0
    last_high = state[1]
    last_low = state[2]
    has_y = state[3] != 0
    last_y = state[4]
    if resync:
        has_time = False
        has_y = False
    k = 0
    i = 0
    j = 0
    while i < n_cd or j < n_tr:
        take_cd = j >= n_tr or (i < n_cd and t_us[i] <= trig_t_us[j])
        t = t_us[i] if take_cd else trig_t_us[j]
        high = t >> 12
        low = t & 0xFFF
        if not has_time or high != last_high:
            if has_time:
                # Step TIME_HIGH by at most half a 24-bit cycle so the decoder sees every rollover.
                while high - last_high > 2048:
                    last_high += 2048
                    out[k] = (TIME_HIGH << 12) | (last_high & 0xFFF)
                    k += 1
            out[k] = (TIME_HIGH << 12) | (high & 0xFFF)
            out[k + 1] = (TIME_LOW << 12) | low
            k += 2
            last_high = high
            last_low = low
            has_time = True
        elif low != last_low:
            out[k] = (TIME_LOW << 12) | low
            k += 1
            last_low = low
        if take_cd:
            yy = np.int64(y[i])
            if not has_y or yy != last_y:
                out[k] = (ADDR_Y << 12) | yy
                k += 1
                last_y = yy
                has_y = True
            x0 = np.int64(x[i])
            pol = np.int64(p[i] & 1)
            run_end = i + 1
            mask = np.int64(1)
            if vectorize:
                last_x = x0
                while run_end < n_cd and t_us[run_end] == t and np.int64(y[run_end]) == yy:
                    xr = np.int64(x[run_end])
                    if np.int64(p[run_end] & 1) != pol or xr <= last_x or xr >= x0 + 32:
                        break
                    mask |= np.int64(1) << (xr - x0)
                    last_x = xr
                    run_end += 1
            span = np.int64(x[run_end - 1]) - x0
            n_vect = 1 if span < 12 else (2 if span < 24 else 3)
            if 1 + n_vect < run_end - i:  # only where vector words are shorter than ADDR_X words
                out[k] = (VECT_BASE_X << 12) | (pol << 11) | x0
                k += 1
                shift = 0
                for nbits in (12, 12, 8):
                    if (mask >> shift) == 0:
                        break
                    code = VECT_12 if nbits == 12 else VECT_8
                    out[k] = (code << 12) | ((mask >> shift) & ((1 << nbits) - 1))
                    k += 1
                    shift += nbits
                i = run_end
            else:
                out[k] = (ADDR_X << 12) | (pol << 11) | x0
                k += 1
                i += 1
        else:
            out[k] = (EXT_TRIGGER << 12) | (np.int64(trig_id[j] & 0xF) << 8) | np.int64(trig_edge[j] & 1)
            k += 1
            j += 1
    state[0] = 1 if has_time else 0
    state[1] = last_high
    state[2] = last_low
    state[3] = 1 if has_y else 0
    state[4] = last_y
    return k
