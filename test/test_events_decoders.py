"""Stream decoders: evt3 word semantics, time rules, counters, seq handling, decode_until, other encodings."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.errors import DecodeError
from had_tracker.events.container import Events
from had_tracker.events.decoders import DecoderRegistry, EventPacketData, make_decoder


def th(v):  # TIME_HIGH
    return 0x8000 | v


def tl(v):  # TIME_LOW
    return 0x6000 | v


def ay(y):  # ADDR_Y
    return y


def ax(x, p=1):  # ADDR_X
    return 0x2000 | (p << 11) | x


def vbase(x, p):
    return 0x3000 | (p << 11) | x


def v12(mask):
    return 0x4000 | mask


def v8(mask):
    return 0x5000 | mask


def trig(edge, id_):
    return 0xA000 | (id_ << 8) | edge


def words(*w):
    return np.array(w, "<u2").tobytes()


def evt3(width=1280, height=720):
    return make_decoder("evt3", width, height)


def test_unknown_encoding_names_supported_ones():
    with pytest.raises(DecodeError, match="evt3.*mono"):
        make_decoder("evt21", 640, 480)


def test_evt3_events_before_time_high_and_low_are_skipped_and_counted():
    dec = evt3()
    out = dec.decode_bytes(words(ay(5), ax(1), tl(7), ax(2), th(3), ax(3), tl(9), ax(4)))
    assert out.events.x.tolist() == [4]
    assert out.events.t.tolist() == [(3 << 12 | 9) * 1000]
    assert dec.stats.skipped_unsynced == 3


def test_evt3_time_high_rollover_and_small_glitch():
    dec = evt3()
    base = [th(4000), tl(0), ay(1), ax(1)]
    glitch = [th(3995), tl(0), ax(2)]  # back 5 ticks: glitch, no rollover
    roll = [th(2), tl(0), ax(3)]  # back more than 10 ticks: rollover (+2^24 us)
    t = dec.decode_bytes(words(*base, *glitch, *roll)).events.t
    assert t.tolist() == [4000 * 4096 * 1000, 3995 * 4096 * 1000, ((1 << 24) + 2 * 4096) * 1000]


def test_evt3_vector_words_emit_per_bit_and_advance_base():
    dec = evt3()
    out = dec.decode_bytes(words(th(0), tl(1), ay(10), vbase(100, 0), v12(0b100000000101), v8(0b10000001)))
    ev = out.events
    assert ev.x.tolist() == [100, 102, 111, 112, 119]
    assert set(ev.y.tolist()) == {10} and set(ev.p.tolist()) == {0}
    assert len(set(ev.t.tolist())) == 1


def test_evt3_full_vector_group_equals_word_by_word_decoding():
    # VECT_BASE_X, VECT_12, VECT_12, VECT_8 is decoded as one 32-pixel mask; an OTHERS word between
    # the base and the vectors forces the word-by-word path: both give the same events and drops.
    group = [vbase(1260, 1), v12(0b100000000011), v12(0b000000010001), v8(0b10000001)]
    stream = [th(0), tl(1), ay(10), *group, ay(719), *group, ay(720), *group, ax(7)]
    split = [*stream[:3], group[0], 0xE000, *stream[4:]]
    a, b = evt3(), evt3()
    whole, by_word = a.decode_bytes(words(*stream)).events, b.decode_bytes(words(*split)).events
    for name in ("t", "x", "y", "p"):
        assert getattr(whole, name).tolist() == getattr(by_word, name).tolist()
    assert whole.x.tolist() == [1260, 1261, 1271, 1272, 1276] * 2  # 1284 and 1291 are off the sensor
    assert whole.y.tolist() == [10] * 5 + [719] * 5
    assert set(whole.p.tolist()) == {1}
    # 2 off the sensor in each of rows 10 and 719, all 7 of row 720, and the ADDR_X in row 720.
    assert a.stats.dropped_out_of_geometry == b.stats.dropped_out_of_geometry == 2 + 2 + 7 + 1


def test_evt3_out_of_geometry_dropped_and_counted():
    dec = evt3(width=100, height=50)
    out = dec.decode_bytes(words(th(0), tl(0), ay(10), ax(99), ax(100), ay(50), ax(3), ay(49), vbase(95, 1), v8(0xFF)))
    assert list(zip(out.events.x.tolist(), out.events.y.tolist(), strict=True)) == [
        (99, 10),
        (95, 49),
        (96, 49),
        (97, 49),
        (98, 49),
        (99, 49),
    ]
    assert dec.stats.dropped_out_of_geometry == 2 + 3


def test_evt3_unknown_codes_are_skipped_and_counted():
    dec = evt3()
    out = dec.decode_bytes(words(th(0), tl(0), 0x9999, ay(1), 0x1234, ax(5), 0xB000, 0xE001, 0xF000, 0x7000))
    assert out.events.x.tolist() == [5]
    assert dec.stats.unknown_codes == 3


def test_evt3_external_triggers_returned_separately():
    dec = evt3()
    out = dec.decode_bytes(words(th(1), tl(2), trig(1, 5), ay(0), ax(0), tl(3), trig(0, 5)))
    tr = out.triggers
    assert tr.t.tolist() == [(4096 + 2) * 1000, (4096 + 3) * 1000]
    assert tr.edge.tolist() == [1, 0] and tr.id.tolist() == [5, 5]
    assert len(out.events) == 1


def test_evt3_state_carries_across_packets():
    dec = evt3()
    dec.decode_bytes(words(th(1), tl(2), ay(7)))
    out = dec.decode_bytes(words(ax(3)))
    assert out.events.y.tolist() == [7] and out.events.t.tolist() == [(4096 + 2) * 1000]


def test_evt3_seq_gap_resynchronises_on_next_time_words():
    dec = evt3()
    pkt = dict(encoding="evt3", width=1280, height=720)
    dec.decode(EventPacketData(events=words(th(1), tl(2), ay(7), ax(1)), seq=10, **pkt))
    lost_state = dec.decode(EventPacketData(events=words(ax(2), th(1), tl(9), ax(3)), seq=13, **pkt))
    assert lost_state.events.x.tolist() == [3]
    assert dec.stats.seq_gaps == 1 and dec.stats.lost_packets == 2 and dec.stats.skipped_unsynced == 1


def test_evt3_seq_going_back_resets_decoder():
    dec = evt3()
    pkt = dict(encoding="evt3", width=1280, height=720)
    dec.decode(EventPacketData(events=words(th(4000), tl(2), ay(7), ax(1)), seq=5, **pkt))
    dec.decode(EventPacketData(events=words(th(5), tl(2), ax(1)), seq=6, **pkt))  # rollover
    out = dec.decode(EventPacketData(events=words(th(5), tl(2), ay(1), ax(1)), seq=0, **pkt))
    assert out.events.t.tolist() == [(5 * 4096 + 2) * 1000]  # no rollover bits after the reset
    assert dec.stats.seq_resets == 1


def test_evt3_odd_byte_count_is_truncated_and_counted():
    dec = evt3()
    out = dec.decode_bytes(words(th(0), tl(0), ay(1), ax(2)) + b"\x01")
    assert len(out.events) == 1 and dec.stats.truncated == 1


def test_evt3_decode_until_cuts_at_time_low_and_resumes():
    dec = evt3()
    payload = words(th(0), tl(10), ay(1), ax(1), tl(20), ax(2), tl(30), ax(3))
    pkt = EventPacketData("evt3", 1280, 720, payload, seq=0)
    first = dec.decode_until(pkt, 20_000)
    assert first.reached_limit and first.next_t_ns == 20_000 and first.events.x.tolist() == [1]
    second = dec.decode_until(pkt, 30_001)
    assert not second.reached_limit and second.next_t_ns is None
    assert second.events.x.tolist() == [2, 3] and second.events.t.tolist() == [20_000, 30_000]
    assert dec.stats.packets == 1


def test_geometry_mismatch_and_encoding_mismatch_raise():
    dec = evt3()
    with pytest.raises(DecodeError, match="geometry"):
        dec.decode(EventPacketData("evt3", 640, 480, b""))
    with pytest.raises(DecodeError, match="encoding"):
        dec.decode(EventPacketData("mono", 1280, 720, b""))


def _mono_word(dt, x, y, p):
    return dt | (x << 32) | (y << 48) | (p << 63)


def test_mono_time_base_plus_dt_and_geometry_drop():
    dec = make_decoder("mono", 640, 480)
    w = np.array([_mono_word(5, 1, 2, 1), _mono_word(7, 640, 2, 0), _mono_word(9, 3, 479, 0)], "<u8")
    out = dec.decode_bytes(w.tobytes(), time_base=1_000)
    assert out.events.t.tolist() == [1005, 1009]
    assert out.events.x.tolist() == [1, 3] and out.events.y.tolist() == [2, 479] and out.events.p.tolist() == [1, 0]
    assert dec.stats.dropped_out_of_geometry == 1


def test_mono_decode_until_stops_at_first_event_at_or_after_limit():
    dec = make_decoder("mono", 640, 480)
    w = np.array([_mono_word(dt, 1, 1, 0) for dt in (1, 2, 3, 4)], "<u8").tobytes()
    pkt = EventPacketData("mono", 640, 480, w, time_base=100)
    a = dec.decode_until(pkt, 103)
    b = dec.decode_until(pkt, 10_000)
    assert a.events.t.tolist() == [101, 102] and a.reached_limit and a.next_t_ns == 103
    assert b.events.t.tolist() == [103, 104] and not b.reached_limit


def test_trigger_encoding_gives_triggers_only():
    dec = make_decoder("trigger", 640, 480)
    w = np.array([5 | (3 << 48) | (1 << 63), 6 | (3 << 48)], "<u8")
    out = dec.decode_bytes(w.tobytes(), time_base=10)
    assert len(out.events) == 0
    assert out.triggers.t.tolist() == [15, 16] and out.triggers.edge.tolist() == [1, 0]
    assert out.triggers.id.tolist() == [3, 3]


def _libcaer_word(x, y, p, ts_us):
    data = (x << 17) | (y << 2) | (p << 1) | 1
    return data | (ts_us << 32)


def test_libcaer_time_base_plus_microseconds_with_in_packet_rollover():
    dec = make_decoder("libcaer", 346, 260)
    top = (1 << 31) - 2
    w = np.array([_libcaer_word(1, 2, 1, top), _libcaer_word(3, 4, 0, 5), _libcaer_word(345, 259, 1, 6)], "<u8")
    out = dec.decode_bytes(w.tobytes(), time_base=7)
    assert out.events.t.tolist() == [7 + top * 1000, 7 + ((1 << 31) + 5) * 1000, 7 + ((1 << 31) + 6) * 1000]
    assert out.events.x.tolist() == [1, 3, 345] and out.events.y.tolist() == [2, 4, 259]
    assert out.events.p.tolist() == [1, 0, 1]


def test_8_byte_encodings_count_trailing_bytes_as_truncated():
    for enc in ("mono", "libcaer", "trigger"):
        dec = make_decoder(enc, 640, 480)
        dec.decode_bytes(np.zeros(2, "<u8").tobytes() + b"\x00\x00\x00")
        assert dec.stats.truncated == 1 and dec.stats.bytes == 19


def test_registry_keeps_one_decoder_per_stream():
    reg = DecoderRegistry()
    a = reg.get("/cam/events", "evt3", 1280, 720)
    assert reg.get("/cam/events", "evt3", 1280, 720) is a
    assert reg.get("/cam2/events", "evt3", 1280, 720) is not a
    assert reg.get("/cam/events", "evt3", 640, 480) is not a
    out = reg.decode("/cam/events", EventPacketData("evt3", 1280, 720, words(th(0), tl(1), ay(2), ax(3))))
    assert len(out.events) == 1 and a.stats.events == 1


def test_payload_types_rclpy_array_numpy_bytes_all_decode_alike():
    import array

    payload = words(th(0), tl(1), ay(2), ax(3), ax(4))
    results = []
    for buf in (payload, bytearray(payload), array.array("B", payload), np.frombuffer(payload, np.uint8)):
        results.append(evt3().decode_bytes(buf).events.x.tolist())
    # A misaligned view (as inside a CDR buffer) decodes too.
    results.append(evt3().decode_bytes(np.frombuffer(b"\x00" + payload, np.uint8)[1:]).events.x.tolist())
    assert results == [[3, 4]] * 5


def test_evt3_vector_heavy_and_trigger_heavy_packets_grow_outputs():
    dec = evt3()
    vect = [vbase(0, 1)] + [v12(0xFFF)] * 100
    trigs = [trig(i % 2, 1) for i in range(100)]
    out = dec.decode_bytes(words(th(0), tl(1), ay(3), *vect, *trigs, ax(5)))
    assert len(out.events) == 1200 + 1
    assert out.events.x[:1200].tolist() == list(range(1200))
    assert out.events.x[-1] == 5 and len(out.triggers) == 100
    assert out.triggers.edge.tolist() == [i % 2 for i in range(100)]


def _cmp(code, payload):
    return (code << 12) | payload


def test_libcaer_cmp_tokens_time_and_vectors_along_y():
    dec = make_decoder("libcaer_cmp", 346, 260)
    tokens = [
        _cmp(2, 10),  # ADDR_X 10
        _cmp(3, (1 << 11) | 5),  # ADDR_Y 5, ON: event at t = time_base
        _cmp(0, 1),  # TIME_HIGH 1
        _cmp(1, 7),  # TIME_LOW 7 -> 4096 + 7 us
        _cmp(4, 100),  # VECT_BASE_Y 100, OFF
        _cmp(5, 0b10000001),  # rows 100 and 107
        _cmp(5, 0b1),  # row 108
        _cmp(2, 400),  # x outside 346: the next event is dropped
        _cmp(3, 1),
        _cmp(6, 0xFFF),  # VECT_12: not produced by libcaer_driver, skipped and counted
    ]
    out = dec.decode_bytes(np.array(tokens, "<u2").tobytes(), time_base=1_000_000)
    ev = out.events
    assert ev.x.tolist() == [10, 10, 10, 10]
    assert ev.y.tolist() == [5, 100, 107, 108]
    assert ev.p.tolist() == [1, 0, 0, 0]
    assert ev.t.tolist() == [1_000_000] + [1_000_000 + 4103 * 1000] * 3
    assert dec.stats.dropped_out_of_geometry == 1 and dec.stats.unknown_codes == 1
    # x carries over to the next packet; time restarts from time_base.
    nxt = dec.decode_bytes(np.array([_cmp(2, 3), _cmp(3, 9)], "<u2").tobytes(), time_base=5)
    assert nxt.events.t.tolist() == [5] and nxt.events.x.tolist() == [3]


def test_warm_up_runs_every_kernel():
    from had_tracker.events import warm_up

    assert warm_up() >= 0.0


def test_vectorizing_encoder_writes_vector_words_for_dense_runs():
    from had_tracker.events.container import Events
    from had_tracker.events.encoders import Evt3Encoder

    x = [100 + i for i in range(0, 30, 2)]  # 15 events on one row, one time, one polarity
    events = Events.from_arrays([5000] * len(x), x, [7] * len(x), [1] * len(x), 1280, 720)
    payload = Evt3Encoder(vectorize=True).encode(events)
    codes = (np.frombuffer(payload.tobytes(), "<u2") >> 12).tolist()
    assert codes == [0x8, 0x6, 0x0, 0x3, 0x4, 0x4, 0x5]  # TIME_HIGH, TIME_LOW, ADDR_Y, VECT_BASE_X, 12, 12, 8
    out = evt3().decode_bytes(payload).events
    assert out.x.tolist() == x and set(out.t.tolist()) == {5000}


def _big_endian(payload: bytes, unit: int) -> bytes:
    """What a big-endian writer puts on the wire for the same words (bytes of each unit reversed)."""
    return np.frombuffer(payload, np.uint8).reshape(-1, unit)[:, ::-1].tobytes()


def test_a_byte_swapped_evt3_packet_flagged_big_endian_decodes_like_the_little_endian_one():
    # Issue 16 item 9: is_bigendian was ignored and a byte-swapped evt3 packet decoded to garbage.
    from had_tracker.events.encoders import Evt3Encoder

    rng = np.random.default_rng(3)
    t = np.sort(rng.integers(1_000_000, 9_000_000, 500)) // 1000 * 1000
    ev = Events.from_arrays(t, rng.integers(0, 640, 500), rng.integers(0, 480, 500), rng.integers(0, 2, 500), 640, 480)
    payload = Evt3Encoder().encode(ev)
    little = make_decoder("evt3", 640, 480).decode(EventPacketData("evt3", 640, 480, payload, 0, 0))
    dec = make_decoder("evt3", 640, 480)
    pkt = EventPacketData("evt3", 640, 480, _big_endian(payload, 2), 0, 0)
    pkt.is_bigendian = True
    big = dec.decode(pkt)
    for name in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(getattr(big.events, name), getattr(little.events, name))
    assert len(big.events) == len(ev) and dec.stats.big_endian_packets == 1 and dec.stats.unknown_codes == 0


@pytest.mark.parametrize(
    ("encoding", "unit", "word"),
    [
        ("mono", 8, lambda i: _mono_word(5 + i, 1 + i, 2, i % 2)),
        ("libcaer", 4, lambda i: _libcaer_word(i, 3, 1, 7 + i)),
    ],
)
def test_big_endian_8_byte_encodings_swap_their_own_units(encoding, unit, word):
    payload = np.array([word(i) for i in range(6)], "<u8").tobytes()
    little = make_decoder(encoding, 346, 260).decode_bytes(payload, time_base=100)
    big = make_decoder(encoding, 346, 260).decode_bytes(_big_endian(payload, unit), time_base=100, big_endian=True)
    np.testing.assert_array_equal(big.events.t, little.events.t)
    np.testing.assert_array_equal(big.events.x, little.events.x)
    assert len(big.events) == 6
