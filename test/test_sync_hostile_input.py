"""Issue 16: the synchronizer survives bad and hostile input (counted drops, no exception out of poll)."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.errors import DecodeError
from had_tracker.events.container import Events
from had_tracker.events.decoders import MAX_TIME_BASE_NS, EventPacketData, make_decoder
from had_tracker.events.encoders import encode_mono
from had_tracker.sync.synchronizer import SyncConfig, Synchronizer

W, H = 64, 48
HOST = 1_700_000_000_000_000_000


def mono_packet(seq: int, t0: int, n: int = 50, time_base: int | None = None, width: int = W, height: int = H):
    rng = np.random.default_rng(seq)
    t = t0 + np.sort(rng.integers(0, 1_000_000, n))
    ev = Events.from_arrays(t, rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), W, H)
    base = t0 if time_base is None else time_base
    return EventPacketData("mono", width, height, encode_mono(ev, t0), base, seq, t0 + HOST), ev


def feed(sync: Synchronizer, packets) -> list:
    out = []
    for pkt in packets:
        sync.add_event_packet(pkt)
        out += sync.poll()
    return out


def test_decoder_rejects_a_time_base_that_would_wrap_int64():
    dec = make_decoder("mono", W, H)
    pkt, _ = mono_packet(0, 0, time_base=2**63)
    with pytest.raises(DecodeError, match="time_base"):
        dec.decode(pkt)
    assert dec.stats.rejected_time_base == 1 and dec.stats.packets == 0
    ok, ev = mono_packet(1, 5_000, time_base=MAX_TIME_BASE_NS - 2**40)
    assert len(dec.decode(ok).events) == len(ev)  # the largest accepted bases still decode
    evt3 = make_decoder("evt3", W, H)  # evt3 ignores time_base, as upstream
    evt3.decode(EventPacketData("evt3", W, H, np.array([0x8000, 0x6000], "<u2").tobytes(), 2**64 - 1))
    assert evt3.stats.rejected_time_base == 0


@pytest.mark.parametrize("bad", [2**63, 2**64 - 1, MAX_TIME_BASE_NS + 1])
def test_a_packet_with_a_huge_time_base_is_a_counted_drop_not_an_overflow(bad):
    sync = Synchronizer(SyncConfig())
    packets = [mono_packet(k, 1_000_000_000 + k * 1_000_000)[0] for k in range(40)]
    packets[10].time_base = bad
    samples = feed(sync, packets) + sync.flush()
    assert sync.stats.packet_drops == {"time_base_overflow": 1}
    assert sync.stats.as_dict()["packet_drop_time_base_overflow"] == 1
    assert sum(len(s.events) for s in samples) == 39 * 50


def _rgb_info(width: int, height: int, k: list[float]) -> dict:
    return {"k": k, "d": [0.0] * 5, "width": width, "height": height}


GOOD_K = [100.0, 0.0, 32.0, 0.0, 100.0, 24.0, 0.0, 0.0, 1.0]


def test_a_zero_size_camera_info_is_ignored_and_counted_and_poll_keeps_working():
    sync = Synchronizer(SyncConfig())
    sync.add_camera_info(_rgb_info(0, 0, GOOD_K))
    samples = feed(sync, [mono_packet(k, 1_000_000_000 + k * 1_000_000)[0] for k in range(30)]) + sync.flush()
    assert sync.stats.camera_info_drops == {"zero_size": 1}
    assert sum(len(s.events) for s in samples) == 30 * 50 and (samples[0].width, samples[0].height) == (W, H)


@pytest.mark.parametrize(
    "k",
    [
        [100.0, 0.0, 32.0, 0.0, 100.0, 24.0, 0.0, 0.0, 0.0],  # singular
        [float("nan"), 0.0, 32.0, 0.0, 100.0, 24.0, 0.0, 0.0, 1.0],
        [100.0, 0.0, float("inf"), 0.0, 100.0, 24.0, 0.0, 0.0, 1.0],
    ],
)
def test_calibration_mode_with_a_singular_or_nan_k_keeps_running(k):
    cfg = SyncConfig(registration="calibration", extrinsic_rotation=[1, 0, 0, 0, 1, 0, 0, 0, 1],
                     extrinsic_translation_m=[0, 0, 0])  # fmt: skip
    sync = Synchronizer(cfg)
    sync.add_camera_info(_rgb_info(W, H, GOOD_K), camera="event")
    sync.add_camera_info(_rgb_info(W, H, k), camera="rgb")
    packets = [mono_packet(i, 1_000_000_000 + i * 1_000_000)[0] for i in range(40)]
    samples = feed(sync, packets[:20])  # no rgb calibration yet: counted no_registration drops
    assert sync.stats.camera_info_drops == {"bad_intrinsics": 1}
    assert sync.stats.drops["no_registration"] > 0
    sync.add_camera_info(_rgb_info(W, H, GOOD_K), camera="rgb")  # a valid one later is used
    samples += feed(sync, packets[20:]) + sync.flush()
    assert sum(len(s.events) for s in samples[-5:]) > 0


def test_a_registration_that_cannot_be_built_is_counted_once_not_raised_every_poll():
    cfg = SyncConfig(registration="homography", homography=[1, 0, 0, 0, 1, 0, 0, 0, float("nan")])
    sync = Synchronizer(cfg)
    samples = feed(sync, [mono_packet(k, 1_000_000_000 + k * 1_000_000)[0] for k in range(30)])
    assert samples and sync.stats.registration_failures == 1
    assert sync.stats.drops["no_registration"] == sum(s.dropped_events for s in samples)


def test_an_empty_image_is_a_clear_decode_error():
    with pytest.raises(DecodeError):
        Synchronizer().add_image(np.zeros((0, 0, 3), np.uint8), 1)


def test_activity_clock_with_frames_but_no_events_keeps_a_bounded_number_of_frames():
    # Issue 16 item 5: every frame was kept (about 1 GB/h at 25 fps VGA) while no event arrived.
    from had_tracker.sync.clock import ActivityClockConfig

    sync = Synchronizer(SyncConfig(clock="activity"), activity=ActivityClockConfig(frames=10))
    image = np.zeros((480, 640, 3), np.uint8)
    for k in range(300):
        sync.add_image(image, HOST + k * 40_000_000)
    assert len(sync._activity_frames) == 10
    assert sync.stats.image_drops["activity_unused"] == 290


def test_a_first_packet_declaring_0x0_does_not_fix_the_geometry_for_the_run():
    # Issue 16 item 4: the first packet's 0x0 made every later event a drop (>99 % for ever).
    sync = Synchronizer(SyncConfig())
    packets = [mono_packet(k, 1_000_000_000 + k * 1_000_000, width=0 if k < 3 else W, height=0 if k < 3 else H)[0]
               for k in range(40)]  # fmt: skip
    samples = feed(sync, packets) + sync.flush()
    assert sum(len(s.events) for s in samples) == 40 * 50 and not sync.stats.drops
    assert (samples[-1].width, samples[-1].height) == (W, H)


def test_a_stream_that_never_declares_geometry_takes_it_from_parameters_or_the_data():
    packets = [mono_packet(k, 1_000_000_000 + k * 1_000_000, width=0, height=0)[0] for k in range(40)]
    from_data = Synchronizer(SyncConfig())
    samples = feed(from_data, packets) + from_data.flush()
    assert sum(len(s.events) for s in samples) == 40 * 50 and not from_data.stats.drops
    assert samples[-1].width <= W and samples[-1].height <= H  # the extent of the data seen

    packets = [mono_packet(k, 1_000_000_000 + k * 1_000_000, width=0, height=0)[0] for k in range(40)]
    configured = Synchronizer(SyncConfig(sensor_width=32, sensor_height=H))
    samples = feed(configured, packets) + configured.flush()
    kept = sum(len(s.events) for s in samples)
    assert kept + configured.stats.drops["outside_sensor"] == 40 * 50 and 0 < kept < 40 * 50
    assert {(s.width, s.height) for s in samples} == {(32, H)}


def test_an_event_array_without_geometry_gets_it_from_the_event_camera_info_later():
    from had_tracker.events.event_arrays import EventArrayData

    sync = Synchronizer(SyncConfig())
    rng = np.random.default_rng(5)
    samples = []
    for k in range(40):
        if k == 20:
            sync.add_camera_info(_rgb_info(W, H, GOOD_K), camera="event")
        t = 1_000_000_000 + k * 1_000_000 + np.arange(50) * 10_000
        ev = Events.from_arrays(t, rng.integers(0, W, 50), rng.integers(0, H, 50), np.zeros(50), 0, 0)
        sync.add_event_array(EventArrayData(int(t[0]) + HOST, "dvs", 0, 0, ev, 0))
        samples += sync.poll()
    samples += sync.flush()
    assert sum(len(s.events) for s in samples) == 40 * 50 and not sync.stats.drops
    assert (samples[-1].width, samples[-1].height) == (W, H)
