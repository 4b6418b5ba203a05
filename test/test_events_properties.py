"""Property tests: arbitrary input never crashes or hangs; round trips are exact; chunking does not matter."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from had_tracker.events.container import Events, Triggers
from had_tracker.events.decoders import EventPacketData, make_decoder
from had_tracker.events.encoders import Evt3Encoder, encode_mono

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENCODINGS = ("evt3", "mono", "libcaer", "libcaer_cmp", "trigger")


@SETTINGS
@given(
    encoding=st.sampled_from(ENCODINGS),
    chunks=st.lists(st.binary(max_size=300), min_size=1, max_size=5),
    width=st.integers(1, 2048),
    height=st.integers(1, 2048),
    seqs=st.lists(st.integers(0, 20), min_size=5, max_size=5),
)
def test_random_bytes_never_crash_and_respect_geometry(encoding, chunks, width, height, seqs):
    dec = make_decoder(encoding, width, height)
    total = 0
    for payload, seq in zip(chunks, seqs, strict=False):
        out = dec.decode(EventPacketData(encoding, width, height, payload, time_base=123, seq=seq))
        ev = out.events
        assert len(ev.t) == len(ev.x) == len(ev.y) == len(ev.p)
        assert np.all(ev.x < width) and np.all(ev.y < height)
        assert ev.t.dtype == np.int64 and ev.x.dtype == np.uint16 and ev.p.dtype == np.uint8
        assert np.all(ev.p <= 1) and np.all(out.triggers.edge <= 1)
        total += len(ev)
    assert dec.stats.events == total
    assert dec.stats.truncated == sum(1 for c in chunks if len(c) % dec.word_bytes)


@SETTINGS
@given(payload=st.binary(max_size=400), limits=st.lists(st.integers(0, 1 << 40), min_size=1, max_size=6))
def test_decode_until_on_random_evt3_always_terminates(payload, limits):
    dec = make_decoder("evt3", 1280, 720)
    pkt = EventPacketData("evt3", 1280, 720, payload)
    for limit in sorted(limits) + [1 << 62]:
        res = dec.decode_until(pkt, limit)
        assert np.all(res.events.t < limit)
        if not res.reached_limit:
            break
    assert not res.reached_limit


def test_decode_until_stops_at_events_whose_time_high_is_past_the_limit():
    """TIME_HIGH then ADDR_X with no TIME_LOW between: the event carries the new time and must wait."""
    words = np.array([0x8001, 0x6000, 0x0000, 0x8005, 0x2001, 0x6001, 0x2002], "<u2")
    dec = make_decoder("evt3", 1280, 720)
    pkt = EventPacketData("evt3", 1280, 720, words.tobytes())
    limit = 20_480_000  # (5 << 12) us: the time the second TIME_HIGH sets
    first = dec.decode_until(pkt, limit)
    assert first.reached_limit and first.next_t_ns == limit and len(first.events) == 0
    rest = dec.decode_until(pkt, 1 << 62)
    assert not rest.reached_limit
    np.testing.assert_array_equal(rest.events.t, [20_480_000, 20_481_000])
    np.testing.assert_array_equal(rest.events.x, [1, 2])
    whole = make_decoder("evt3", 1280, 720).decode(pkt)
    np.testing.assert_array_equal(whole.events.t, rest.events.t)


@st.composite
def event_streams(draw, max_t_us=(1 << 24) - 1, max_xy=(1280, 720)):
    n = draw(st.integers(0, 200))
    t = np.sort(np.array(draw(st.lists(st.integers(0, max_t_us), min_size=n, max_size=n)), np.int64)) * 1000
    x = np.array(draw(st.lists(st.integers(0, max_xy[0] - 1), min_size=n, max_size=n)), np.uint16)
    y = np.array(draw(st.lists(st.integers(0, max_xy[1] - 1), min_size=n, max_size=n)), np.uint16)
    p = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), np.uint8)
    return Events.from_arrays(t, x, y, p, *max_xy)


def _assert_same(a: Events, b: Events) -> None:
    for name in "txyp":
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@SETTINGS
@given(
    events=event_streams(),
    cuts=st.lists(st.integers(0, 200), max_size=4),
    self_contained=st.booleans(),
    vectorize=st.booleans(),
)
def test_evt3_encode_decode_round_trip_over_packets(events, cuts, self_contained, vectorize):
    enc = Evt3Encoder(self_contained_packets=self_contained, vectorize=vectorize)
    dec = make_decoder("evt3", events.width, events.height)
    bounds = sorted({0, len(events), *[min(c, len(events)) for c in cuts]})
    parts = []
    for seq, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        payload = enc.encode(events[a:b])
        parts.append(dec.decode(EventPacketData("evt3", events.width, events.height, payload, seq=seq)).events)
    _assert_same(Events.concatenate(parts) if parts else Events.empty(), events)
    assert dec.stats.skipped_unsynced == 0 and dec.stats.unknown_codes == 0


@st.composite
def row_bursts(draw):
    """Events in bursts: one time, row and polarity, x increasing by small steps (vector-friendly)."""
    t, parts = 0, []
    for _ in range(draw(st.integers(1, 12))):
        t += draw(st.integers(0, 5000))
        y, p = draw(st.integers(0, 719)), draw(st.integers(0, 1))
        x = draw(st.integers(0, 1200))
        for step in draw(st.lists(st.integers(1, 14), max_size=40)):
            if x >= 1280:
                break
            parts.append((t * 1000, x, y, p))
            x += step
    arr = np.array(parts, np.int64).reshape(-1, 4)
    return Events.from_arrays(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], 1280, 720)


@SETTINGS
@given(events=row_bursts(), width=st.integers(1, 1280))
def test_evt3_vector_words_round_trip_and_respect_geometry(events, width):
    payload = Evt3Encoder(vectorize=True).encode(events)
    dec = make_decoder("evt3", width, 720)
    out = dec.decode_bytes(payload).events
    inside = events.x < width
    _assert_same(out, Events(events.t[inside], events.x[inside], events.y[inside], events.p[inside], width, 720))
    assert dec.stats.dropped_out_of_geometry == int(np.count_nonzero(~inside))
    # Vector words only replace runs of ADDR_X words where they are shorter.
    assert len(payload) <= len(Evt3Encoder(vectorize=False).encode(events))


@SETTINGS
@given(
    gaps_s=st.lists(st.integers(0, 100), min_size=1, max_size=6),
    trig_edges=st.lists(st.integers(0, 1), min_size=1, max_size=6),
)
def test_evt3_round_trip_across_24bit_rollovers_with_triggers(gaps_s, trig_edges):
    # The stream starts below 2^24 us (the decoder counts rollovers from its first TIME_HIGH).
    t_us = np.cumsum(np.array([0, *gaps_s], np.int64) * 1_000_003)
    n = len(t_us)
    events = Events.from_arrays(t_us * 1000, np.arange(n) % 1280, np.arange(n) % 720, np.arange(n) % 2, 1280, 720)
    m = min(len(trig_edges), n)
    triggers = Triggers(t_us[:m] * 1000, np.array(trig_edges[:m], np.uint8), np.full(m, 7, np.uint8))
    dec = make_decoder("evt3", 1280, 720)
    out = dec.decode_bytes(Evt3Encoder().encode(events, triggers))
    _assert_same(out.events, events)
    np.testing.assert_array_equal(out.triggers.t, triggers.t)
    np.testing.assert_array_equal(out.triggers.edge, triggers.edge)


@SETTINGS
@given(events=event_streams(max_t_us=4_000_000, max_xy=(2048, 2048)), base_us=st.integers(0, 10**9))
def test_mono_encode_decode_round_trip(events, base_us):
    shifted = events.shift_time(base_us * 1000)
    time_base = int(shifted.t[0]) if len(shifted) else 0
    dec = make_decoder("mono", 2048, 2048)
    out = dec.decode_bytes(encode_mono(shifted, time_base), time_base=time_base)
    _assert_same(out.events, shifted)


@SETTINGS
@given(events=event_streams(max_xy=(2048, 2048)), width=st.integers(1, 2048), height=st.integers(1, 2048))
def test_out_of_geometry_events_dropped_and_counted(events, width, height):
    payload = Evt3Encoder().encode(events)
    dec = make_decoder("evt3", width, height)
    out = dec.decode_bytes(payload).events
    inside = (events.x < width) & (events.y < height)
    _assert_same(out, Events(events.t[inside], events.x[inside], events.y[inside], events.p[inside], width, height))
    assert dec.stats.dropped_out_of_geometry == int(np.count_nonzero(~inside))


@SETTINGS
@given(data=st.data())
def test_real_evt3_packet_by_packet_equals_all_at_once(data):
    from test.conftest import shared_data

    raw = shared_data("prophesee_evt3", "evt3_sample.raw").read_bytes()[166:]
    words = np.frombuffer(raw, "<u2")
    whole = make_decoder("evt3", 1280, 720).decode_bytes(words).events
    # The first packet must hold the first TIME_HIGH + TIME_LOW pair (upstream syncs within one packet).
    cuts = data.draw(st.lists(st.integers(64, len(words)), max_size=8))
    bounds = sorted({0, len(words), *cuts})
    dec = make_decoder("evt3", 1280, 720)
    parts = [dec.decode_bytes(words[a:b]).events for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    _assert_same(Events.concatenate(parts), whole)


@SETTINGS
@given(data=st.data())
def test_real_evt3_decode_until_pieces_reassemble_the_stream(data):
    """Pieces hold only events before their limit and concatenate to the whole decode.

    (They are not exact time slices on real data: the sensor emits TIME_LOW words that run ahead of
    later events; upstream checks the limit at TIME_LOW words, and so do we.)
    """
    from test.conftest import shared_data

    raw = shared_data("prophesee_evt3", "evt3_sample.raw").read_bytes()[166:]
    whole = make_decoder("evt3", 1280, 720).decode_bytes(raw).events
    t0, t1 = int(whole.t[0]), int(whole.t[-1])
    limits = sorted(set(data.draw(st.lists(st.integers(t0 + 1, t1), min_size=1, max_size=5))))
    dec = make_decoder("evt3", 1280, 720)
    pkt = EventPacketData("evt3", 1280, 720, raw)
    pieces = []
    for limit in [*limits, t1 + 1]:
        res = dec.decode_until(pkt, limit)
        assert np.all(res.events.t < limit)
        pieces.append(res.events)
    while res.reached_limit:
        res = dec.decode_until(pkt, res.next_t_ns + 1)
        pieces.append(res.events)
    _assert_same(Events.concatenate(pieces), whole)


def test_evt3_decode_until_equals_time_slices_when_time_words_are_monotonic():
    t = np.arange(0, 50_000, 7, dtype=np.int64) * 1000
    n = len(t)
    events = Events.from_arrays(t, np.arange(n) % 640, np.arange(n) % 480, np.arange(n) % 2, 640, 480)
    pkt = EventPacketData("evt3", 640, 480, Evt3Encoder().encode(events))
    dec = make_decoder("evt3", 640, 480)
    prev = 0
    for limit in (1_000_000, 1_000_001, 20_000_000, 49_999_000, 60_000_000):
        _assert_same(dec.decode_until(pkt, limit).events, events.slice_time(prev, limit))
        prev = limit
