"""Synchronizer: packet order policy, time going backwards, no RGB, per-frame windows, bounds and drops."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.errors import ConfigError, DecodeError
from had_tracker.events.container import Events, Triggers
from had_tracker.events.decoders import EventPacketData
from had_tracker.events.encoders import Evt3Encoder, encode_mono
from had_tracker.sync.clock import ActivityClockConfig
from had_tracker.sync.synchronizer import SyncConfig, Synchronizer

W, H = 64, 48
HOST_OFFSET = 1_700_000_000_000_000_000  # host epoch ns at sensor time 0
PACKET_NS = 1_000_000


def make_events(t0_ns: int, duration_ns: int, rate_hz: float, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    n = int(duration_ns * rate_hz / 1e9)
    t = np.sort(rng.integers(t0_ns, t0_ns + duration_ns, n)) // 1000 * 1000  # evt3 carries microseconds
    return Events.from_arrays(t, rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), W, H)


def make_packets(events: Events, first_seq: int = 0, offset_ns: int = HOST_OFFSET) -> list[EventPacketData]:
    """evt3 packets of 1 ms; header stamp = host time of the packet's first event (zero delay)."""
    encoder = Evt3Encoder()
    start = int(events.t[0]) // PACKET_NS * PACKET_NS
    packets = []
    for i, a in enumerate(range(start, int(events.t[-1]) + 1, PACKET_NS)):
        chunk = events.slice_time(a, a + PACKET_NS)
        stamp = (int(chunk.t[0]) if len(chunk) else a) + offset_ns
        packets.append(EventPacketData("evt3", W, H, encoder.encode(chunk), 0, first_seq + i, stamp))
    return packets


def run(sync: Synchronizer, packets: list, flush: bool = True) -> list:
    out = []
    for pkt in packets:
        sync.add_event_packet(pkt)
        out += sync.poll()
    return out + (sync.flush() if flush else [])


def total_events(samples: list) -> int:
    return sum(len(s.events) for s in samples)


def test_no_rgb_fixed_rate_windows_cover_every_event_on_the_host_clock():
    events = make_events(3_000_000_000, 300_000_000, 200_000)
    sync = Synchronizer(SyncConfig(rate_hz=200))
    samples = run(sync, make_packets(events))
    assert total_events(samples) + sync.stats.dropped_events == len(events)
    assert sync.stats.dropped_events == 0
    assert all(s.window_end_ns - s.window_start_ns == 5_000_000 for s in samples)
    assert [s.seq for s in samples] == list(range(len(samples)))
    assert all(s.image is None for s in samples)
    t = np.concatenate([s.events.t for s in samples])
    np.testing.assert_array_equal(t, events.t + HOST_OFFSET)  # offset recovered exactly (zero-delay packets)
    for s in samples:
        assert np.all((s.events.t >= s.window_start_ns) & (s.events.t < s.window_end_ns))


def test_event_only_windows_take_the_event_frame_id_until_an_image_names_one():
    events = make_events(0, 20_000_000, 100_000)
    packets = make_packets(events)
    for pkt in packets:
        pkt.frame_id = "event_camera_optical_frame"
    sync = Synchronizer(SyncConfig(rate_hz=200))
    samples = run(sync, packets)
    assert samples and {s.frame_id for s in samples} == {"event_camera_optical_frame"}
    sync.add_image(np.zeros((H, W, 3), np.uint8), int(events.t[-1]) + HOST_OFFSET, "rgb_optical_frame")
    assert sync._output_frame_id(None) == "rgb_optical_frame"
    homography = Synchronizer(SyncConfig(registration="homography", homography=[1, 0, 0, 0, 1, 0, 0, 0, 1]))
    assert {s.frame_id for s in run(homography, make_packets(events))} == {""}  # events not in an image frame


def test_duplicated_packets_are_dropped_and_counted():
    events = make_events(0, 50_000_000, 100_000)
    packets = make_packets(events)
    stream = [p for pkt in packets for p in ((pkt, pkt) if pkt.seq % 5 == 0 else (pkt,))]
    sync = Synchronizer(SyncConfig())
    samples = run(sync, stream)
    assert sync.stats.duplicate_packets == len([p for p in packets if p.seq % 5 == 0])
    assert total_events(samples) == len(events)


