"""Encoders for ``evt3`` and ``mono`` (and ``trigger``) payloads: what real drivers put in EventPacket.

Round trip: decoding the output with :mod:`had_tracker.events.decoders` gives back the input
exactly, given what each format can hold:

- ``evt3`` stores microseconds: times must be whole microseconds (ns multiples of 1000) and time
  ordered; x, y < 2048. The sensor clock is 24 bits of microseconds with rollovers counted by the
  decoder, so the decoded time equals the input modulo 2^24 us (16.777216 s) at the stream start:
  exact when the first event of the stream is earlier than 16.777216 s. Longer gaps are bridged
  with extra TIME_HIGH words so every rollover is seen.
- ``mono``/``trigger``: ``t - time_base_ns`` must fit in 32 bits of nanoseconds (about 4.29 s).
"""

from __future__ import annotations

import numpy as np

from had_tracker.errors import HadTrackerError
from had_tracker.events.container import Events, Triggers

EVT3_MAX_COORD = 2047
US_24BIT = 1 << 24


class EncodeError(HadTrackerError, ValueError):
    """Events that the target encoding cannot represent (out-of-range coordinates, unordered time, ...)."""


def _check_time_order(t: np.ndarray, what: str) -> None:
    if len(t) > 1 and np.any(t[1:] < t[:-1]):
        raise EncodeError(f"{what} times must be non-decreasing to be encoded")


class Evt3Encoder:
    """Stateful EVT 3.0 encoder for one stream (TIME_HIGH/TIME_LOW/ADDR_Y/ADDR_X/EXT_TRIGGER words).

    ``self_contained_packets=True`` starts every packet with full time and y words (3 words) so a
    decoder that lost a packet resynchronises at the next one; the camera itself does not do this,
    set False for a byte stream as the sensor writes it. ``vectorize=True`` writes runs of events of
    one time, row and polarity (increasing x within 32 pixels) as vector words, like the sensor does.
    """

    def __init__(self, self_contained_packets: bool = True, vectorize: bool = False) -> None:
        from had_tracker.events import _evt3_kernels as k

        self._k = k
        self.self_contained_packets = self_contained_packets
        self.vectorize = vectorize
        self._state = np.zeros(5, np.int64)  # has_time, last_high_abs, last_low, has_y, last_y
        self._last_t_us: int | None = None

    def reset(self) -> None:
        """Start a new stream."""
        self._state[:] = 0
        self._last_t_us = None

    def encode(self, events: Events, triggers: Triggers | None = None) -> np.ndarray:
        """EVT3 bytes (uint8 array) for ``events`` (and optional triggers), continuing the stream."""
        t_ns = np.asarray(events.t, np.int64)
        trig = triggers if triggers is not None else Triggers.empty()
        tr_ns = np.asarray(trig.t, np.int64)
        for name, arr in (("event", t_ns), ("trigger", tr_ns)):
            if len(arr) and (np.any(arr % 1000) or arr.min() < 0):
                raise EncodeError(f"evt3 holds whole non-negative microseconds; some {name} times are not")
            _check_time_order(arr, name)
        if len(events) and (events.x.max() > EVT3_MAX_COORD or events.y.max() > EVT3_MAX_COORD):
            raise EncodeError(f"evt3 coordinates must be <= {EVT3_MAX_COORD}")
        t_us = t_ns // 1000
        tr_us = tr_ns // 1000
        if not len(t_us) and not len(tr_us):
            return np.empty(0, np.uint8)
        first = min(int(a[0]) for a in (t_us, tr_us) if len(a))
        if self._last_t_us is not None and first < self._last_t_us:
            raise EncodeError(f"evt3 stream time went back from {self._last_t_us} us to {first} us")
        self._last_t_us = max(int(a[-1]) for a in (t_us, tr_us) if len(a))
        # Filler TIME_HIGH words for gaps longer than half a 24-bit cycle.
        all_high = np.sort(np.concatenate([t_us, tr_us]) >> 12)
        if self._state[0]:
            all_high = np.concatenate([[self._state[1]], all_high])
        fillers = int(np.maximum(np.diff(all_high) - 1, 0).sum() // 2048) + len(all_high)
        out = np.empty(6 * (len(t_us) + len(tr_us)) + 3 + fillers, np.uint16)
        n = self._k.encode_words(
            t_us,
            np.asarray(events.x, np.uint16),
            np.asarray(events.y, np.uint16),
            np.asarray(events.p, np.uint8),
            tr_us,
            np.asarray(trig.edge, np.uint8),
            np.asarray(trig.id, np.uint8),
            self._state,
            self.self_contained_packets,
            self.vectorize,
            out,
        )
        return out[:n].astype("<u2").view(np.uint8)


def encode_mono(events: Events, time_base_ns: int) -> bytes:
    """``mono`` payload: one little-endian uint64 per event (dt ns | x << 32 | y << 48 | p << 63)."""
    dt = np.asarray(events.t, np.int64) - np.int64(time_base_ns)
    if len(dt) and (dt.min() < 0 or dt.max() > 0xFFFFFFFF):
        raise EncodeError("mono holds t - time_base in [0, 2^32) ns; choose time_base_ns / split the packet")
    if len(events) and events.y.max() > 0x7FFF:
        raise EncodeError("mono holds y < 32768")
    w = (
        dt.astype(np.uint64)
        | (np.asarray(events.x, np.uint64) << np.uint64(32))
        | (np.asarray(events.y, np.uint64) << np.uint64(48))
        | ((np.asarray(events.p, np.uint64) & np.uint64(1)) << np.uint64(63))
    )
    return w.astype("<u8").tobytes()


def encode_trigger(triggers: Triggers, time_base_ns: int) -> bytes:
    """``trigger`` payload: one little-endian uint64 per trigger (dt ns | id << 48 | edge << 63)."""
    dt = np.asarray(triggers.t, np.int64) - np.int64(time_base_ns)
    if len(dt) and (dt.min() < 0 or dt.max() > 0xFFFFFFFF):
        raise EncodeError("trigger holds t - time_base in [0, 2^32) ns")
    w = (
        dt.astype(np.uint64)
        | (np.asarray(triggers.id, np.uint64) << np.uint64(48))
        | ((np.asarray(triggers.edge, np.uint64) & np.uint64(1)) << np.uint64(63))
    )
    return w.astype("<u8").tobytes()
