"""Decoding real recordings gives the reference results (../shared/data/README.md)."""

from __future__ import annotations

import numpy as np

from had_tracker.events.container import Events
from had_tracker.events.raw_file import iter_raw_chunks, read_raw, read_raw_header
from test.conftest import shared_data


def test_prophesee_evt3_raw_matches_reference_xyp_and_time_checksums():
    raw = shared_data("prophesee_evt3", "evt3_sample.raw")
    ref = np.load(shared_data("prophesee_evt3", "evt3_sample.npy"))
    decoded, header, stats = read_raw(raw)
    ev = decoded.events
    assert (header.width, header.height) == (1280, 720)
    assert len(ev) == len(ref) == 219_596
    np.testing.assert_array_equal(ev.x, ref["x"])
    np.testing.assert_array_equal(ev.y, ref["y"])
    np.testing.assert_array_equal(ev.p, ref["p"])
    # Time in ns, with event_camera_codecs semantics (not the reference npy t: see README).
    assert np.all(ev.t % 1000 == 0)
    t_us = ev.t // 1000
    assert int(t_us[0]) == 11_718_656
    assert int(t_us[-1]) == 11_727_457
    assert int(t_us.sum()) == 2_574_324_900_467
    assert int(ev.x.sum(dtype=np.int64)) == 159_113_225
    assert int(ev.y.sum(dtype=np.int64)) == 85_638_051
    assert int(ev.p.sum(dtype=np.int64)) == 115_532
    assert ev.is_time_ordered()
    assert stats["dropped_out_of_geometry"] == 0 and stats["unknown_codes"] == 0


def test_prophesee_raw_decoded_in_small_chunks_equals_whole_file():
    raw = shared_data("prophesee_evt3", "evt3_sample.raw")
    whole = read_raw(raw)[0].events
    chunks = Events.concatenate([c.events for c, _ in iter_raw_chunks(raw, chunk_words=4097)])
    for name in "txyp":
        np.testing.assert_array_equal(getattr(chunks, name), getattr(whole, name))


def test_raw_header_geometry_override_and_data_offset():
    raw = shared_data("prophesee_evt3", "evt3_sample.raw")
    header = read_raw_header(raw, width=640, height=480)
    assert (header.width, header.height) == (640, 480)
    assert header.fields["evt"] == "3.0"
    assert header.data_offset == 166 and header.data_bytes % 2 == 0


def test_rosbag_mono_cd_totals():
    from had_tracker.events.bag_events import iter_bag_events

    bag = shared_data("rosbag_mono_cd")
    chunks = list(iter_bag_events(bag))
    assert [c.encoding for c in chunks] == ["mono", "mono"]
    ev = Events.concatenate([c.decoded.events for c in chunks])
    assert (ev.width, ev.height) == (640, 480)
    assert int(ev.t.sum()) == 4_950_000
    assert int(ev.x.sum(dtype=np.int64)) == 34_450
    assert int(ev.y.sum(dtype=np.int64)) == 26_450
    assert int(ev.p.sum(dtype=np.int64)) == 50


def test_rosbag_mono_cd_through_read_bag_and_make_decoder():
    from had_tracker.events.decoders import make_decoder
    from had_tracker.ros_io.bag import read_bag

    bag = shared_data("rosbag_mono_cd")
    decoder = None
    total_t = 0
    for bm in read_bag(bag):
        msg = bm.msg
        decoder = decoder or make_decoder(msg.encoding, msg.width, msg.height)
        total_t += int(decoder.decode(msg).events.t.sum())
    assert total_t == 4_950_000
    assert decoder.stats.packets == 2 and decoder.stats.events == 100 and decoder.stats.seq_gaps == 0