def test_out_of_order_packets_within_the_reorder_depth_are_decoded_in_order():
    events = make_events(0, 50_000_000, 100_000, seed=1)
    packets = make_packets(events)
    swapped = list(packets)
    for i in range(2, len(swapped) - 1, 7):
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    sync = Synchronizer(SyncConfig(reorder_depth=4))
    samples = run(sync, swapped)
    assert sync.stats.late_packets == 0 and sync.stats.seq_gaps == 0
    np.testing.assert_array_equal(np.concatenate([s.events.t for s in samples]), events.t + HOST_OFFSET)


def test_a_packet_later_than_the_reorder_window_is_a_counted_late_drop():
    events = make_events(0, 40_000_000, 100_000, seed=2)
    packets = make_packets(events)
    late = packets.pop(5)
    stream = packets[:12] + [late] + packets[12:]
    sync = Synchronizer(SyncConfig(reorder_depth=3))
    samples = run(sync, stream)
    assert sync.stats.late_packets == 1
    assert sync.stats.seq_gaps == 1
    in_late = len(events.slice_time(int(events.t[0]) // PACKET_NS * PACKET_NS + 5 * PACKET_NS, 10**18)) - len(
        events.slice_time(int(events.t[0]) // PACKET_NS * PACKET_NS + 6 * PACKET_NS, 10**18)
    )
    assert total_events(samples) == len(events) - in_late


def test_time_going_backwards_restarts_the_stream_and_windows_continue():
    first = make_events(5_000_000_000, 100_000_000, 100_000, seed=3)
    # A bag played in a loop: sensor time and seq start again, header stamps keep increasing.
    again = make_events(5_000_000_000, 100_000_000, 100_000, seed=4)
    later_host = HOST_OFFSET + 200_000_000
    sync = Synchronizer(SyncConfig())
    samples = run(sync, make_packets(first), flush=False)
    samples += run(sync, make_packets(again, first_seq=0, offset_ns=later_host))
    assert sync.stats.stream_restarts >= 1
    assert total_events(samples) + sync.stats.dropped_events == len(first) + len(again)
    after = [s for s in samples if s.window_start_ns >= 5_000_000_000 + later_host]
    assert total_events(after) > 0.9 * len(again)


def mono_packets(events: Events, first_seq: int, offset_ns: int) -> list[EventPacketData]:
    """mono packets (time_base + dt: no rollover rule, so sensor time can really go back)."""
    start = int(events.t[0]) // PACKET_NS * PACKET_NS
    packets = []
    for i, a in enumerate(range(start, int(events.t[-1]) + 1, PACKET_NS)):
        chunk = events.slice_time(a, a + PACKET_NS)
        packets.append(EventPacketData("mono", W, H, encode_mono(chunk, a), a, first_seq + i, a + offset_ns))
    return packets


def test_event_time_jumping_back_with_continuous_seq_restarts_the_stream():
    first = make_events(9_000_000_000, 50_000_000, 100_000, seed=5)
    second = make_events(1_000_000_000, 50_000_000, 100_000, seed=6)  # camera clock reset
    packets = mono_packets(first, 0, HOST_OFFSET)
    packets += mono_packets(second, len(packets), HOST_OFFSET + 8_100_000_000)
    sync = Synchronizer(SyncConfig())
    samples = run(sync, packets)
    assert sync.stats.stream_restarts == 1
    assert total_events(samples) + sync.stats.dropped_events == len(first) + len(second)
    assert sync.stats.dropped_events == 0


def test_evt3_camera_reset_decodes_as_a_clock_jump_and_restarts_the_stream():
    # evt3 has no way to say "time went back": the 24-bit rollover rule turns it into a jump forward,
    # which the header stamps contradict; the synchronizer restarts rather than emit 8 s of empty windows.
    first = make_events(9_000_000_000, 50_000_000, 100_000, seed=5)
    second = make_events(1_000_000_000, 50_000_000, 100_000, seed=6)
    packets = make_packets(first)
    packets += make_packets(second, first_seq=len(packets), offset_ns=HOST_OFFSET + 8_100_000_000)
    sync = Synchronizer(SyncConfig())
    samples = run(sync, packets)
    assert sync.stats.stream_restarts == 1
    assert total_events(samples) == len(first) + len(second)
    assert len(samples) <= 25  # 2 x 50 ms at 200 Hz, no stretch of empty windows


def test_small_backward_steps_drop_only_the_offending_events():
    sync = Synchronizer(SyncConfig(clock="sensor"))
    a = make_events(0, 10_000_000, 100_000, seed=7)
    sync.add_events(a)
    b = Events.from_arrays(np.array([a.t[-1] - 1000, a.t[-1] + 1000]), [1, 2], [1, 2], [0, 1], W, H)
    sync.add_events(b)
    samples = sync.flush()
    assert sync.stats.drops == {"backwards": 1}
    assert total_events(samples) == len(a) + 1
    assert sum(s.dropped_events for s in samples) == 1


def test_empty_windows_are_emitted_through_a_silence():
    a = make_events(0, 20_000_000, 100_000, seed=8)
    b = make_events(60_000_000, 20_000_000, 100_000, seed=9)
    sync = Synchronizer(SyncConfig(clock="sensor", rate_hz=200))
    sync.add_events(a)
    sync.add_events(b)
    samples = sync.flush()
    empty = [s for s in samples if len(s.events) == 0]
    assert len(empty) >= 7  # 40 ms of silence = 8 windows of 5 ms
    assert total_events(samples) == len(a) + len(b)
    assert sync.stats.empty_windows == len(empty)


def test_per_frame_exposure_windows_carry_their_image():
    events = make_events(0, 200_000_000, 100_000, seed=10)
    packets = make_packets(events)
    sync = Synchronizer(SyncConfig(policy="per_frame", frame_window="exposure", exposure_ns=8_000_000))
    image = np.zeros((H, W, 3), np.uint8)
    frame_stamps = [HOST_OFFSET + 20_000_000 + k * 33_000_000 for k in range(5)]
    samples = []
    for pkt in packets:
        sync.add_event_packet(pkt)
        while frame_stamps and pkt.stamp_ns >= frame_stamps[0]:
            image[:] = len(frame_stamps)
            sync.add_image(image.copy(), frame_stamps.pop(0), "camera")
        samples += sync.poll()
    samples += sync.flush()
    assert len(samples) == 5
    for k, s in enumerate(samples):
        stamp = HOST_OFFSET + 20_000_000 + k * 33_000_000
        assert (s.window_start_ns, s.window_end_ns) == (stamp - 4_000_000, stamp + 4_000_000)
        assert s.image_stamp_ns == stamp and s.image is not None and s.image[0, 0, 0] == 5 - k
        assert s.frame_id == "camera"
        expected = events.slice_time(stamp - 4_000_000 - HOST_OFFSET, stamp + 4_000_000 - HOST_OFFSET)
        np.testing.assert_array_equal(s.events.t, expected.t + HOST_OFFSET)


def test_per_frame_interval_windows_are_back_to_back():
    sync = Synchronizer(SyncConfig(policy="per_frame", frame_window="interval", clock="sensor"))
    events = make_events(0, 100_000_000, 100_000, seed=11)
    sync.add_events(events)
    for k in range(1, 4):
        sync.add_image(np.zeros((H, W, 3), np.uint8), k * 25_000_000)
    samples = sync.poll()
    assert [(s.window_start_ns, s.window_end_ns) for s in samples] == [
        (15_000_000, 25_000_000),
        (25_000_000, 50_000_000),
        (50_000_000, 75_000_000),
    ]


def test_fixed_rate_attaches_each_image_once_to_the_window_that_ends_after_it():
    sync = Synchronizer(SyncConfig(clock="sensor", rate_hz=100))
    sync.add_events(make_events(0, 100_000_000, 50_000, seed=12))
    sync.add_image(np.ones((H, W, 3), np.uint8), 23_000_000)
    samples = sync.flush()
    with_image = [s for s in samples if s.image is not None]
    assert len(with_image) == 1 and with_image[0].window_end_ns == 30_000_000


def test_image_queue_is_bounded_and_overflow_is_counted():
    sync = Synchronizer(SyncConfig(policy="per_frame", image_queue_size=3, clock="sensor"))
    for k in range(10):
        sync.add_image(np.zeros((H, W, 3), np.uint8), 10**9 + k * 10**6)
    assert sync.stats.image_drops["queue_full"] == 7


def test_event_buffer_bound_drops_are_counted_with_the_next_window():
    sync = Synchronizer(SyncConfig(clock="sensor", buffer_max_events=1000, rate_hz=10))
    events = make_events(0, 50_000_000, 100_000, seed=13)  # 5000 events, all in one 100 ms window
    sync.add_events(events)
    samples = sync.flush()
    assert sync.stats.drops["buffer_full"] == len(events) - 1000
    assert total_events(samples) == 1000 and samples[0].dropped_events == len(events) - 1000


def test_fixed_count_windows_hold_the_requested_number_of_events():
    sync = Synchronizer(SyncConfig(policy="fixed_count", events_per_window=500, clock="sensor"))
    events = make_events(0, 100_000_000, 60_000, seed=14)
    t = events.t.copy()
    t[:] = np.arange(len(t)) * 1000 + 7  # unique stamps: exact counts
    events = Events(t, events.x, events.y, events.p, W, H)
    sync.add_events(events)
    samples = sync.poll()
    assert len(samples) >= 10
    assert all(len(s.events) == 500 for s in samples)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ConfigError):
        SyncConfig.from_dict({"policy": "sometimes"})
    with pytest.raises(ConfigError):
        SyncConfig.from_dict({"rate_hz": 0})
    with pytest.raises(ConfigError):
        SyncConfig.from_dict({"no_such_option": 1})
    with pytest.raises(ConfigError):
        SyncConfig.from_dict({"registration": "homography"})
    sync = Synchronizer()
    with pytest.raises(DecodeError):
        sync.add_image(np.zeros((4, 4, 3), np.float32), 0)
    with pytest.raises(DecodeError):
        sync.add_event_packet(EventPacketData("evt2", W, H, b"\0\0", 0, 0, 0))


def test_homography_registration_is_applied_to_windows():
    h = [1, 0, 5, 0, 1, 3, 0, 0, 1]
    sync = Synchronizer(
        SyncConfig(clock="sensor", registration="homography", homography=h, output_width=80, output_height=60)
    )
    ev = Events.from_arrays([10, 20], [0, 63], [0, 47], [1, 0], W, H)
    sync.add_events(ev)
    (sample,) = sync.flush()
    assert sample.events.x.tolist() == [5, 68] and sample.events.y.tolist() == [3, 50]
    assert (sample.width, sample.height) == (80, 60)


def test_trigger_clock_puts_events_exactly_on_the_rgb_clock():
    # RGB frames are stamped 3.7 ms after their trigger edge on an RGB clock unrelated to the header stamps.
    rgb_offset = 42_000_000_000 + 3_700_000  # sensor -> RGB clock
    events = make_events(2_000_000_000, 300_000_000, 100_000, seed=15)
    trig_t = np.arange(2_010_000_000, 2_290_000_000, 33_333_000, dtype=np.int64)
    encoder = Evt3Encoder()
    sync = Synchronizer(SyncConfig(policy="per_frame", clock="trigger", exposure_ns=10_000_000))
    header_offset = rgb_offset - 3_000_000  # the header estimate is 3 ms off: only the prior
    samples, pending = [], list(trig_t)
    for i, a in enumerate(range(2_000_000_000, 2_300_000_000, PACKET_NS)):
        chunk = events.slice_time(a, a + PACKET_NS)
        tr = trig_t[(trig_t >= a) & (trig_t < a + PACKET_NS)]
        triggers = Triggers(tr, np.ones(len(tr), np.uint8), np.zeros(len(tr), np.uint8))
        payload = encoder.encode(chunk, triggers)
        sync.add_event_packet(EventPacketData("evt3", W, H, payload, 0, i, a + header_offset))
        while pending and pending[0] + 12_000_000 < a:  # frames arrive ~12 ms after their trigger
            sync.add_image(np.zeros((H, W, 3), np.uint8), int(pending.pop(0)) + rgb_offset)
        samples += sync.poll()
    samples += sync.flush()
    assert sync.stats.triggers == len(trig_t)
    assert len(samples) == len(trig_t)
    aligned = [s for s in samples if s.offset_ns == rgb_offset]
    assert len(aligned) >= len(samples) - 1  # the first frame may precede the first match
    for s in aligned:
        sensor = events.slice_time(s.window_start_ns - rgb_offset, s.window_end_ns - rgb_offset)
        np.testing.assert_array_equal(s.events.t, sensor.t + rgb_offset)
    status = sync.clock_status()
    assert status["trigger_locked"] and status["offset_ns"] == rgb_offset and status["trigger_matched"] == len(trig_t)


def test_a_publisher_that_never_numbers_its_packets_is_decoded_in_arrival_order():
    events = make_events(0, 40_000_000, 100_000, seed=16)
    packets = make_packets(events)
    for pkt in packets:
        pkt.seq = 0
    sync = Synchronizer(SyncConfig())
    samples = run(sync, packets)
    assert sync.stats.duplicate_packets == 0 and sync.stats.late_packets == 0
    assert total_events(samples) == len(events)


def test_activity_clock_corrects_an_rgb_offset_the_header_stamps_do_not_show():
    # The RGB camera stamps frames 30 ms later than the host clock the event headers use. Event bursts follow
    # the brightness changes between frames, so correlating the two recovers the 30 ms.
    rng = np.random.default_rng(17)
    period, n_frames, rgb_late = 40_000_000, 24, 30_000_000
    stamps = HOST_OFFSET + rgb_late + 100_000_000 + np.arange(n_frames, dtype=np.int64) * period
    levels = np.cumsum(rng.uniform(0, 20, n_frames)) % 200
    parts = []
    for i in range(1, n_frames):
        k = int(abs(levels[i] - levels[i - 1]) * 30) + 5
        a, b = stamps[i - 1] - rgb_late - HOST_OFFSET, stamps[i] - rgb_late - HOST_OFFSET  # sensor time
        parts.append(rng.integers(a, b, k) // 1000 * 1000)
    t = np.sort(np.concatenate(parts))
    events = Events.from_arrays(t, rng.integers(0, W, len(t)), rng.integers(0, H, len(t)), np.zeros(len(t)), W, H)
    sync = Synchronizer(SyncConfig(clock="activity"), activity=ActivityClockConfig(frames=20))
    pending = list(range(n_frames))
    for pkt in make_packets(events):
        sync.add_event_packet(pkt)
        while pending and stamps[pending[0]] - rgb_late + 5_000_000 <= pkt.stamp_ns:
            i = pending.pop(0)
            sync.add_image(np.full((H, W, 3), int(levels[i]), np.uint8), int(stamps[i]))
        sync.poll()
    assert sync.activity_correlation is not None and sync.activity_correlation > 0.9
    assert abs(sync.activity_correction_ns - rgb_late) <= 1_000_000
    assert abs(sync.offset_ns - (HOST_OFFSET + rgb_late)) <= 1_000_000


def queued_delivery(packets: list, frame_stamps: list[int], lag_ns) -> list[tuple[int, str, object]]:
    """Arrival order when the event subscription queues up: packet k arrives ``lag_ns(k)`` after its stamp,
    frames arrive at their stamp (the image callback is served at once), as issue 18 measured under ROS."""
    at = np.maximum.accumulate([int(p.stamp_ns) + int(lag_ns(k)) for k, p in enumerate(packets)])  # a FIFO queue
    arrivals = [(int(a), 1, k, "events", p) for k, (a, p) in enumerate(zip(at, packets, strict=True))]
    arrivals += [(int(s), 0, k, "image", s) for k, s in enumerate(frame_stamps)]
    return [(a[0], a[3], a[4]) for a in sorted(arrivals, key=lambda a: a[:3])]


def run_arrivals(sync: Synchronizer, arrivals: list) -> list:
    out = []
    for _, kind, item in arrivals:
        if kind == "events":
            sync.add_event_packet(item)
        else:
            sync.add_image(np.zeros((H, W, 3), np.uint8), item)
        out += sync.poll()
    return out + sync.flush()


def test_a_queued_event_subscription_loses_no_events_to_a_fast_rgb_stream():
    # Issue 18 item 1: events queued 300-500 ms behind the RGB frames must not be cut into empty windows and
    # then dropped as late: windows are cut by event time.
    events = make_events(1_000_000_000, 1_500_000_000, 100_000, seed=21)
    packets = make_packets(events)
    frames = [HOST_OFFSET + 1_000_000_000 + k * 40_000_000 for k in range(38)]
    lag = lambda k: 300_000_000 + 200_000_000 * np.sin(k / 400.0) ** 2  # noqa: E731 - backlog grows and drains
    sync = Synchronizer(SyncConfig(rate_hz=200))
    samples = run_arrivals(sync, queued_delivery(packets, frames, lag))
    assert sync.stats.drops.get("late", 0) == 0
    assert total_events(samples) == len(events)
    assert sync.stats.empty_windows <= 2
    assert sum(s.image is not None for s in samples) >= len(frames) - sync.config.image_queue_size


def camera_delivery(events: Events, frame_stamps: list[int], frame_arrivals: list[int]) -> list:
    """Packets arrive at their stamp, frame k arrives at ``frame_arrivals[k]`` (host time)."""
    arrivals = [(int(p.stamp_ns), 1, "events", p) for p in make_packets(events)]
    arrivals += [(int(a), 0, "image", int(s)) for a, s in zip(frame_arrivals, frame_stamps, strict=True)]
    return [(a[0], a[2], a[3]) for a in sorted(arrivals, key=lambda a: a[:2])]


@pytest.mark.parametrize("policy", ["fixed_rate", "per_frame"])
def test_one_rgb_frame_stamped_an_hour_ahead_is_rejected_and_does_not_stop_event_output(policy):
    # Issue 16 item 1: before, every later event was a late drop until event time reached the bad stamp.
    events = make_events(1_000_000_000, 1_000_000_000, 100_000, seed=22)
    stamps = [HOST_OFFSET + 1_010_000_000 + k * 40_000_000 for k in range(24)]
    stamps[5] += 3600 * 10**9
    arrivals = [HOST_OFFSET + 1_010_000_000 + k * 40_000_000 for k in range(24)]
    sync = Synchronizer(SyncConfig(policy=policy, exposure_ns=10_000_000))
    samples = run_arrivals(sync, camera_delivery(events, stamps, arrivals))
    assert sync.stats.image_drops == {"stamp_outlier": 1}
    assert sync.stats.drops.get("late", 0) == 0
    if policy == "fixed_rate":
        assert total_events(samples) == len(events)
    else:
        assert len(samples) == len(stamps) - 1 and all(s.image is not None for s in samples)
        assert max(s.window_end_ns for s in samples) < HOST_OFFSET + 3 * 10**9


def test_a_steady_rgb_clock_offset_is_reported_not_turned_into_an_outage():
    # Issue 16 item 1: an RGB clock 0.3 s ahead of the event host clock lost 99.95 % of the events.
    events = make_events(1_000_000_000, 1_000_000_000, 100_000, seed=23)
    arrivals = [HOST_OFFSET + 1_010_000_000 + k * 40_000_000 for k in range(24)]
    stamps = [a + 300_000_000 for a in arrivals]
    sync = Synchronizer(SyncConfig())
    samples = run_arrivals(sync, camera_delivery(events, stamps, arrivals))
    assert sync.stats.drops.get("late", 0) == 0 and not sync.stats.image_drops
    assert total_events(samples) == len(events)
    assert abs(sync.clock_status()["rgb_minus_event_ns"] - 300_000_000) <= PACKET_NS
    assert sum(s.image is not None for s in samples) == len(stamps)


def test_a_stalled_event_stream_lets_rgb_time_drive_the_windows():
    # The liveness the RGB stream provides: events stop, frames continue, windows follow event_stall_ns behind.
    events = make_events(1_000_000_000, 200_000_000, 100_000, seed=24)
    arrivals = [HOST_OFFSET + 1_010_000_000 + k * 40_000_000 for k in range(30)]  # 1.2 s of frames
    sync = Synchronizer(SyncConfig(event_stall_ns=200_000_000))
    samples = []
    for _, kind, item in camera_delivery(events, arrivals, arrivals):
        if kind == "events":
            sync.add_event_packet(item)
        else:
            sync.add_image(np.zeros((H, W, 3), np.uint8), item)
        samples += sync.poll()
    assert total_events(samples) == len(events) and not sync.stats.drops
    last_event_host = HOST_OFFSET + int(events.t[-1])
    # windows were emitted well past the last event, up to event_stall_ns behind the newest frame
    assert samples[-1].window_end_ns > last_event_host + 500_000_000
    assert samples[-1].window_end_ns <= arrivals[-1] - 200_000_000 + 40_000_000
    assert sum(s.image is not None for s in samples) >= 20


def test_an_activity_correction_that_moves_the_output_clock_back_does_not_force_windows_early():
    # The liveness bound (newest header stamp - max_wait_ns) is taken on the output clock: with RGB stamps 30 ms
    # *before* the host clock (a negative activity correction) it used to cut windows before their events.
    rng = np.random.default_rng(26)
    period, n_frames, rgb_late = 40_000_000, 30, -30_000_000
    stamps = HOST_OFFSET + rgb_late + 100_000_000 + np.arange(n_frames, dtype=np.int64) * period
    levels = np.cumsum(rng.uniform(0, 20, n_frames)) % 200
    parts = []
    for i in range(1, n_frames):
        k = int(abs(levels[i] - levels[i - 1]) * 30) + 5
        a, b = stamps[i - 1] - rgb_late - HOST_OFFSET, stamps[i] - rgb_late - HOST_OFFSET
        parts.append(rng.integers(a, b, k) // 1000 * 1000)
    t = np.sort(np.concatenate(parts))
    events = Events.from_arrays(t, rng.integers(0, W, len(t)), rng.integers(0, H, len(t)), np.zeros(len(t)), W, H)
    sync = Synchronizer(SyncConfig(clock="activity"), activity=ActivityClockConfig(frames=12))
    pending, samples = list(range(n_frames)), []
    for pkt in make_packets(events):
        sync.add_event_packet(pkt)
        while pending and stamps[pending[0]] - rgb_late + 5_000_000 <= pkt.stamp_ns:
            i = pending.pop(0)
            sync.add_image(np.full((H, W, 3), int(levels[i]), np.uint8), int(stamps[i]))
        samples += sync.poll()
    samples += sync.flush()
    assert abs(sync.activity_correction_ns - rgb_late) <= 1_000_000
    assert sync.stats.drops.get("late", 0) == 0, sync.stats.as_dict()
    assert total_events(samples) + sync.stats.dropped_events == len(events), sync.stats.as_dict()


def test_events_of_emitted_windows_are_released_not_held_for_the_buffer_duration():
    """The buffer holds only what is pending; the windows are those of a buffer that keeps everything."""
    events = make_events(3_000_000_000, 300_000_000, 200_000)
    sync = Synchronizer(SyncConfig(rate_hz=200))
    sizes = []
    samples = []
    for pkt in make_packets(events):
        sync.add_event_packet(pkt)
        samples += sync.poll()
        sizes.append(len(sync._buffer))
    samples += sync.flush()
    assert max(sizes) < 0.05 * len(events)  # ~ a window and a packet, not 300 ms of events
    assert sync._buffer.released > 0.9 * len(events) and sync.stats.dropped_events == 0
    t = np.concatenate([s.events.t for s in samples])
    np.testing.assert_array_equal(t, events.t + HOST_OFFSET)


def test_the_activity_clock_keeps_emitted_events_until_its_estimate_is_made():
    events = make_events(3_000_000_000, 100_000_000, 200_000)
    sync = Synchronizer(SyncConfig(rate_hz=200, clock="activity"))
    run(sync, make_packets(events), flush=False)
    assert sync.activity_correction_ns is None
    assert sync._buffer.released == 0 and len(sync._buffer) == len(events)
